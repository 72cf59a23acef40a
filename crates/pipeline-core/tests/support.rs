//! A simulated world for the scheduler: pipelines are YAML, steps are scripts for a tiny fake
//! shell, time is simulated, and what happens is a timeline to snapshot.
//!
//! The fake shell understands one command a line: `sleep SECONDS`, `exit CODE`,
//! `fail-on-attempt ATTEMPT CODE`, `output NAME=VALUE`, `setenv NAME=VALUE` and `echo TEXT`
//! (with `$NAME` taken from the step's environment). A step takes 1s unless it sleeps.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::expr::{Value, WorkspaceFiles};
use bellwether_pipeline_core::run::{
    Action, Event, ExitStatus, InstanceId, JobPhase, Run, RunInput, StepId, StepOutcome,
    StepRequest, Work, Workspaces,
};
use bellwether_pipeline_core::trigger::{self, EventName, GitRef};

pub struct Files;

impl WorkspaceFiles for Files {
    fn hash_files_in(&self, _: &str, patterns: &[String]) -> Result<String, String> {
        Ok(format!("h({})", patterns.join(",")))
    }
}

pub fn push(branch: &str) -> trigger::Event {
    trigger::Event {
        name: EventName::Push,
        git_ref: GitRef::Branch(branch.to_owned()),
        base: None,
        action: None,
        changed_paths: None,
        workflow_run: None,
    }
}

pub struct World {
    pub run: Run,
    now: u64,
    lines: Vec<String>,
    /// Step completions to come: (time in ms, order of scheduling) -> report.
    pending: BTreeMap<(u64, u64), (StepId, StepOutcome)>,
    seq: u64,
    /// The cache entries saved so far.
    pub cache: BTreeSet<String>,
    /// Environments whose gates are refused rather than opened.
    pub refuse: BTreeSet<String>,
    /// Cancel the run when this many seconds have passed.
    pub cancel_at: Option<u64>,
    /// Checked at every action: what the scheduler must never do.
    pub max_running: usize,
    running_now: BTreeSet<InstanceId>,
    pub finished: usize,
}

impl World {
    pub fn new(yaml: &str, pipeline: &str, event: trigger::Event) -> World {
        Self::with_parallelism(yaml, pipeline, event, 4)
    }

    pub fn with_parallelism(
        yaml: &str,
        pipeline: &str,
        event: trigger::Event,
        max_parallel: usize,
    ) -> World {
        Self::with_input(yaml, pipeline, event, max_parallel, |_| {})
    }

    /// A world whose run input is changed by `edit` before the run is made.
    pub fn with_input(
        yaml: &str,
        pipeline: &str,
        event: trigger::Event,
        max_parallel: usize,
        edit: impl FnOnce(&mut RunInput),
    ) -> World {
        let yaml = yaml.strip_prefix('\n').unwrap_or(yaml);
        let loaded =
            bellwether_config::load("bellwether.yaml", yaml).unwrap_or_else(|d| panic!("{d}"));
        let spec = loaded
            .pipelines
            .into_iter()
            .find(|p| p.name == pipeline)
            .unwrap_or_else(|| panic!("no pipeline {pipeline}"));
        let mut input = RunInput {
            spec,
            event,
            sha: "abc123".to_owned(),
            repository: "acme/shop".to_owned(),
            actor: "dev".to_owned(),
            workspace: Workspaces::Shared("/work".to_owned()),
            run_id: "7".to_owned(),
            run_number: 7,
            attempt: 1,
            reused: BTreeMap::new(),
            inputs: BTreeMap::new(),
            secrets: BTreeMap::from([("TOKEN".to_owned(), "s3cret".to_owned())]),
            environment_secrets: BTreeMap::new(),
            services: loaded.project.services.keys().cloned().collect(),
            environments: loaded.project.environments,
            closed_environments: Default::default(),
            runner: BTreeMap::from([("os".to_owned(), Value::string("Linux"))]),
            max_parallel,
        };
        edit(&mut input);
        World {
            run: Run::new(input),
            now: 0,
            lines: Vec::new(),
            pending: BTreeMap::new(),
            seq: 0,
            cache: BTreeSet::new(),
            refuse: BTreeSet::new(),
            cancel_at: None,
            max_running: max_parallel,
            running_now: BTreeSet::new(),
            finished: 0,
        }
    }

