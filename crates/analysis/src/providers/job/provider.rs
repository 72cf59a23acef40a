//! Runs the command with a timeout; its last line of output explains a non-zero status. The
//! command is told where to reach a ready replica of the revision it measures, the canary and
//! the stable revision, so that a smoke test needs no address written into the file.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::platform::INHERITED_ENV;
use bellwether_core::signal::AddressSource;
use bellwether_core::spec::ProviderSpec;
use bellwether_core::time::human_duration;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::process::Command;

use crate::providers::{Measuring, MetricProvider, ProviderError, Target, expand, kind};
use crate::value::Observation;

/// Runs job metrics as local processes.
pub struct JobProvider {
    addresses: Arc<dyn AddressSource>,
}

impl JobProvider {
    /// A provider whose jobs reach revisions at the replicas `addresses` finds.
    pub fn new(addresses: Arc<dyn AddressSource>) -> Self {
        Self { addresses }
    }

    /// `BELLWETHER_ADDRESS` (the measured revision's), `BELLWETHER_CANARY_ADDRESS` and
    /// `BELLWETHER_STABLE_ADDRESS`, each `host:port` of a ready replica, where there is one.
    fn addresses(&self, target: &Target) -> Vec<(&'static str, String)> {
        let of = |revision| self.addresses.address(&target.service, revision);
        [
            ("BELLWETHER_ADDRESS", Some(target.revision)),
            ("BELLWETHER_CANARY_ADDRESS", Some(target.canary)),
            ("BELLWETHER_STABLE_ADDRESS", target.stable),
        ]
        .into_iter()
        .filter_map(|(name, revision)| Some((name, of(revision?)?)))
        .collect()
    }
}

impl MetricProvider for JobProvider {
    fn measure<'a>(&'a self, spec: &'a ProviderSpec, target: &'a Target) -> Measuring<'a> {
        Box::pin(async move {
            let ProviderSpec::Job { command, timeout } = spec else {
                return Err(ProviderError::Mismatch {
                    provider: "job",
                    kind: kind(spec),
                });
            };
            let argv: Vec<String> = command
                .iter()
                .map(|a| expand(a, target))
                .collect::<Result<_, _>>()?;
            run(&argv, target, &self.addresses(target), *timeout).await
        })
    }
}

async fn run(
    argv: &[String],
    target: &Target,
    addresses: &[(&'static str, String)],
    timeout: Duration,
) -> Result<Observation, ProviderError> {
    let shown = argv.join(" ");
    let Some((program, args)) = argv.split_first() else {
        return Err(ProviderError::Spawn {
            program: String::new(),
            reason: "the command is empty".to_owned(),
        });
    };
    let child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(
            INHERITED_ENV
                .iter()
                .filter_map(|k| Some((k, std::env::var_os(k)?))),
        )
        .env("BELLWETHER_SERVICE", &target.service)
        .env("BELLWETHER_REVISION", target.revision.to_string())
        .env("BELLWETHER_ROLE", target.role.to_string())
        .envs(addresses.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ProviderError::Spawn {
            program: program.clone(),
            reason: e.to_string(),
        })?;
    // Armed until the command has finished: dropping the measurement (a timeout, or the run
    // being stopped) kills the whole group.
    let group = GroupGuard(child.id().and_then(|id| Pid::from_raw(id as i32)));
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return Err(ProviderError::Spawn {
                program: program.clone(),
                reason: e.to_string(),
            });
        }
        Err(_) => {
            return Err(ProviderError::Timeout {
                command: shown,
                timeout: human_duration(timeout),
            });
        }
    };
    drop(group);
    let last = last_line(&output.stderr).or_else(|| last_line(&output.stdout));
    let Some(code) = output.status.code() else {
        return Err(ProviderError::Killed {
            command: shown,
            detail: last.map_or(String::new(), |l| format!(" ({l})")),
        });
    };
    let obs = Observation::number(f64::from(code));
    Ok(match (code, last) {
        (0, _) | (_, None) => obs,
        (_, Some(line)) => obs.with_detail(format!("last output: {line}")),
    })
}

/// Kills a process group when dropped.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // The group may already be gone; there is nothing to do about a failure here.
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }
}

fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let mut line: String = line.chars().take(200).collect();
    if line.len() < text.trim().len() && line.chars().count() == 200 {
        line.push('…');
    }
    Some(line)
}
