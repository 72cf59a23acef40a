//! CPU and memory of a process group, read from Linux's `/proc`, and the start time that tells
//! a live process from a recycled process id: the local platform samples its replicas with it,
//! and the fake cluster's kubelet its pods' containers.

use std::fs;

/// The process's start time in clock ticks after boot (field 22 of `/proc/PID/stat`).
pub fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// CPU ticks and resident bytes of every process in the process group `pgid`.
pub fn group_usage(pgid: u32) -> (u64, u64) {
    let Ok(entries) = fs::read_dir("/proc") else {
        return (0, 0);
    };
    let mut ticks = 0;
    let mut rss = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(fields) = stat_fields(pid) else {
            continue;
        };
        // Fields after the command: 0 state, 2 pgrp, 11 utime, 12 stime, 21 rss pages.
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(pgid) {
            continue;
        }
        let number = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += number(11) + number(12);
        rss += number(21) * page_size();
    }
    (ticks, rss)
}

/// The fields of `/proc/PID/stat` after the command name, which may itself hold spaces.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

pub fn clock_ticks_per_second() -> u64 {
    sysconf(nix::unistd::SysconfVar::CLK_TCK).unwrap_or(100)
}

fn page_size() -> u64 {
    sysconf(nix::unistd::SysconfVar::PAGE_SIZE).unwrap_or(4096)
}

fn sysconf(var: nix::unistd::SysconfVar) -> Option<u64> {
    nix::unistd::sysconf(var)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
}

/// Total memory of the machine in bytes, from `/proc/meminfo`.
pub fn mem_total() -> Option<u64> {
    let info = fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(start_time(me).is_some());
        let pgid = nix::unistd::getpgrp().as_raw() as u32;
        let (_, rss) = group_usage(pgid);
        assert!(rss > 0, "our own group uses memory");
        assert!(mem_total().unwrap() > rss);
        assert!(clock_ticks_per_second() > 0);
        assert_eq!(start_time(u32::MAX), None);
    }
}
