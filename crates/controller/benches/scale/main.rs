//! The control plane at scale: N services (10,000 by default), each deployed twice so that every
//! one is in the middle of a canary, on a platform whose replicas are ready the moment they are
//! asked for. Everything else is real: the SQLite store in a temporary directory, a router and
//! its listener per service, the analysis engine. Reports the resident memory per rollout, the
//! CPU per reconcile (an event stored and acted upon) and events per second, stage by stage.
//!
//! With `--postgres` the store is PostgreSQL instead: a server of its own started from Debian's
//! packages in a temporary directory, at its default durability (a commit is flushed to disk
//! before it returns, as SQLite's `synchronous = FULL` does).
//!
//! With `--ungrouped` the store commits each append on its own instead of grouping those that
//! arrive together: the baseline of group commit, from the same binary.
//!
//! Run: `cargo bench -p bellwether-controller --bench scale [-- --services N] [--analysis] [--postgres] [--ungrouped]`

mod process;
#[path = "../../tests/support/ready_platform.rs"]
mod ready_platform;

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bellwether_api::{DeployRequest, ServiceSummary};
use bellwether_controller::{ControlError, ControlPlane, Options, Seams};
use bellwether_core::error::chain;
use bellwether_core::rollout::{Command, Phase};
use bellwether_core::spec::{Project, Weight};
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use bellwether_store::SqliteStore;
use bellwether_store_postgres::PgStore;
use bellwether_store_postgres::testing::Cluster;
use process::Usage;
use ready_platform::ReadyPlatform;

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

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    services: usize,
    analysis: bool,
    postgres: bool,
    ungrouped: bool,
}

impl Args {
    /// `[--services N] [--analysis] [--postgres] [--ungrouped]`; `cargo bench` adds
    /// `--bench`, which is ignored.
    fn parse() -> Result<Self, String> {
        let mut args = std::env::args().skip(1);
        let mut parsed = Self {
            services: 10_000,
            analysis: false,
            postgres: false,
            ungrouped: false,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--services" => {
                    let value = args.next().unwrap_or_default();
                    parsed.services = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--services takes a positive number (got `{value}`)")
                    })?;
                }
                "--analysis" => parsed.analysis = true,
                "--postgres" => parsed.postgres = true,
                "--ungrouped" => parsed.ungrouped = true,
                "--bench" => {}
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (expected --services N, --analysis, --postgres, --ungrouped)"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

