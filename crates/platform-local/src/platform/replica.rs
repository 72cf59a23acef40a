//! One replica's life: start (or adopt), probe, restart with back-off, stop gracefully.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::error::chain;
use bellwether_core::platform::{INHERITED_ENV, ReplicaPhase, ReplicaTemplate};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep};

use super::Shared;
use crate::adopt::{self, ReplicaRecord};
use crate::{logs, probe};
use bellwether_procfs as procfs;

/// A replica that stays up this long has its restart back-off reset.
const STABLE_AFTER: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often an adopted process (not our child, so not waitable) is checked for exit.
const ADOPTED_POLL: Duration = Duration::from_millis(250);

pub(crate) struct Replica {
    pub(crate) template: ReplicaTemplate,
    pub(crate) index: u32,
    pub(crate) shared: Arc<Shared>,
    /// How many replicas of this revision are wanted; this one runs while `index` is below it.
    pub(crate) desired: watch::Receiver<u32>,
}

/// Why a replica's process did not start.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("the service has no command to run")]
    NoCommand,
    #[error("no free port")]
    NoPort(#[source] std::io::Error),
    #[error("cannot open log {}", path.display())]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start `{program}`")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("the process exited before it could be watched")]
    Gone,
    #[error("cannot give it its secrets: {0}")]
    Secrets(String),
}

struct Running {
    pid: u32,
    port: u16,
    start_time: u64,
    /// Our child, or `None` for a process adopted from a previous control plane.
    child: Option<tokio::process::Child>,
}

enum Ended {
    Stop,
    Failed(String),
}

impl Replica {
    fn wanted(&self) -> bool {
        *self.desired.borrow() > self.index
    }

    fn record_path(&self) -> PathBuf {
        let t = &self.template;
        adopt::path(
            &self.shared.options.data_dir,
            &t.service,
            t.revision,
            self.index,
        )
    }

    pub(crate) async fn run(mut self) {
        let mut restarts = 0u32;
        let mut adopted = adopt::find_alive(&self.record_path());
        loop {
            let started = match adopted.take() {
                Some(r) => Ok(Running {
                    pid: r.pid,
                    port: r.port,
                    start_time: r.start_time,
                    child: None,
                }),
                None => self.spawn(),
            };
            let since = Instant::now();
            let ended = match started {
                Ok(mut running) => {
                    let ended = self.supervise(&mut running).await;
                    self.stop_process(&mut running, matches!(ended, Ended::Stop))
                        .await;
                    adopt::remove(&self.record_path());
                    ended
                }
                Err(e) => Ended::Failed(chain(&e)),
            };
            if since.elapsed() >= STABLE_AFTER {
                restarts = 0;
            }
            if let Ended::Failed(reason) = ended {
                restarts += 1;
                self.shared.update(&self.template.key(), self.index, |r| {
                    r.phase = ReplicaPhase::Crashed;
                    r.pid = None;
                    r.addr = None;
                    r.restarts = restarts;
                    r.last_error = Some(reason);
                });
                let backoff = Duration::from_secs(1 << (restarts - 1).min(5)).min(MAX_BACKOFF);
                tokio::select! {
                    _ = sleep(backoff) => {}
                    () = unwanted(&mut self.desired, self.index) => {}
                }
            }
            if !self.wanted() && self.shared.retire(&self.template.key(), self.index) {
                return;
            }
        }
    }

