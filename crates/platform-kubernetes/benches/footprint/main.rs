//! The control plane's footprint on the kubernetes platform: the scale benchmark's scenario
//! (`crates/controller/benches/scale/scenario.rs`: N services, 1,000 by default, each paused
//! mid-canary, then promoted to 50%) played on the real `KubernetesPlatform` against the fake
//! cluster, and side by side on the scale benchmark's stand-in platform (replicas ready the
//! moment they are asked for) as the baseline. Reports each run's stages, the resident memory
//! per rollout of both and their ratio, and the fake API server's own memory.
//!
//! Each run is a process of its own (this binary again, `--platform stand-in|kubernetes`), so
//! that neither inherits what the other's allocator kept; the fake cluster is a third
//! (`--serve-fake DIR`), a child of the kubernetes run, so the control plane's resident memory
//! counts only bellwether: its kube client, watch, per-pod and per-ReplicaSet state, writers
//! and the metrics readings. The fake's pods run no process: its kubelet reports each running
//! and ready at once (`Script::without_processes`).
//!
//! Run: `cargo bench -p bellwether-platform-kubernetes --bench footprint [-- --services N]`

#[path = "../../../controller/benches/scale/process.rs"]
mod process;
#[path = "../../../controller/tests/support/ready_platform.rs"]
mod ready_platform;
mod run;
#[path = "../../../controller/benches/scale/scenario.rs"]
mod scenario;
mod serve;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use serde_json::Value;

use run::Platform;

fn main() -> ExitCode {
    let outcome = match Mode::parse() {
        Ok(Mode::Compare { services }) => compare(services),
        Ok(Mode::Run { platform, services }) => run::main(platform, services),
        Ok(Mode::ServeFake { dir }) => serve::main(&dir),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

enum Mode {
    /// Both runs, one after the other, and their comparison.
    Compare { services: usize },
    /// One run, in this process.
    Run { platform: Platform, services: usize },
    /// The fake cluster, its kubeconfig written in `dir`, until stdin closes.
    ServeFake { dir: PathBuf },
}

impl Mode {
    /// `[--services N]`, and the modes the benchmark starts itself in: `--platform P` and
    /// `--serve-fake DIR`; `cargo bench` adds `--bench`, which is ignored.
    fn parse() -> Result<Self, String> {
        let mut args = std::env::args().skip(1);
        let mut services = 1_000;
        let mut platform = None;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--services" => {
                    let value = args.next().unwrap_or_default();
                    services = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("--services takes a positive number (got `{value}`)")
                    })?;
                }
                "--platform" => {
                    let value = args.next().unwrap_or_default();
                    platform = Some(Platform::parse(&value)?);
                }
                "--serve-fake" => {
                    let dir = args.next().ok_or("--serve-fake takes a directory")?;
                    return Ok(Self::ServeFake { dir: dir.into() });
                }
                "--bench" => {}
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (expected --services N)"
                    ));
                }
            }
        }
        Ok(match platform {
            Some(platform) => Self::Run { platform, services },
            None => Self::Compare { services },
        })
    }
}

/// Runs the stand-in, then the kubernetes platform, each as a process of its own, passing
/// their reports through, and compares their summaries.
fn compare(services: usize) -> Result<(), String> {
    let mut summaries = Vec::new();
    for platform in [Platform::StandIn, Platform::Kubernetes] {
        summaries.push(run_child(platform, services)?);
    }
    let [stand_in, kubernetes] = summaries.as_slice() else {
        return Err("a run gave no summary".into());
    };
    let number = |summary: &Value, field: &str| summary[field].as_f64().unwrap_or(f64::NAN);
    println!("## {services} services: kubernetes platform against the stand-in");
    println!();
    println!(
        "| platform | resident mid-canary | per rollout | CPU per event (v1 / v2 / promote) | CPU idle 10 s |"
    );
    println!("|---|---|---|---|---|");
    for (name, summary) in [
        ("stand-in", stand_in),
        ("kubernetes (fake cluster)", kubernetes),
    ] {
        let per_event: Vec<String> = summary["cpu_per_event_us"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|us| format!("{:.0}", us.as_f64().unwrap_or(f64::NAN)))
            .collect();
        println!(
            "| {name} | {:.1} MiB | {:.1} KiB | {} µs | {:.2} s |",
            number(summary, "mid_rollout_rss") / MIB,
            number(summary, "per_rollout") / 1024.0,
            per_event.join(" / "),
            number(summary, "idle_cpu"),
        );
    }
    let ratio = number(kubernetes, "per_rollout") / number(stand_in, "per_rollout");
    println!();
    println!(
        "memory per rollout, kubernetes ÷ stand-in: {ratio:.2} ({:.1} KiB more per rollout)",
        (number(kubernetes, "per_rollout") - number(stand_in, "per_rollout")) / 1024.0
    );
    println!(
        "fake API server (not counted above): {:.1} MiB resident, {:.1} s CPU, after the last stage",
        number(kubernetes, "fake_rss") / MIB,
        number(kubernetes, "fake_cpu"),
    );
    Ok(())
}

const MIB: f64 = 1024.0 * 1024.0;

/// Runs `platform`'s benchmark as a child, its report passed through; its summary line read.
fn run_child(platform: Platform, services: usize) -> Result<Value, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this benchmark: {e}"))?;
    let mut child = Command::new(me)
        .args([
            "--platform",
            platform.name(),
            "--services",
            &services.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the {} run: {e}", platform.name()))?;
    let stdout = child.stdout.take().ok_or("the run's output is not piped")?;
    let mut summary = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("cannot read the {} run: {e}", platform.name()))?;
        match line.strip_prefix(run::SUMMARY) {
            Some(json) => {
                let parsed = serde_json::from_str(json)
                    .map_err(|e| format!("the {} run's summary: {e}", platform.name()))?;
                summary = Some(parsed);
            }
            None => println!("{line}"),
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("the {} run: {e}", platform.name()))?;
    if !status.success() {
        return Err(format!("the {} run failed ({status})", platform.name()));
    }
    println!();
    summary.ok_or_else(|| format!("the {} run gave no summary", platform.name()))
}
