//! Folding events into a rollout: the transitions every strategy shares.

use super::state::ActiveAnalysis;
use super::{
    Action, Command, Event, EventKind, Note, Rejected, Revision, RevisionNumber, Rollout,
    RolloutSpec, RunId, RunKind, Stage, Traffic, Verdict,
};
use crate::spec::{AnalysisRef, Strategy};
use crate::time::Timestamp;

/// Advancing stops after this many transitions in one event: far more than any strategy needs
/// (one per step), it only guards against a spec that could otherwise loop.
const MAX_TRANSITIONS_PER_EVENT: usize = 10_000;

impl Rollout {
    /// Folds one event into the rollout and returns what the adapters must do.
    ///
    /// A command that does not apply is [`Rejected`] and leaves the rollout unchanged, so a
    /// controller can check a command this way before persisting it.
    pub fn apply(&mut self, event: &Event) -> Result<Vec<Action>, Rejected> {
        if let EventKind::Command { command, .. } = &event.kind {
            self.check(command)?;
        }
        let mut out = Vec::new();
        self.now = self.now.max(event.at);
        match &event.kind {
            EventKind::SpecChanged { revision, spec } => self.on_spec(revision, spec, &mut out),
            EventKind::Tick => {}
            EventKind::ReplicasReady {
                revision,
                ready,
                failing,
            } => {
                match failing {
                    Some(why) => self.failing.insert(*revision, why.clone()),
                    None => self.failing.remove(revision),
                };
                self.on_ready(*revision, *ready);
            }
            EventKind::AnalysisCompleted {
                run,
                verdict,
                message,
            } => self.on_verdict(*run, *verdict, message, &mut out),
            EventKind::Command { command, by } => self.on_command(command, by, &mut out),
        }
        self.fire_scale_downs(&mut out);
        self.advance(&mut out);
        self.enforce_progress_deadline(&mut out);
        Ok(out)
    }

    fn on_spec(&mut self, revision: &Revision, spec: &RolloutSpec, out: &mut Vec<Action>) {
        self.spec = Some(spec.clone());
        let is_stable = self
            .stable
            .as_ref()
            .is_some_and(|s| s.number == revision.number);
        let is_target = self
            .target
            .as_ref()
            .is_some_and(|t| t.number == revision.number);
        if is_stable {
            if self.in_progress() || self.aborted {
                self.back_to_stable(out);
            } else {
                self.set_scale(revision.number, spec.replicas, out);
            }
            return;
        }
        if is_target && !self.aborted {
            return;
        }
        self.supersede(revision, out);
        self.start(revision.clone(), out);
    }

    fn on_ready(&mut self, revision: RevisionNumber, ready: u32) {
        // A report can be stale (a revision scaled down since): never count more than asked for.
        let ready = ready.min(self.scale_of(revision));
        if ready == 0 {
            self.ready.remove(&revision);
            return;
        }
        let before = self.ready.insert(revision, ready).unwrap_or(0);
        let is_target = self.target.as_ref().is_some_and(|t| t.number == revision);
        if is_target && ready > before {
            self.stage_since = self.now;
        }
    }

    /// Replaces a rollout in progress (or an aborted one) by a newer revision.
    fn supersede(&mut self, by: &Revision, out: &mut Vec<Action>) {
        let Some(old) = self.target.clone() else {
            return;
        };
        self.stop_analyses(out);
        if let Some(stable) = self.stable.as_ref().map(|s| s.number) {
            self.route(Traffic::all_to(stable), out);
            if let Some(Strategy::Rolling(_)) = self.strategy() {
                let replicas = self.replicas();
                self.set_scale(stable, replicas, out);
            }
        }
        self.set_scale(old.number, 0, out);
        self.scale_downs.retain(|(r, _)| *r != old.number);
        out.push(Action::Record(Note::Superseded {
            revision: old,
            by: by.clone(),
        }));
        self.target = None;
        self.stage = Stage::Idle;
    }

