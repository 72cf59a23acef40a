//! `HostExecutor`: the steps of a run, on this machine. Scripts run as process groups in their
//! job instance's workspace with a clean environment; cache and artifact steps use the stores in the
//! data directory; deploy steps are stand-ins until rollouts run in the control plane.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bellwether_core::error::chain;
use bellwether_core::platform::INHERITED_ENV;
use bellwether_pipeline_core::executor::{Cancel, Executor, LogSink};
use bellwether_pipeline_core::expr::WorkspaceFiles;
use bellwether_pipeline_core::run::{ExitStatus, StepOutcome, StepRequest, Work};
use bellwether_pipeline_core::spec::Shell;
use bellwether_runner::orphans::STEP_GROUPS;
use bellwether_runner::{Artifacts, Cache, DeployOrder, Restored, Site, Uploader, hash_files};

use crate::outputs::StepFiles;
use crate::process::{self, Ended, Groups, Script};
use crate::reaper::Reaper;

pub struct HostExecutor {
    site: Site,
    /// Between SIGTERM and SIGKILL when a step times out or is cancelled.
    grace: Duration,
    base_env: Vec<(String, String)>,
    /// `bash -e`, or `sh -e` where there is no bash.
    default_shell: Vec<String>,
    groups: Groups,
    /// Kills the steps' groups if this process dies before them.
    _reaper: Option<Reaper>,
}

impl HostExecutor {
    /// Runs steps in `site`, giving each `grace` to stop when it times out or is cancelled.
    pub fn new(site: Site, grace: Duration) -> HostExecutor {
        // A secret in the caller's environment reaches only the steps that ask for it.
        let base_env: Vec<(String, String)> = INHERITED_ENV
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
            .collect();
        let path = base_env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let default_shell = if on_path(&path, "bash") { "bash" } else { "sh" };
        // Steps are recorded beside their scripts; without that directory they are still
        // killed by this process, just not after it dies.
        let private = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&site.private);
        let groups = match private {
            Ok(()) => Groups::recorded(site.private.join(STEP_GROUPS)),
            Err(_) => Groups::default(),
        };
        let reaper = groups.file().and_then(Reaper::start);
        HostExecutor {
            site,
            grace,
            base_env,
            default_shell: vec![default_shell.to_owned(), "-e".to_owned(), "{0}".to_owned()],
            groups,
            _reaper: reaper,
        }
    }

    /// The process groups of the running steps, for killing them all on an impatient exit.
    pub fn groups(&self) -> Groups {
        self.groups.clone()
    }

    async fn script(
        &self,
        request: &StepRequest,
        script: &str,
        shell: Option<&Shell>,
        dir: Option<&str>,
        log: &mut dyn LogSink,
        cancel: Cancel,
    ) -> StepOutcome {
        let workspace = Path::new(&request.workspace);
        let cwd = match dir {
            Some(d) => match inside(workspace, d) {
                Ok(p) => p,
                Err(e) => return StepOutcome::status(ExitStatus::Error(e)),
            },
            None => workspace.to_path_buf(),
        };
        if !cwd.is_dir() {
            return StepOutcome::status(ExitStatus::Error(format!(
                "working-directory {} does not exist",
                dir.unwrap_or(".")
            )));
        }
        let owner = self.site.run_as.as_ref().map(|u| (u.uid, u.gid));
        let files = match StepFiles::create(&self.site.scratch, request.id, script, owner) {
            Ok(f) => f,
            Err(e) => {
                return StepOutcome::status(ExitStatus::Error(format!(
                    "cannot prepare the step: {e}"
                )));
            }
        };
        let script_path = files.script.display().to_string();
        let command = match shell {
            Some(s) => s.command(&script_path),
            None => self
                .default_shell
                .iter()
                .map(|w| w.replace("{0}", &script_path))
                .collect(),
        };
        let mut env = self.base_env.clone();
        env.extend(request.env.iter().cloned());
        env.extend(files.env_vars());
        if let Some(user) = &self.site.run_as {
            env.push(("HOME".to_owned(), user.home.display().to_string()));
            env.push(("USER".to_owned(), user.name.clone()));
            env.push(("LOGNAME".to_owned(), user.name.clone()));
        }
        env.push(("RUNNER_OS".to_owned(), "Linux".to_owned()));
        env.push((
            "RUNNER_TEMP".to_owned(),
            self.site.scratch.display().to_string(),
        ));
        if !request.path.is_empty() {
            let base = env
                .iter()
                .rev()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let mut dirs: Vec<String> = request.path.iter().rev().cloned().collect();
            dirs.push(base);
            env.push(("PATH".to_owned(), dirs.join(":")));
        }
        let ended = process::run(
            Script {
                command,
                cwd,
                env,
                timeout: request.timeout,
                grace: self.grace,
                run_as: owner,
            },
            log,
            cancel,
            &self.groups,
        )
        .await;
        let status = match ended {
            Ended::Exited(code) => ExitStatus::Exited(code),
            Ended::Signalled(signal) => ExitStatus::Signalled(signal),
            Ended::TimedOut => ExitStatus::TimedOut,
            Ended::Cancelled => ExitStatus::Cancelled,
            Ended::NotStarted(why) => ExitStatus::Error(why),
        };
        let mut outcome = StepOutcome::status(status);
        match files.read() {
            Ok(written) => {
                if !written.summary.trim().is_empty() {
                    log.summary(&written.summary);
                }
                outcome.outputs = written.outputs;
                outcome.env = written.env;
                outcome.path = written.path;
            }
            Err(e) if outcome.status.is_success() => outcome.status = ExitStatus::Error(e),
            Err(e) => log.note(&e),
        }
        files.remove();
        outcome
    }

    /// A deploy step through the deployer; a cancelled or timed-out step stops waiting (the
    /// rollout itself goes on: the control plane owns it).
    async fn deploy(
        &self,
        order: DeployOrder,
        log: &mut dyn LogSink,
        cancel: Cancel,
    ) -> StepOutcome {
        let Some(deployer) = &self.site.deployer else {
            return StepOutcome::status(ExitStatus::Error("no control plane to deploy to".into()));
        };
        let result = tokio::select! {
            result = deployer.deploy(order, log) => result,
            () = cancel => Err("stopped waiting for the rollout".to_owned()),
        };
        match result {
            Ok(outputs) => StepOutcome {
                outputs,
                ..StepOutcome::status(ExitStatus::Exited(0))
            },
            Err(e) => {
                log.note(&e);
                StepOutcome::status(ExitStatus::Error(e))
            }
        }
    }

    async fn builtin(&self, work: Work, workdir: PathBuf, log: &mut dyn LogSink) -> StepOutcome {
        let cache = self.site.cache.clone();
        let artifacts = self.site.artifacts.clone();
        // The stores copy files: that blocks, so it happens off the runtime's threads.
        let done = tokio::task::spawn_blocking(move || {
            builtin_blocking(work, &workdir, &cache, &artifacts)
        })
        .await;
        let (result, notes) = done.unwrap_or_else(|e| {
            (
                Err(format!("the step stopped unexpectedly: {e}")),
                Vec::new(),
            )
        });
        for note in notes {
            log.note(&note);
        }
        match result {
            Ok(outputs) => StepOutcome {
                outputs,
                ..StepOutcome::status(ExitStatus::Exited(0))
            },
            Err(e) => {
                log.note(&e);
                StepOutcome::status(ExitStatus::Error(e))
            }
        }
    }
}

