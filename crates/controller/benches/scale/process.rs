//! This process's resident memory and CPU time, from `/proc/self`.

use std::time::Duration;

/// The kernel reports CPU time in ticks of `USER_HZ`, 100 per second on Linux.
const TICKS_PER_SECOND: u64 = 100;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    /// Resident set size now, and its peak so far, in bytes.
    pub(crate) rss: u64,
    pub(crate) peak_rss: u64,
    /// User plus system time of every thread.
    pub(crate) cpu: Duration,
    pub(crate) threads: u64,
}

pub(crate) fn usage() -> Usage {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
    };
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name may hold spaces: the fields that follow are counted from its `)`.
    let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = fields[11] + fields[12];
    Usage {
        rss: field("VmRSS") * 1024,
        peak_rss: field("VmHWM") * 1024,
        cpu: Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND),
        threads: field("Threads"),
    }
}
