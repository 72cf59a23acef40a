//! `$GITHUB_STEP_SUMMARY`: what each job's steps wrote there, shown at the end of `bellwether
//! run` and by `bellwether runs N`.

use std::path::{Path, PathBuf};

/// Each job's `$GITHUB_STEP_SUMMARY`, as its steps wrote it (masked when it was kept), given
/// the jobs' names and log directories.
pub(crate) fn print(jobs: impl IntoIterator<Item = (String, PathBuf)>) {
    for (name, dir) in jobs {
        let Ok(text) = std::fs::read_to_string(dir.join(bellwether_runner::SUMMARY)) else {
            continue;
        };
        println!("summary of {name}:");
        for line in text.lines() {
            println!("  {line}");
        }
    }
}

/// The log directory of each job (and matrix leg) of a run, in name order.
pub(crate) fn job_dirs(logs: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(logs)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    dirs.sort();
    dirs
}
