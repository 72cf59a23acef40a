//! An environment's protection rules as a verdict over the reviews given so far: the gate
//! opens once its wait timer is over and enough distinct people have approved (not counting
//! the one who triggered the run, unless the environment allows it), and is refused as soon
//! as anyone rejects. Branch rules are checked before a job is gated (see [`run`](crate::run)).

use std::collections::BTreeSet;
use std::time::Duration;

use bellwether_core::spec::EnvironmentSpec;
use bellwether_core::time::human_duration;

/// One person's answer to a gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub by: String,
    pub approved: bool,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The rules pass; the note says who approved.
    Open(String),
    Refused(String),
    /// Still waiting: for this many more approvals, and this much more of the wait timer.
    Waiting {
        approvals: u32,
        timer: Duration,
    },
}

/// Judges `environment`'s gate for a run triggered by `actor`, `waited` after it was reached.
pub fn judge(
    environment: &EnvironmentSpec,
    actor: &str,
    waited: Duration,
    reviews: &[Review],
) -> Verdict {
    let name = &environment.name;
    if let Some(r) = reviews.iter().find(|r| !r.approved) {
        return Verdict::Refused(format!(
            "environment `{name}`: rejected by {}{}",
            r.by,
            comment(r)
        ));
    }
    let approvers: BTreeSet<&str> = reviews
        .iter()
        .filter(|r| counts(environment, actor, &r.by))
        .map(|r| r.by.as_str())
        .collect();
    let approvals = environment
        .approvals
        .saturating_sub(u32::try_from(approvers.len()).unwrap_or(u32::MAX));
    let timer = environment.wait.saturating_sub(waited);
    if approvals > 0 || !timer.is_zero() {
        return Verdict::Waiting { approvals, timer };
    }
    let mut why = Vec::new();
    if environment.approvals > 0 {
        let by: Vec<String> = reviews
            .iter()
            .filter(|r| approvers.contains(r.by.as_str()))
            .map(|r| format!("{}{}", r.by, comment(r)))
            .collect();
        why.push(format!("approved by {}", by.join(", ")));
    }
    if !environment.wait.is_zero() {
        why.push(format!(
            "its {} wait timer is over",
            human_duration(environment.wait)
        ));
    }
    Verdict::Open(format!("environment `{name}`: {}", why.join("; ")))
}

/// Whether an approval by `by` counts towards `environment`'s required approvals. Who may
/// review at all ([`may_review`]) is decided when a review is taken, from the reviewer's
/// credential: a stored review was admitted.
pub fn counts(environment: &EnvironmentSpec, actor: &str, by: &str) -> bool {
    environment.allow_self_approval || by != actor
}

/// How `reviewers:` names a group rather than a person.
pub const GROUP_PREFIX: &str = "group:";

/// Whether `by`, a member of `groups`, may review `environment` at all: anyone, unless it
/// names its reviewers — by name, or as `group:NAME`.
pub fn may_review(environment: &EnvironmentSpec, by: &str, groups: &[String]) -> bool {
    environment.reviewers.is_empty()
        || environment
            .reviewers
            .iter()
            .any(|r| match r.strip_prefix(GROUP_PREFIX) {
                Some(group) => groups.iter().any(|g| g == group),
                None => r == by,
            })
}

/// What the rules ask for, for people: `1 approval (not by alice) and a 5m wait timer`.
pub fn describe(environment: &EnvironmentSpec, actor: &str) -> String {
    let mut rules = Vec::new();
    if environment.approvals > 0 {
        let n = environment.approvals;
        let plural = if n == 1 { "" } else { "s" };
        let who = if environment.allow_self_approval {
            String::new()
        } else {
            format!(" (not by {actor}, who triggered the run)")
        };
        rules.push(format!("{n} approval{plural}{who}"));
    }
    if !environment.wait.is_zero() {
        rules.push(format!("a {} wait timer", human_duration(environment.wait)));
    }
    rules.join(" and ")
}

