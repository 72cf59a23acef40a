//! Blue-green: the new revision runs as a preview beside the active one, then takes all
//! traffic at once; the old one stays warm so that switching back is instant.

use super::{Action, Note, Rollout, RunKind, Stage, Traffic, Verdict};
use crate::spec::{BlueGreenSpec, Strategy};

impl Rollout {
    fn blue_green_spec(&self) -> BlueGreenSpec {
        match self.strategy() {
            Some(Strategy::BlueGreen(b)) => b.clone(),
            _ => BlueGreenSpec::default(),
        }
    }

    fn preview_size(&self) -> u32 {
        let replicas = self.replicas();
        self.blue_green_spec()
            .preview_replicas
            .map_or(replicas, |p| p.min(replicas))
    }

    pub(super) fn start_preview(&mut self, _spec: &BlueGreenSpec, out: &mut Vec<Action>) {
        let (Some(stable), Some(target)) = (self.stable.clone(), self.target.clone()) else {
            return;
        };
        self.stage = Stage::Preview;
        let size = self.preview_size();
        self.set_scale(target.number, size, out);
        let mut traffic = Traffic::all_to(stable.number);
        traffic.preview = Some(target.number);
        self.route(traffic, out);
        self.reason = format!("starting {size} preview replicas of {target}");
    }

    /// The preview is ready and judged: promote now, later, or when a human says so.
    fn await_promotion(&mut self) {
        let spec = self.blue_green_spec();
        let target = self
            .target
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !spec.auto_promotion_enabled {
            self.stage = Stage::AwaitPromotion { auto_at: None };
            self.reason = format!("preview of {target} is ready; waiting for promote");
            return;
        }
        match spec.auto_promotion_delay {
            Some(delay) if !delay.is_zero() => {
                self.stage = Stage::AwaitPromotion {
                    auto_at: Some(self.now.after(delay)),
                };
                let delay = crate::time::human_duration(delay);
                self.reason =
                    format!("preview of {target} is ready; promoting automatically in {delay}");
            }
            _ => self.begin_promotion(),
        }
    }

    pub(super) fn advance_blue_green(&mut self, out: &mut Vec<Action>) -> bool {
        let Some(target) = self.target.clone() else {
            return false;
        };
        let spec = self.blue_green_spec();
        match self.stage.clone() {
            Stage::Preview => {
                if self.ready_of(target.number) < self.preview_size() {
                    return false;
                }
                match spec.pre_promotion_analysis {
                    Some(analysis) => {
                        let run = self.start_analysis(RunKind::PrePromotion, analysis, out);
                        self.stage = Stage::PrePromotion { run, verdict: None };
                        self.reason = format!("judging the preview of {target} before the switch");
                    }
                    None => self.await_promotion(),
                }
                true
            }
            Stage::PrePromotion {
                verdict: Some(Verdict::Successful),
                ..
            } => {
                self.await_promotion();
                true
            }
            Stage::AwaitPromotion { auto_at: Some(at) } if self.now >= at => {
                self.begin_promotion();
                true
            }
            Stage::Promote => {
                let replicas = self.replicas();
                self.set_scale(target.number, replicas, out);
                if self.ready_of(target.number) < replicas {
                    return false;
                }
                self.route(Traffic::all_to(target.number), out);
                out.push(Action::Record(Note::Switched { to: target.number }));
                match spec.post_promotion_analysis {
                    Some(analysis) if !self.full_promotion => {
                        let run = self.start_analysis(RunKind::PostPromotion, analysis, out);
                        self.stage = Stage::PostPromotion { run, verdict: None };
                        self.reason = format!(
                            "{target} serves all traffic; judging it while the previous revision stays warm"
                        );
                    }
                    _ => self.finish(out),
                }
                true
            }
            Stage::PostPromotion {
                verdict: Some(Verdict::Successful),
                ..
            } => {
                self.finish(out);
                true
            }
            _ => false,
        }
    }
}
