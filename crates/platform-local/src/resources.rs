//! Resource use per revision: the busiest replica's CPU and the fullest replica's memory,
//! sampled every second and kept for ten minutes, so analysis can ask about any window.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bellwether_core::platform::{PlatformState, RevisionKey};
use bellwether_core::signal::ResourceSample;
use tokio::time::Instant;

use bellwether_procfs as procfs;

/// Samples older than this are dropped.
const KEEP: Duration = Duration::from_secs(600);

/// One revision at one instant.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Point {
    at: Instant,
    replicas: u32,
    /// CPU of the busiest replica, as a share of one core (a replica has no CPU limit here).
    cpu: Option<f64>,
    /// Resident memory of the fullest replica, as a share of the machine's memory.
    memory: f64,
}

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

    pub(crate) fn sample(
        &mut self,
        state: &PlatformState,
        now: Instant,
    ) -> Vec<(RevisionKey, Point)> {
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
                Point {
                    at: now,
                    replicas: pids.len() as u32,
                    cpu,
                    memory,
                },
            ));
        }
        self.last_ticks = seen;
        points
    }
}

/// The recent points of every revision.
#[derive(Default)]
pub(crate) struct History {
    points: HashMap<RevisionKey, VecDeque<Point>>,
}

impl History {
    pub(crate) fn record(&mut self, points: Vec<(RevisionKey, Point)>, now: Instant) {
        for (key, point) in points {
            self.points.entry(key).or_default().push_back(point);
        }
        for series in self.points.values_mut() {
            while series
                .front()
                .is_some_and(|p| now.duration_since(p.at) > KEEP)
            {
                series.pop_front();
            }
        }
        self.points.retain(|_, s| !s.is_empty());
    }

    /// The mean of the points inside `window`; `None` when there are none.
    pub(crate) fn summarize(
        &self,
        key: &RevisionKey,
        window: Duration,
        now: Instant,
    ) -> Option<ResourceSample> {
        let series = self.points.get(key)?;
        let inside: Vec<&Point> = series
            .iter()
            .filter(|p| now.duration_since(p.at) <= window)
            .collect();
        let oldest = inside.first()?;
        let cpus: Vec<f64> = inside.iter().filter_map(|p| p.cpu).collect();
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let memories: Vec<f64> = inside.iter().map(|p| p.memory).collect();
        Some(ResourceSample {
            window: now
                .duration_since(oldest.at)
                .max(Duration::from_secs(1))
                .min(window),
            replicas: inside.last().map_or(0, |p| p.replicas),
            cpu: mean(&cpus),
            memory: mean(&memories),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: Instant, cpu: Option<f64>, memory: f64) -> Point {
        Point {
            at,
            replicas: 2,
            cpu,
            memory,
        }
    }

    #[test]
    fn summaries_average_the_window_only() {
        let start = Instant::now();
        let key = RevisionKey {
            service: "api".into(),
            revision: 1,
        };
        let mut history = History::default();
        let at = |s: u64| start + Duration::from_secs(s);
        for (s, cpu, mem) in [
            (0, None, 0.1),
            (1, Some(0.9), 0.1),
            (2, Some(0.2), 0.3),
            (3, Some(0.4), 0.5),
        ] {
            history.record(vec![(key.clone(), point(at(s), cpu, mem))], at(s));
        }
        let last_two = history
            .summarize(&key, Duration::from_secs(1), at(3))
            .unwrap();
        assert_eq!(
            (last_two.cpu, last_two.memory),
            (Some(0.30000000000000004), Some(0.4))
        );
        let all = history
            .summarize(&key, Duration::from_secs(60), at(3))
            .unwrap();
        assert_eq!(all.window, Duration::from_secs(3));
        assert_eq!(all.cpu, Some(0.5));
        assert_eq!(
            history.summarize(&key, Duration::from_secs(60), at(700)),
            None
        );
    }
}
