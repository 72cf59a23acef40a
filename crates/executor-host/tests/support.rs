//! Runs a pipeline from YAML on the host executor in a temporary directory and records what
//! an observer sees.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_core::time::Timestamp;
use bellwether_executor_host::HostExecutor;
use bellwether_pipeline_core::expr::Value;
use bellwether_pipeline_core::mask::Masker;
use bellwether_pipeline_core::run::{Conclusion, InstanceId, Run, RunInput, Workspaces};
use bellwether_pipeline_core::trigger::{Event, EventName, GitRef};
use bellwether_runner::{Artifacts, Cache, Driver, Gates, Observer, Site};

#[derive(Default)]
pub struct Recorder {
    pub lines: Mutex<Vec<String>>,
    pub notes: Mutex<Vec<String>>,
}

impl Observer for Recorder {
    fn update(&self, _: &Run, _: Timestamp) {}

    fn line(&self, _: InstanceId, line: &[u8]) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(String::from_utf8_lossy(line).into_owned());
        }
    }

    fn note(&self, _: Option<InstanceId>, text: &str) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(text.to_owned());
        }
    }
}

impl Recorder {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

pub struct Outcome {
    pub conclusion: Conclusion,
    pub recorder: Arc<Recorder>,
    pub logs: PathBuf,
}

impl Outcome {
    /// Every log file's text, concatenated.
    pub fn log_files(&self) -> String {
        let mut out = String::new();
        let mut stack = vec![self.logs.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    stack.push(entry.path());
                } else {
                    out.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
                }
            }
        }
        out
    }
}

/// Runs pipeline `ci` of `yaml` with `dir/work` as the workspace and `dir/data` as the data
/// directory, recording what is seen.
pub async fn run(yaml: &str, dir: &Path, secrets: &[(&str, &str)]) -> Outcome {
    recorded(yaml, dir, secrets, false).await
}

/// [`run`] as a run from an untrusted source: the executor refuses what such a run may not do.
pub async fn run_untrusted(yaml: &str, dir: &Path) -> Outcome {
    recorded(yaml, dir, &[], true).await
}

async fn recorded(yaml: &str, dir: &Path, secrets: &[(&str, &str)], untrusted: bool) -> Outcome {
    let recorder = Arc::new(Recorder::default());
    let (conclusion, logs) = run_site(
        yaml,
        dir,
        secrets,
        Arc::clone(&recorder) as Arc<dyn Observer>,
        untrusted,
    )
    .await;
    Outcome {
        conclusion,
        recorder,
        logs,
    }
}

/// [`run`] with another observer; returns the conclusion and the logs directory.
pub async fn run_with(
    yaml: &str,
    dir: &Path,
    secrets: &[(&str, &str)],
    observer: Arc<dyn Observer>,
) -> (Conclusion, PathBuf) {
    run_site(yaml, dir, secrets, observer, false).await
}

async fn run_site(
    yaml: &str,
    dir: &Path,
    secrets: &[(&str, &str)],
    observer: Arc<dyn Observer>,
    untrusted: bool,
) -> (Conclusion, PathBuf) {
    let loaded = bellwether_config::load("bellwether.yaml", yaml).unwrap_or_else(|d| panic!("{d}"));
    let spec = loaded
        .pipelines
        .into_iter()
        .find(|p| p.name == "ci")
        .expect("a pipeline ci");
    let work = dir.join("work");
    let data = dir.join("data");
    std::fs::create_dir_all(&work).expect("a workspace");
    let secrets: BTreeMap<String, String> = secrets
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let masker = Arc::new(Masker::new(secrets.values()));
    let executor = Arc::new(HostExecutor::new(
        Site {
            scratch: data.join("tmp"),
            private: data.join("tmp"),
            run_as: None,
            untrusted,
            cache: Cache::new(data.join("cache"), 1 << 30),
            artifacts: Artifacts::new(data.join("objects"), data.join("run/artifacts")),
            deployer: None,
            deployed_by: "test".to_owned(),
            run: 1,
            commit: None,
        },
        Duration::from_millis(200),
    ));
    let run = Run::new(RunInput {
        spec,
        event: Event {
            name: EventName::Push,
            git_ref: GitRef::Branch("main".into()),
            base: None,
            action: None,
            changed_paths: None,
            workflow_run: None,
        },
        sha: "0".repeat(40),
        repository: "test".into(),
        actor: "tester".into(),
        workspace: Workspaces::Shared(work.display().to_string()),
        run_id: "1".into(),
        run_number: 1,
        attempt: 1,
        reused: BTreeMap::new(),
        inputs: BTreeMap::new(),
        secrets,
        environment_secrets: BTreeMap::new(),
        services: loaded.project.services.keys().cloned().collect(),
        environments: loaded.project.environments,
        closed_environments: Default::default(),
        runner: BTreeMap::from([("os".to_owned(), Value::string("Linux"))]),
        max_parallel: 4,
    });
    let logs = data.join("run/logs");
    let driver = Driver {
        executor,
        logs: logs.clone(),
        masker,
        observers: vec![observer],
        gates: Gates::default(),
        across_runs: None,
        run_group: None,
        workspaces: None,
    };
    let (_control, rx) = tokio::sync::mpsc::channel(1);
    let conclusion = tokio::time::timeout(Duration::from_secs(60), driver.drive(run, rx))
        .await
        .expect("the run ends within a minute");
    (conclusion, logs)
}
