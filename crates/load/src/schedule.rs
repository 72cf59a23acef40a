//! The executors' schedules as pure functions of the time since a scenario started: how many
//! VUs a VU-based scenario wants at each moment, and when each iteration of an arrival-rate
//! scenario is due. The engine sleeps until the times these give, so the same schedule holds on
//! tokio's paused clock and on the wall clock.

use std::time::Duration;

/// A stage: reach `target` linearly over `duration`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: f64,
}

/// VUs over time: `start`, then linear ramps to each stage's target (`constant-vus` is one
/// stage at the same level, `ramping-vus` any number).
#[derive(Clone, Debug, PartialEq)]
pub struct VuRamp {
    pub start: u32,
    pub stages: Vec<Stage>,
}

impl VuRamp {
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The most VUs it ever wants.
    pub fn max(&self) -> u32 {
        self.stages
            .iter()
            .map(|s| s.target as u32)
            .fold(self.start, u32::max)
    }

    /// Each stage with its start time and the level it starts from.
    fn spans(&self) -> impl Iterator<Item = (Duration, u32, Stage)> + '_ {
        let mut at = Duration::ZERO;
        let mut from = self.start;
        self.stages.iter().map(move |stage| {
            let span = (at, from, *stage);
            at += stage.duration;
            from = stage.target as u32;
            span
        })
    }

    /// How many VUs it wants at `t`: linear between stages, rounded down as the line passes
    /// each whole VU.
    pub fn target_at(&self, t: Duration) -> u32 {
        for (start, from, stage) in self.spans() {
            if t < start + stage.duration {
                let to = stage.target as u32;
                let done = (t - start).as_nanos();
                let whole = stage.duration.as_nanos();
                let moved = |by: u32| (u128::from(by) * done / whole) as u32;
                return if to >= from {
                    from + moved(to - from)
                } else {
                    from - (u128::from(from - to) * done).div_ceil(whole) as u32
                };
            }
        }
        self.stages.last().map_or(self.start, |s| s.target as u32)
    }

    /// The first moment at or after `from` and before the end when it wants more than `vu`
    /// VUs, i.e. when VU number `vu` (from 0) should be running; `None` if never again.
    pub fn next_active(&self, vu: u32, from: Duration) -> Option<Duration> {
        for (start, level, stage) in self.spans() {
            let end = start + stage.duration;
            let to = stage.target as u32;
            let whole = stage.duration.as_nanos();
            // The part of the stage where it wants more than `vu` VUs.
            let (on, off) = if to >= level {
                if level > vu {
                    (start, end)
                } else if to > vu {
                    // level + (to - level) * done / whole >= vu + 1
                    let done =
                        (u128::from(vu + 1 - level) * whole).div_ceil(u128::from(to - level));
                    (start + nanos(done), end)
                } else {
                    continue;
                }
            } else if level > vu {
                // level - ceil((level - to) * done / whole) > vu
                let last = u128::from(level - vu - 1) * whole / u128::from(level - to);
                (start, end.min(start + nanos(last + 1)))
            } else {
                continue;
            };
            let at = on.max(from);
            if at < off {
                return Some(at);
            }
        }
        None
    }
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Iterations per second over time: `start`, then linear ramps to each stage's target
/// (`constant-arrival-rate` is one stage at the same rate).
#[derive(Clone, Debug, PartialEq)]
pub struct RateRamp {
    pub start: f64,
    pub stages: Vec<Stage>,
}

impl RateRamp {
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// How many iterations the whole schedule starts: the area under the rate.
    pub fn total(&self) -> f64 {
        let mut from = self.start;
        let mut total = 0.0;
        for stage in &self.stages {
            total += (from + stage.target) / 2.0 * stage.duration.as_secs_f64();
            from = stage.target;
        }
        total
    }

    /// When each iteration is due, in order: the `n`th (from 0) when the area under the rate
    /// reaches `n`.
    pub fn arrivals(&self) -> Arrivals<'_> {
        Arrivals {
            ramp: self,
            stage: 0,
            stage_start: 0.0,
            stage_from: self.start,
            before: 0.0,
            next: 0,
        }
    }
}

/// The due times of a [`RateRamp`]'s iterations.
#[derive(Clone, Debug)]
pub struct Arrivals<'a> {
    ramp: &'a RateRamp,
    stage: usize,
    /// When the current stage starts, in seconds.
    stage_start: f64,
    /// The rate it starts from.
    stage_from: f64,
    /// Iterations due before it.
    before: f64,
    next: u64,
}