    /// Starts rolling out `revision` from its first step.
    pub(super) fn start(&mut self, revision: Revision, out: &mut Vec<Action>) {
        // A retried rollout no longer waits on the last attempt's post-rollback analysis.
        self.stop_analyses(out);
        self.attempt += 1;
        self.aborted = false;
        self.operator_paused = false;
        self.inconclusive = None;
        self.full_promotion = false;
        self.canary_scale = None;
        self.stage_since = self.now;
        self.scale_downs.retain(|(r, _)| *r != revision.number);
        self.target = Some(revision.clone());
        let replicas = self.replicas();
        let Some(stable) = self.stable.clone() else {
            out.push(Action::Record(Note::FirstDeployment {
                revision: revision.clone(),
            }));
            self.reason = format!(
                "first deployment of {revision}: nothing to compare against, scaling straight to {replicas} replicas"
            );
            self.stage = Stage::FirstDeploy;
            self.set_scale(revision.number, replicas, out);
            self.route(Traffic::all_to(revision.number), out);
            return;
        };
        let strategy = self.strategy().cloned();
        let kind = strategy
            .as_ref()
            .map_or("canary", Strategy::kind)
            .to_owned();
        out.push(Action::Record(Note::Started {
            revision: revision.clone(),
            strategy: kind,
        }));
        match strategy {
            Some(Strategy::Canary(_)) | None => self.enter_step(0, out),
            Some(Strategy::BlueGreen(bg)) => self.start_preview(&bg, out),
            Some(Strategy::Rolling(rolling)) => {
                self.stage = Stage::Rolling;
                self.reason = format!("replacing {} with {revision}", stable);
                if let Some(analysis) = rolling.analysis {
                    self.start_analysis(RunKind::Background, analysis, out);
                }
            }
        }
    }

    fn on_verdict(&mut self, run: RunId, verdict: Verdict, message: &str, out: &mut Vec<Action>) {
        let Some(pos) = self.analyses.iter().position(|a| a.run == run) else {
            return; // A late verdict of a run that was already stopped or superseded.
        };
        self.analyses.remove(pos);
        let message = message.to_owned();
        out.push(Action::Record(Note::AnalysisVerdict {
            run,
            verdict,
            message: message.clone(),
        }));
        if run.kind == RunKind::PostRollback {
            // The rollback is done; the verdict says whether it healed the service.
            self.reason = match verdict {
                Verdict::Successful => {
                    format!("{}; the stable revision passed its {run}", self.reason)
                }
                _ => format!(
                    "{}; the stable revision did not pass its {run}: {message}",
                    self.reason
                ),
            };
            return;
        }
        match verdict {
            Verdict::Failed | Verdict::Error => {
                self.abort(format!("{run} failed: {message}"), out);
                return;
            }
            Verdict::Inconclusive if run.kind == RunKind::Background => {
                let reason = format!("{run} inconclusive: {message}; promote to continue or abort");
                out.push(Action::Record(Note::Paused {
                    reason: reason.clone(),
                }));
                self.reason = reason;
                self.inconclusive = Some(message);
                return;
            }
            Verdict::Inconclusive => {
                let reason = format!("{run} inconclusive: {message}; promote to continue or abort");
                out.push(Action::Record(Note::Paused {
                    reason: reason.clone(),
                }));
                self.reason = reason;
            }
            Verdict::Successful => {}
        }
        if let Stage::CanaryAnalysis { run: r, verdict: v }
        | Stage::PrePromotion { run: r, verdict: v }
        | Stage::PostPromotion { run: r, verdict: v } = &mut self.stage
            && *r == run
        {
            *v = Some(verdict);
        }
    }

    /// Whether `command` applies to the rollout as it stands.
    pub fn check(&self, command: &Command) -> Result<(), Rejected> {
        let verb = command.verb();
        let reject = |why: String| Err(Rejected { verb, why });
        let target = self.target.as_ref().map_or(0, |t| t.number);
        match command {
            Command::Abort { .. } | Command::Pause | Command::Promote { .. }
                if !self.in_progress() =>
            {
                if self.aborted {
                    reject(format!(
                        "the rollout of revision {target} was aborted; use retry or undo"
                    ))
                } else {
                    reject("no rollout is in progress".to_owned())
                }
            }
            Command::Promote { .. } if self.stage == Stage::FirstDeploy => reject(
                "a first deployment has nothing to promote over; it goes straight to full size"
                    .to_owned(),
            ),
            Command::Promote { .. } if self.stage == Stage::Promote => {
                reject(format!("revision {target} is already being promoted"))
            }
            Command::Promote { full: false } if self.inconclusive.is_some() => Ok(()),
            Command::Promote { full: false } => match &self.stage {
                Stage::CanaryScale { .. } | Stage::CanaryResize | Stage::Preview => {
                    reject(format!(
                        "waiting for revision {target} to become ready ({}/{} replicas); use --full to promote now",
                        self.ready_of(target),
                        self.scale_of(target)
                    ))
                }
                Stage::Rolling => reject(
                    "a rolling update has no steps; use --full to replace every replica now"
                        .to_owned(),
                ),
                _ => Ok(()),
            },
            Command::Pause if self.operator_paused => {
                reject("the rollout is already paused".to_owned())
            }
            Command::Resume if !self.operator_paused => {
                reject("the rollout is not paused".to_owned())
            }
            Command::Retry if !self.aborted || self.target.is_none() => {
                reject("only an aborted rollout can be retried".to_owned())
            }
            Command::Undo { to }
                if !self.in_progress() && !self.aborted && self.is_stable(to.number) =>
            {
                reject(format!(
                    "revision {} is already the stable revision",
                    to.number
                ))
            }
            _ => Ok(()),
        }
    }

