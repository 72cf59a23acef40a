//! A step that prints 100 MB keeps the process's memory flat: output is cut into lines,
//! masked and written as it comes, never gathered.
//!
//! Alone in its own test binary, so that the peak resident size it reads is this test's.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bellwether_core::time::Timestamp;
use bellwether_pipeline_core::run::{Conclusion, InstanceId, Run};
use bellwether_runner::Observer;

#[derive(Default)]
struct Counter {
    lines: AtomicU64,
    bytes: AtomicU64,
}

impl Observer for Counter {
    fn update(&self, _: &Run, _: Timestamp) {}

    fn line(&self, _: InstanceId, line: &[u8]) {
        self.lines.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(line.len() as u64 + 1, Ordering::Relaxed);
    }

    fn note(&self, _: Option<InstanceId>, _: &str) {}
}

/// The peak resident set size so far, in kB, from `/proc/self/status`.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const OUTPUT: u64 = 100_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_printing_100_mb_keeps_memory_flat() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let counter = Arc::new(Counter::default());
    // A small run first, so that the runtime, the executor and the allocator are warm.
    let warm = "pipelines:\n  ci:\n    jobs:\n      warm:\n        steps: [{run: echo warm}]\n";
    support::run_with(
        warm,
        &dir.path().join("warm"),
        &[("TOKEN", "not-in-the-output")],
        Arc::new(Counter::default()),
    )
    .await;
    let before = peak_rss_kb();
    let started = Instant::now();
    let yaml = format!(
        "pipelines:\n  ci:\n    jobs:\n      loud:\n        steps:\n          - run: yes 'the quick brown fox jumps over the lazy dog, line after line of output, masked as it goes' | head -c {OUTPUT}\n"
    );
    let (conclusion, logs) = support::run_with(
        &yaml,
        &dir.path().join("loud"),
        &[("TOKEN", "not-in-the-output")],
        Arc::clone(&counter) as Arc<dyn Observer>,
    )
    .await;
    let elapsed = started.elapsed();
    let after = peak_rss_kb();
    assert_eq!(conclusion, Conclusion::Success);
    // The last line has no newline of its own; lines are counted with one.
    let seen = counter.bytes.load(Ordering::Relaxed);
    assert!(
        (OUTPUT..=OUTPUT + 1).contains(&seen),
        "every byte went through, as lines: {seen}"
    );
    let logged: u64 = std::fs::read_dir(logs.join("loud"))
        .expect("the job's logs")
        .flatten()
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    assert!(
        (OUTPUT..=OUTPUT + 1).contains(&logged),
        "and into the log file: {logged}"
    );
    let growth_kb = after.saturating_sub(before);
    eprintln!(
        "100 MB through the executor in {elapsed:?}: peak RSS {before} kB before, {after} kB after (+{growth_kb} kB), {} lines",
        counter.lines.load(Ordering::Relaxed)
    );
    assert!(
        growth_kb < 16 * 1024,
        "peak RSS grew by {growth_kb} kB while 100 MB went through"
    );
    assert!(elapsed < Duration::from_secs(120), "took {elapsed:?}");
}