impl Iterator for Arrivals<'_> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        loop {
            let stage = self.ramp.stages.get(self.stage)?;
            let (r0, r1) = (self.stage_from, stage.target);
            let length = stage.duration.as_secs_f64();
            let area = (r0 + r1) / 2.0 * length;
            let m = self.next as f64 - self.before;
            if m < area {
                // r0 x + (r1 - r0) x² / 2D = m, in the form that is stable when r0 is 0.
                let x = if m <= 0.0 {
                    0.0
                } else {
                    2.0 * m / (r0 + (r0 * r0 + 2.0 * (r1 - r0) * m / length).max(0.0).sqrt())
                };
                self.next += 1;
                return Some(Duration::from_secs_f64(self.stage_start + x.min(length)));
            }
            self.stage += 1;
            self.stage_start += length;
            self.stage_from = r1;
            self.before += area;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    fn stage(secs: f64, target: f64) -> Stage {
        Stage {
            duration: s(secs),
            target,
        }
    }

    #[test]
    fn vus_ramp_linearly_between_stages() {
        let ramp = VuRamp {
            start: 0,
            stages: vec![stage(10.0, 10.0), stage(10.0, 10.0), stage(5.0, 0.0)],
        };
        assert_eq!(ramp.duration(), s(25.0));
        assert_eq!(ramp.max(), 10);
        let at: Vec<u32> = [
            0.0, 0.99, 1.0, 5.5, 10.0, 19.9, 20.0, 20.1, 22.5, 24.9, 30.0,
        ]
        .iter()
        .map(|t| ramp.target_at(s(*t)))
        .collect();
        assert_eq!(at, [0, 0, 1, 5, 10, 10, 10, 9, 5, 0, 0]);
    }

    #[test]
    fn each_vu_knows_when_it_is_wanted_next() {
        let ramp = VuRamp {
            start: 1,
            stages: vec![stage(10.0, 5.0), stage(5.0, 0.0), stage(5.0, 3.0)],
        };
        assert_eq!(ramp.next_active(0, s(0.0)), Some(s(0.0)));
        // From 1 to 5 over 10 s: VU 1 (the second) starts when the line reaches 2, at 2.5 s.
        assert_eq!(ramp.next_active(1, s(0.0)), Some(s(2.5)));
        assert_eq!(ramp.next_active(4, s(0.0)), Some(s(10.0)));
        // Ramping down it stays wanted until its level is passed; after it, the third stage.
        assert_eq!(ramp.next_active(4, s(11.0)), None);
        assert_eq!(
            ramp.next_active(1, s(14.0)),
            Some(s(15.0) + Duration::from_nanos(3_333_333_334))
        );
        assert_eq!(ramp.next_active(0, s(20.0)), None);
        for vu in 0..5 {
            for tenth in 0..200 {
                let from = s(f64::from(tenth) / 10.0);
                if let Some(at) = ramp.next_active(vu, from) {
                    assert!(ramp.target_at(at) > vu, "vu {vu} from {from:?}: {at:?}");
                    assert!(at >= from);
                }
            }
        }
    }

    #[test]
    fn a_constant_rate_is_due_evenly_from_the_start() {
        let ramp = RateRamp {
            start: 10.0,
            stages: vec![stage(2.0, 10.0)],
        };
        let due: Vec<Duration> = ramp.arrivals().collect();
        assert_eq!(due.len(), 20);
        assert_eq!(ramp.total(), 20.0);
        for (n, at) in due.iter().enumerate() {
            assert!(
                (at.as_secs_f64() - n as f64 * 0.1).abs() < 1e-9,
                "{n}: {at:?}"
            );
        }
    }

    #[test]
    fn a_ramping_rate_is_due_as_the_area_under_it_grows() {
        // 0 → 100/s over 10 s (500 iterations), 100/s for 5 s (500), 100 → 0 over 10 s (500).
        let ramp = RateRamp {
            start: 0.0,
            stages: vec![stage(10.0, 100.0), stage(5.0, 100.0), stage(10.0, 0.0)],
        };
        let due: Vec<Duration> = ramp.arrivals().collect();
        assert_eq!(due.len(), 1500);
        assert!(due.windows(2).all(|w| w[0] <= w[1]));
        // The area up to t in the first stage is 5 t², so the 125th is due at 5 s.
        assert!((due[125].as_secs_f64() - 5.0).abs() < 1e-9);
        let in_window = |a: f64, b: f64| {
            due.iter()
                .filter(|d| (a..b).contains(&d.as_secs_f64()))
                .count()
        };
        assert_eq!(in_window(10.0, 15.0), 500);
        assert_eq!(in_window(15.0, 20.0), 375);
    }
}
