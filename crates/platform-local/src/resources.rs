//! Resource use per revision: the busiest replica's CPU and the fullest replica's memory,
//! sampled every second into a `ResourceHistory` that keeps ten minutes, so analysis can ask
//! about any window.

use std::collections::HashMap;
use std::time::Duration;

use bellwether_core::platform::{PlatformState, RevisionKey};
use bellwether_core::signal::ResourcePoint;
use tokio::time::Instant;

use bellwether_procfs as procfs;

/// Samples older than this are dropped.
pub(crate) const KEEP: Duration = Duration::from_secs(600);

/// Turns `/proc` counters into per-revision points: CPU needs two readings of a process group.
pub(crate) struct Sampler {
    ticks_per_second: f64,
    memory_total: f64,
    last_ticks: HashMap<u32, (u64, Instant)>,
}

impl Sampler {
    pub(crate) fn new() -> Self {
        Self {
            ticks_per_second: procfs::clock_ticks_per_second() as f64,
            memory_total: procfs::mem_total().unwrap_or(u64::MAX) as f64,
            last_ticks: HashMap::new(),
        }
    }

    /// The points of every revision with processes at `now`, which is `at` since the
    /// history's origin.
    pub(crate) fn sample(
        &mut self,
        state: &PlatformState,
        now: Instant,
        at: Duration,
    ) -> Vec<(RevisionKey, ResourcePoint)> {
        let mut seen = HashMap::new();
        let mut points = Vec::new();
        for (key, revision) in &state.revisions {
            let pids: Vec<u32> = revision.replicas.iter().filter_map(|r| r.pid).collect();
            if pids.is_empty() {
                continue;
            }
            let (mut cpu, mut memory) = (None::<f64>, 0.0f64);
            for pid in &pids {
                let (ticks, rss) = procfs::group_usage(*pid);
                if let Some((before, at)) = self.last_ticks.get(pid) {
                    let secs = now.duration_since(*at).as_secs_f64();
                    if secs > 0.0 {
                        let cores =
                            ticks.saturating_sub(*before) as f64 / self.ticks_per_second / secs;
                        cpu = Some(cpu.map_or(cores, |c| c.max(cores)));
                    }
                }
                seen.insert(*pid, (ticks, now));
                memory = memory.max(rss as f64 / self.memory_total);
            }
            points.push((
                key.clone(),
                // CPU as a share of one core, memory of the machine's: a replica has no limits.
                ResourcePoint {
                    at,
                    replicas: pids.len() as u32,
                    cpu,
                    memory: Some(memory),
                },
            ));
        }
        self.last_ticks = seen;
        points
    }
}