type Outputs = Vec<(String, String)>;

fn builtin_blocking(
    work: Work,
    workdir: &Path,
    cache: &Cache,
    artifacts: &Artifacts,
) -> (Result<Outputs, String>, Vec<String>) {
    let mut notes = Vec::new();
    let result = match work {
        Work::CacheRestore {
            key, restore_keys, ..
        } => cache
            .restore(&key, &restore_keys, workdir)
            .map_err(|e| chain(&e))
            .map(|found| {
                let (hit, matched) = match found {
                    Restored::Exact => {
                        notes.push(format!("cache hit: restored `{key}`"));
                        (true, key.clone())
                    }
                    Restored::Partial(k) => {
                        notes.push(format!("no entry for `{key}`; restored `{k}`"));
                        (false, k)
                    }
                    Restored::Miss => {
                        notes.push(format!("cache miss: nothing saved under `{key}` yet"));
                        (false, String::new())
                    }
                };
                vec![
                    ("cache-hit".to_owned(), hit.to_string()),
                    ("cache-matched-key".to_owned(), matched),
                ]
            }),
        Work::CacheSave { key, paths } => cache
            .save(&key, &paths, workdir)
            .map_err(|e| chain(&e))
            .map(|saved| {
                notes.push(match saved {
                    Some(bytes) => {
                        format!("saved {bytes} bytes of {} under `{key}`", paths.join(", "))
                    }
                    None => format!("`{key}` is already saved; entries never change"),
                });
                Vec::new()
            }),
        Work::Upload {
            name,
            paths,
            from_common_root,
            job,
            leg,
        } => artifacts
            .upload(
                &name,
                &paths,
                workdir,
                Uploader { job, leg },
                from_common_root,
            )
            .map_err(|e| chain(&e))
            .map(|(files, bytes)| {
                notes.push(format!(
                    "uploaded artifact `{name}`: {files} files, {bytes} bytes"
                ));
                vec![("artifact".to_owned(), name)]
            }),
        Work::Download { names, path } => {
            let target = match path.as_deref().map(|p| inside(workdir, p)).transpose() {
                Ok(t) => t.unwrap_or_else(|| workdir.to_path_buf()),
                Err(e) => return (Err(e), notes),
            };
            artifacts
                .download(&names, &target)
                .map_err(|e| chain(&e))
                .map(|downloaded| {
                    for (name, n) in downloaded {
                        notes.push(format!("downloaded artifact `{name}`: {n} files"));
                    }
                    Vec::new()
                })
        }
        Work::Deploy {
            service,
            revision,
            environment,
        } => {
            let to = environment
                .map(|e| format!(" in environment `{e}`"))
                .unwrap_or_default();
            notes.push(format!(
                "STAND-IN: no control plane given (`--server URL` or BELLWETHER_SERVER), so no rollout of service `{service}` to revision `{revision}`{to} was started"
            ));
            Ok(vec![("revision".to_owned(), revision)])
        }
        Work::Checkout => {
            notes.push(
                "the workspace is already a checkout of the run's commit: nothing to fetch"
                    .to_owned(),
            );
            Ok(Vec::new())
        }
        Work::Setup { tool, version } => {
            crate::toolchain::check(tool, version.as_deref()).map(|(found, note)| {
                notes.push(note);
                vec![(tool.version_input().to_owned(), found)]
            })
        }
        Work::Script { .. } | Work::Verify { .. } | Work::Load { .. } => {
            Err("not a step that copies files".to_owned())
        }
    };
    (result, notes)
}

