//! The files a script step writes back through: `$BELLWETHER_OUTPUT` (`$GITHUB_OUTPUT`),
//! `$BELLWETHER_ENV` (`$GITHUB_ENV`), `$BELLWETHER_PATH` (`$GITHUB_PATH`), plus the script
//! itself and `$GITHUB_STEP_SUMMARY` (`$BELLWETHER_STEP_SUMMARY`), Markdown kept with the run.

use std::io::Read;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use bellwether_pipeline_core::files;
use bellwether_pipeline_core::run::StepId;
use nix::fcntl::OFlag;
use sha2::{Digest, Sha256};

/// A step may hand back at most this much through each file, as in GitHub Actions (1 MiB).
const MAX_FILE: u64 = 1024 * 1024;

/// What a step wrote back.
pub(crate) struct Written {
    pub(crate) outputs: Vec<(String, String)>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) path: Vec<String>,
    /// Markdown the step appended to its summary.
    pub(crate) summary: String,
}

pub(crate) struct StepFiles {
    pub(crate) script: PathBuf,
    output: PathBuf,
    env: PathBuf,
    path: PathBuf,
    summary: PathBuf,
}

impl StepFiles {
    /// The files of step `id`. Only the script is written now: the others appear when the step
    /// appends to them (`>> "$GITHUB_OUTPUT"` creates the file), so a step that hands nothing
    /// back costs no files. Scripts are kept by content: a thousand steps that run `true`
    /// share one file.
    /// `owner` is the user and group steps run as, when not the runner's: the script is theirs.
    pub(crate) fn create(
        scratch: &Path,
        id: StepId,
        script: &str,
        owner: Option<(u32, u32)>,
    ) -> std::io::Result<StepFiles> {
        let scripts = scratch.join("scripts");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&scripts)?;
        let give = |path: &Path| match owner {
            Some((uid, gid)) => std::os::unix::fs::lchown(path, Some(uid), Some(gid)),
            None => Ok(()),
        };
        give(&scripts)?;
        let digest: String = Sha256::digest(script.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let script_path = scripts.join(format!("{digest}.sh"));
        if !script_path.exists() {
            // Written under a temporary name first: parallel steps may share this script.
            let partial = scripts.join(format!(
                ".{digest}.{}-{}-{}",
                id.instance.job, id.instance.index, id.step
            ));
            // Only its owner may read it: a script may hold what its expressions gave it.
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&partial)?
                .write_all(script.as_bytes())?;
            give(&partial)?;
            std::fs::rename(&partial, &script_path)?;
        }
        let stem = format!(
            "j{}-{}-a{}-s{}",
            id.instance.job, id.instance.index, id.attempt, id.step
        );
        let at = |suffix: &str| scratch.join(format!("{stem}.{suffix}"));
        Ok(StepFiles {
            script: script_path,
            output: at("output"),
            env: at("env"),
            path: at("path"),
            summary: at("summary"),
        })
    }

    /// Both spellings of each variable.
    pub(crate) fn env_vars(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, path) in [
            ("OUTPUT", &self.output),
            ("ENV", &self.env),
            ("PATH", &self.path),
            ("STEP_SUMMARY", &self.summary),
        ] {
            for prefix in ["BELLWETHER", "GITHUB"] {
                out.push((format!("{prefix}_{name}"), path.display().to_string()));
            }
        }
        out
    }

    /// The outputs, the environment and the `PATH` entries the step wrote.
    pub(crate) fn read(&self) -> Result<Written, String> {
        let outputs = files::parse(&read(&self.output, "BELLWETHER_OUTPUT")?)
            .map_err(|e| format!("$BELLWETHER_OUTPUT: {e}"))?;
        let env = files::parse(&read(&self.env, "BELLWETHER_ENV")?)
            .map_err(|e| format!("$BELLWETHER_ENV: {e}"))?;
        let path = read(&self.path, "BELLWETHER_PATH")?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let summary = read(&self.summary, "GITHUB_STEP_SUMMARY")?;
        Ok(Written {
            outputs,
            env,
            path,
            summary,
        })
    }

    /// Removes the step's own files. The script stays: another step running now may share
    /// it, and it goes with the scratch directory when the run ends.
    pub(crate) fn remove(&self) {
        for f in [&self.output, &self.env, &self.path, &self.summary] {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// The file's text; an absent file is empty.
fn read(path: &Path, what: &str) -> Result<String, String> {
    // Never through a link, nor from anything but a plain file: a step running as another
    // user could otherwise have the runner read a file only the runner may read, or block it
    // on a pipe.
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(format!("${what} cannot be read: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("${what} cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("${what} is not a plain file"));
    }
    let size = meta.len();
    if size > MAX_FILE {
        return Err(format!(
            "${what} holds {size} bytes (expected at most {MAX_FILE})"
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("${what} cannot be read: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
