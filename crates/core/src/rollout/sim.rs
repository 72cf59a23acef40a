//! An in-memory world for the state machine: a fake clock, replicas that become ready after a
//! start-up time, and analyses that return scripted verdicts. Tests and the simulation
//! benchmark drive rollouts through it; production code never uses it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{
    Action, Command, Event, EventKind, Rejected, Revision, RevisionNumber, Rollout, RolloutSpec,
    RunKind, Verdict,
};
use crate::spec::{AnalysisRef, MetricSpec, ServiceSpec};
use crate::time::Timestamp;

/// A rollout and the simulated platform and analysis engine around it.
pub struct World {
    pub rollout: Rollout,
    pub now: Timestamp,
    /// How long a replica takes to become ready.
    pub startup: Duration,
    /// How long an analysis takes to reach its verdict, unless `service` says.
    pub analysis_time: Duration,
    /// The service's spec, when known: an analysis of metrics with a `count` (or of the
    /// judge) then takes as long as their measurements do.
    pub service: Option<ServiceSpec>,
    /// Revisions whose analyses fail (others pass).
    pub failing: BTreeSet<RevisionNumber>,
    /// Revisions whose analyses are inconclusive.
    pub inconclusive: BTreeSet<RevisionNumber>,
    /// Revisions whose background analyses pass until concluded, then are inconclusive: too
    /// little evidence by the end of the steps.
    pub undecided: BTreeSet<RevisionNumber>,
    /// Keep every action for inspection (tests); off for benchmarks.
    pub record: bool,
    pub actions: Vec<(Timestamp, Action)>,
    /// Events applied so far.
    pub events: u64,
    queue: BTreeMap<(Timestamp, u64), EventKind>,
    seq: u64,
}

impl World {
    pub fn new(service: &str) -> Self {
        Self {
            rollout: Rollout::new(service),
            now: Timestamp::default(),
            startup: Duration::from_secs(2),
            analysis_time: Duration::from_secs(30),
            service: None,
            failing: BTreeSet::new(),
            inconclusive: BTreeSet::new(),
            undecided: BTreeSet::new(),
            record: true,
            actions: Vec::new(),
            events: 0,
            queue: BTreeMap::new(),
            seq: 0,
        }
    }

    pub fn deploy(&mut self, number: RevisionNumber, spec: &RolloutSpec) {
        let revision = Revision {
            number,
            version: format!("v{number}"),
        };
        let spec = spec.clone();
        self.apply(EventKind::SpecChanged { revision, spec })
            .expect("a spec change is never rejected");
    }

    pub fn command(&mut self, command: Command) -> Result<(), Rejected> {
        self.apply(EventKind::Command {
            command,
            by: "operator".to_owned(),
        })
    }

    /// Applies one event now and lets the world react to the actions.
    pub fn apply(&mut self, kind: EventKind) -> Result<(), Rejected> {
        self.events += 1;
        let actions = self.rollout.apply(&Event::new(self.now, kind))?;
        for action in actions {
            self.react(&action);
            if self.record {
                self.actions.push((self.now, action));
            }
        }
        Ok(())
    }

    fn schedule(&mut self, at: Timestamp, kind: EventKind) {
        self.seq += 1;
        self.queue.insert((at, self.seq), kind);
    }

