//! Steps must not outlive the process that runs them. An executor records the process group
//! of each running step in its scratch directory ([`StepGroups`]); if that process dies
//! without ending them (`kill -9`, a crash, a lost machine), whoever sweeps the run afterwards
//! kills the groups still recorded ([`kill_recorded`]) before the run can be run again.
//!
//! A group is recorded with its leader's start time, so that a number the system has since
//! given to an unrelated process is left alone. The file is a journal, appended to: `+group
//! started` when a step starts, `-group` when it ends. Replacing a whole list at every change
//! (write a copy, rename it over) cost a rename per step start and end, and on ext4 a rename
//! over a file flushes the replaced file's data first: half a millisecond or more each.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
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
    running: Mutex<Running>,
}

/// The groups running, and the journal they are recorded in once it is opened.
#[derive(Debug, Default)]
struct Running {
    groups: BTreeMap<i32, u64>,
    journal: Option<File>,
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
        self.change(&format!("+{group} {started}\n"), |groups| {
            groups.insert(group, started);
        });
    }

    /// A step's process group ended.
    pub fn remove(&self, group: i32) {
        self.change(&format!("-{group}\n"), |groups| {
            groups.remove(&group);
        });
    }

    /// Kills every running step's group at once, without a grace period.
    pub fn kill_all(&self) {
        let groups: Vec<i32> = self
            .running
            .lock()
            .map(|r| r.groups.keys().copied().collect())
            .unwrap_or_default();
        for group in groups {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        }
    }

    fn change(&self, line: &str, f: impl FnOnce(&mut BTreeMap<i32, u64>)) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        f(&mut running.groups);
        if let Some(file) = &self.file {
            // Best effort: a group that could not be recorded is still killed by this process
            // when the step ends; only a crash at that moment would miss it.
            let _ = append(file, &mut running.journal, line);
        }
    }
}

/// Appends `line` to the journal at `file`, opening it first if need be. One `write` of a
/// whole short line: a reader sees it whole or, after a crash mid-write, as a line it skips.
fn append(file: &Path, journal: &mut Option<File>, line: &str) -> std::io::Result<()> {
    let open = match journal {
        Some(open) => open,
        None => journal.insert(File::options().create(true).append(true).open(file)?),
    };
    open.write_all(line.as_bytes())
}

/// The groups a journal leaves running, with their leaders' start times. A line without a
/// sign is a group started (the whole-list files of earlier versions).
fn recorded(text: &str) -> BTreeMap<i32, u64> {
    let mut groups = BTreeMap::new();
    for line in text.lines() {
        if let Some(ended) = line.strip_prefix('-') {
            if let Ok(group) = ended.trim().parse::<i32>() {
                groups.remove(&group);
            }
            continue;
        }
        let started = line.strip_prefix('+').unwrap_or(line);
        let parsed = started
            .split_once(' ')
            .and_then(|(group, at)| Some((group.parse().ok()?, at.trim().parse().ok()?)));
        if let Some((group, at)) = parsed {
            groups.insert(group, at);
        }
    }
    groups
}

/// Kills the groups recorded in `file` that are still the ones recorded, and waits (a few
/// seconds at most) for them to be gone. Returns how many it killed.
pub fn kill_recorded(file: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(file) else {
        return 0;
    };
    let groups: Vec<Pid> = recorded(&text)
        .into_iter()
        .filter(|(group, _)| *group > 1)
        .filter_map(|(group, started)| {
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
        let left = recorded(&std::fs::read_to_string(&file).expect("file"));
        assert_eq!(
            left.keys().collect::<Vec<_>>(),
            [&other],
            "only the added line is left"
        );
    }

    #[test]
    fn the_journal_leaves_the_groups_started_and_not_ended() {
        let text = "+10 5\n+11 6\n-10\n12 7\n+13 8\n-13\n+14";
        assert_eq!(recorded(text), BTreeMap::from([(11, 6), (12, 7)]));
    }
}