async fn bench(args: Args) -> Result<(), String> {
    let n = args.services;
    let dir =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let names: Arc<Vec<String>> = Arc::new((0..n).map(|i| format!("svc-{i:05}")).collect());
    let project = project(&names, args.analysis)?;
    let mut report = Report::new(&args);

    // Started before the first stage: the server is not the control plane's to start.
    let ungrouped = args.ungrouped;
    let postgres = match args.postgres {
        true => Some(
            tokio::task::spawn_blocking(move || {
                let cluster = Cluster::start(true);
                let store = PgStore::open(&cluster.database("bench"))
                    .map(|store| if ungrouped { store.ungrouped() } else { store });
                (cluster, store)
            })
            .await
            .map_err(|e| format!("PostgreSQL did not start: {e}"))?,
        ),
        false => None,
    };
    let stage = Stage::begin(None);
    let options = Options {
        data_dir: dir.path().join("data"),
        base_dir: dir.path().to_owned(),
        project,
        secrets: None,
    };
    let mut seams = Seams::new(Arc::new(ReadyPlatform::default()));
    let mut cluster = None;
    if let Some((server, store)) = postgres {
        let store =
            store.map_err(|e| format!("the PostgreSQL store did not open: {}", chain(&e)))?;
        seams.store = Some(Arc::new(store));
        cluster = Some(server);
    } else if ungrouped {
        let path = options.data_dir.join("bellwether.db");
        let store = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(path.parent().unwrap_or(&path))
                .map_err(|e| format!("cannot create the data directory: {e}"))?;
            SqliteStore::open(&path)
                .map(SqliteStore::ungrouped)
                .map_err(|e| format!("the SQLite store did not open: {}", chain(&e)))
        })
        .await
        .map_err(|e| format!("the SQLite store did not open: {e}"))??;
        seams.store = Some(Arc::new(store));
    }
    let plane = ControlPlane::start_on(options, seams)
        .await
        .map_err(|e| format!("the control plane did not start: {}", chain(&e)))?;
    report.add("start: store, routers, listeners", stage.end(0));

    let stage = Stage::begin(Some(&plane));
    each(&plane, &names, |plane, name| async move {
        plane.deploy(&name, deploy("v1")).await.map(drop)
    })
    .await?;
    let done = stage
        .wait(&plane, "every service stable at v1", |s| {
            s.phase == Phase::Healthy && s.stable.as_ref().is_some_and(|r| r.version == "v1")
        })
        .await?;
    report.add("deploy v1 (first revision)", done);

    let stage = Stage::begin(Some(&plane));
    each(&plane, &names, |plane, name| async move {
        plane.deploy(&name, deploy("v2")).await.map(drop)
    })
    .await?;
    let done = stage
        .wait(&plane, "every canary paused at 10%", |s| at_pause(s, 1, 10))
        .await?;
    report.add("deploy v2 (canary to 10%, paused)", done);
    let mid_rollout = process::usage();

    let stage = Stage::begin(None);
    tokio::time::sleep(IDLE).await;
    report.add("idle, every rollout paused", stage.end(0));

    let stage = Stage::begin(Some(&plane));
    each(&plane, &names, |plane, name| async move {
        let promote = Command::Promote { full: false };
        plane.command(&name, promote, "bench").await.map(drop)
    })
    .await?;
    let done = stage
        .wait(&plane, "every canary paused at 50%", |s| at_pause(s, 3, 50))
        .await?;
    report.add("promote (canary to 50%, paused)", done);

    report.print(mid_rollout);
    drop(plane);
    drop(cluster);
    Ok(())
}

fn project(names: &[String], analysis: bool) -> Result<Project, String> {
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
struct Measured {
    wall: Duration,
    events: u64,
    cpu: Duration,
    after: Usage,
}

struct Stage {
    started: Instant,
    before: Usage,
    events: Option<tokio::sync::broadcast::Receiver<bellwether_api::EventView>>,
}

impl Stage {
    fn begin(plane: Option<&ControlPlane>) -> Self {
        Self {
            events: plane.map(ControlPlane::subscribe),
            before: process::usage(),
            started: Instant::now(),
        }
    }

    fn end(self, events: u64) -> Measured {
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

struct Report {
    services: usize,
    analysis: bool,
    postgres: bool,
    ungrouped: bool,
    start: Usage,
    rows: Vec<(&'static str, Measured)>,
}

impl Report {
    fn new(args: &Args) -> Self {
        Self {
            services: args.services,
            analysis: args.analysis,
            postgres: args.postgres,
            ungrouped: args.ungrouped,
            start: process::usage(),
            rows: Vec::new(),
        }
    }

    fn add(&mut self, stage: &'static str, measured: Measured) {
        self.rows.push((stage, measured));
    }

    fn print(&self, mid_rollout: Usage) {
        let n = self.services as f64;
        let analysis = if self.analysis {
            ", background analysis of 5 metrics every second"
        } else {
            ""
        };
        let store = if self.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        let commits = if self.ungrouped {
            "a commit per append"
        } else {
            "group commit"
        };
        println!(
            "{} services, each deployed twice (4 replicas, canary{analysis}), store: {store}, {commits}",
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
            let per_event = if m.events > 0 {
                format!("{:.0} µs", m.cpu.as_secs_f64() * 1e6 / m.events as f64)
            } else {
                "-".to_owned()
            };
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
            grown as f64 / 1024.0 / n,
            mib(grown),
            self.services
        );
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
