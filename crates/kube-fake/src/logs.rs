//! What each pod's container wrote, kept as the kubelet keeps it: one log per run of the
//! container (the current and the one before, `previous=true`), each line with the time it
//! was written.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;
use tokio::sync::watch;

/// One run of a container.
#[derive(Clone, Debug, Default)]
pub(crate) struct Run {
    pub lines: Vec<(OffsetDateTime, Vec<u8>)>,
    /// The process exited: a follower has read everything there will be.
    pub ended: bool,
    /// Which run of the container this is, from 1.
    pub number: u64,
}

#[derive(Default)]
struct PodLog {
    runs: u64,
    previous: Option<Run>,
    current: Option<Run>,
}

/// Every pod's log by namespace and name; a change of any wakes the followers.
#[derive(Clone, Default)]
pub(crate) struct Logs {
    pods: Arc<Mutex<BTreeMap<(String, String), PodLog>>>,
    changed: Arc<watch::Sender<u64>>,
}

impl Logs {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), PodLog>> {
        self.pods
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn touch(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// A new run of the pod's container begins; the last one becomes the previous.
    pub(crate) fn start(&self, namespace: &str, pod: &str) {
        let mut pods = self.lock();
        let log = pods.entry((namespace.into(), pod.into())).or_default();
        if let Some(mut last) = log.current.take() {
            last.ended = true;
            log.previous = Some(last);
        }
        log.runs += 1;
        log.current = Some(Run {
            number: log.runs,
            ..Run::default()
        });
        drop(pods);
        self.touch();
    }

    pub(crate) fn append(&self, namespace: &str, pod: &str, line: Vec<u8>) {
        let mut pods = self.lock();
        if let Some(run) = pods
            .get_mut(&(namespace.into(), pod.into()))
            .and_then(|log| log.current.as_mut())
        {
            run.lines.push((OffsetDateTime::now_utc(), line));
        }
        drop(pods);
        self.touch();
    }

    /// The current run's process exited.
    pub(crate) fn end(&self, namespace: &str, pod: &str) {
        if let Some(run) = self
            .lock()
            .get_mut(&(namespace.into(), pod.into()))
            .and_then(|log| log.current.as_mut())
        {
            run.ended = true;
        }
        self.touch();
    }

    /// The pod is gone, and its logs with it.
    pub(crate) fn forget(&self, namespace: &str, pod: &str) {
        self.lock().remove(&(namespace.into(), pod.into()));
        self.touch();
    }

    /// The lines of the current run (or the previous) from `from` on, and whether it ended;
    /// `None` when the container has not run.
    pub(crate) fn read(
        &self,
        namespace: &str,
        pod: &str,
        previous: bool,
        from: usize,
    ) -> Option<Run> {
        let pods = self.lock();
        let log = pods.get(&(namespace.into(), pod.into()))?;
        let run = if previous {
            log.previous.as_ref()?
        } else {
            log.current.as_ref()?
        };
        Some(Run {
            lines: run.lines.get(from..).unwrap_or_default().to_vec(),
            ended: run.ended,
            number: run.number,
        })
    }

    pub(crate) fn changed(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