    /// Plays the run to its end and returns the timeline.
    pub fn play(&mut self) -> String {
        self.apply(Event::Start);
        let mut cancelled = false;
        while self.run.conclusion().is_none() {
            let next = self.pending.keys().next().copied();
            if let (Some(at), false) = (self.cancel_at, cancelled)
                && next.is_none_or(|(t, _)| t > at * 1000)
            {
                self.now = at * 1000;
                cancelled = true;
                self.apply(Event::Cancel {
                    reason: "asked to".to_owned(),
                });
                continue;
            }
            let Some(key) = next else {
                self.line("!! stalled: nothing runs and the run has not finished".to_owned());
                break;
            };
            let Some((step, outcome)) = self.pending.remove(&key) else {
                break;
            };
            self.now = key.0;
            self.running_now.remove(&step.instance);
            let mark = if outcome.status.is_success() {
                "✓"
            } else {
                "✗"
            };
            let name = self.step_name(step);
            self.line(format!("{mark} {name} ({})", outcome.status));
            self.apply(Event::StepFinished { step, outcome });
        }
        self.lines.join("\n")
    }

    pub fn apply(&mut self, event: Event) {
        let actions = self.run.apply(Timestamp(self.now), event, &Files);
        for action in actions {
            self.act(action);
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::RunStep(request) => self.start(request),
            Action::CancelStep { instance } => {
                let found = self
                    .pending
                    .iter()
                    .find(|(_, (s, _))| s.instance == instance)
                    .map(|(k, (s, _))| (*k, *s));
                if let Some((key, step)) = found {
                    self.pending.remove(&key);
                    self.seq += 1;
                    self.pending.insert(
                        (self.now, self.seq),
                        (step, StepOutcome::status(ExitStatus::Cancelled)),
                    );
                }
            }
            Action::Gate {
                instance,
                environment,
            } => {
                let name = self.instance_name(instance);
                self.line(format!(
                    "⏸ {name} waits for {} ({} approvals)",
                    environment.name, environment.approvals
                ));
                let event = if self.refuse.contains(&environment.name) {
                    Event::GateRefused {
                        instance,
                        reason: "rejected by ops".to_owned(),
                    }
                } else {
                    Event::GateOpened {
                        instance,
                        note: "approved by ops".to_owned(),
                    }
                };
                self.apply(event);
            }
            Action::Log { instance, text } => {
                let who = instance
                    .map(|i| format!("{}: ", self.instance_name(i)))
                    .unwrap_or_default();
                self.line(format!("# {who}{text}"));
            }
            Action::Finished { conclusion } => {
                self.finished += 1;
                self.line(format!("= run {conclusion}"));
            }
        }
    }

    fn start(&mut self, request: StepRequest) {
        // The scheduler's promises, checked as it acts.
        let job = &self.run.jobs()[request.id.instance.job];
        for &need in &self.run.spec().jobs[request.id.instance.job]
            .needs
            .iter()
            .filter_map(|n| self.run.jobs().iter().position(|j| &j.id == n))
            .collect::<Vec<_>>()
        {
            assert!(
                matches!(self.run.jobs()[need].phase, JobPhase::Done(_)),
                "{} started before {} finished",
                job.id,
                self.run.jobs()[need].id
            );
        }
        self.running_now.insert(request.id.instance);
        assert!(
            self.running_now.len() <= self.max_running,
            "more than {} instances running",
            self.max_running
        );
        let name = self.step_name(request.id);
        self.line(format!("▶ {name}"));
        let (duration, outcome) = self.simulate(&request);
        let finish = match request.timeout {
            Some(limit) if limit < duration => (
                self.now + millis(limit),
                StepOutcome::status(ExitStatus::TimedOut),
            ),
            _ => (self.now + millis(duration), outcome),
        };
        self.seq += 1;
        self.pending
            .insert((finish.0, self.seq), (request.id, finish.1));
    }

