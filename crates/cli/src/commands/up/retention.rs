//! Retention in `up`: what `server.retention` says is old is removed at start and then every
//! hour (`--retention-every`), by the control plane that leads. Each sweep logs what it
//! removed. Rollouts' events and snapshots, revisions, deploy records, tokens and the audit
//! trail (whose hash chain needs every entry) are never removed.

use std::sync::Arc;
use std::time::Duration;

use bellwether_core::spec::Retention;
use bellwether_runner::{Cutoffs, DataDir, Swept, now_ms};
use bellwether_store::Store;
use tokio_util::sync::CancellationToken;

/// What one sweep removed: the data directory's part and the analysis records.
struct Removed {
    swept: Swept,
    analyses: u64,
}

/// Starts the sweeper of the data directory `data` (the one the pipelines run in) and of
/// `store`'s analysis records, until `stop`; nothing when `retention` keeps everything.
pub(super) fn start(
    retention: Retention,
    every: Duration,
    data: DataDir,
    store: Arc<dyn Store>,
    stop: CancellationToken,
) {
    if retention.keeps_all() {
        return;
    }
    let data = Arc::new(data);
    tokio::spawn(async move {
        loop {
            let (data, store) = (Arc::clone(&data), Arc::clone(&store));
            let swept =
                tokio::task::spawn_blocking(move || sweep(&retention, &data, store.as_ref())).await;
            match swept {
                Ok(Ok(removed)) => report(&removed),
                Ok(Err(e)) => tracing::warn!("retention: {e:#}"),
                Err(e) => tracing::warn!("retention: the sweep stopped: {e}"),
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
        }
    });
}

/// One sweep, as of now.
fn sweep(retention: &Retention, data: &DataDir, store: &dyn Store) -> anyhow::Result<Removed> {
    let now = now_ms();
    let before = |age: Option<Duration>| age.map(|a| now.saturating_sub(a.as_millis() as u64));
    let cut = Cutoffs {
        runs: before(retention.runs),
        logs: before(retention.logs()),
        artifacts: before(retention.artifacts()),
    };
    let swept = data.sweep_old(&cut)?;
    let analyses = match before(retention.analysis) {
        Some(before) => store.forget_events(bellwether_controller::ANALYSIS_STREAMS, before)?,
        None => 0,
    };
    Ok(Removed { swept, analyses })
}

fn report(removed: &Removed) {
    let Removed { swept, analyses } = removed;
    if swept.is_empty() && *analyses == 0 {
        tracing::debug!("retention: nothing old to remove");
        return;
    }
    tracing::info!(
        runs = swept.runs,
        log_files = swept.log_files,
        artifacts = swept.artifacts,
        contents = swept.contents,
        analysis_records = analyses,
        bytes = swept.bytes,
        "retention: removed {}, {}, {} ({}), {}; {} bytes freed",
        counted(swept.runs, "run"),
        counted(swept.log_files, "log file"),
        counted(swept.artifacts, "artifact"),
        counted(swept.contents, "stored content"),
        counted(*analyses as usize, "analysis record"),
        swept.bytes,
    );
}

/// `1 run`, `2 runs`.
fn counted(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
