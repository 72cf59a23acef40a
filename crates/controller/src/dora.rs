//! Where the DORA figures' facts come from: each service's rollout events, replayed, and what
//! each deploy said that the events do not (the environment it went to, the commit its version
//! came from), kept in a stream of its own because revisions are pruned and events are not.

use std::collections::BTreeMap;

use bellwether_api::Commit;
use bellwether_core::dora::{Fact, FactKind};
use bellwether_core::rollout::{Action, Command, Event, EventKind, Note, Phase, RevisionNumber};
use bellwether_core::time::Timestamp;
use bellwether_store::{Record, Store, StoreError};
use serde::{Deserialize, Serialize};

/// The stream of a service's deploys.
pub(crate) fn deploy_stream(service: &str) -> String {
    format!("deploy/{service}")
}

/// One deploy as recorded beside the revision it made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Deployed {
    pub(crate) revision: RevisionNumber,
    pub(crate) environment: Option<String>,
    pub(crate) commit: Option<Commit>,
}

/// Appends `deployed` to the service's deploy stream; its controller is the only writer.
pub(crate) fn record(
    store: &dyn Store,
    service: &str,
    deployed: &Deployed,
    at: Timestamp,
) -> Result<(), StoreError> {
    let stream = deploy_stream(service);
    let last = store.last_seq(&stream)?;
    let body = serde_json::to_value(deployed)?;
    store.append(
        &stream,
        last,
        &[Record::new(at.as_millis(), "deployed", body)],
    )?;
    Ok(())
}

/// The facts of `service`'s history. A revision deployed before deploys were recorded goes to
/// the service's only environment, if it declares one.
pub(crate) fn facts(
    store: &dyn Store,
    service: &str,
    only_environment: Option<&str>,
) -> Result<Vec<Fact>, StoreError> {
    let mut deploys = BTreeMap::new();
    for record in store.read(&deploy_stream(service), 0)? {
        let deployed: Deployed = serde_json::from_value(record.body)?;
        deploys.insert(deployed.revision, deployed);
    }
    let mut out = Vec::new();
    let mut phase = None;
    crate::history::replay(store, service, |event, _, _, before, rollout, actions| {
        let fact = |kind| Fact {
            service: service.to_owned(),
            at: event.at,
            kind,
        };
        let first = out.len();
        if let Some(revision) = undone(event, before) {
            out.push(fact(FactKind::Undone { revision }));
        }
        for action in actions {
            let Action::Record(note) = action else {
                continue;
            };
            let kind = match note {
                Note::Started { revision, .. } | Note::FirstDeployment { revision } => {
                    let deployed = deploys.get(&revision.number);
                    let environment = deployed
                        .map_or(only_environment, |d| d.environment.as_deref())
                        .map(str::to_owned);
                    FactKind::Started {
                        environment,
                        revision: revision.number,
                        version: revision.version.clone(),
                        committed_at: deployed
                            .and_then(|d| d.commit.as_ref())
                            .map(|c| c.committed_at),
                    }
                }
                Note::Promoted { revision } => FactKind::Promoted {
                    revision: revision.number,
                },
                Note::Aborted { .. } => {
                    let Some(target) = &before.target else {
                        continue;
                    };
                    let revision = target.number;
                    match &event.kind {
                        EventKind::Command {
                            command: Command::Abort { .. },
                            ..
                        } => FactKind::Aborted { revision },
                        _ => FactKind::RolledBack { revision },
                    }
                }
                _ => continue,
            };
            out.push(fact(kind));
        }
        // An undo to a warm revision leaves the service healthy throughout: it is healthy again
        // at once all the same.
        let now = rollout.phase();
        if now == Phase::Healthy && (phase != Some(Phase::Healthy) || out.len() > first) {
            out.push(fact(FactKind::Healthy));
        }
        phase = Some(now);
    })?;
    Ok(out)
}

/// The revision an undo takes away: the one being rolled out (or aborted), else the stable one.
fn undone(event: &Event, before: &bellwether_core::rollout::Rollout) -> Option<RevisionNumber> {
    let EventKind::Command {
        command: Command::Undo { .. },
        ..
    } = &event.kind
    else {
        return None;
    };
    let taken = if before.in_progress() || before.aborted {
        &before.target
    } else {
        &before.stable
    };
    taken.as_ref().map(|r| r.number)
}

#[cfg(test)]
mod tests {
    use bellwether_core::rollout::{Revision, RolloutSpec};
    use bellwether_store::{RolloutLog, SqliteStore};

    use super::*;

    fn revision(number: RevisionNumber) -> Revision {
        Revision {
            number,
            version: format!("v{number}"),
        }
    }

    /// A canary whose second revision never gets ready is rolled back at its progress
    /// deadline, then undone back to the first; only the first deploy was recorded.
    #[test]
    fn a_history_replayed_becomes_facts() {
        let yaml = "services:\n  api:\n    run: {command: [./api]}\n    progressDeadline: 10s\n    environments: [production]\n    strategy: {canary: {steps: [{setWeight: 50}, {pause: {}}]}}\nenvironments:\n  production: {}\n";
        let project = bellwether_config::load("bellwether.yaml", yaml)
            .expect("valid")
            .project;
        let spec = RolloutSpec::from(&project.services["api"]);
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("bellwether.db")).unwrap();
        let committed = Timestamp::from_millis(500);
        let deployed = Deployed {
            revision: 1,
            environment: Some("staging".to_owned()),
            commit: Some(Commit {
                sha: "a".repeat(40),
                committed_at: committed,
            }),
        };
        record(&store, "api", &deployed, Timestamp::from_millis(1_000)).unwrap();
        let mut log = RolloutLog::load(&store, "api").unwrap();
        let at = |s: u64| Timestamp::from_millis(s * 1_000);
        let events = [
            (
                1,
                EventKind::SpecChanged {
                    revision: revision(1),
                    spec: spec.clone(),
                },
            ),
            (
                2,
                EventKind::ReplicasReady {
                    revision: 1,
                    ready: 1,
                    failing: None,
                },
            ),
            (
                10,
                EventKind::SpecChanged {
                    revision: revision(2),
                    spec,
                },
            ),
            (30, EventKind::Tick),
            (
                40,
                EventKind::Command {
                    command: Command::Undo { to: revision(1) },
                    by: "alice".to_owned(),
                },
            ),
        ];
        for (second, kind) in events {
            let outcome = log.record(&store, &Event::new(at(second), kind)).unwrap();
            assert!(outcome.is_ok(), "{outcome:?}");
        }
        let facts = facts(&store, "api", Some("production")).unwrap();
        let kinds: Vec<(u64, FactKind)> = facts
            .into_iter()
            .map(|f| (f.at.as_millis() / 1_000, f.kind))
            .collect();
        let started = |revision, environment: &str, committed_at| FactKind::Started {
            environment: Some(environment.to_owned()),
            revision,
            version: format!("v{revision}"),
            committed_at,
        };
        assert_eq!(
            kinds,
            [
                (1, started(1, "staging", Some(committed))),
                (2, FactKind::Promoted { revision: 1 }),
                (2, FactKind::Healthy),
                (10, started(2, "production", None)),
                (30, FactKind::RolledBack { revision: 2 }),
                (40, FactKind::Undone { revision: 2 }),
                (40, FactKind::Healthy),
            ]
        );
    }
}