    fn simulate(&mut self, request: &StepRequest) -> (Duration, StepOutcome) {
        let mut outcome = StepOutcome::status(ExitStatus::Exited(0));
        let mut seconds = 1;
        let who = self.instance_name(request.id.instance);
        match &request.work {
            Work::Script { script, .. } => {
                for line in script.lines().map(str::trim) {
                    // Like `bash -e`, the script stops at the first failure.
                    if !outcome.status.is_success() {
                        break;
                    }
                    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
                    match command {
                        "sleep" => seconds = rest.parse().unwrap_or(1),
                        "exit" => outcome.status = ExitStatus::Exited(rest.parse().unwrap_or(1)),
                        "fail-on-attempt" => {
                            let mut words = rest
                                .split_whitespace()
                                .map(|w| w.parse::<i64>().unwrap_or(0));
                            let (attempt, code) =
                                (words.next().unwrap_or(0), words.next().unwrap_or(1));
                            if i64::from(request.id.attempt) == attempt {
                                outcome.status = ExitStatus::Exited(code as i32);
                            }
                        }
                        "output" | "setenv" => {
                            let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
                            let pair = (k.to_owned(), v.to_owned());
                            if command == "output" {
                                outcome.outputs.push(pair)
                            } else {
                                outcome.env.push(pair)
                            }
                        }
                        "echo" => {
                            let text = expand(rest, &request.env);
                            self.line(format!("  {who} says: {text}"));
                        }
                        _ => {}
                    }
                }
            }
            Work::CacheRestore {
                key, restore_keys, ..
            } => {
                let hit = self.cache.contains(key);
                let partial = restore_keys
                    .iter()
                    .find_map(|p| self.cache.iter().find(|k| k.starts_with(p.as_str())));
                self.line(format!(
                    "  {who} restores cache {key}: {}",
                    if hit {
                        "hit".to_owned()
                    } else {
                        partial.map_or("miss".to_owned(), |k| format!("restored {k}"))
                    }
                ));
                outcome
                    .outputs
                    .push(("cache-hit".to_owned(), hit.to_string()));
            }
            Work::CacheSave { key, .. } => {
                self.line(format!("  {who} saves cache {key}"));
                self.cache.insert(key.clone());
            }
            Work::Upload { name, paths, .. } => {
                self.line(format!("  {who} uploads {name}: {}", paths.join(", ")))
            }
            Work::Download { names, .. } => {
                self.line(format!("  {who} downloads {}", names.join(", ")))
            }
            Work::Deploy {
                service,
                revision,
                environment,
            } => {
                self.line(format!(
                    "  {who} deploys {service} at {revision} to {}",
                    environment.as_deref().unwrap_or("-")
                ));
            }
            Work::Load { file } => self.line(format!("  {who} load-tests {file}")),
            Work::Verify { suite, target } => self.line(format!(
                "  {who} verifies {} against {}",
                suite.name,
                target.as_deref().unwrap_or("-")
            )),
            Work::Checkout => self.line(format!("  {who} checks out")),
            Work::Setup { tool, version } => self.line(format!(
                "  {who} sets up {tool} {}",
                version.as_deref().unwrap_or("(any)")
            )),
        }
        (Duration::from_secs(seconds), outcome)
    }

    fn instance_name(&self, id: InstanceId) -> String {
        self.run
            .instance(id)
            .map_or_else(|| "?".to_owned(), |i| i.name.clone())
    }

    fn step_name(&self, step: StepId) -> String {
        let instance = self.run.instance(step.instance);
        let name = instance
            .and_then(|i| i.steps.get(step.step))
            .map_or("?", |s| s.name.as_str());
        let attempt = if step.attempt > 1 {
            format!(" [attempt {}]", step.attempt)
        } else {
            String::new()
        };
        format!("{} / {name}{attempt}", self.instance_name(step.instance))
    }

    fn line(&mut self, text: String) {
        self.lines.push(format!("{:>3}s {text}", self.now / 1000));
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `$NAME` from the step's environment, the last setting winning.
fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    let mut names: Vec<&(String, String)> = env.iter().collect();
    names.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, _) in names {
        if let Some(v) = env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v) {
            out = out
                .replace(&format!("${{{k}}}"), v)
                .replace(&format!("${k}"), v);
        }
    }
    out
}