impl WorkspaceFiles for HostExecutor {
    fn hash_files_in(&self, workspace: &str, patterns: &[String]) -> Result<String, String> {
        hash_files(Path::new(workspace), patterns).map_err(|e| chain(&e))
    }
}

impl Executor for HostExecutor {
    async fn run_step(
        &self,
        request: StepRequest,
        mut log: Box<dyn LogSink>,
        cancel: Cancel,
    ) -> StepOutcome {
        let outcome = match &request.work {
            Work::Script {
                script,
                shell,
                working_directory,
            } => {
                self.script(
                    &request,
                    script,
                    shell.as_ref(),
                    working_directory.as_deref(),
                    log.as_mut(),
                    cancel,
                )
                .await
            }
            Work::Deploy {
                service,
                revision,
                environment,
            } if self.site.deployer.is_some() => {
                let order = DeployOrder {
                    service: service.clone(),
                    revision: revision.clone(),
                    environment: environment.clone(),
                    by: self.site.deployed_by.clone(),
                    run: self.site.run,
                    commit: self.site.commit.clone(),
                };
                self.deploy(order, log.as_mut(), cancel).await
            }
            Work::Deploy { .. }
            | Work::CacheRestore { .. }
            | Work::CacheSave { .. }
            | Work::Upload { .. }
            | Work::Download { .. }
            | Work::Load { .. }
                if self.site.untrusted =>
            {
                let why = "a run from an untrusted source cannot deploy, load-test, nor use the shared cache or artifact stores";
                log.note(why);
                StepOutcome::status(ExitStatus::Error(why.to_owned()))
            }
            Work::Verify { suite, target } => {
                crate::verify::run(suite, target.as_deref(), log.as_mut(), cancel).await
            }
            Work::Load { file } if !self.site.untrusted => {
                match inside(Path::new(&request.workspace), file) {
                    Ok(path) => crate::load::run(file, &path, log.as_mut(), cancel).await,
                    Err(why) => {
                        log.note(&why);
                        StepOutcome::status(ExitStatus::Error(why))
                    }
                }
            }
            other => {
                let workdir = PathBuf::from(&request.workspace);
                self.builtin(other.clone(), workdir, log.as_mut()).await
            }
        };
        log.finish();
        outcome
    }
}

/// `dir` inside `root`: relative, without `..`.
fn inside(root: &Path, dir: &str) -> Result<PathBuf, String> {
    if dir.starts_with('/') || dir.split('/').any(|p| p == "..") {
        return Err(format!(
            "`{dir}` leaves the workspace (expected a path relative to it, without `..`)"
        ));
    }
    Ok(root.join(dir))
}

fn on_path(path: &str, program: &str) -> bool {
    path.split(':')
        .any(|dir| Path::new(dir).join(program).is_file())
}