    fn spawn(&self) -> Result<Running, StartError> {
        let run = &self.template.run;
        let (program, args) = run.command.split_first().ok_or(StartError::NoCommand)?;
        let options = &self.shared.options;
        let secrets = match (&options.secrets, run.secrets.is_empty()) {
            (_, true) => BTreeMap::new(),
            (Some(source), false) => source
                .values(self.template.environment.as_deref(), &run.secrets)
                .map_err(StartError::Secrets)?,
            (None, false) => {
                return Err(StartError::Secrets(
                    "this platform has no secret store".to_owned(),
                ));
            }
        };
        let port = free_port()?;
        let workdir = match &run.workdir {
            Some(w) => options.base_dir.join(w),
            None => options.base_dir.clone(),
        };
        // A relative program path with a slash is relative to the working directory, as when
        // the user runs it there.
        let program_path = match &options.own_program {
            Some(own) if program == crate::OWN_PROGRAM => own.clone(),
            _ if program.contains('/') && !program.starts_with('/') => workdir.join(program),
            _ => PathBuf::from(program),
        };
        let t = &self.template;
        let log_path = logs::log_path(&options.data_dir, &t.service, t.revision, self.index);
        let log_error = |source| StartError::Log {
            path: log_path.clone(),
            source,
        };
        let (output, input) = std::io::pipe().map_err(log_error)?;
        self.start_log_writer(output, &log_path)
            .map_err(log_error)?;
        let input_err = input.try_clone().map_err(log_error)?;
        let mut command = tokio::process::Command::new(&program_path);
        command
            .args(args)
            .env_clear()
            .envs(
                INHERITED_ENV
                    .iter()
                    .filter_map(|k| Some((k, std::env::var_os(k)?))),
            )
            .envs(&run.env)
            .envs(&secrets)
            .env("BELLWETHER_SERVICE", &t.service)
            .env("BELLWETHER_REVISION", t.revision.to_string())
            .env("BELLWETHER_VERSION", &t.version)
            .env(&run.port_env, port.to_string())
            .current_dir(&workdir)
            .stdin(Stdio::null())
            .stdout(input)
            .stderr(input_err)
            .process_group(0)
            .kill_on_drop(false);
        if let Some(path) = &options.search_path {
            command.env("PATH", path);
        }
        let child = command.spawn().map_err(|source| StartError::Spawn {
            program: program.clone(),
            source,
        })?;
        let pid = child.id().ok_or(StartError::Gone)?;
        let start_time = procfs::start_time(pid).unwrap_or(0);
        let record = ReplicaRecord {
            pid,
            port,
            start_time,
        };
        if let Err(e) = adopt::write(&self.record_path(), &record) {
            tracing::warn!(pid, "cannot write the replica's state file: {e}");
        }
        Ok(Running {
            pid,
            port,
            start_time,
            child: Some(child),
        })
    }

    /// Starts the writer of the replica's log, reading `output` until the replica and every
    /// process it started have closed it: a process of its own when the platform runs in
    /// bellwether's binary (so the log goes on when the control plane is gone), else a thread.
    fn start_log_writer(&self, output: std::io::PipeReader, path: &Path) -> std::io::Result<()> {
        let options = &self.shared.options;
        let rotation = logs::Rotation {
            max_bytes: options.log_max_bytes,
            keep: options.log_keep,
        };
        let Some(own) = &options.own_program else {
            let path = path.to_owned();
            std::thread::Builder::new()
                .name("log-writer".to_owned())
                .spawn(move || {
                    if let Err(e) = logs::write_log(output, &path, rotation) {
                        tracing::warn!("cannot write the log {}: {e}", path.display());
                    }
                })?;
            return Ok(());
        };
        // Its own process group, so that what stops the replica or the control plane lets
        // it read to the end; tokio reaps it when it exits.
        tokio::process::Command::new(own)
            .arg(crate::LOG_WRITER)
            .arg(path)
            .arg("--max-bytes")
            .arg(rotation.max_bytes.to_string())
            .arg("--keep")
            .arg(rotation.keep.to_string())
            .env_clear()
            .stdin(output)
            .stdout(Stdio::null())
            .process_group(0)
            .kill_on_drop(false)
            .spawn()?;
        Ok(())
    }