    fn is_stable(&self, revision: RevisionNumber) -> bool {
        self.stable.as_ref().is_some_and(|s| s.number == revision)
    }

    fn on_command(&mut self, command: &Command, by: &str, out: &mut Vec<Action>) {
        out.push(Action::Record(Note::CommandAccepted {
            verb: command.verb().to_owned(),
            by: by.to_owned(),
        }));
        match command {
            Command::Promote { full: true } => {
                self.stop_analyses(out);
                self.inconclusive = None;
                self.operator_paused = false;
                self.full_promotion = true;
                self.reason = format!(
                    "full promotion requested by {by}: skipping remaining steps and analyses"
                );
                if self.stage != Stage::Rolling {
                    self.begin_promotion();
                }
            }
            Command::Promote { full: false } => {
                if self.inconclusive.take().is_some() {
                    out.push(Action::Record(Note::Resumed));
                    return;
                }
                self.promote_step(out);
            }
            Command::Abort { reason } => {
                let reason = reason.clone().unwrap_or_else(|| format!("aborted by {by}"));
                self.abort(reason, out);
            }
            Command::Retry => {
                if let Some(target) = self.target.clone() {
                    out.push(Action::Record(Note::Retried));
                    self.start(target, out);
                }
            }
            Command::Undo { to } => self.undo(to, out),
            Command::Pause => {
                self.operator_paused = true;
                self.reason = format!("paused by {by}");
                out.push(Action::Record(Note::Paused {
                    reason: self.reason.clone(),
                }));
            }
            Command::Resume => {
                self.operator_paused = false;
                self.reason = format!("resumed by {by}");
                out.push(Action::Record(Note::Resumed));
            }
        }
    }

    fn undo(&mut self, to: &Revision, out: &mut Vec<Action>) {
        if self.is_stable(to.number) {
            self.back_to_stable(out);
            out.push(Action::Record(Note::Undone { to: to.clone() }));
            return;
        }
        let warm = self
            .previous
            .as_ref()
            .is_some_and(|p| p.number == to.number)
            && self.ready_of(to.number) >= self.replicas()
            && !self.in_progress();
        if warm {
            let old = self.stable.replace(to.clone());
            self.previous = old.clone();
            self.scale_downs.retain(|(r, _)| *r != to.number);
            self.route(Traffic::all_to(to.number), out);
            out.push(Action::MarkStable {
                revision: to.clone(),
            });
            if let Some(old) = old {
                let delay = self.scale_down_delay();
                self.scale_downs.push((old.number, self.now.after(delay)));
            }
            self.aborted = false;
            self.reason = format!("undone: {to} was still warm and took all traffic at once");
            out.push(Action::Record(Note::Undone { to: to.clone() }));
            return;
        }
        self.supersede(to, out);
        self.start(to.clone(), out);
    }

    /// Ends whatever is in progress and returns every request to the stable revision, at full size.
    fn back_to_stable(&mut self, out: &mut Vec<Action>) {
        let Some(stable) = self.stable.clone() else {
            return;
        };
        self.stop_analyses(out);
        let replicas = self.replicas();
        self.set_scale(stable.number, replicas, out);
        self.route(Traffic::all_to(stable.number), out);
        if let Some(target) = self.target.take() {
            self.set_scale(target.number, 0, out);
            self.scale_downs.retain(|(r, _)| *r != target.number);
        }
        self.stage = Stage::Idle;
        self.aborted = false;
        self.operator_paused = false;
        self.inconclusive = None;
        self.reason = format!("{stable} serves all traffic");
    }

