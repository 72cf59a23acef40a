//! The figures of a history computed by hand. Times are in minutes.

use super::*;
use crate::spec::Frequency;

const MIN: u64 = 60_000;

fn at(minutes: u64) -> Timestamp {
    Timestamp::from_millis(minutes * MIN)
}

fn fact(service: &str, minute: u64, kind: FactKind) -> Fact {
    Fact {
        service: service.to_owned(),
        at: at(minute),
        kind,
    }
}

fn started(
    service: &str,
    env: Option<&str>,
    minute: u64,
    revision: u64,
    commit: Option<u64>,
) -> Fact {
    fact(
        service,
        minute,
        FactKind::Started {
            environment: env.map(str::to_owned),
            revision,
            version: format!("v{revision}"),
            committed_at: commit.map(at),
        },
    )
}

fn api(minute: u64, kind: FactKind) -> Fact {
    fact("api", minute, kind)
}

fn api_started(minute: u64, revision: u64, commit: Option<u64>) -> Fact {
    started("api", Some("production"), minute, revision, commit)
}

use FactKind::{Aborted, Healthy, Promoted, RolledBack, Undone};

/// `api` in production: before the window a first deployment and a rollback restored inside
/// the window; inside it a promotion, an abort, a promotion undone warm, one with no known
/// commit, one superseded, one undone by rolling an older revision out again, and a rollback
/// still open at the end. `web` in staging deployed only before the window.
fn history() -> Vec<Fact> {
    vec![
        api_started(100, 1, Some(40)),
        api(101, Promoted { revision: 1 }),
        api(101, Healthy),
        api_started(1500, 2, Some(1400)),
        api(1550, RolledBack { revision: 2 }),
        api(1580, Undone { revision: 2 }),
        api(1580, Healthy),
        api_started(1600, 3, Some(1540)),
        api(1660, Promoted { revision: 3 }),
        api(1660, Healthy),
        api_started(1700, 4, None),
        api(1720, Aborted { revision: 4 }),
        api_started(1730, 5, Some(1690)),
        api(1745, Promoted { revision: 5 }),
        api(1745, Healthy),
        api(1800, Undone { revision: 5 }),
        api(1800, Healthy),
        api_started(1900, 6, None),
        api(1930, Promoted { revision: 6 }),
        api(1930, Healthy),
        api_started(2000, 7, Some(1990)),
        api_started(2010, 8, Some(2005)),
        api(2040, Promoted { revision: 8 }),
        api(2040, Healthy),
        api(2100, Undone { revision: 8 }),
        fact(
            "api",
            2100,
            FactKind::Started {
                environment: Some("production".to_owned()),
                revision: 3,
                version: "v3".to_owned(),
                committed_at: Some(at(1540)),
            },
        ),
        api(2130, Promoted { revision: 3 }),
        api(2130, Healthy),
        api_started(2900, 9, Some(2800)),
        api(2950, RolledBack { revision: 9 }),
        api(3100, Healthy),
        started("web", Some("staging"), 10, 1, Some(5)),
        fact("web", 20, Promoted { revision: 1 }),
        fact("web", 20, Healthy),
    ]
}

/// One day up to minute 3000: from minute 1560.
fn day_to(end: u64) -> Window {
    Window {
        end: at(end),
        length: Duration::from_secs(86_400),
    }
}

fn spread(count: u64, median: Option<u64>, p90: Option<u64>) -> Spread {
    Spread {
        count,
        median_ms: median.map(|m| m * MIN),
        p90_ms: p90.map(|m| m * MIN),
    }
}

#[test]
fn a_hand_computed_history() {
    let out = figures(&history(), day_to(3000), &DoraTargets::default());
    assert_eq!(out.len(), 2);
    let api = &out[0];
    assert_eq!(
        (api.service.as_str(), api.environment.as_deref()),
        ("api", Some("production"))
    );
    // Promoted in the window: r3, r5, r6, r8 and r3 again.
    assert_eq!(
        api.deployment_frequency,
        DeploymentFrequency {
            deployments: 5,
            days: 1.0,
            per_day: Some(5.0),
        }
    );
    // r3 120, r5 55, r8 35; r6 has no commit; r3's second promotion is no new change.
    assert_eq!(
        api.lead_time,
        LeadTime {
            spread: spread(3, Some(55), Some(120)),
            excluded: 1,
        }
    );
    // Ended promoted or failed: r3, r4, r5, r6, r8, r3, r9; failed: r4 aborted, r5 and r8
    // undone, r9 rolled back. r2 was rolled back before the window, r7 superseded.
    assert_eq!(
        api.change_failure_rate,
        ChangeFailureRate {
            rollouts: 7,
            failed: 4,
            aborted: 1,
            rolled_back: 1,
            undone: 2,
            superseded: 1,
            rate: Some(4.0 / 7.0),
        }
    );
    // r4 1720 → 1745, r5 undone warm at 1800 (0), r8 2100 → 2130; r9 open since 2950.
    assert_eq!(
        api.time_to_restore,
        TimeToRestore {
            spread: spread(3, Some(25), Some(30)),
            unrestored: 1,
            longest_open_ms: Some(50 * MIN),
        }
    );
    assert_eq!(api.targets, None);
}

