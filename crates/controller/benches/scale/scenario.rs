//! The scale benchmark's scenario, which `crates/platform-kubernetes/benches/footprint` plays
//! too (it includes this file): N services of one spec, each deployed twice, 256 requests at a
//! time, so that every one is paused at 10% of a canary; the control plane idle for 10 s; every
//! canary promoted to its 50% step. Each stage is measured from `/proc/self` (`process.rs`):
//! wall time to its last stored event, the events stored, CPU, resident memory and threads.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bellwether_api::{DeployRequest, ServiceSummary};
use bellwether_controller::{ControlError, ControlPlane};
use bellwether_core::error::chain;
use bellwether_core::rollout::{Command, Phase};
use bellwether_core::spec::{Project, Weight};
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use crate::process::{self, Usage};

/// Every service is this one under another name: four replicas, a canary that stops at 10% (one
/// canary replica) and at 50% (two) until it is promoted.
const SERVICE: &str = r#"
services:
  svc:
    replicas: 4
    run: {command: [service]}
    strategy:
      canary:
        steps:
          - setWeight: 10
          - pause: {}
          - setWeight: 50
          - pause: {}
"#;

/// With `--analysis`, every canary is also judged in the background on the seeds' five default
/// metrics, each measured every second (the builtin provider's default interval).
const ANALYSIS: &str = r#"
    analysis:
      metrics:
        - "success_rate >= 99%"
        - "latency_p99 <= 200ms"
        - "error_rate <= 1%"
        - "cpu <= 80%"
        - "memory <= 80%"
"#;

/// Requests sent to the control plane at once, as many operators or pipelines would.
const CONCURRENT_REQUESTS: usize = 256;

/// A stage is over once what it waits for holds and no event was stored for this long.
const QUIET: Duration = Duration::from_millis(500);

/// No stage may take longer than this.
const STAGE_LIMIT: Duration = Duration::from_secs(3600);

/// How long the idle control plane is watched.
const IDLE: Duration = Duration::from_secs(10);

/// The services' names: `svc-00000` and on.
pub(crate) fn names(n: usize) -> Arc<Vec<String>> {
    Arc::new((0..n).map(|i| format!("svc-{i:05}")).collect())
}

/// A project of the service under each name, judged in the background with `analysis`.
pub(crate) fn project(names: &[String], analysis: bool) -> Result<Project, String> {
    let yaml = if analysis {
        format!("{SERVICE}{ANALYSIS}")
    } else {
        SERVICE.to_owned()
    };
    let mut project = bellwether_config::load("bellwether.yaml", &yaml)
        .map_err(|d| format!("the benchmark's service does not load: {d}"))?
        .project;
    let template = project
        .services
        .remove("svc")
        .ok_or("the benchmark's service is missing")?;
    for name in names {
        let mut spec = template.clone();
        spec.name.clone_from(name);
        project.services.insert(name.clone(), spec);
    }
    Ok(project)
}

/// The stages after the control plane's start, each added to `report`; the usage with every
/// rollout paused mid-canary.
pub(crate) async fn play(
    plane: &ControlPlane,
    names: &Arc<Vec<String>>,
    report: &mut Report,
) -> Result<Usage, String> {
    let stage = Stage::begin(Some(plane));
    each(plane, names, |plane, name| async move {
        plane.deploy(&name, deploy("v1")).await.map(drop)
    })
    .await?;
    let done = stage
        .wait(plane, "every service stable at v1", |s| {
            s.phase == Phase::Healthy && s.stable.as_ref().is_some_and(|r| r.version == "v1")
        })
        .await?;
    report.add("deploy v1 (first revision)", done);

    let stage = Stage::begin(Some(plane));
    each(plane, names, |plane, name| async move {
        plane.deploy(&name, deploy("v2")).await.map(drop)
    })
    .await?;
    let done = stage
        .wait(plane, "every canary paused at 10%", |s| at_pause(s, 1, 10))
        .await?;
    report.add("deploy v2 (canary to 10%, paused)", done);
    let mid_rollout = process::usage();

    let stage = Stage::begin(None);
    tokio::time::sleep(IDLE).await;
    report.add("idle, every rollout paused", stage.end(0));

    let stage = Stage::begin(Some(plane));
    each(plane, names, |plane, name| async move {
        let promote = Command::Promote { full: false };
        plane.command(&name, promote, "bench").await.map(drop)
    })
    .await?;
    let done = stage
        .wait(plane, "every canary paused at 50%", |s| at_pause(s, 3, 50))
        .await?;
    report.add("promote (canary to 50%, paused)", done);
    Ok(mid_rollout)
}

fn deploy(version: &str) -> DeployRequest {
    DeployRequest {
        version: version.to_owned(),
        ..DeployRequest::default()
    }
}

fn at_pause(s: &ServiceSummary, step: usize, percent: u32) -> bool {
    s.phase == Phase::Paused
        && s.step.as_ref().is_some_and(|v| v.index == step)
        && Weight::from_percent(percent).is_ok_and(|w| s.target_weight == w)
}

