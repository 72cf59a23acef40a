//! Canary: steps of weights, pauses and analyses, with the stable revision kept at full size.

use super::{Action, Note, Rollout, RunKind, Stage, Traffic, Verdict};
use crate::spec::{CanaryScale, CanarySpec, CanaryStep, Strategy, Weight};

impl Rollout {
    fn canary_spec(&self) -> Option<CanarySpec> {
        match self.strategy() {
            Some(Strategy::Canary(c)) => Some(c.clone()),
            _ => None,
        }
    }

    /// Enters step `index`, or promotion once past the last step.
    pub(super) fn enter_step(&mut self, index: usize, out: &mut Vec<Action>) {
        let spec = self
            .canary_spec()
            .unwrap_or_else(|| CanarySpec::with_steps(Vec::new()));
        self.step = index;
        self.stage_since = self.now;
        if let Some(bg) = &spec.background_analysis
            && bg.starting_step == index
        {
            self.start_analysis(RunKind::Background, bg.analysis.clone(), out);
        }
        let Some(step) = spec.steps.get(index).cloned() else {
            self.conclude_or_promote(out);
            return;
        };
        let total = spec.steps.len();
        out.push(Action::Record(Note::StepStarted {
            index,
            step: step.clone(),
        }));
        let what = super::action::describe_step(&step);
        self.reason = format!("step {}/{total}: {what}", index + 1);
        self.stage = match step {
            CanaryStep::SetWeight(weight) => Stage::CanaryScale { weight },
            CanaryStep::Pause(duration) => Stage::CanaryPause {
                until: duration.map(|d| self.now.after(d)),
            },
            CanaryStep::Analysis(analysis) => {
                let run = self.start_analysis(RunKind::Step(index), analysis, out);
                Stage::CanaryAnalysis { run, verdict: None }
            }
            CanaryStep::SetHeaderRoute(matcher) => {
                let target = self.target.as_ref().map_or(0, |t| t.number);
                let mut traffic = self.traffic.clone();
                traffic.header_route = matcher.map(|m| (m, target));
                self.route(traffic, out);
                self.complete_step(out);
                return;
            }
            CanaryStep::SetMirrorRoute(share) => {
                let target = self.target.as_ref().map_or(0, |t| t.number);
                let mut traffic = self.traffic.clone();
                traffic.mirror = share.map(|w| (target, w));
                self.route(traffic, out);
                self.complete_step(out);
                return;
            }
            CanaryStep::SetCanaryScale(scale) => {
                self.canary_scale = match scale {
                    CanaryScale::MatchTrafficWeight => None,
                    other => Some(other),
                };
                Stage::CanaryResize
            }
        };
    }

    /// Past the last step: a background run still measuring must first give its verdict on
    /// the evidence so far, so that a canary is never promoted on evidence that decided
    /// nothing.
    fn conclude_or_promote(&mut self, out: &mut Vec<Action>) {
        let background = self
            .analyses
            .iter()
            .find(|a| a.run.kind == RunKind::Background)
            .map(|a| a.run);
        match background {
            Some(run) if !self.full_promotion => {
                self.stage = Stage::CanaryConclude { run };
                self.reason =
                    format!("all steps done: waiting for {run}'s verdict on the evidence so far");
                out.push(Action::ConcludeAnalysis { run });
            }
            _ => self.begin_promotion(),
        }
    }

    pub(super) fn complete_step(&mut self, out: &mut Vec<Action>) {
        out.push(Action::Record(Note::StepCompleted { index: self.step }));
        self.enter_step(self.step + 1, out);
    }

    /// How many canary replicas carry `weight` of the traffic: as a `SetCanaryScale` step
    /// said, or else proportional to the weight, at least one.
    fn canary_replicas(&self, weight: Weight) -> u32 {
        let weight = match self.canary_scale {
            Some(CanaryScale::Replicas(n)) => return n,
            Some(CanaryScale::Weight(w)) => w,
            Some(CanaryScale::MatchTrafficWeight) | None => weight,
        };
        let replicas = u64::from(self.replicas());
        let bp = u64::from(weight.basis_points());
        let needed = (replicas * bp).div_ceil(10_000);
        u32::try_from(needed)
            .unwrap_or(u32::MAX)
            .max(u32::from(bp > 0))
    }

    /// Grows the canary towards `needed` replicas, at most `maxSurge` of them starting at once.
    /// Returns whether `needed` replicas are ready.
    fn scale_canary_towards(&mut self, needed: u32, out: &mut Vec<Action>) -> bool {
        let Some(target) = self.target.as_ref().map(|t| t.number) else {
            return false;
        };
        let ready = self.ready_of(target);
        let surge = self
            .canary_spec()
            .map_or(1, |c| c.max_surge.resolve(self.replicas(), true))
            .max(1);
        let want = needed
            .min(ready.saturating_add(surge))
            .max(self.scale_of(target));
        self.set_scale(target, want, out);
        ready >= needed
    }

    pub(super) fn advance_canary(&mut self, out: &mut Vec<Action>) -> bool {
        let (Some(stable), Some(target)) = (self.stable.clone(), self.target.clone()) else {
            return false;
        };
        match self.stage.clone() {
            Stage::CanaryScale { weight } => {
                let needed = self.canary_replicas(weight);
                if !self.scale_canary_towards(needed, out) {
                    return false;
                }
                let mut traffic = Traffic::split(stable.number, target.number, weight);
                traffic.header_route = self.traffic.header_route.clone();
                traffic.mirror = self.traffic.mirror;
                self.route(traffic, out);
                out.push(Action::Record(Note::WeightSet {
                    revision: target.number,
                    weight,
                }));
                self.complete_step(out);
                true
            }
            Stage::CanaryResize => {
                let needed = self.canary_replicas(self.traffic.weight_of(target.number));
                // A smaller size applies at once; a larger one grows readiness-gated.
                if needed < self.scale_of(target.number) {
                    self.set_scale(target.number, needed, out);
                } else if !self.scale_canary_towards(needed, out) {
                    return false;
                }
                self.complete_step(out);
                true
            }
            Stage::CanaryPause { until: Some(until) } if self.now >= until => {
                self.complete_step(out);
                true
            }
            Stage::CanaryAnalysis {
                verdict: Some(Verdict::Successful),
                ..
            } => {
                self.complete_step(out);
                true
            }
            // The run's verdict removed it: passed, or inconclusive and promoted by a person.
            Stage::CanaryConclude { run } if !self.analyses.iter().any(|a| a.run == run) => {
                self.begin_promotion();
                true
            }
            Stage::Promote => {
                let replicas = self.replicas();
                if !self.scale_canary_towards(replicas, out) {
                    return false;
                }
                self.finish(out);
                true
            }
            _ => false,
        }
    }
}