    /// Sends all traffic back to the stable revision at once; the new revision is scaled down
    /// after the abort delay so that it can still be inspected.
    pub(super) fn abort(&mut self, reason: String, out: &mut Vec<Action>) {
        if !self.in_progress() {
            return;
        }
        self.stop_analyses(out);
        if let (Some(stable), Some(target)) = (self.stable.clone(), self.target.clone()) {
            let replicas = self.replicas();
            self.set_scale(stable.number, replicas, out);
            self.route(Traffic::all_to(stable.number), out);
            let delay = self.abort_scale_down_delay();
            self.scale_downs
                .push((target.number, self.now.after(delay)));
        }
        self.stage = Stage::Idle;
        self.aborted = true;
        self.inconclusive = None;
        self.reason = reason.clone();
        out.push(Action::Record(Note::Aborted { reason }));
        let post = self
            .spec
            .as_ref()
            .and_then(|s| s.post_rollback_analysis.clone());
        if let (Some(analysis), Some(stable)) = (post, self.stable.as_ref().map(|s| s.number)) {
            self.start_analysis_of(RunKind::PostRollback, *analysis, stable, None, out);
        }
    }

    /// The new revision has all traffic and full size: it becomes stable.
    pub(super) fn finish(&mut self, out: &mut Vec<Action>) {
        let Some(target) = self.target.take() else {
            return;
        };
        self.stop_analyses(out);
        let mut traffic = Traffic::all_to(target.number);
        traffic.header_route = None;
        self.route(traffic, out);
        out.push(Action::MarkStable {
            revision: target.clone(),
        });
        out.push(Action::Record(Note::Promoted {
            revision: target.clone(),
        }));
        self.reason = format!("{target} is stable and serves all traffic");
        match self.stable.replace(target.clone()) {
            None => {
                self.reason = format!(
                    "{target} is stable at full size (first deployment: nothing to compare against)"
                );
            }
            Some(old) if self.scale_of(old.number) > 0 => {
                let delay = self.scale_down_delay();
                self.scale_downs.push((old.number, self.now.after(delay)));
                self.previous = Some(old);
            }
            Some(_) => {}
        }
        self.stage = Stage::Idle;
        self.full_promotion = false;
    }

    fn fire_scale_downs(&mut self, out: &mut Vec<Action>) {
        let now = self.now;
        let due: Vec<RevisionNumber> = self
            .scale_downs
            .iter()
            .filter(|(_, at)| *at <= now)
            .map(|(r, _)| *r)
            .collect();
        self.scale_downs.retain(|(_, at)| *at > now);
        for revision in due {
            self.set_scale(revision, 0, out);
            out.push(Action::Record(Note::ScaledDown { revision }));
            if self.previous.as_ref().is_some_and(|p| p.number == revision) {
                self.previous = None;
            }
        }
    }

    fn enforce_progress_deadline(&mut self, out: &mut Vec<Action>) {
        let Some(deadline) = self.progress_deadline_at() else {
            return;
        };
        if self.now < deadline {
            return;
        }
        let Some(target) = self.target.clone() else {
            return;
        };
        let waited = crate::time::human_duration(self.now.since(self.stage_since));
        let mut reason = format!(
            "{target} made no progress for {waited} (progress deadline): {}/{} replicas ready",
            self.ready_of(target.number),
            self.scale_of(target.number)
        );
        if let Some(why) = self.failing.get(&target.number) {
            reason += &format!(" (last probe: {why})");
        }
        if self.stable.is_some() {
            self.abort(reason, out);
        } else {
            self.stage = Stage::Idle;
            self.aborted = true;
            self.reason = reason.clone();
            out.push(Action::Record(Note::Aborted { reason }));
        }
    }

    /// Moves through every stage whose condition is met. Failures abort regardless; progress
    /// waits while an operator or an inconclusive analysis holds the rollout.
    fn advance(&mut self, out: &mut Vec<Action>) {
        for _ in 0..MAX_TRANSITIONS_PER_EVENT {
            if self.operator_paused || self.inconclusive.is_some() || !self.advance_once(out) {
                return;
            }
        }
    }

    /// One transition, if the current stage allows it; `true` if something changed.
    fn advance_once(&mut self, out: &mut Vec<Action>) -> bool {
        match self.stage.clone() {
            Stage::Idle => false,
            Stage::FirstDeploy => {
                let Some(target) = &self.target else {
                    return false;
                };
                if self.ready_of(target.number) < self.replicas() {
                    return false;
                }
                self.finish(out);
                true
            }
            Stage::Rolling => self.advance_rolling(out),
            Stage::Preview
            | Stage::PrePromotion { .. }
            | Stage::AwaitPromotion { .. }
            | Stage::PostPromotion { .. } => self.advance_blue_green(out),
            Stage::Promote => match self.strategy() {
                Some(Strategy::BlueGreen(_)) => self.advance_blue_green(out),
                _ => self.advance_canary(out),
            },
            Stage::CanaryScale { .. }
            | Stage::CanaryResize
            | Stage::CanaryPause { .. }
            | Stage::CanaryAnalysis { .. }
            | Stage::CanaryConclude { .. } => self.advance_canary(out),
        }
    }