    fn react(&mut self, action: &Action) {
        match action {
            Action::Scale { revision, replicas } => {
                let current = self.rollout.ready_of(*revision);
                let at = if *replicas > current {
                    self.now.after(self.startup)
                } else {
                    self.now
                };
                let kind = EventKind::ReplicasReady {
                    revision: *revision,
                    ready: *replicas,
                    failing: None,
                };
                self.schedule(at, kind);
            }
            Action::StartAnalysis {
                run,
                revision,
                analysis,
                ..
            } => {
                let verdict = if self.failing.contains(revision) {
                    Verdict::Failed
                } else if self.inconclusive.contains(revision) {
                    Verdict::Inconclusive
                } else if run.kind == RunKind::Background {
                    return; // A passing background analysis runs until concluded or stopped.
                } else {
                    Verdict::Successful
                };
                let message = format!("simulated {verdict:?}");
                let took = self.service.as_ref().and_then(|s| measuring(s, analysis));
                let at = self.now.after(took.unwrap_or(self.analysis_time));
                self.schedule(
                    at,
                    EventKind::AnalysisCompleted {
                        run: *run,
                        verdict,
                        message,
                    },
                );
            }
            // Only a passing background run is still running when it is concluded, and it
            // answers at once: it judges the evidence it already has.
            Action::ConcludeAnalysis { run } => {
                let target = self.rollout.target.as_ref().map(|t| t.number);
                let verdict = match target {
                    Some(r) if self.undecided.contains(&r) => Verdict::Inconclusive,
                    _ => Verdict::Successful,
                };
                let kind = EventKind::AnalysisCompleted {
                    run: *run,
                    verdict,
                    message: format!("simulated {verdict:?}"),
                };
                self.schedule(self.now, kind);
            }
            _ => {}
        }
    }

    /// The next instant something happens: a queued observation or a rollout timer.
    fn next_at(&self) -> Option<Timestamp> {
        let queued = self.queue.keys().next().map(|(at, _)| *at);
        queued.into_iter().chain(self.rollout.next_deadline()).min()
    }

    /// Runs the world up to `limit`: everything due by then happens, and the clock reads `limit`.
    pub fn run_until(&mut self, limit: Timestamp) -> Timestamp {
        self.drain(limit);
        self.now = self.now.max(limit);
        self.now
    }

    /// Processes everything due up to `limit`, leaving the clock at the last thing that happened.
    fn drain(&mut self, limit: Timestamp) -> Timestamp {
        let mut last_tick = None;
        while let Some(at) = self.next_at() {
            if at > limit {
                break;
            }
            self.now = self.now.max(at);
            let due: Vec<(Timestamp, u64)> = self
                .queue
                .range(..=(self.now, u64::MAX))
                .map(|(k, _)| *k)
                .collect();
            if due.is_empty() {
                // A deadline that a tick at this instant did not clear would never clear.
                if last_tick == Some(self.now) {
                    break;
                }
                last_tick = Some(self.now);
                let _ = self.apply(EventKind::Tick);
            }
            for key in due {
                if let Some(kind) = self.queue.remove(&key) {
                    let _ = self.apply(kind);
                }
            }
        }
        self.now
    }

    /// Runs until no rollout is in progress (or a day of simulated time has passed).
    pub fn settle(&mut self) -> Timestamp {
        let limit = self.now.after(Duration::from_secs(86_400));
        while self.rollout.in_progress() || !self.rollout.scale_downs.is_empty() {
            let before = (self.now, self.events);
            self.drain(limit);
            if (self.now, self.events) == before || self.now >= limit {
                break;
            }
        }
        self.now
    }
}

/// How long `analysis` of `service` measures before its verdict, as the analysis run's rules
/// have it: a metric with `count` is first measured `initial_delay` in, then every
/// `interval`; the judge takes `count` samples, one at the end of each `interval`. `None` when
/// nothing in it is counted (it decides on its evidence, whenever that comes).
fn measuring(service: &ServiceSpec, analysis: &AnalysisRef) -> Option<Duration> {
    let selected: Vec<&MetricSpec> = if analysis.is_all() {
        service.metrics.iter().collect()
    } else {
        analysis
            .metrics
            .iter()
            .filter_map(|name| service.metric(name))
            .collect()
    };
    let metrics = selected.into_iter().filter_map(|m| {
        let count = m.count?;
        Some(m.initial_delay + m.interval * count.saturating_sub(1))
    });
    let judge = service
        .judge
        .as_ref()
        .filter(|_| analysis.judge)
        .map(|j| j.interval * j.count);
    metrics.chain(judge).max()
}
