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
