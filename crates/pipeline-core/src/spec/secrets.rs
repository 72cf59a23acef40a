//! Which secrets a job reads: the ones its expressions name. A job is given only those, and a
//! run loads from the secret store only what some job of it names.

use std::collections::BTreeSet;

use crate::expr::{Condition, Expr, Template};

use super::{
    CallFrame, EnvironmentRef, Flag, JobSpec, MatrixSource, PassedSecrets, PipelineSpec, StepAction,
};

/// The secrets some expressions read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretUse {
    /// Named as `secrets.NAME` or `secrets['NAME']`, upper-cased: names ignore case.
    pub names: BTreeSet<String>,
    /// `secrets` read whole or by a computed name (`toJSON(secrets)`, `secrets[matrix.key]`),
    /// which may be any secret.
    pub all: bool,
}

impl SecretUse {
    /// Whether the secret `name` is among those read.
    pub fn includes(&self, name: &str) -> bool {
        self.all || self.names.contains(&name.to_ascii_uppercase())
    }

    fn add(&mut self, expr: &Expr) {
        for reference in expr.references() {
            if !reference.context.eq_ignore_ascii_case("secrets") {
                continue;
            }
            match reference.path.first() {
                Some(name) => {
                    self.names.insert(name.to_ascii_uppercase());
                }
                None => self.all = true,
            }
        }
    }

    fn add_template(&mut self, template: &Template) {
        template.exprs().for_each(|e| self.add(e));
    }

    fn add_condition(&mut self, condition: Option<&Condition>) {
        if let Some(c) = condition {
            self.add(c.expr());
        }
    }

    fn add_flag(&mut self, flag: &Flag) {
        if let Flag::Expr(t) = flag {
            self.add_template(t);
        }
    }

    /// What a job of a called workflow reads, in the caller's names: reading its `secrets`
    /// whole reads every secret passed to it.
    fn passed(self, frame: &CallFrame) -> SecretUse {
        let mut names: BTreeSet<String> =
            self.names.iter().filter_map(|n| frame.secret(n)).collect();
        let all = match &frame.secrets {
            PassedSecrets::Inherit => self.all,
            PassedSecrets::Named(passed) => {
                if self.all {
                    names.extend(passed.values().cloned());
                }
                false
            }
        };
        SecretUse { names, all }
    }

    fn union(&mut self, other: SecretUse) {
        self.all |= other.all;
        self.names.extend(other.names);
    }
}

impl PipelineSpec {
    /// The secrets job `job` reads, including through the pipeline's `env`, which every job
    /// evaluates.
    pub fn secrets_used_by(&self, job: &JobSpec) -> SecretUse {
        let mut used = SecretUse::default();
        for (_, value) in &self.env {
            used.add_template(value);
        }
        if let Some(name) = &job.name {
            used.add_template(name);
        }
        used.add_condition(job.condition.as_ref());
        for (_, value) in job.env.iter().chain(&job.outputs) {
            used.add_template(value);
        }
        used.add_flag(&job.continue_on_error);
        if let Some(MatrixSource::Dynamic(t)) = job.strategy.as_ref().map(|s| &s.matrix) {
            used.add_template(t);
        }
        if let Some(EnvironmentRef { name, url }) = &job.environment {
            used.add_template(name);
            if let Some(url) = url {
                used.add_template(url);
            }
        }
        if let Some(c) = &job.concurrency {
            used.add_template(&c.group);
        }
        for step in &job.steps {
            if let Some(name) = &step.name {
                used.add_template(name);
            }
            used.add_condition(step.condition.as_ref());
            for (_, value) in &step.env {
                used.add_template(value);
            }
            used.add_flag(&step.continue_on_error);
            match &step.action {
                StepAction::Run {
                    script,
                    working_directory,
                    ..
                } => {
                    used.add_template(script);
                    if let Some(w) = working_directory {
                        used.add_template(w);
                    }
                }
                StepAction::Deploy { service, revision } => {
                    used.add_template(service);
                    if let Some(r) = revision {
                        used.add_template(r);
                    }
                }
                StepAction::Cache(cache) => {
                    used.add_template(&cache.key);
                    cache.restore_keys.iter().for_each(|k| used.add_template(k));
                }
                StepAction::Load { file } => used.add_template(file),
                StepAction::Verify { target, .. } => {
                    if let Some(t) = target {
                        used.add_template(t);
                    }
                }
                StepAction::Upload { name, paths, .. } => {
                    used.add_template(name);
                    paths.iter().for_each(|p| used.add_template(p));
                }
                StepAction::Setup {
                    version: Some(v), ..
                } => used.add_template(v),
                StepAction::Download { .. } | StepAction::Checkout | StepAction::Setup { .. } => {}
            }
        }
        match &job.frame {
            Some(frame) => used.passed(frame),
            None => used,
        }
    }

    /// The secrets any job of the pipeline reads.
    pub fn secrets_used(&self) -> SecretUse {
        let mut used = SecretUse::default();
        if let Some(c) = &self.concurrency {
            used.add_template(&c.group);
        }
        for job in &self.jobs {
            used.union(self.secrets_used_by(job));
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{RunDefaults, StepSpec};

    fn job(id: &str, script: &str) -> JobSpec {
        JobSpec {
            id: id.to_owned(),
            steps: vec![StepSpec {
                id: None,
                name: None,
                condition: None,
                env: Vec::new(),
                continue_on_error: Flag::default(),
                timeout: None,
                action: StepAction::Run {
                    script: Template::parse(script).expect("a template"),
                    shell: None,
                    working_directory: None,
                },
            }],
            ..JobSpec::default()
        }
    }

    fn pipeline(env: &str, jobs: Vec<JobSpec>) -> PipelineSpec {
        PipelineSpec {
            name: "ci".to_owned(),
            triggers: Vec::new(),
            env: vec![("E".to_owned(), Template::parse(env).expect("a template"))],
            defaults: RunDefaults::default(),
            concurrency: None,
            jobs,
        }
    }

    #[test]
    fn each_job_reads_the_secrets_it_names_and_those_of_the_pipeline_env() {
        let p = pipeline(
            "${{ secrets.shared }}",
            vec![
                job("a", "echo ${{ secrets.TOKEN }} ${{ secrets['Other'] }}"),
                job("b", "echo ${{ github.sha }}"),
                job("c", "echo ${{ toJSON(secrets) }}"),
            ],
        );
        let names = |u: SecretUse| u.names.into_iter().collect::<Vec<_>>();
        assert_eq!(
            names(p.secrets_used_by(&p.jobs[0])),
            ["OTHER", "SHARED", "TOKEN"]
        );
        assert_eq!(names(p.secrets_used_by(&p.jobs[1])), ["SHARED"]);
        assert!(!p.secrets_used_by(&p.jobs[1]).includes("token"));
        assert!(p.secrets_used_by(&p.jobs[2]).all);
        let all = p.secrets_used();
        assert!(all.all && all.includes("anything"));
    }
}
