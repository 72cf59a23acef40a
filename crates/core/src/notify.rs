//! Notices: what happened, said once, and which targets want it. Delivery (HTTP, processes,
//! retries) belongs to the `bellwether-notify` adapter; what is decided here is pure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::{NoticeKind, NotificationSpec};

/// One thing people are told, as every target receives it (the webhook's JSON body, the
/// command's standard input).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Unique: `shop/17` for a service's 17th event, `run/4/failed` for a run.
    pub id: String,
    pub kind: NoticeKind,
    pub at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u64>,
    /// The environments the service is deployed to, or the gate the run waits at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The step, e.g. `step 2/4: pause until promoted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// What happened, in a sentence, with the verdict's numbers when there is one.
    pub message: String,
    /// Where to see it: the dashboard's page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Whether `spec` wants `notice`: its kind, and its service, environment and pipeline
/// filters (a filter a notice has nothing for does not match it).
pub fn wants(spec: &NotificationSpec, notice: &Notice) -> bool {
    let kind = spec.on.is_empty() || spec.on.contains(&notice.kind);
    let service = spec.services.is_empty()
        || notice
            .service
            .as_ref()
            .is_some_and(|s| spec.services.contains(s));
    let environment = spec.environments.is_empty()
        || notice
            .environments
            .iter()
            .any(|e| spec.environments.contains(e));
    let pipeline = spec.pipelines.is_empty()
        || notice
            .pipeline
            .as_ref()
            .is_some_and(|p| spec.pipelines.contains(p));
    kind && service && environment && pipeline
}

/// Attempts before a notice is given up on, unless a target says otherwise.
pub const ATTEMPTS: u32 = 12;
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How long to wait after failed attempt `attempt` (from 1): doubling from a second, at most a
/// minute, or what the receiver asked for (`Retry-After`) within the same bound. Twelve
/// attempts span about eight minutes, well past a receiver restarting.
pub fn backoff(attempt: u32, asked: Option<Duration>) -> Duration {
    let doubling = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6));
    asked.unwrap_or(doubling).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Target, Url};

    fn spec(on: &[NoticeKind], services: &[&str], environments: &[&str]) -> NotificationSpec {
        NotificationSpec {
            name: "team".to_owned(),
            target: Target::Slack {
                url: Url::Secret("HOOK".to_owned()),
            },
            on: on.to_vec(),
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            environments: environments.iter().map(|s| (*s).to_owned()).collect(),
            pipelines: Vec::new(),
            attempts: ATTEMPTS,
        }
    }

    fn notice(kind: NoticeKind, service: Option<&str>, environments: &[&str]) -> Notice {
        Notice {
            id: "x".to_owned(),
            kind,
            at_ms: 0,
            service: service.map(str::to_owned),
            pipeline: None,
            run: None,
            environments: environments.iter().map(|s| (*s).to_owned()).collect(),
            version: None,
            step: None,
            message: String::new(),
            link: None,
        }
    }

    #[test]
    fn a_target_gets_the_kinds_services_and_environments_it_names() {
        use NoticeKind::*;
        let any = spec(&[], &[], &[]);
        assert!(wants(&any, &notice(Step, Some("shop"), &[])));
        let picky = spec(&[Aborted, Promoted], &["shop"], &["production"]);
        assert!(wants(
            &picky,
            &notice(Aborted, Some("shop"), &["staging", "production"])
        ));
        assert!(!wants(&picky, &notice(Step, Some("shop"), &["production"])));
        assert!(!wants(
            &picky,
            &notice(Aborted, Some("cart"), &["production"])
        ));
        assert!(!wants(&picky, &notice(Aborted, Some("shop"), &["staging"])));
        assert!(
            !wants(&picky, &notice(Aborted, None, &["production"])),
            "a run is about no service"
        );
    }

    #[test]
    fn retries_double_up_to_a_minute_and_heed_the_receiver() {
        let waits: Vec<u64> = (1..=ATTEMPTS).map(|a| backoff(a, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]);
        assert_eq!(
            backoff(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), MAX_BACKOFF);
    }
}
