//! The steps' process groups die with the process that runs them, however it dies.
//!
//! A small `sh` started beside the executor waits for the end of a pipe only the executor
//! holds; the pipe ends when the executor is dropped or its process dies (even by SIGKILL,
//! which no handler sees), and the reaper then kills every group still recorded in the groups
//! file. It runs in its own process group, so a Ctrl-C meant for the runner does not stop it
//! first, and the pipe is not passed to steps (the standard library opens it close-on-exec),
//! so a step cannot keep its own reaper waiting.

use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use std::os::unix::process::CommandExt;

/// Reads nothing but the end of its input, then kills each group listed (`<group> <start>`).
const SCRIPT: &str =
    r#"cat >/dev/null; while read -r group started; do kill -s KILL -- "-$group"; done < "$1""#;

#[derive(Debug)]
pub(crate) struct Reaper {
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Reaper {
    /// Starts a reaper for the groups recorded in `file`; `None` if `sh` cannot be started,
    /// in which case the sweep of interrupted runs is what kills orphaned steps.
    pub(crate) fn start(file: &Path) -> Option<Reaper> {
        let mut child = Command::new("sh")
            .args(["-c", SCRIPT, "bellwether-reaper"])
            .arg(file)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .ok()?;
        let pipe = child.stdin.take();
        Some(Reaper { child, pipe })
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        // The executor is done: its steps have ended, so the reaper finds nothing to kill and
        // exits at once; waiting for it keeps it from lingering as a zombie.
        drop(self.pipe.take());
        let _ = self.child.wait();
    }
}