/// Sends one request per service, `CONCURRENT_REQUESTS` at a time.
async fn each<F, R>(
    plane: &ControlPlane,
    names: &Arc<Vec<String>>,
    request: F,
) -> Result<(), String>
where
    F: Fn(ControlPlane, String) -> R,
    R: Future<Output = Result<(), ControlError>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(CONCURRENT_REQUESTS));
    let mut requests = JoinSet::new();
    for name in names.iter() {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let sent = request(plane.clone(), name.clone());
        let name = name.clone();
        requests.spawn(async move {
            let outcome = sent.await.map_err(|e| format!("{name}: {}", chain(&e)));
            drop(permit);
            outcome
        });
    }
    while let Some(outcome) = requests.join_next().await {
        outcome.map_err(|e| format!("a request did not finish: {e}"))??;
    }
    Ok(())
}

/// One stage's measurements: from its start to its last stored event.
pub(crate) struct Measured {
    pub(crate) wall: Duration,
    pub(crate) events: u64,
    pub(crate) cpu: Duration,
    pub(crate) after: Usage,
}

impl Measured {
    /// CPU per stored event, when the stage stored any.
    pub(crate) fn cpu_per_event(&self) -> Option<Duration> {
        let events = u32::try_from(self.events).ok().filter(|n| *n > 0)?;
        Some(self.cpu / events)
    }
}

pub(crate) struct Stage {
    started: Instant,
    before: Usage,
    events: Option<tokio::sync::broadcast::Receiver<bellwether_api::EventView>>,
}

impl Stage {
    pub(crate) fn begin(plane: Option<&ControlPlane>) -> Self {
        Self {
            events: plane.map(ControlPlane::subscribe),
            before: process::usage(),
            started: Instant::now(),
        }
    }

    pub(crate) fn end(self, events: u64) -> Measured {
        self.end_at(Instant::now(), events)
    }

    fn end_at(self, last: Instant, events: u64) -> Measured {
        let after = process::usage();
        Measured {
            wall: last - self.started,
            events,
            cpu: after.cpu.saturating_sub(self.before.cpu),
            after,
        }
    }

    /// Counts stored events until every service satisfies `done` and the control plane has
    /// been quiet for a moment. A subscriber that falls behind is told how many it missed, so
    /// the count is exact.
    async fn wait(
        mut self,
        plane: &ControlPlane,
        what: &str,
        done: impl Fn(&ServiceSummary) -> bool,
    ) -> Result<Measured, String> {
        let mut events = self.events.take().ok_or("a stage without events")?;
        let deadline = self.started + STAGE_LIMIT;
        let mut count = 0;
        let mut last = self.started;
        loop {
            if Instant::now() > deadline {
                let behind = plane.list().iter().filter(|s| !done(s)).count();
                return Err(format!(
                    "{what}: {behind} services still short of it after {STAGE_LIMIT:?}"
                ));
            }
            match timeout(QUIET, events.recv()).await {
                Ok(Ok(_)) => count += 1,
                Ok(Err(RecvError::Lagged(missed))) => count += missed,
                Ok(Err(RecvError::Closed)) => return Err("the control plane stopped".to_owned()),
                Err(_quiet) if plane.list().iter().all(&done) => {
                    return Ok(self.end_at(last, count));
                }
                Err(_quiet) => continue,
            }
            last = Instant::now();
        }
    }
}

/// The stages of one run, and the usage before the first.
pub(crate) struct Report {
    pub(crate) services: usize,
    pub(crate) start: Usage,
    pub(crate) rows: Vec<(&'static str, Measured)>,
}

impl Report {
    pub(crate) fn new(services: usize) -> Self {
        Self {
            services,
            start: process::usage(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, stage: &'static str, measured: Measured) {
        self.rows.push((stage, measured));
    }

    /// Resident growth from the start to `mid_rollout`, per service, in bytes.
    pub(crate) fn per_rollout(&self, mid_rollout: Usage) -> f64 {
        mid_rollout.rss.saturating_sub(self.start.rss) as f64 / self.services as f64
    }

    /// The stages as a table, then the memory, under a line saying what ran (`setup`).
    pub(crate) fn print(&self, setup: &str, mid_rollout: Usage) {
        println!(
            "{} services, each deployed twice (4 replicas, canary), {setup}",
            self.services
        );
        println!();
        println!("| stage | wall | events | events/s | CPU | CPU/event | RSS after | threads |");
        println!("|---|---|---|---|---|---|---|---|");
        for (stage, m) in &self.rows {
            let per_second = if m.events > 0 {
                format!("{:.0}", m.events as f64 / m.wall.as_secs_f64())
            } else {
                "-".to_owned()
            };
            let per_event = m.cpu_per_event().map_or("-".to_owned(), |cpu| {
                format!("{:.0} µs", cpu.as_secs_f64() * 1e6)
            });
            println!(
                "| {stage} | {:.2} s | {} | {per_second} | {:.2} s | {per_event} | {} | {} |",
                m.wall.as_secs_f64(),
                m.events,
                m.cpu.as_secs_f64(),
                mib(m.after.rss),
                m.after.threads,
            );
        }
        let grown = mid_rollout.rss.saturating_sub(self.start.rss);
        println!();
        println!(
            "resident: {} before, {} with every rollout mid-canary, {} peak",
            mib(self.start.rss),
            mib(mid_rollout.rss),
            mib(self.rows.last().map_or(0, |(_, m)| m.after.peak_rss)),
        );
        println!(
            "memory per rollout: {:.1} KiB ({} / {})",
            self.per_rollout(mid_rollout) / 1024.0,
            mib(grown),
            self.services
        );
    }
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
