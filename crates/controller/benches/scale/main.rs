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
mod scenario;

use std::process::ExitCode;
use std::sync::Arc;

use bellwether_controller::{ControlPlane, Options, Seams};
use bellwether_core::error::chain;
use bellwether_store::SqliteStore;
use bellwether_store_postgres::PgStore;
use bellwether_store_postgres::testing::Cluster;
use ready_platform::ReadyPlatform;
use scenario::{Report, Stage};

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

impl Args {
    /// What ran, for the report's first line.
    fn setup(&self) -> String {
        let analysis = if self.analysis {
            "background analysis of 5 metrics every second, "
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
        format!("{analysis}store: {store}, {commits}")
    }
}

async fn bench(args: Args) -> Result<(), String> {
    let n = args.services;
    let dir =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let names = scenario::names(n);
    let project = scenario::project(&names, args.analysis)?;
    let mut report = Report::new(n);

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

    let mid_rollout = scenario::play(&plane, &names, &mut report).await?;
    report.print(&args.setup(), mid_rollout);
    drop(plane);
    drop(cluster);
    Ok(())
}
