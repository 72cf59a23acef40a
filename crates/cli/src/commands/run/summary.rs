//! `$GITHUB_STEP_SUMMARY`: what each job's steps wrote there, shown at the end of `bellwether
//! run` and by `bellwether runs N`.

use std::path::PathBuf;

use bellwether_api::StepSummaryView;
use bellwether_runner::DataDir;

/// Each job's `$GITHUB_STEP_SUMMARY`, as its steps wrote it (masked when it was kept), given
/// the jobs' names and log directories; jobs that wrote none are left out.
pub(crate) fn read(jobs: impl IntoIterator<Item = (String, PathBuf)>) -> Vec<StepSummaryView> {
    jobs.into_iter()
        .filter_map(|(job, dir)| {
            let markdown = std::fs::read_to_string(dir.join(bellwether_runner::SUMMARY)).ok()?;
            Some(StepSummaryView { job, markdown })
        })
        .collect()
}

/// Prints step summaries (what [`read`] finds, or a run's), each job's summary indented under its name.
pub(crate) fn print(summaries: &[StepSummaryView]) {
    for s in summaries {
        println!("summary of {}:", s.job);
        for line in s.markdown.lines() {
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
