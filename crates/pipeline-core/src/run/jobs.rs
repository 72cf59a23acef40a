//! Jobs and their instances: readiness, `if`, matrix expansion, environments, slots,
//! concurrency groups, fail-fast and cancellation.

use std::collections::{BTreeMap, VecDeque};

use super::state::{Instance, InstanceStatus, JobPhase};
use super::types::{Action, Conclusion, InstanceId};
use super::{Cx, Run};
use crate::expr::{Scope, Value};
use crate::matrix::{self, Combination, Matrix};
use crate::spec::{Flag, MatrixSource};

impl Run {
    pub(super) fn start(&mut self, cx: &mut Cx<'_>) {
        // Jobs on a dependency cycle would wait for ever; lowering rejects cycles, so this
        // only guards specs built by hand.
        let mut indegree: Vec<usize> = self.jobs.iter().map(|j| j.needs.len()).collect();
        let mut queue: VecDeque<usize> =
            (0..self.jobs.len()).filter(|&j| indegree[j] == 0).collect();
        let mut reached = vec![false; self.jobs.len()];
        while let Some(j) = queue.pop_front() {
            reached[j] = true;
            for &d in &self.jobs[j].dependents {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    queue.push_back(d);
                }
            }
        }
        for (j, reached) in reached.into_iter().enumerate() {
            if !reached {
                let job = &mut self.jobs[j];
                job.phase = JobPhase::Done(Conclusion::Failure);
                job.message = Some("its needs form a cycle".to_owned());
                cx.log(None, format!("{}: not run: its needs form a cycle", job.id));
            } else if self.jobs[j].needs.is_empty() {
                self.ready_jobs.push_back(j);
            }
        }
    }

    /// All of job `j`'s needs have finished: keep its earlier result, or decide whether it
    /// runs, and expand it.
    pub(super) fn job_ready(&mut self, cx: &mut Cx<'_>, j: usize) {
        let needs_kept = self.jobs[j]
            .needs
            .iter()
            .all(|&n| self.jobs[n].reused_from.is_some());
        let mut kept_instances = None;
        if let Some(reused) = self.reused.remove(&self.jobs[j].id)
            && needs_kept
        {
            match reused.instances {
                Some(instances) => kept_instances = Some((reused.attempt, instances)),
                None => {
                    let job = &mut self.jobs[j];
                    job.outputs = reused.outputs;
                    job.reused_from = Some(reused.attempt);
                    job.message = Some(format!("kept from attempt {}", reused.attempt));
                    return self.job_done(cx, j, Some(Conclusion::Success));
                }
            }
        }
        if let Some(frame) = &self.spec.jobs[j].frame
            && let Some(entry) = self.jobs.iter().find(|job| job.id == frame.entry)
            && entry.conclusion() != Some(Conclusion::Success)
        {
            let why = format!(
                "the workflow it belongs to did not run (`{}` {})",
                entry.name,
                verb(entry.conclusion().unwrap_or(Conclusion::Skipped))
            );
            return self.job_ends_early(cx, j, Conclusion::Skipped, why);
        }
        if self.spec.jobs[j].stands_for.is_some() {
            return self.called_workflow_ended(cx, j);
        }
        let contexts = self.job_contexts(j);
        let scope = Scope::new(&contexts).with_status(self.job_status(j));
        let spec = &self.spec.jobs[j];
        let runs = match &spec.condition {
            Some(condition) => condition.passes(&scope),
            None => Ok(scope.status.is_some_and(|s| s.success)),
        };
        match runs {
            Ok(true) => {}
            Ok(false) => {
                let (conclusion, why) = if self.cancelled {
                    (Conclusion::Cancelled, "the run was cancelled".to_owned())
                } else if spec.condition.is_some() {
                    let source = spec.condition.as_ref().map_or("", |c| c.source());
                    (
                        Conclusion::Skipped,
                        format!("`if: {}` is false", source.trim()),
                    )
                } else {
                    (Conclusion::Skipped, self.unmet_needs(j))
                };
                return self.job_ends_early(cx, j, conclusion, why);
            }
            Err(e) => {
                return self.job_ends_early(
                    cx,
                    j,
                    Conclusion::Failure,
                    format!("its `if` failed: {e}"),
                );
            }
        }
        let name = match &spec.name {
            Some(t) => t.render(&scope).unwrap_or_else(|_| spec.id.clone()),
            None => spec.id.clone(),
        };
        let names_matrix = spec.name.as_ref().is_some_and(|t| {
            t.exprs().any(|e| {
                e.references()
                    .iter()
                    .any(|r| r.context.eq_ignore_ascii_case("matrix"))
            })
        });
        let combinations = match self.expand(j, &scope) {
            Ok(c) => c,
            Err(e) => {
                return self.job_ends_early(cx, j, Conclusion::Failure, e);
            }
        };
        let instances: Vec<Instance> = combinations
            .into_iter()
            .map(|combo| {
                let shown = match (&spec.name, names_matrix) {
                    // A name that uses the matrix is the instance's own.
                    (Some(template), true) => {
                        let mut with_matrix = contexts.clone();
                        let matrix = combo.iter().map(|(k, v)| (k.clone(), v.clone()));
                        with_matrix.insert("matrix".to_owned(), Value::object(matrix));
                        template
                            .render(&Scope::new(&with_matrix))
                            .unwrap_or_else(|_| name.clone())
                    }
                    _ if combo.is_empty() => name.clone(),
                    _ => format!("{name} ({})", matrix::describe(&combo)),
                };
                Instance::new(shown, combo)
            })
            .collect();
        let job = &mut self.jobs[j];
        job.name = name;
        job.phase = JobPhase::Active;
        job.instances = instances;
        if let Some((attempt, kept)) = kept_instances {
            self.keep_instances(cx, j, attempt, &kept);
        }
        for index in 0..self.jobs[j].instances.len() {
            self.enqueue(cx, InstanceId { job: j, index });
        }
    }

    /// Ends, as succeeded in `attempt`, the instances of job `j` that did then: the same
    /// position and name in the expansion, which is the same when the job's inputs are.
    fn keep_instances(
        &mut self,
        cx: &mut Cx<'_>,
        j: usize,
        attempt: u32,
        kept: &BTreeMap<usize, String>,
    ) {
        for index in 0..self.jobs[j].instances.len() {
            let id = InstanceId { job: j, index };
            let same = self
                .instance(id)
                .is_some_and(|i| kept.get(&index) == Some(&i.name));
            if !same {
                continue;
            }
            if let Some(instance) = self.instance_mut(id) {
                instance.message = Some(format!("kept from attempt {attempt}"));
            }
            self.finish_instance(cx, id, Conclusion::Success);
        }
    }

    /// Why the default `success()` did not hold: the needs that did not succeed.
    fn unmet_needs(&self, j: usize) -> String {
        let unmet: Vec<String> = self.jobs[j]
            .ancestors
            .iter()
            .filter_map(|&a| {
                let c = self.jobs[a].conclusion()?;
                (c != Conclusion::Success).then(|| format!("{} ({c})", self.jobs[a].id))
            })
            .collect();
        format!("needs did not succeed: {}", unmet.join(", "))
    }

    fn expand(&self, j: usize, scope: &Scope<'_>) -> Result<Vec<Combination>, String> {
        let Some(strategy) = &self.spec.jobs[j].strategy else {
            return Ok(vec![Vec::new()]);
        };
        let combinations = match &strategy.matrix {
            MatrixSource::Static(m) => m.expand(),
            MatrixSource::Dynamic(t) => {
                let value = t
                    .evaluate(scope)
                    .map_err(|e| format!("its matrix failed: {e}"))?;
                Matrix::from_value(&value).and_then(|m| m.expand())
            }
        }
        .map_err(|e| format!("its matrix is not valid: {e}"))?;
        if combinations.is_empty() {
            return Err("its matrix has no combinations (expected at least one)".to_owned());
        }
        Ok(combinations)
    }

    /// The jobs of the workflow job `j` stands for are over: it ends as they did (as its
    /// entry did, when that did not succeed), with the workflow's outputs.
    fn called_workflow_ended(&mut self, cx: &mut Cx<'_>, j: usize) {
        let conclusions: Vec<Conclusion> = self.jobs[j]
            .needs
            .iter()
            .filter_map(|&n| self.jobs[n].conclusion())
            .collect();
        let conclusion = if conclusions.contains(&Conclusion::Failure) {
            Conclusion::Failure
        } else if conclusions.contains(&Conclusion::Cancelled) {
            Conclusion::Cancelled
        } else if !conclusions.is_empty() && conclusions.iter().all(|c| *c == Conclusion::Skipped) {
            Conclusion::Skipped
        } else {
            Conclusion::Success
        };
        let contexts = self.job_contexts(j);
        let scope = Scope::new(&contexts);
        let spec = &self.spec.jobs[j];
        let mut outputs = BTreeMap::new();
        for (name, template) in &spec.outputs {
            match template.render(&scope) {
                Ok(v) => {
                    outputs.insert(name.clone(), v);
                }
                Err(e) => cx.log(None, format!("{}: output `{name}` is empty: {e}", spec.id)),
            }
        }
        let name = match &spec.name {
            Some(t) => t.render(&scope).unwrap_or_else(|_| spec.id.clone()),
            None => spec.id.clone(),
        };
        let job = &mut self.jobs[j];
        job.name = name;
        job.outputs = outputs;
        self.job_done(cx, j, Some(conclusion));
    }

    fn job_ends_early(&mut self, cx: &mut Cx<'_>, j: usize, conclusion: Conclusion, why: String) {
        let job = &mut self.jobs[j];
        cx.log(None, format!("{}: {}: {why}", job.id, verb(conclusion)));
        job.message = Some(why);
        self.job_done(cx, j, Some(conclusion));
    }

    /// A new instance waits for a slot, or first for its environment's rules.
    fn enqueue(&mut self, cx: &mut Cx<'_>, id: InstanceId) {
        // Fail-fast may have cancelled it while its siblings were being enqueued.
        if self.instance(id).is_none_or(Instance::is_done) {
            return;
        }
        let Some(reference) = self.spec.jobs[id.job].environment.clone() else {
            self.ready.push_back(id);
            return;
        };
        let contexts = self.instance_contexts(id);
        let name = match reference.name.render(&Scope::new(&contexts)) {
            Ok(n) => n,
            Err(e) => return self.instance_fails(cx, id, format!("its environment failed: {e}")),
        };
        let Some(environment) = self.environments.get(&name).cloned() else {
            let known: Vec<&str> = self.environments.keys().map(String::as_str).collect();
            return self.instance_fails(
                cx,
                id,
                format!(
                    "unknown environment `{name}` (expected one of {})",
                    known.join(", ")
                ),
            );
        };
        if let Some(instance) = self.instance_mut(id) {
            instance.environment = Some(name.clone());
        }
        if let Some(why) = self.closed_environments.get(&name) {
            let why = format!("environment `{name}` is closed to this run: {why}");
            return self.instance_fails(cx, id, why);
        }
        if !environment.branches.is_empty() {
            let allowed = environment.branches.iter().any(|pattern| {
                crate::glob::Pattern::parse(pattern).is_ok_and(|p| p.matches(self.git_ref.name()))
            });
            if !allowed {
                let why = format!(
                    "{} `{}` may not deploy to environment `{name}` (allowed: {})",
                    self.git_ref.kind(),
                    self.git_ref.name(),
                    environment.branches.join(", ")
                );
                return self.instance_fails(cx, id, why);
            }
        }
        if environment.approvals > 0 || !environment.wait.is_zero() {
            if let Some(instance) = self.instance_mut(id) {
                instance.status = InstanceStatus::Gated;
            }
            cx.actions.push(Action::Gate {
                instance: id,
                environment,
            });
        } else {
            self.ready.push_back(id);
        }
    }

    pub(super) fn gate_opened(&mut self, cx: &mut Cx<'_>, id: InstanceId, note: String) {
        if self
            .instance(id)
            .is_some_and(|i| i.status == InstanceStatus::Gated)
        {
            cx.log(Some(id), note);
            if let Some(instance) = self.instance_mut(id) {
                instance.status = InstanceStatus::Pending;
            }
            self.ready.push_back(id);
        }
    }

    pub(super) fn gate_refused(&mut self, cx: &mut Cx<'_>, id: InstanceId, reason: String) {
        if self
            .instance(id)
            .is_some_and(|i| i.status == InstanceStatus::Gated)
        {
            self.instance_fails(cx, id, reason);
        }
    }

    /// Starts ready instances while there are slots, keeping each job's `max-parallel` and
    /// each concurrency group to one holder.
    pub(super) fn pump(&mut self, cx: &mut Cx<'_>) {
        let mut i = 0;
        while i < self.ready.len() && self.running < self.max_parallel {
            let id = self.ready[i];
            let limit = self.spec.jobs[id.job]
                .strategy
                .as_ref()
                .and_then(|s| s.max_parallel)
                .map_or(usize::MAX, |m| m.max(1) as usize);
            if self.jobs[id.job].running >= limit {
                i += 1;
                continue;
            }
            self.ready.remove(i);
            match self.concurrency_group(id) {
                Err(e) => self.instance_fails(cx, id, format!("its concurrency group failed: {e}")),
                Ok(Some(group)) if self.groups.get(&group).is_some_and(|g| g.holder.is_some()) => {
                    self.wait_for_group(cx, id, group);
                }
                Ok(group) => self.start_instance(cx, id, group),
            }
        }
    }

    fn concurrency_group(&self, id: InstanceId) -> Result<Option<String>, String> {
        let Some(concurrency) = &self.spec.jobs[id.job].concurrency else {
            return Ok(None);
        };
        let contexts = self.instance_contexts(id);
        concurrency
            .group
            .render(&Scope::new(&contexts))
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn wait_for_group(&mut self, cx: &mut Cx<'_>, id: InstanceId, group: String) {
        let cancel = self.spec.jobs[id.job]
            .concurrency
            .as_ref()
            .is_some_and(|c| c.cancel_in_progress);
        let entry = self.groups.entry(group.clone()).or_default();
        entry.waiting.push_back(id);
        let holder = entry.holder;
        if let Some(instance) = self.instance_mut(id) {
            instance.status = InstanceStatus::Queued;
        }
        if !cancel {
            cx.log(Some(id), format!("waiting for concurrency group `{group}`"));
            return;
        }
        // Cancel-in-progress: this one replaces everything else in the group.
        let why = format!(
            "`{}` took over concurrency group `{group}`",
            self.jobs[id.job].id
        );
        let waiting: Vec<InstanceId> = self
            .groups
            .get(&group)
            .map(|g| g.waiting.iter().copied().filter(|w| *w != id).collect())
            .unwrap_or_default();
        for other in holder.into_iter().chain(waiting) {
            self.cancel_instance(cx, other, &why);
        }
    }

    fn start_instance(&mut self, cx: &mut Cx<'_>, id: InstanceId, group: Option<String>) {
        if let Some(g) = &group {
            self.groups.entry(g.clone()).or_default().holder = Some(id);
        }
        self.running += 1;
        self.jobs[id.job].running += 1;
        let contexts = self.instance_contexts(id);
        let scope = Scope::new(&contexts);
        let spec = &self.spec.jobs[id.job];
        let mut env = self.default_env.clone();
        env.push(("GITHUB_JOB".to_owned(), spec.id.clone()));
        env.push(("GITHUB_WORKSPACE".to_owned(), self.instance_workspace(id)));
        env.push(("BELLWETHER_JOB".to_owned(), spec.id.clone()));
        let mut problems = Vec::new();
        for (name, value) in self.spec.env.iter().chain(&spec.env) {
            match value.render(&scope) {
                Ok(v) => env.push((name.clone(), v)),
                Err(e) => problems.push(format!("env {name}: {e}")),
            }
        }
        let continue_on_error = match &spec.continue_on_error {
            Flag::Const(b) => *b,
            Flag::Expr(t) => t
                .evaluate(&scope)
                .map(|v| v.is_truthy())
                .unwrap_or_else(|e| {
                    problems.push(format!("continue-on-error: {e}"));
                    false
                }),
        };
        let timeout = spec.timeout;
        let at = cx.at;
        if let Some(instance) = self.instance_mut(id) {
            instance.status = InstanceStatus::Running;
            instance.group = group;
            instance.base_env = env;
            instance.continue_on_error = continue_on_error;
            instance.started_at = Some(at);
            instance.attempt = 1;
            instance.deadline = timeout.map(|t| at.after(t));
        }
        if problems.is_empty() {
            self.advance(cx, id);
        } else {
            let why = problems.join("; ");
            if let Some(instance) = self.instance_mut(id) {
                instance.message = Some(why.clone());
            }
            cx.log(Some(id), why);
            self.finish_instance(cx, id, Conclusion::Failure);
        }
    }

    /// Fails an instance that has not started: no environment, a refused gate…
    pub(super) fn instance_fails(&mut self, cx: &mut Cx<'_>, id: InstanceId, why: String) {
        cx.log(Some(id), format!("failed: {why}"));
        if let Some(instance) = self.instance_mut(id) {
            instance.message = Some(why);
        }
        self.finish_instance(cx, id, Conclusion::Failure);
    }

    /// Records the instance's end (`outcome`; its conclusion may soften a failure when the job
    /// continues on error), frees what it held, applies fail-fast, and ends the job when it
    /// was the last one.
    pub(super) fn finish_instance(&mut self, cx: &mut Cx<'_>, id: InstanceId, outcome: Conclusion) {
        let at = cx.at;
        let Some(instance) = self.instance_mut(id) else {
            return;
        };
        if instance.is_done() {
            return;
        }
        let was_running = instance.status == InstanceStatus::Running;
        let conclusion = if outcome == Conclusion::Failure && instance.continue_on_error {
            Conclusion::Success
        } else {
            outcome
        };
        instance.status = InstanceStatus::Done {
            outcome,
            conclusion,
        };
        instance.finished_at = Some(at);
        let group = instance.group.take();
        self.ready.retain(|r| *r != id);
        for g in self.groups.values_mut() {
            g.waiting.retain(|w| *w != id);
        }
        if was_running {
            self.running -= 1;
            self.jobs[id.job].running -= 1;
        }
        if let Some(group) = group
            && let Some(g) = self.groups.get_mut(&group)
        {
            g.holder = None;
            // The next in the group goes to the front: it has waited longest.
            if let Some(next) = g.waiting.pop_front() {
                if let Some(instance) = self.instance_mut(next) {
                    instance.status = InstanceStatus::Pending;
                }
                self.ready.push_front(next);
            }
        }
        let fail_fast = self.spec.jobs[id.job]
            .strategy
            .as_ref()
            .is_some_and(|s| s.fail_fast);
        if conclusion == Conclusion::Failure && fail_fast {
            let siblings: Vec<InstanceId> = (0..self.jobs[id.job].instances.len())
                .map(|index| InstanceId { job: id.job, index })
                .filter(|s| *s != id)
                .collect();
            for sibling in siblings {
                self.cancel_instance(cx, sibling, "fail-fast: another combination failed");
            }
        }
        if self.jobs[id.job].instances.iter().all(Instance::is_done) {
            self.job_done(cx, id.job, None);
        }
    }

    /// Cancels one instance: one that has not started ends at once, a running one is asked
    /// to stop and ends when its step reports back.
    pub(super) fn cancel_instance(&mut self, cx: &mut Cx<'_>, id: InstanceId, why: &str) {
        let Some(instance) = self.instance_mut(id) else {
            return;
        };
        match instance.status {
            InstanceStatus::Done { .. } => {}
            InstanceStatus::Running => {
                if !instance.cancel_requested {
                    instance.cancel_requested = true;
                    cx.log(Some(id), format!("cancelling: {why}"));
                    cx.actions.push(Action::CancelStep { instance: id });
                }
            }
            InstanceStatus::Pending | InstanceStatus::Gated | InstanceStatus::Queued => {
                instance.message = Some(why.to_owned());
                cx.log(Some(id), format!("cancelled before it started: {why}"));
                self.finish_instance(cx, id, Conclusion::Cancelled);
            }
        }
    }

    pub(super) fn cancel(&mut self, cx: &mut Cx<'_>, reason: &str) {
        if self.cancelled {
            return;
        }
        self.cancelled = true;
        cx.log(None, format!("cancelling the run: {reason}"));
        let ids: Vec<InstanceId> = self
            .jobs
            .iter()
            .enumerate()
            .flat_map(|(job, j)| (0..j.instances.len()).map(move |index| InstanceId { job, index }))
            .collect();
        for id in ids {
            self.cancel_instance(cx, id, reason);
        }
    }

    /// The job is over: its conclusion (given, or from its instances), its outputs, and the
    /// jobs waiting on it.
    fn job_done(&mut self, cx: &mut Cx<'_>, j: usize, given: Option<Conclusion>) {
        let job = &mut self.jobs[j];
        // Fail-fast can end the last instance from inside the end of another: once is enough.
        if matches!(job.phase, JobPhase::Done(_)) {
            return;
        }
        let conclusion = given.unwrap_or_else(|| {
            let all: Vec<Conclusion> = job
                .instances
                .iter()
                .filter_map(Instance::conclusion)
                .collect();
            if all.contains(&Conclusion::Failure) {
                Conclusion::Failure
            } else if all.contains(&Conclusion::Cancelled) {
                Conclusion::Cancelled
            } else if !all.is_empty() && all.iter().all(|c| *c == Conclusion::Skipped) {
                Conclusion::Skipped
            } else {
                Conclusion::Success
            }
        });
        job.phase = JobPhase::Done(conclusion);
        // Success needs no explaining; the instances already said why anything else happened.
        if given.is_none() && conclusion != Conclusion::Success {
            cx.log(None, format!("{}: {}", job.id, verb(conclusion)));
        }
        for d in job.dependents.clone() {
            let dependent = &mut self.jobs[d];
            dependent.unfinished_needs = dependent.unfinished_needs.saturating_sub(1);
            if dependent.unfinished_needs == 0 && dependent.phase == JobPhase::Waiting {
                self.ready_jobs.push_back(d);
            }
        }
    }
}

fn verb(conclusion: Conclusion) -> &'static str {
    match conclusion {
        Conclusion::Success => "succeeded",
        Conclusion::Failure => "failed",
        Conclusion::Cancelled => "cancelled",
        Conclusion::Skipped => "skipped",
    }
}