#[test]
fn a_service_with_no_deploys_in_the_window_has_no_figures_to_speak_of() {
    let out = figures(&history(), day_to(3000), &DoraTargets::default());
    let web = &out[1];
    assert_eq!(
        (web.service.as_str(), web.environment.as_deref()),
        ("web", Some("staging"))
    );
    assert_eq!(web.deployment_frequency.deployments, 0);
    assert_eq!(web.deployment_frequency.per_day, Some(0.0));
    assert_eq!(web.lead_time.spread, Spread::default());
    assert_eq!(web.change_failure_rate.rollouts, 0);
    assert_eq!(web.change_failure_rate.rate, None);
    assert_eq!(web.time_to_restore.spread, Spread::default());
    assert_eq!(web.time_to_restore.unrestored, 0);
}

#[test]
fn no_facts_no_figures() {
    assert_eq!(figures(&[], day_to(3000), &DoraTargets::default()), []);
}

#[test]
fn a_failure_restored_after_the_window_is_restored_once_the_window_reaches_it() {
    // Up to minute 3200 (from 1760): r9's rollback at 2950 is restored at 3100.
    let out = figures(&history(), day_to(3200), &DoraTargets::default());
    let api = &out[0];
    assert_eq!(api.time_to_restore.unrestored, 0);
    // Ended in it: r6, r8 (undone, 30), r3 again, r9 (150); r5 was promoted at 1745, before.
    assert_eq!(api.time_to_restore.spread, spread(2, Some(30), Some(150)));
    assert_eq!(api.change_failure_rate.failed, 2);
    assert_eq!(api.change_failure_rate.rollouts, 4);
}

#[test]
fn facts_after_the_end_are_not_known_yet() {
    // As of minute 1790 r5 is promoted and not yet undone; r6 onwards has not happened.
    let out = figures(&history(), day_to(1790), &DoraTargets::default());
    let api = &out[0];
    assert_eq!(api.deployment_frequency.deployments, 2);
    assert_eq!(api.change_failure_rate.undone, 0);
    // The window (from 350) also holds r2's rollback at 1550, restored at 1580, and r4's abort.
    assert_eq!(api.change_failure_rate.failed, 2);
    assert_eq!(api.change_failure_rate.rolled_back, 1);
    assert_eq!(api.time_to_restore.spread, spread(2, Some(25), Some(30)));
}

#[test]
fn undo_during_a_rollout_fails_that_rollout_and_restores_at_once() {
    let facts = vec![
        started("svc", None, 0, 1, None),
        fact("svc", 1, Promoted { revision: 1 }),
        fact("svc", 1, Healthy),
        started("svc", None, 10, 2, Some(0)),
        fact("svc", 12, Undone { revision: 2 }),
        fact("svc", 12, Healthy),
        // An undo of the stable revision after that fails the rollout that promoted it, once.
        fact("svc", 13, Undone { revision: 1 }),
    ];
    let window = Window {
        end: at(60),
        length: Duration::from_secs(3600),
    };
    let out = figures(&facts, window, &DoraTargets::default());
    let svc = &out[0];
    assert_eq!(svc.environment, None);
    assert_eq!(svc.change_failure_rate.rollouts, 2);
    assert_eq!(svc.change_failure_rate.failed, 2);
    assert_eq!(svc.change_failure_rate.undone, 2);
    assert_eq!(svc.time_to_restore.spread, spread(1, Some(0), Some(0)));
    // r1's undo at 13 is followed by no healthy moment.
    assert_eq!(svc.time_to_restore.unrestored, 1);
    assert_eq!(svc.time_to_restore.longest_open_ms, Some(47 * MIN));
    // r1 had no commit; r2 was never promoted.
    assert_eq!(svc.lead_time.excluded, 1);
    assert_eq!(svc.lead_time.spread.count, 0);
}

