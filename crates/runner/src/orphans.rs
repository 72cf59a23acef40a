//! Steps must not outlive the process that runs them. An executor records the process group
//! of each running step in its scratch directory ([`StepGroups`]); if that process dies
//! without ending them (`kill -9`, a crash, a lost machine), whoever sweeps the run afterwards
//! kills the groups still recorded ([`kill_recorded`]) before the run can be run again.
//!
//! A group is recorded with its leader's start time, so that a number the system has since
//! given to an unrelated process is left alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The file, in an attempt's scratch directory, that lists its running steps' groups.
pub const STEP_GROUPS: &str = "groups";

/// How long a sweep waits for killed groups to be gone.
const GONE_WITHIN: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

/// The process groups of the steps running now, kept in memory and in a file beside them.
#[derive(Debug)]
pub struct StepGroups {
    file: Option<PathBuf>,
    running: Mutex<BTreeMap<i32, u64>>,
}

impl StepGroups {
    /// Groups recorded in `file` as well as in memory.
    pub fn recorded(file: PathBuf) -> StepGroups {
        StepGroups {
            file: Some(file),
            running: Mutex::default(),
        }
    }

    /// Groups kept in memory only.
    pub fn in_memory() -> StepGroups {
        StepGroups {
            file: None,
            running: Mutex::default(),
        }
    }

    /// Where the groups are recorded, if they are.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// A step's process group started (its leader's pid is the group's id).
    pub fn add(&self, group: i32) {
        let started = start_time(group).unwrap_or(0);
        self.change(|running| {
            running.insert(group, started);
        });
    }

    /// A step's process group ended.
    pub fn remove(&self, group: i32) {
        self.change(|running| {
            running.remove(&group);
        });
    }

    /// Kills every running step's group at once, without a grace period.
    pub fn kill_all(&self) {
        let groups: Vec<i32> = self
            .running
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default();
        for group in groups {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        }
    }

    fn change(&self, f: impl FnOnce(&mut BTreeMap<i32, u64>)) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        f(&mut running);
        if let Some(file) = &self.file {
            // Best effort: a group that could not be recorded is still killed by this process
            // when the step ends; only a crash at that moment would miss it.
            let _ = write(file, &running);
        }
    }
}

/// Replaces `file` whole, so that a reader never sees half a list.
fn write(file: &Path, running: &BTreeMap<i32, u64>) -> std::io::Result<()> {
    let text: String = running
        .iter()
        .map(|(group, started)| format!("{group} {started}\n"))
        .collect();
    let partial = file.with_extension("partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, file)
}

/// Kills the groups recorded in `file` that are still the ones recorded, and waits (a few
/// seconds at most) for them to be gone. Returns how many it killed.
pub fn kill_recorded(file: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(file) else {
        return 0;
    };
    let groups: Vec<Pid> = text
        .lines()
        .filter_map(|line| {
            let (group, started) = line.split_once(' ')?;
            let group: i32 = group.parse().ok().filter(|g| *g > 1)?;
            let started: u64 = started.parse().ok()?;
            // A leader that is alive must be the one recorded; a dead leader's number cannot
            // have been given to anyone while its group still has members.
            let same = start_time(group).is_none_or(|now| now == started);
            same.then(|| Pid::from_raw(group))
        })
        .filter(|group| killpg(*group, Signal::SIGKILL).is_ok())
        .collect();
    let deadline = Instant::now() + GONE_WITHIN;
    while groups.iter().any(|g| killpg(*g, None).is_ok()) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    groups.len()
}

/// When process `pid` started, in clock ticks since boot (`/proc/<pid>/stat`'s 22nd field).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    use super::*;

    #[test]
    fn a_recorded_group_is_killed_with_its_background_processes_and_others_are_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join(STEP_GROUPS);
        let groups = StepGroups::recorded(file.clone());
        // A step that left background processes behind, in its own group, whose leader is
        // gone: as the steps of a runner that was killed are.
        let mut leader = Command::new("sh")
            .args([
                "-c",
                "sh -c 'sleep 60 & sleep 60' >/dev/null & echo started",
            ])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("sh");
        let group = i32::try_from(leader.id()).expect("pid");
        groups.add(group);
        let mut said = String::new();
        std::io::Read::read_to_string(leader.stdout.as_mut().expect("piped"), &mut said)
            .expect("read");
        leader.wait().expect("reaped");
        assert!(
            killpg(Pid::from_raw(group), None).is_ok(),
            "the group lives on"
        );
        // A bystander whose recorded start time is wrong: as if its number had been reused.
        let mut bystander = Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .expect("sleep");
        let other = i32::try_from(bystander.id()).expect("pid");
        let mut text = std::fs::read_to_string(&file).expect("recorded");
        text.push_str(&format!("{other} 1\n"));
        std::fs::write(&file, text).expect("write");

        assert_eq!(kill_recorded(&file), 1);
        assert!(
            killpg(Pid::from_raw(group), None).is_err(),
            "the background sleep died with its group"
        );
        assert!(
            bystander.try_wait().expect("status").is_none(),
            "another process was killed"
        );
        bystander.kill().expect("kill");
        bystander.wait().expect("reaped");

        groups.remove(group);
        assert_eq!(std::fs::read_to_string(&file).expect("file"), "");
    }
}
