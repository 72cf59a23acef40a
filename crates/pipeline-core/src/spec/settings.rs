//! Settings that pipelines, jobs and steps share: flags that may be expressions, concurrency
//! groups, `defaults: run` and the shell a script runs in.

use crate::expr::Template;

/// A boolean that may be an expression, like `continue-on-error: ${{ matrix.experimental }}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Flag {
    Const(bool),
    Expr(Template),
}

impl Default for Flag {
    fn default() -> Self {
        Flag::Const(false)
    }
}

/// `defaults: {run: {shell, working-directory}}`, for the `run` steps below it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunDefaults {
    pub shell: Option<Shell>,
    pub working_directory: Option<String>,
}

impl RunDefaults {
    /// These defaults, with `inner`'s wherever it sets one.
    pub fn overlay(&self, inner: &RunDefaults) -> RunDefaults {
        RunDefaults {
            shell: inner.shell.clone().or_else(|| self.shell.clone()),
            working_directory: inner
                .working_directory
                .clone()
                .or_else(|| self.working_directory.clone()),
        }
    }
}

/// `concurrency: {group, cancel-in-progress}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Concurrency {
    pub group: Template,
    /// Cancel the run or job holding the group instead of queueing behind it.
    pub cancel_in_progress: bool,
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

    /// Whether it expands `${NAME}` from the environment, as POSIX shells do: only then can a
    /// secret in a script's text be handed over by name instead of pasted in.
    pub fn expands_variables(&self) -> bool {
        match self {
            Shell::Bash | Shell::Sh => true,
            Shell::Python => false,
            Shell::Custom(line) => line.split_whitespace().next().is_some_and(|program| {
                let name = program.rsplit('/').next().unwrap_or(program);
                matches!(name, "bash" | "sh" | "dash" | "zsh" | "ksh")
            }),
        }
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