fn comment(review: &Review) -> String {
    review
        .comment
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| format!(" (\"{}\")", c.trim()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(approvals: u32, wait: u64, allow_self: bool) -> EnvironmentSpec {
        EnvironmentSpec {
            name: "production".to_owned(),
            branches: Vec::new(),
            approvals,
            allow_self_approval: allow_self,
            reviewers: Vec::new(),
            soak: None,
            vars: Default::default(),
            wait: Duration::from_secs(wait),
        }
    }

    fn review(by: &str, approved: bool) -> Review {
        Review {
            by: by.to_owned(),
            approved,
            comment: None,
        }
    }

    #[test]
    fn the_rules_as_a_table() {
        let secs = Duration::from_secs;
        let waiting = |approvals, timer| Verdict::Waiting { approvals, timer };
        let cases: &[(EnvironmentSpec, u64, Vec<Review>, Verdict)] = &[
            (env(1, 0, false), 0, vec![], waiting(1, secs(0))),
            (
                env(1, 0, false),
                0,
                vec![review("bob", true)],
                Verdict::Open("environment `production`: approved by bob".into()),
            ),
            // The person who triggered the run does not count, unless allowed.
            (
                env(1, 0, false),
                0,
                vec![review("alice", true)],
                waiting(1, secs(0)),
            ),
            (
                env(1, 0, true),
                0,
                vec![review("alice", true)],
                Verdict::Open("environment `production`: approved by alice".into()),
            ),
            // Distinct people: the same one twice is one approval.
            (
                env(2, 0, false),
                0,
                vec![review("bob", true), review("bob", true)],
                waiting(1, secs(0)),
            ),
            (
                env(2, 60, false),
                10,
                vec![review("bob", true), review("carol", true)],
                waiting(0, secs(50)),
            ),
            (
                env(2, 60, false),
                60,
                vec![review("bob", true), review("carol", true)],
                Verdict::Open(
                    "environment `production`: approved by bob, carol; its 1m wait timer is over"
                        .into(),
                ),
            ),
            (
                env(0, 300, false),
                300,
                vec![],
                Verdict::Open("environment `production`: its 5m wait timer is over".into()),
            ),
            // One rejection is final, whoever gave it and whatever else was given.
            (
                env(1, 0, false),
                0,
                vec![
                    review("bob", true),
                    Review {
                        comment: Some("not on a Friday".into()),
                        ..review("alice", false)
                    },
                ],
                Verdict::Refused(
                    "environment `production`: rejected by alice (\"not on a Friday\")".into(),
                ),
            ),
        ];
        for (i, (environment, waited, reviews, expected)) in cases.iter().enumerate() {
            assert_eq!(
                &judge(environment, "alice", secs(*waited), reviews),
                expected,
                "case {i}"
            );
        }
    }

    #[test]
    fn reviewers_are_named_people_or_members_of_named_groups() {
        let mut production = env(1, 0, false);
        assert!(may_review(&production, "anyone", &[]));
        production.reviewers = vec!["alice".to_owned(), "group:sre".to_owned()];
        let groups = |g: &[&str]| -> Vec<String> { g.iter().map(|s| (*s).to_owned()).collect() };
        assert!(may_review(&production, "alice", &[]));
        assert!(may_review(&production, "bob", &groups(&["dba", "sre"])));
        assert!(!may_review(&production, "bob", &groups(&["dba"])));
        assert!(
            !may_review(&production, "sre", &[]),
            "a person named like the group is not in it"
        );
        assert!(
            !may_review(&production, "group:sre", &[]),
            "nor is one named like the entry"
        );
    }

    #[test]
    fn rules_are_described_for_people() {
        assert_eq!(
            describe(&env(1, 300, false), "alice"),
            "1 approval (not by alice, who triggered the run) and a 5m wait timer"
        );
        assert_eq!(describe(&env(2, 0, true), "alice"), "2 approvals");
    }
}
