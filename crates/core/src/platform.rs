//! What a platform runs, as data: the template of a revision's replicas, and the state of every
//! replica as the platform publishes it. The controller asks a platform for replicas with a
//! [`ReplicaTemplate`] and reads back [`PlatformState`] (or one service's [`ServiceState`]); the
//! local platform and any other implementation fill them in.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use crate::rollout::RevisionNumber;
use crate::spec::{Probe, RunSpec};
use crate::time::Timestamp;

/// The variables a process bellwether starts (a replica, a pipeline step, an analysis job, a
/// notification command) takes from bellwether's own environment; everything else it gets
/// from what the project declares. So a credential bellwether was started with (the webhook
/// secret, a cloud token) reaches no program unless the project passes it on.
pub const INHERITED_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "TMPDIR",
];

/// Everything needed to run replicas of one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaTemplate {
    pub service: String,
    pub revision: RevisionNumber,
    /// The revision's version label, told to its replicas.
    pub version: String,
    pub run: RunSpec,
    pub readiness: Probe,
    pub liveness: Option<Probe>,
    /// The environment the revision was deployed to, whose secrets its replicas get.
    pub environment: Option<String>,
}

/// Where a platform reads the values of the secrets a replica is given, when it starts it.
pub trait SecretSource: Send + Sync + std::fmt::Debug {
    /// The values of `names`, each the environment's own if it has one, else the project's;
    /// an error names the first that is not set, or why none can be read.
    fn values(
        &self,
        environment: Option<&str>,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, String>;
}

impl ReplicaTemplate {
    pub fn key(&self) -> RevisionKey {
        RevisionKey {
            service: self.service.clone(),
            revision: self.revision,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RevisionKey {
    pub service: String,
    pub revision: RevisionNumber,
}

/// A snapshot of everything the platform runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PlatformState {
    pub revisions: BTreeMap<RevisionKey, RevisionState>,
}

/// The revisions of one service the platform runs, by number.
pub type ServiceState = BTreeMap<RevisionNumber, RevisionState>;

impl PlatformState {
    /// Addresses of the ready replicas of a revision: where traffic may go.
    pub fn ready_addrs(&self, key: &RevisionKey) -> Vec<SocketAddr> {
        self.revisions.get(key).map_or_else(Vec::new, |r| {
            r.replicas
                .iter()
                .filter(|p| p.phase == ReplicaPhase::Ready)
                .filter_map(|p| p.addr)
                .collect()
        })
    }

    pub fn ready_count(&self, key: &RevisionKey) -> u32 {
        self.ready_addrs(key).len() as u32
    }

    /// The revisions of `service`.
    pub fn of_service(&self, service: &str) -> ServiceState {
        let key = |revision| RevisionKey {
            service: service.to_owned(),
            revision,
        };
        self.revisions
            .range(key(0)..=key(RevisionNumber::MAX))
            .map(|(k, r)| (k.revision, r.clone()))
            .collect()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RevisionState {
    pub desired: u32,
    pub replicas: Vec<ReplicaState>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplicaState {
    pub index: u32,
    pub pid: Option<u32>,
    pub addr: Option<SocketAddr>,
    pub phase: ReplicaPhase,
    /// Times the replica was started again after exiting or failing its liveness probe.
    pub restarts: u32,
    /// Why the replica last stopped or could not start, for people.
    pub last_error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaPhase {
    /// Started, readiness not yet passed.
    Starting,
    Ready,
    /// Was ready, now failing its readiness probe: it gets no traffic.
    Unready,
    /// Exited or could not start; waiting for the back-off before starting again.
    Crashed,
    /// Being stopped: no traffic, SIGTERM sent.
    Stopping,
}

/// Which replica logs to read: of one revision or all, the last `tail` lines of each replica
/// or everything, and then (following) what is written until the reader stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogQuery {
    pub revision: Option<RevisionNumber>,
    pub tail: Option<usize>,
    pub follow: bool,
}

/// One line a replica wrote, without its line ending; an unfinished last line or one too long
/// to hold comes as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub revision: RevisionNumber,
    pub index: u32,
    /// When the platform received the line from the replica; none where it was not recorded.
    pub time: Option<Timestamp>,
    pub text: Vec<u8>,
}