#[test]
fn environments_of_a_service_are_counted_apart_and_share_its_health() {
    let facts = vec![
        started("svc", Some("staging"), 0, 1, Some(0)),
        fact("svc", 5, Promoted { revision: 1 }),
        fact("svc", 5, Healthy),
        started("svc", Some("production"), 10, 2, Some(0)),
        fact("svc", 20, Aborted { revision: 2 }),
        started("svc", Some("staging"), 30, 3, Some(25)),
        fact("svc", 32, Promoted { revision: 3 }),
        fact("svc", 32, Healthy),
    ];
    let window = Window {
        end: at(60),
        length: Duration::from_secs(3600),
    };
    let out = figures(&facts, window, &DoraTargets::default());
    let names: Vec<_> = out.iter().map(|f| f.environment.as_deref()).collect();
    assert_eq!(names, [Some("production"), Some("staging")]);
    assert_eq!(out[0].change_failure_rate.failed, 1);
    assert_eq!(out[0].time_to_restore.spread, spread(1, Some(12), Some(12)));
    assert_eq!(out[1].deployment_frequency.deployments, 2);
    assert_eq!(out[1].lead_time.spread, spread(2, Some(5), Some(7)));
}

#[test]
fn targets_are_judged_beside_the_figures() {
    let targets = DoraTargets {
        deployment_frequency: Frequency::parse("daily"),
        lead_time: Some(Duration::from_secs(3600)),
        change_failure_rate: Some(1500),
        time_to_restore: Some(Duration::from_secs(15 * 60)),
    };
    let out = figures(&history(), day_to(3000), &targets);
    let check = |target: &str, verdict| TargetCheck {
        target: target.to_owned(),
        verdict,
    };
    use TargetVerdict::*;
    // 5 a day; a median lead time of 55m; 4 of 7 failed; a median restore of 25m.
    assert_eq!(
        out[0].targets,
        Some(TargetChecks {
            deployment_frequency: Some(check("daily", Met)),
            lead_time: Some(check("1h", Met)),
            change_failure_rate: Some(check("15%", NotMet)),
            time_to_restore: Some(check("15m", NotMet)),
        })
    );
    assert_eq!(
        out[1].targets,
        Some(TargetChecks {
            deployment_frequency: Some(check("daily", NotMet)),
            lead_time: Some(check("1h", NotApplicable)),
            change_failure_rate: Some(check("15%", NotApplicable)),
            time_to_restore: Some(check("15m", NotApplicable)),
        })
    );
    // A median restore within an hour, and r9 open for 50m only: met. Six a day is too many.
    let targets = DoraTargets {
        deployment_frequency: Frequency::parse("6/day"),
        time_to_restore: Some(Duration::from_secs(3600)),
        ..DoraTargets::default()
    };
    let out = figures(&history(), day_to(3000), &targets);
    assert_eq!(
        out[0].targets,
        Some(TargetChecks {
            deployment_frequency: Some(check("6/day", NotMet)),
            time_to_restore: Some(check("1h", Met)),
            ..TargetChecks::default()
        })
    );
    // Open for longer than the target: not met, whatever the median.
    let targets = DoraTargets {
        time_to_restore: Some(Duration::from_secs(40 * 60)),
        ..DoraTargets::default()
    };
    let out = figures(&history(), day_to(3000), &targets);
    assert_eq!(
        out[0]
            .targets
            .as_ref()
            .and_then(|t| t.time_to_restore.clone()),
        Some(check("40m", NotMet))
    );
}

#[test]
fn an_empty_window_has_no_frequency() {
    let window = Window {
        end: at(3000),
        length: Duration::ZERO,
    };
    let out = figures(&history(), window, &DoraTargets::default());
    assert_eq!(out[0].deployment_frequency.per_day, None);
}

#[test]
fn percentiles_are_by_nearest_rank() {
    let ten: Vec<u64> = (1..=10).collect();
    assert_eq!(nearest_rank(&ten, 50), Some(5));
    assert_eq!(nearest_rank(&ten, 90), Some(9));
    assert_eq!(nearest_rank(&[7], 50), Some(7));
    assert_eq!(nearest_rank(&[7], 90), Some(7));
    assert_eq!(nearest_rank(&[1, 2], 50), Some(1));
    assert_eq!(nearest_rank(&[], 50), None);
}

#[test]
fn frequencies_and_percentages_read_and_print_as_written() {
    for text in ["daily", "weekly", "monthly", "hourly", "3/day", "2/week"] {
        let parsed = Frequency::parse(text).expect(text);
        assert_eq!(parsed.to_string(), text);
    }
    for bad in ["", "0/day", "often", "3/fortnight", "x/day"] {
        assert_eq!(Frequency::parse(bad), None, "{bad}");
    }
    assert_eq!(percent(1500), "15%");
    assert_eq!(percent(250), "2.5%");
    assert_eq!(percent(1), "0.01%");
}
