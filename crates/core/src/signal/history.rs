//! Recent resource readings of every revision, kept for a while so that analysis can ask about
//! any window: what a platform's sampler records and its [`ResourceSource`] answers from.
//! Times are the caller's: a duration since an origin it chose (its start), so that this reads
//! no clock.
//!
//! [`ResourceSource`]: super::ResourceSource

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::ResourceSample;
use crate::platform::RevisionKey;

/// One revision at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResourcePoint {
    /// When it was read, as a duration since the caller's origin.
    pub at: Duration,
    pub replicas: u32,
    /// CPU of the busiest replica ([`ResourceSample::cpu`]); `None` when not known yet.
    pub cpu: Option<f64>,
    /// Memory of the fullest replica ([`ResourceSample::memory`]); `None` when not known.
    pub memory: Option<f64>,
}

/// The points of every revision that are at most `keep` old.
#[derive(Debug)]
pub struct ResourceHistory {
    keep: Duration,
    points: HashMap<RevisionKey, VecDeque<ResourcePoint>>,
}

impl ResourceHistory {
    pub fn new(keep: Duration) -> Self {
        Self {
            keep,
            points: HashMap::new(),
        }
    }

    /// Adds `points` and drops every point older than `keep` at `now`.
    pub fn record(&mut self, points: Vec<(RevisionKey, ResourcePoint)>, now: Duration) {
        for (key, point) in points {
            self.points.entry(key).or_default().push_back(point);
        }
        for series in self.points.values_mut() {
            while series
                .front()
                .is_some_and(|p| now.saturating_sub(p.at) > self.keep)
            {
                series.pop_front();
            }
        }
        self.points.retain(|_, s| !s.is_empty());
    }

    /// The mean of the points inside `window` at `now`; `None` when there are none.
    pub fn summarize(
        &self,
        key: &RevisionKey,
        window: Duration,
        now: Duration,
    ) -> Option<ResourceSample> {
        let series = self.points.get(key)?;
        let inside: Vec<&ResourcePoint> = series
            .iter()
            .filter(|p| now.saturating_sub(p.at) <= window)
            .collect();
        let oldest = inside.first()?;
        let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        Some(ResourceSample {
            window: now
                .saturating_sub(oldest.at)
                .max(Duration::from_secs(1))
                .min(window),
            replicas: inside.last().map_or(0, |p| p.replicas),
            cpu: mean(inside.iter().filter_map(|p| p.cpu).collect()),
            memory: mean(inside.iter().filter_map(|p| p.memory).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_average_the_window_only() {
        let key = RevisionKey {
            service: "api".into(),
            revision: 1,
        };
        let mut history = ResourceHistory::new(Duration::from_secs(600));
        let at = Duration::from_secs;
        for (s, cpu, memory) in [
            (0, None, Some(0.1)),
            (1, Some(0.9), Some(0.1)),
            (2, Some(0.2), None),
            (3, Some(0.4), Some(0.5)),
        ] {
            let point = ResourcePoint {
                at: at(s),
                replicas: 2,
                cpu,
                memory,
            };
            history.record(vec![(key.clone(), point)], at(s));
        }
        let last_two = history.summarize(&key, at(1), at(3)).unwrap();
        assert_eq!(
            (last_two.cpu, last_two.memory),
            (Some(0.30000000000000004), Some(0.5))
        );
        let all = history.summarize(&key, at(60), at(3)).unwrap();
        assert_eq!(all.window, at(3));
        assert_eq!(all.cpu, Some(0.5));
        assert_eq!(all.replicas, 2);
        assert_eq!(history.summarize(&key, at(60), at(700)), None);
        history.record(Vec::new(), at(700));
        assert!(history.points.is_empty(), "old points are dropped");
    }
}
