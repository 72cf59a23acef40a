//! `$GITHUB_STEP_SUMMARY`: what each job's steps wrote there, shown at the end of `bellwether
//! run` and by `bellwether runs N`.

use std::path::PathBuf;

use bellwether_runner::DataDir;
use bellwether_store::RunHistory;

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

/// The display name and log directory of each job (and matrix leg) of a run's attempt, in the
/// order the run lists them.
pub(crate) fn jobs(data: &DataDir, number: u64, attempt: u32) -> Vec<(String, PathBuf)> {
    data.store
        .instances(number, attempt)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| Some((i.name, PathBuf::from(i.logs?))))
        .collect()
}
