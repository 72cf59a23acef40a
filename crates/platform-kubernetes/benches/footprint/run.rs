//! One run of the scenario in this process: a real `ControlPlane` (the SQLite store in a
//! temporary directory, a router and its listener per service) on the stand-in platform or on
//! the kubernetes platform against a fake cluster in a child process. Prints the stages and,
//! last, a summary line for the comparison.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use bellwether_controller::{ControlPlane, Options, Seams};
use bellwether_core::error::chain;
use bellwether_platform_kubernetes::{KubernetesPlatform, KubernetesTraffic, connect};
use serde_json::json;

use crate::ready_platform::ReadyPlatform;
use crate::scenario::{self, Report, Stage};

/// The summary line's prefix; JSON follows it.
pub(crate) const SUMMARY: &str = "summary ";

/// The image every pod names: the fake's kubelet runs none.
const IMAGE: &str = "registry.example.com/bench/service:1";

#[derive(Clone, Copy, Debug)]
pub(crate) enum Platform {
    /// The scale benchmark's `ReadyPlatform`: replicas ready the moment they are asked for.
    StandIn,
    Kubernetes,
}

impl Platform {
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        match name {
            "stand-in" => Ok(Self::StandIn),
            "kubernetes" => Ok(Self::Kubernetes),
            other => Err(format!(
                "unknown platform `{other}` (expected stand-in or kubernetes)"
            )),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::StandIn => "stand-in",
            Self::Kubernetes => "kubernetes",
        }
    }
}

pub(crate) fn main(platform: Platform, services: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(bench(platform, services))
}

async fn bench(platform: Platform, n: usize) -> Result<(), String> {
    let dir =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let names = scenario::names(n);
    let mut project = scenario::project(&names, false)?;
    for spec in project.services.values_mut() {
        spec.run.image = Some(IMAGE.to_owned());
    }
    let mut report = Report::new(n);
    // Started before the first stage: the cluster is not the control plane's to start.
    let fake = match platform {
        Platform::Kubernetes => Some(Fake::start(dir.path())?),
        Platform::StandIn => None,
    };

    let stage = Stage::begin(None);
    let seams = match &fake {
        Some(fake) => on_cluster(&fake.kubeconfig).await?,
        None => Seams::new(Arc::new(ReadyPlatform::default())),
    };
    let options = Options {
        data_dir: dir.path().join("data"),
        base_dir: dir.path().to_owned(),
        project,
        secrets: None,
    };
    let plane = ControlPlane::start_on(options, seams)
        .await
        .map_err(|e| format!("the control plane did not start: {}", chain(&e)))?;
    report.add("start: store, routers, listeners", stage.end(0));

    let mid_rollout = scenario::play(&plane, &names, &mut report).await?;
    let setup = match platform {
        Platform::StandIn => "stand-in platform".to_owned(),
        Platform::Kubernetes => format!("kubernetes platform on a fake cluster ({IMAGE})"),
    };
    report.print(&setup, mid_rollout);
    let (fake_cpu, fake_rss) = fake.as_ref().map_or((0.0, 0), Fake::usage);
    let cpu_per_event: Vec<f64> = report
        .rows
        .iter()
        .filter_map(|(_, m)| m.cpu_per_event())
        .map(|cpu| cpu.as_secs_f64() * 1e6)
        .collect();
    let idle_cpu = report
        .rows
        .iter()
        .find(|(stage, _)| stage.starts_with("idle"))
        .map_or(0.0, |(_, m)| m.cpu.as_secs_f64());
    let summary = json!({
        "services": n,
        "mid_rollout_rss": mid_rollout.rss,
        "per_rollout": report.per_rollout(mid_rollout),
        "cpu_per_event_us": cpu_per_event,
        "idle_cpu": idle_cpu,
        "fake_rss": fake_rss,
        "fake_cpu": fake_cpu,
    });
    println!("{SUMMARY}{summary}");
    // Left as a crash leaves it: the cluster goes with its process.
    drop(plane);
    drop(fake);
    Ok(())
}

/// What `bellwether up --platform kubernetes` runs on: the platform and the cluster's traffic
/// router, from a kubeconfig.
async fn on_cluster(kubeconfig: &Path) -> Result<Seams, String> {
    let connection = connect(Some(kubeconfig), None)
        .await
        .map_err(|e| format!("cannot reach the fake cluster: {}", chain(&e)))?;
    let options = bellwether_platform_kubernetes::Options::new(connection.namespace);
    let traffic = KubernetesTraffic::new(connection.client.clone(), &options);
    let mut seams = Seams::new(Arc::new(KubernetesPlatform::new(
        connection.client,
        options,
    )));
    seams.traffic = Some(Arc::new(traffic));
    Ok(seams)
}

/// The fake cluster, this benchmark again in `--serve-fake` mode: a process group of its own,
/// so that its usage is read as the kubelet reads a pod's; it ends when its stdin closes.
struct Fake {
    child: Child,
    kubeconfig: PathBuf,
}

impl Fake {
    fn start(dir: &Path) -> Result<Self, String> {
        let me = std::env::current_exe().map_err(|e| format!("cannot find this benchmark: {e}"))?;
        let mut child = Command::new(me)
            .arg("--serve-fake")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the fake cluster: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the fake's output is not piped")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the fake cluster: {e}"))?;
        if line.trim() != crate::serve::READY {
            let _ = child.kill();
            return Err(format!("the fake cluster did not start (it said {line:?})"));
        }
        Ok(Self {
            child,
            kubeconfig: dir.join("kubeconfig"),
        })
    }

    /// CPU seconds and resident bytes of the fake's process.
    fn usage(&self) -> (f64, u64) {
        let (ticks, rss) = bellwether_procfs::group_usage(self.child.id());
        let per_second = bellwether_procfs::clock_ticks_per_second() as f64;
        (ticks as f64 / per_second, rss)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        // Its stdin closes with it; a fake that does not go is killed.
        drop(self.child.stdin.take());
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