    /// The operator's `promote`: completes the current pause or analysis.
    fn promote_step(&mut self, out: &mut Vec<Action>) {
        match self.stage {
            Stage::CanaryPause { .. } | Stage::CanaryAnalysis { .. } => {
                self.stop_step_analysis(out);
                self.complete_step(out);
            }
            Stage::PrePromotion { .. } | Stage::AwaitPromotion { .. } => {
                self.stop_step_analysis(out);
                self.begin_promotion();
            }
            Stage::PostPromotion { .. } => {
                self.stop_step_analysis(out);
                self.finish(out);
            }
            _ => {}
        }
    }

    /// Stops the blocking run of the current stage, if one is running.
    fn stop_step_analysis(&mut self, out: &mut Vec<Action>) {
        if let Stage::CanaryAnalysis { run, .. }
        | Stage::PrePromotion { run, .. }
        | Stage::PostPromotion { run, .. } = self.stage
            && let Some(pos) = self.analyses.iter().position(|a| a.run == run)
        {
            self.analyses.remove(pos);
            out.push(Action::StopAnalysis { run });
        }
    }

    /// Scales the new revision to full size before it takes all traffic.
    pub(super) fn begin_promotion(&mut self) {
        self.stage = Stage::Promote;
        self.stage_since = self.now;
        if let Some(target) = &self.target {
            self.reason = format!(
                "promoting {target}: scaling to {} replicas",
                self.replicas()
            );
        }
    }

    pub(super) fn start_analysis(
        &mut self,
        kind: RunKind,
        analysis: AnalysisRef,
        out: &mut Vec<Action>,
    ) -> RunId {
        let revision = self.target.as_ref().map_or(0, |t| t.number);
        let baseline = self.stable.as_ref().map(|s| s.number);
        self.start_analysis_of(kind, analysis, revision, baseline, out)
    }

    /// Starts an analysis of `revision` against `baseline`.
    fn start_analysis_of(
        &mut self,
        kind: RunKind,
        analysis: AnalysisRef,
        revision: RevisionNumber,
        baseline: Option<RevisionNumber>,
        out: &mut Vec<Action>,
    ) -> RunId {
        let run = RunId {
            attempt: self.attempt,
            kind,
        };
        out.push(Action::StartAnalysis {
            run,
            analysis: analysis.clone(),
            revision,
            baseline,
        });
        self.analyses.push(ActiveAnalysis {
            run,
            analysis,
            revision,
            baseline,
        });
        run
    }

    pub(super) fn stop_analyses(&mut self, out: &mut Vec<Action>) {
        for a in self.analyses.drain(..) {
            out.push(Action::StopAnalysis { run: a.run });
        }
    }

    /// Asks for `replicas` of `revision`, saying so only when it changes.
    pub(super) fn set_scale(
        &mut self,
        revision: RevisionNumber,
        replicas: u32,
        out: &mut Vec<Action>,
    ) {
        if self.scale_of(revision) == replicas {
            return;
        }
        if replicas == 0 {
            self.scales.remove(&revision);
            self.ready.remove(&revision);
        } else {
            self.scales.insert(revision, replicas);
        }
        out.push(Action::Scale { revision, replicas });
    }

    /// Applies a routing table, saying so only when it changes.
    pub(super) fn route(&mut self, traffic: Traffic, out: &mut Vec<Action>) {
        if self.traffic == traffic {
            return;
        }
        self.traffic = traffic.clone();
        out.push(Action::SetTraffic(traffic));
    }

    fn scale_down_delay(&self) -> std::time::Duration {
        match self.strategy() {
            Some(Strategy::Canary(c)) => c.scale_down_delay,
            Some(Strategy::BlueGreen(b)) => b.scale_down_delay,
            _ => std::time::Duration::ZERO,
        }
    }

    fn abort_scale_down_delay(&self) -> std::time::Duration {
        match self.strategy() {
            Some(Strategy::Canary(c)) => c.abort_scale_down_delay,
            Some(Strategy::BlueGreen(b)) => b.abort_scale_down_delay,
            _ => std::time::Duration::ZERO,
        }
    }

    /// Convenience for callers that build events inline.
    pub fn apply_at(&mut self, at: Timestamp, kind: EventKind) -> Result<Vec<Action>, Rejected> {
        self.apply(&Event::new(at, kind))
    }
}
