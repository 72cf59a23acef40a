//! What the control plane keeps of its project across restarts, in the store beside the
//! rollouts: the project each `apply` left running (stream `project`, the latest record wins)
//! and the router port picked for each service without `listen` (stream `router/<service>`),
//! so that a restart serves the same services on the same ports.

use std::net::SocketAddr;

use bellwether_core::spec::Project;
use bellwether_store::{Record, Store, StoreError};
use serde::{Deserialize, Serialize};

/// The stream of applied projects.
const PROJECT: &str = "project";

/// Where the project a control plane runs came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectOrigin {
    /// The project given at start: nothing was applied yet.
    Given,
    /// The project the last `apply` left, from `file`, applied at `at_ms`.
    Applied { file: String, at_ms: u64 },
    /// What the last `apply` left cannot be read back (another version of bellwether stored
    /// it); the project given at start runs instead, and the next `apply` replaces it.
    Unreadable(String),
}

#[derive(Serialize, Deserialize)]
struct AppliedRecord {
    file: String,
    project: Project,
}

/// The project the last `apply` stored, if any.
pub(crate) fn load(
    store: &dyn Store,
) -> Result<Option<(ProjectOrigin, Option<Project>)>, StoreError> {
    let Some(record) = last(store, PROJECT)? else {
        return Ok(None);
    };
    Ok(Some(
        match serde_json::from_value::<AppliedRecord>(record.body) {
            Ok(applied) => (
                ProjectOrigin::Applied {
                    file: applied.file,
                    at_ms: record.at_ms,
                },
                Some(applied.project),
            ),
            Err(error) => (ProjectOrigin::Unreadable(error.to_string()), None),
        },
    ))
}

/// Records `project` as the one `apply` left running.
pub(crate) fn save(
    store: &dyn Store,
    at_ms: u64,
    file: &str,
    project: &Project,
) -> Result<(), StoreError> {
    let body = serde_json::to_value(AppliedRecord {
        file: file.to_owned(),
        project: project.clone(),
    })?;
    let expected = store.last_seq(PROJECT)?;
    store.append(PROJECT, expected, &[Record::new(at_ms, "applied", body)])?;
    Ok(())
}

fn port_stream(service: &str) -> String {
    format!("router/{service}")
}

#[derive(Serialize, Deserialize)]
struct PortRecord {
    addr: SocketAddr,
}

/// The router address last picked for `service`, which has no `listen`.
pub(crate) fn port(store: &dyn Store, service: &str) -> Result<Option<SocketAddr>, StoreError> {
    Ok(last(store, &port_stream(service))?
        .and_then(|record| serde_json::from_value::<PortRecord>(record.body).ok())
        .map(|record| record.addr))
}

/// Keeps `addr` as the router address of `service` from now on.
pub(crate) fn keep_port(
    store: &dyn Store,
    at_ms: u64,
    service: &str,
    addr: SocketAddr,
) -> Result<(), StoreError> {
    let stream = port_stream(service);
    let body = serde_json::to_value(PortRecord { addr })?;
    let expected = store.last_seq(&stream)?;
    store.append(&stream, expected, &[Record::new(at_ms, "port", body)])?;
    Ok(())
}

fn last(store: &dyn Store, stream: &str) -> Result<Option<Record>, StoreError> {
    let seq = store.last_seq(stream)?;
    if seq == 0 {
        return Ok(None);
    }
    Ok(store.read(stream, seq - 1)?.pop())
}
