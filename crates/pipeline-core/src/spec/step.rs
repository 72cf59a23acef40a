//! A step: a script, or one of the built-in steps (deploy, cache, artifacts).

use std::time::Duration;

use crate::expr::{Condition, Template};

use super::Flag;

#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    /// The name `steps.<id>` refers to.
    pub id: Option<String>,
    pub name: Option<Template>,
    pub condition: Option<Condition>,
    pub env: Vec<(String, Template)>,
    pub continue_on_error: Flag,
    pub timeout: Option<Duration>,
    pub action: StepAction,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepAction {
    /// `run:` a script with a shell, in a working directory relative to the workspace.
    Run {
        script: Template,
        shell: Option<Shell>,
        working_directory: Option<Template>,
    },
    /// `deploy: {service, revision}`: start a rollout of a declared service and wait for it.
    /// The service may be an expression, e.g. `${{ matrix.service }}`.
    Deploy {
        service: Template,
        revision: Option<Template>,
    },
    /// `cache:`: restore here, save when the job ends.
    Cache(CacheSpec),
    /// `artifacts: {upload: [paths], name}`.
    Upload { name: String, paths: Vec<String> },
    /// `artifacts: {download: [names], path}`: artifacts that jobs this one needs uploaded.
    Download {
        names: Vec<String>,
        path: Option<String>,
    },
}

/// `cache: {key, restore-keys, paths, save-always}`.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSpec {
    pub key: Template,
    /// Prefixes tried in order when `key` has no entry; the newest match wins.
    pub restore_keys: Vec<Template>,
    pub paths: Vec<String>,
    /// Save even when the job fails.
    pub save_always: bool,
}

/// How a script runs. Without one, the executor uses `bash -e {0}`, or `sh -e {0}` where
/// there is no bash, as GitHub Actions does on Linux.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shell {
    /// `bash --noprofile --norc -eo pipefail {0}`
    Bash,
    /// `sh -e {0}`
    Sh,
    /// `python {0}`
    Python,
    /// A command with `{0}` where the script file goes, e.g. `perl {0}`.
    Custom(String),
}

impl Shell {
    /// The command line, with the script's path in place of `{0}`.
    pub fn command(&self, script: &str) -> Vec<String> {
        let template: &[&str] = match self {
            Shell::Bash => &["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
            Shell::Sh => &["sh", "-e", "{0}"],
            Shell::Python => &["python3", "{0}"],
            Shell::Custom(line) => {
                return line
                    .split_whitespace()
                    .map(|w| w.replace("{0}", script))
                    .collect();
            }
        };
        template.iter().map(|w| w.replace("{0}", script)).collect()
    }

    /// How `shell:` names it.
    pub fn parse(text: &str) -> Result<Shell, String> {
        Ok(match text.trim() {
            "bash" => Shell::Bash,
            "sh" => Shell::Sh,
            "python" => Shell::Python,
            custom if custom.contains("{0}") => Shell::Custom(custom.to_owned()),
            other => {
                return Err(format!(
                    "unknown shell `{other}` (expected bash, sh, python, or a command with {{0}} for the script, e.g. `perl {{0}}`)"
                ));
            }
        })
    }
}
