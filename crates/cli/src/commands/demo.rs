//! `bellwether demo`: the whole product in under a minute, on this machine alone. It starts a
//! control plane in a temporary directory (the same `ControlPlane` and HTTP API `bellwether up`
//! serves), runs `bellwether demo-service` as the service's replicas, sends steady load through
//! the service's router, and plays five releases: a first deployment, a canary that is promoted,
//! a canary returning 5% errors that is rolled back on its own, a blue-green switch, and a
//! rolling update. It prints a timeline as it goes and a summary at the end.

mod acts;
mod load;
mod summary;
mod timeline;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bellwether_api::DeployRequest;
use bellwether_controller::{ControlPlane, Options};

use self::acts::{ACTS, Expect};
use self::load::Load;
use self::summary::{RolloutSummary, Summary};
use self::timeline::Timeline;
use crate::exit::{self, Code};

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Print the summary as JSON (the timeline goes to stderr).
    #[arg(long)]
    json: bool,
    /// Requests per second the demo's clients send through the router.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u32).range(10..=20_000))]
    rate: u32,
    /// Keep the control plane's store and the replicas' logs here instead of a temporary
    /// directory that is removed at the end.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where the control plane's API listens, to watch from another terminal with
    /// `bellwether --server http://ADDR get shop -w`.
    #[arg(long, default_value = "127.0.0.1:0")]
    api: SocketAddr,
}

/// Longest any one release may take before the demo gives up on it.
const ACT_LIMIT: Duration = Duration::from_secs(90);

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<Code> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let summary = runtime.block_on(play(args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{summary}");
    }
    Ok(if summary.passed() {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

async fn play(args: &DemoArgs) -> anyhow::Result<Summary> {
    let temp;
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("bellwether-demo")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let exe = std::env::current_exe().context("cannot find the bellwether binary")?;
    let listen = free_port().context("cannot find a free port for the router")?;
    let project = |strategy| acts::project(&exe, listen, strategy);

    let started = Instant::now();
    let plane = ControlPlane::start(Options {
        data_dir: data_dir.clone(),
        base_dir: data_dir.clone(),
        project: project(ACTS[0].strategy)?,
        secrets: None,
    })
    .await
    .context("cannot start the control plane")?;
    let api = tokio::net::TcpListener::bind(args.api)
        .await
        .with_context(|| format!("cannot listen on {}", args.api))?;
    let api_addr = api.local_addr()?;
    let (access, admin) = super::up::access::open(&plane, api_addr, None, Vec::new(), &data_dir)?;
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bellwether_server::serve(
        api,
        plane.clone(),
        access,
        async {
            let _ = api_stopped.await;
        },
    ));
    let timeline = Timeline::new(started, args.json);
    timeline.say(&format!(
        "control plane up in {} (API and dashboard http://{api_addr}, admin token in {}); service `shop` routed at http://{listen}",
        data_dir.display(),
        admin.display()
    ));

    let mut events = plane.subscribe();
    let mut load: Option<Load> = None;
    let mut rollouts = Vec::new();
    let mut current = ACTS[0].strategy;
    for act in ACTS {
        if act.strategy != current {
            plane.apply(project(act.strategy)?, "demo", true).await?;
            current = act.strategy;
        }
        timeline.act(act);
        let began = Instant::now();
        plane
            .deploy(
                acts::SERVICE,
                DeployRequest {
                    version: act.version.to_owned(),
                    env: act.env(),
                    command: None,
                    environment: None,
                    run: None,
                    commit: None,
                },
            )
            .await?;
        let outcome = timeline
            .follow(&plane, &mut events, act, ACT_LIMIT)
            .await
            .with_context(|| format!("{} did not finish", act.version))?;
        rollouts.push(RolloutSummary::new(act, &outcome, began.elapsed()));
        if load.is_none() && outcome.expected(Expect::Promoted) {
            timeline.say(&format!(
                "clients start: {} requests/s through the router",
                args.rate
            ));
            load = Some(Load::start(listen, args.rate, 8));
        }
    }
    let Some(load) = load else {
        bail!("the first deployment never became healthy");
    };
    let stats = load.stop().await;
    let _ = stop_api.send(());
    let _ = server.await;
    plane.shutdown(true).await;
    Ok(Summary::new(rollouts, stats, started.elapsed()))
}

/// A free loopback port for the router, chosen once so that it stays the same across the
/// strategies the demo applies.
fn free_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}
