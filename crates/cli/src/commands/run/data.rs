//! Where the pipeline commands find the data directory, and who is at the keyboard.

use std::path::{Path, PathBuf};

use bellwether_runner::DataDir;
use clap::Args;

/// `-f` and `--data-dir`, for the commands that only need the data directory.
#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    /// The project file; its directory holds the data directory by default.
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    pub(crate) file: PathBuf,
    /// Where runs, logs, secrets, the cache and artifacts are kept [default: .bellwether beside the file].
    #[arg(long, env = "BELLWETHER_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

impl DataArgs {
    /// The data directory: `--data-dir`, else `.bellwether` beside the project file.
    pub(crate) fn dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| project_dir(&self.file).join(".bellwether"))
    }

    /// Opens (creating) the data directory, marking the runs whose process died interrupted.
    pub(crate) fn open(&self) -> anyhow::Result<DataDir> {
        Ok(DataDir::open(&self.dir())?)
    }
}

/// The directory of the project file; for a workflow file in `.github/workflows`, the
/// directory that holds `.github`, as the workflow's checkout is the repository.
pub(crate) fn project_dir(file: &Path) -> PathBuf {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = if dir.ends_with(".github/workflows") {
        dir.parent()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    } else {
        dir
    };
    dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())
}

/// Who runs, approves or rejects: `$BELLWETHER_USER`, else the login name.
pub(crate) fn whoami() -> String {
    ["BELLWETHER_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "local".to_owned())
}
