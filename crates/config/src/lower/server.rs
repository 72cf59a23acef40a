//! `server: {store, retention}`.

use std::time::Duration;

use bellwether_core::spec::{Retention, Server};
use bellwether_core::time::human_duration;

use crate::diagnostic::Sink;
use crate::model::{RetentionConfig, ServerConfig};
use crate::span::Spanned;
use crate::values::DurationValue;

pub(super) fn lower(server: &ServerConfig, sink: &mut Sink<'_>) -> Server {
    Server {
        store: server
            .store
            .as_ref()
            .and_then(|store| self::store(store, sink)),
        retention: server
            .retention
            .as_ref()
            .map(|r| retention(r, sink))
            .unwrap_or_default(),
    }
}

fn store(store: &Spanned<String>, sink: &mut Sink<'_>) -> Option<String> {
    let url = store.value.trim();
    let Some(rest) = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
    else {
        sink.error(
            store.pos,
            "the store is not a PostgreSQL URL (expected postgres://USER@HOST:PORT/DATABASE)",
        );
        return None;
    };
    let user = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((credentials, _)) = user.rsplit_once('@')
        && credentials.contains(':')
    {
        sink.error(
            store.pos,
            "the store's URL holds a password, which would sit in the file in the clear (expected postgres://USER@HOST:PORT/DATABASE, and the password in $PGPASSWORD)",
        );
        return None;
    }
    Some(url.to_owned())
}

/// Each kind's age, else `age`'s; none means forever.
fn retention(config: &RetentionConfig, sink: &mut Sink<'_>) -> Retention {
    let mut age = |key: &str, value: &Option<Spanned<DurationValue>>| {
        value.as_ref().and_then(|d| self::age(key, d, sink))
    };
    let all = age("age", &config.age);
    let runs = age("runs", &config.runs);
    let logs = age("logs", &config.logs);
    let artifacts = age("artifacts", &config.artifacts);
    let analysis = age("analysis", &config.analysis);
    let runs_age = runs.or(all);
    for (key, value, kept) in [
        ("logs", &config.logs, logs),
        ("artifacts", &config.artifacts, artifacts),
    ] {
        if let (Some(written), Some(kept), Some(runs_age)) = (value, kept, runs_age)
            && kept > runs_age
        {
            sink.warning(
                written.pos,
                format!(
                    "retention {key} {} is longer than runs {}: a run's {key} go with it, so they are kept {} at most",
                    written.value,
                    human_duration(runs_age),
                    human_duration(runs_age),
                ),
            );
        }
    }
    Retention {
        runs: runs_age,
        logs: logs.or(all),
        artifacts: artifacts.or(all),
        analysis: analysis.or(all),
    }
}

/// A retention age: more than zero (zero would remove a run the moment it finished). No upper
/// bound: keeping records for years is what some teams must do.
fn age(key: &str, d: &Spanned<DurationValue>, sink: &mut Sink<'_>) -> Option<Duration> {
    match d.value.to_std() {
        None => sink.error(
            d.pos,
            format!(
                "retention {key} {} is negative (expected an age like 30d or 12h)",
                d.value
            ),
        ),
        Some(age) if age.is_zero() => sink.error(
            d.pos,
            format!("retention {key} must be more than 0s (expected an age like 30d or 12h)"),
        ),
        Some(age) => return Some(age),
    }
    None
}
