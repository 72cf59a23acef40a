//! A world for scripted rollouts on tokio's paused clock: a platform whose replicas are ready
//! the moment they are asked for (or never, for a `never-ready` command), and a journal of
//! every scale and routing table the controller asks for, with its virtual time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bellwether_controller::{Clock, ControlPlane, Listen, Options, Platform, Seams, TableObserver};
use bellwether_core::platform::{
    LogLine, LogQuery, ReplicaPhase, ReplicaState, ReplicaTemplate, ServiceState,
};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::{ResourceSample, ResourceSource};
use bellwether_core::spec::Project;
use bellwether_core::time::Timestamp;
use bellwether_router::TableSpec;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::harness::project;

/// What the control plane's clock reads when a world starts; any epoch will do.
const EPOCH_MS: u64 = 1_700_000_000_000;

/// A replica run with this command starts and never becomes ready.
pub(crate) const NEVER_READY: &str = "never-ready";

/// What the controller asked for, in milliseconds of test time since the world started.
#[derive(Clone)]
pub(crate) struct Journal {
    start: Instant,
    entries: Arc<Mutex<Vec<(u64, String)>>>,
}

impl Journal {
    fn entries(&self) -> MutexGuard<'_, Vec<(u64, String)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn write(&self, entry: String) {
        let ms = self.now();
        self.entries().push((ms, entry));
    }

    /// Every entry from `from` ms on.
    pub(crate) fn since(&self, from: u64) -> Vec<(u64, String)> {
        self.entries()
            .iter()
            .filter(|(at, _)| *at >= from)
            .cloned()
            .collect()
    }
}

/// Records a table as `route` (main) or `preview`, then `r<number>=<weight>x<replicas>` for
/// each revision it routes to.
impl TableObserver for Journal {
    fn applied(&self, listen: Listen, table: &TableSpec) {
        let mut entry = match listen {
            Listen::Main => "route".to_owned(),
            Listen::Preview => "preview".to_owned(),
        };
        for r in &table.revisions {
            let _ = write!(entry, " r{}={}x{}", r.number, r.weight, r.replicas.len());
        }
        self.write(entry);
    }
}

struct ScriptedPlatform {
    services: Mutex<HashMap<String, watch::Sender<ServiceState>>>,
    journal: Journal,
}

impl ScriptedPlatform {
    fn services(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<ServiceState>>> {
        self.services.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Platform for ScriptedPlatform {
    fn scale(&self, template: &ReplicaTemplate, replicas: u32) {
        self.journal
            .write(format!("scale r{} to {replicas}", template.revision));
        let phase = if template.run.command.first().map(String::as_str) == Some(NEVER_READY) {
            ReplicaPhase::Starting
        } else {
            ReplicaPhase::Ready
        };
        let revision = template.revision;
        let mut services = self.services();
        let channel = services.entry(template.service.clone()).or_default();
        channel.send_if_modified(|revisions| {
            if replicas == 0 {
                return revisions.remove(&revision).is_some();
            }
            let state = revisions.entry(revision).or_default();
            let before = state.clone();
            state.desired = replicas;
            state.replicas.truncate(replicas as usize);
            for index in state.replicas.len() as u32..replicas {
                let host = Ipv4Addr::new(127, 1, u8::try_from(revision).unwrap_or(0), 0);
                state.replicas.push(ReplicaState {
                    index,
                    pid: None,
                    addr: Some(SocketAddr::from((host, 9 + index as u16))),
                    phase,
                    restarts: 0,
                    last_error: None,
                });
            }
            *state != before
        });
    }

    fn watch(&self, service: &str) -> watch::Receiver<ServiceState> {
        self.services()
            .entry(service.to_owned())
            .or_default()
            .subscribe()
    }

    /// Its replicas write nothing: the stream ends at once.
    fn logs(
        &self,
        _service: &str,
        _query: LogQuery,
        _stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> mpsc::Receiver<Vec<LogLine>> {
        mpsc::channel(1).1
    }

    fn reap_unclaimed(&self) {}

    fn abandon(&self) {}

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

impl ResourceSource for ScriptedPlatform {
    fn resources(&self, _: &str, _: RevisionNumber, _: Duration) -> Option<ResourceSample> {
        None
    }
}

/// A control plane on the scripted platform and tokio's clock, in a temporary directory.
pub(crate) struct World {
    pub(crate) plane: ControlPlane,
    pub(crate) journal: Journal,
    platform: Arc<ScriptedPlatform>,
    project: Project,
    dir: tempfile::TempDir,
}

impl World {
    /// Starts `yaml`'s project; the journal's time 0 is now.
    pub(crate) async fn start(yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let journal = Journal {
            start: Instant::now(),
            entries: Arc::default(),
        };
        let platform = Arc::new(ScriptedPlatform {
            services: Mutex::default(),
            journal: journal.clone(),
        });
        let project = project(yaml);
        let plane = launch(&dir, &project, &platform, &journal).await;
        Self {
            plane,
            journal,
            platform,
            project,
            dir,
        }
    }

    /// Drops the control plane as a crash would, its replicas left running, and starts
    /// another on the same store and platform, its clock going on from now.
    pub(crate) async fn restart(self) -> Self {
        let Self {
            plane,
            journal,
            platform,
            project,
            dir,
        } = self;
        drop(plane);
        let plane = launch(&dir, &project, &platform, &journal).await;
        Self {
            plane,
            journal,
            platform,
            project,
            dir,
        }
    }

    /// The journal's time of an instant the control plane stored.
    pub(crate) fn ms_of(at: Timestamp) -> u64 {
        at.as_millis() - EPOCH_MS
    }

    /// Milliseconds of test time since the world started.
    pub(crate) fn now(&self) -> u64 {
        self.journal.now()
    }
}

async fn launch(
    dir: &tempfile::TempDir,
    project: &Project,
    platform: &Arc<ScriptedPlatform>,
    journal: &Journal,
) -> ControlPlane {
    let seams = Seams {
        platform: Arc::clone(platform) as Arc<dyn Platform>,
        clock: Clock::tokio(Timestamp::from_millis(EPOCH_MS + journal.now())),
        tables: Some(Arc::new(journal.clone())),
        store: None,
        traffic: None,
    };
    let options = Options {
        data_dir: dir.path().join("data"),
        base_dir: dir.path().to_owned(),
        project: project.clone(),
        secrets: None,
    };
    ControlPlane::start_on(options, seams)
        .await
        .expect("the control plane starts")
}
