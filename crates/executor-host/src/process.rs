//! One script step as a process group: output streamed as it comes, the whole group killed
//! on timeout or cancel (SIGTERM, then SIGKILL after a grace period), and whatever the script
//! left running in the background killed when it exits, so no step outlives itself.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bellwether_pipeline_core::executor::{Cancel, LogSink, Stream};
use bellwether_runner::orphans::StepGroups;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// How long output may keep coming after the script exited and its group was killed: only a
/// process that escaped the group (with `setsid`) can hold the pipes open that long.
const DRAIN: Duration = Duration::from_secs(2);
const CHUNK: usize = 64 * 1024;

/// The process groups of the steps running now, so that an impatient exit can kill them all,
/// and recorded so that a sweep can kill them if this process dies first.
#[derive(Clone, Debug)]
pub struct Groups(Arc<StepGroups>);

impl Default for Groups {
    fn default() -> Self {
        Groups(Arc::new(StepGroups::in_memory()))
    }
}

impl Groups {
    /// Groups recorded in `file` too.
    pub(crate) fn recorded(file: PathBuf) -> Groups {
        Groups(Arc::new(StepGroups::recorded(file)))
    }

    /// Where the groups are recorded, if they are.
    pub(crate) fn file(&self) -> Option<&Path> {
        self.0.file()
    }

    /// Kills every step's process group at once, without a grace period.
    pub fn kill_all(&self) {
        self.0.kill_all();
    }

    fn add(&self, group: Option<Pid>) {
        if let Some(g) = group {
            self.0.add(g.as_raw());
        }
    }

    fn remove(&self, group: Option<Pid>) {
        if let Some(g) = group {
            self.0.remove(g.as_raw());
        }
    }
}

pub(crate) struct Script {
    /// The shell and its arguments, the script's path among them.
    pub(crate) command: Vec<String>,
    pub(crate) cwd: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub(crate) grace: Duration,
    /// The user and group to run as, when not the runner's own.
    pub(crate) run_as: Option<(u32, u32)>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    Exited(i32),
    Signalled(i32),
    TimedOut,
    Cancelled,
    NotStarted(String),
}

/// Runs `script` to its end, writing its output to `log` as it comes.
pub(crate) async fn run(
    script: Script,
    log: &mut dyn LogSink,
    mut cancel: Cancel,
    groups: &Groups,
) -> Ended {
    let Some((program, args)) = script.command.split_first() else {
        return Ended::NotStarted("the shell command is empty".to_owned());
    };
    let path = script
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    let Some(resolved) = resolve(program, path.unwrap_or_default()) else {
        return Ended::NotStarted(format!(
            "`{program}` is not installed here (not found on PATH)"
        ));
    };
    let mut command = Command::new(resolved);
    command
        .args(args)
        .current_dir(&script.cwd)
        .env_clear()
        .envs(script.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = script.run_as {
        // The standard library drops the supplementary groups too when it switches from root.
        command.uid(uid).gid(gid);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return Ended::NotStarted(format!("cannot start `{program}`: {e}")),
    };
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    groups.add(group);
    let ended = supervise(&mut child, group, &script, log, &mut cancel).await;
    groups.remove(group);
    ended
}

async fn supervise(
    child: &mut tokio::process::Child,
    group: Option<Pid>,
    script: &Script,
    log: &mut dyn LogSink,
    cancel: &mut Cancel,
) -> Ended {
    let signal = |s: Signal| {
        if let Some(g) = group {
            // The group may already be gone; there is nothing to do then.
            let _ = killpg(g, s);
        }
    };
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        signal(Signal::SIGKILL);
        return Ended::NotStarted("the step's output could not be captured".to_owned());
    };
    let mut out_buf = vec![0u8; CHUNK];
    let mut err_buf = vec![0u8; CHUNK];
    let (mut out_open, mut err_open) = (true, true);
    let timeout = tokio::time::sleep(script.timeout.unwrap_or(Duration::MAX / 4));
    let grace = tokio::time::sleep(Duration::MAX / 4);
    let drain = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(timeout, grace, drain);
    let mut stopping: Option<Ended> = None;
    let mut exited: Option<std::process::ExitStatus> = None;
    let mut wait_failed = false;
    loop {
        if (exited.is_some() || wait_failed) && !out_open && !err_open {
            break;
        }
        tokio::select! {
            n = read(&mut stdout, &mut out_buf), if out_open => match n {
                Some(n) => log.write(Stream::Stdout, &out_buf[..n]),
                None => out_open = false,
            },
            n = read(&mut stderr, &mut err_buf), if err_open => match n {
                Some(n) => log.write(Stream::Stderr, &err_buf[..n]),
                None => err_open = false,
            },
            status = child.wait(), if exited.is_none() && !wait_failed => {
                match status {
                    Ok(s) => exited = Some(s),
                    Err(_) => wait_failed = true,
                }
                // Background processes the script left behind die with it.
                signal(Signal::SIGKILL);
                drain.as_mut().reset(tokio::time::Instant::now() + DRAIN);
            },
            () = &mut timeout, if stopping.is_none() && exited.is_none() && script.timeout.is_some() => {
                stopping = Some(Ended::TimedOut);
                signal(Signal::SIGTERM);
                grace.as_mut().reset(tokio::time::Instant::now() + script.grace);
            },
            () = &mut *cancel, if stopping.is_none() && exited.is_none() => {
                stopping = Some(Ended::Cancelled);
                signal(Signal::SIGTERM);
                grace.as_mut().reset(tokio::time::Instant::now() + script.grace);
            },
            () = &mut grace, if stopping.is_some() && exited.is_none() => signal(Signal::SIGKILL),
            () = &mut drain, if exited.is_some() || wait_failed => {
                log.note("output still open after the step exited; stopped reading it");
                break;
            },
        }
    }
    if let Some(stopped) = stopping {
        return stopped;
    }
    match exited {
        Some(status) => match status.code() {
            Some(code) => Ended::Exited(code),
            None => Ended::Signalled(
                std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0),
            ),
        },
        None => Ended::NotStarted("lost track of the step's process".to_owned()),
    }
}

/// The next chunk, or `None` at the end of the stream (or on an error, which ends it too).
async fn read(stream: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> Option<usize> {
    match stream.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

/// `program` as a path, searched on the step's own `PATH`. Spawning by absolute path also
/// lets the standard library use `posix_spawn` instead of forking this whole process, which
/// it cannot do when the child's `PATH` differs from ours.
fn resolve(program: &str, path: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
}