    /// Probes the replica until it exits, fails its liveness probe, or is no longer wanted.
    async fn supervise(&mut self, running: &mut Running) -> Ended {
        let key = self.template.key();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, running.port));
        self.shared.update(&key, self.index, |r| {
            r.pid = Some(running.pid);
            r.addr = Some(addr);
            r.phase = ReplicaPhase::Starting;
        });
        let readiness = self.template.readiness.clone();
        let mut ready_tick = interval_at(
            Instant::now() + readiness.initial_delay,
            readiness.interval.max(MIN_PERIOD),
        );
        ready_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let liveness = self.template.liveness.clone();
        let mut live_tick = liveness.as_ref().map(|l| {
            let mut t = interval_at(Instant::now() + l.initial_delay, l.interval.max(MIN_PERIOD));
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
            t
        });
        let (mut passes, mut fails, mut live_fails) = (0u32, 0u32, 0u32);
        let mut phase = ReplicaPhase::Starting;
        let mut last_error: Option<String> = None;
        loop {
            tokio::select! {
                () = unwanted(&mut self.desired, self.index) => return Ended::Stop,
                reason = exited(running) => return Ended::Failed(reason),
                _ = ready_tick.tick() => {
                    match probe::http_get(addr, &readiness.path, readiness.timeout).await {
                        Ok(()) => {
                            (passes, fails) = (passes + 1, 0);
                            if phase != ReplicaPhase::Ready && passes >= readiness.success_threshold {
                                phase = ReplicaPhase::Ready;
                                self.shared.update(&key, self.index, |r| r.phase = ReplicaPhase::Ready);
                            }
                        }
                        Err(e) => {
                            let e = chain(&e);
                            (passes, fails) = (0, fails + 1);
                            if phase == ReplicaPhase::Ready && fails >= readiness.failure_threshold {
                                phase = ReplicaPhase::Unready;
                                tracing::info!(service = %key.service, revision = key.revision, "replica unready: {e}");
                            }
                            // Say why a replica is not ready, without a notification per probe.
                            if phase != ReplicaPhase::Ready && last_error.as_ref() != Some(&e) {
                                last_error = Some(e.clone());
                                self.shared.update(&key, self.index, |r| {
                                    r.phase = phase;
                                    r.last_error = Some(e);
                                });
                            }
                        }
                    }
                }
                _ = tick(&mut live_tick) => {
                    let Some(l) = &liveness else { continue };
                    match probe::http_get(addr, &l.path, l.timeout).await {
                        Ok(()) => live_fails = 0,
                        Err(e) => {
                            live_fails += 1;
                            if live_fails >= l.failure_threshold {
                                return Ended::Failed(format!("liveness probe failed {live_fails} times: {}", chain(&e)));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Stops the replica's process group: gracefully (no new traffic, SIGTERM, grace period,
    /// SIGKILL) when it is no longer wanted, at once when it already failed.
    async fn stop_process(&self, running: &mut Running, graceful: bool) {
        let group = Pid::from_raw(running.pid as i32);
        if graceful {
            self.shared.update(&self.template.key(), self.index, |r| {
                r.phase = ReplicaPhase::Stopping
            });
            // Give the router time to take the replica out of its table before it stops accepting.
            sleep(self.shared.options.drain_delay).await;
            let _ = killpg(group, Signal::SIGTERM);
            if tokio::time::timeout(self.shared.options.grace_period, exited(running))
                .await
                .is_ok()
            {
                let _ = killpg(group, Signal::SIGKILL); // Whatever else the replica started.
                return;
            }
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = tokio::time::timeout(Duration::from_secs(5), exited(running)).await;
    }
}

/// Resolves once replica `index` is no longer wanted.
async fn unwanted(desired: &mut watch::Receiver<u32>, index: u32) {
    // The guard `wait_for` returns must not live across other awaits, hence this wrapper.
    let _ = desired.wait_for(|d| *d <= index).await;
}

/// Probing more often than this would be a busy loop, whatever the config says.
const MIN_PERIOD: Duration = Duration::from_millis(50);

async fn tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Resolves when the replica's process is gone, saying how it ended.
async fn exited(running: &mut Running) -> String {
    match &mut running.child {
        Some(child) => match child.wait().await {
            Ok(status) => match (
                status.code(),
                std::os::unix::process::ExitStatusExt::signal(&status),
            ) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => format!("exited: {status}"),
            },
            Err(e) => format!("could not be waited for: {e}"),
        },
        None => loop {
            if procfs::start_time(running.pid) != Some(running.start_time) {
                return "exited (adopted from a previous control plane; its status is unknown)"
                    .to_owned();
            }
            sleep(ADOPTED_POLL).await;
        },
    }
}

/// A port nobody listens on now; the replica binds it right after.
fn free_port() -> Result<u16, StartError> {
    let listener =
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(StartError::NoPort)?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(StartError::NoPort)
}
