//! `--out json`: k6's JSON output, one object per line: a `Metric` line declaring each metric,
//! then a `Point` line per sample with its time, value and tags.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::metrics::{Kind, Metric, Sample, Tags};

/// The lines declaring every metric, with the thresholds written on each.
pub fn declarations(thresholds: &[(Metric, String)]) -> String {
    let mut out = String::new();
    for metric in Metric::ALL {
        let (kind, contains) = match metric.kind() {
            Kind::Trend => ("trend", "time"),
            Kind::Rate => ("rate", "default"),
            Kind::Counter => ("counter", "default"),
            Kind::Gauge => ("gauge", "default"),
        };
        let written: Vec<&str> = thresholds
            .iter()
            .filter(|(m, _)| *m == metric)
            .map(|(_, t)| t.as_str())
            .collect();
        let line = serde_json::json!({
            "type": "Metric",
            "data": {
                "name": metric.name(),
                "type": kind,
                "contains": contains,
                "thresholds": written,
                "submetrics": null,
            },
            "metric": metric.name(),
        });
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The `Point` lines of one sample at `time` (a check's line is named by `tags.check`).
pub fn points(sample: Sample, tags: &Tags<'_>, time: SystemTime) -> String {
    let time = rfc3339(time);
    let mut out = String::new();
    let mut point = |metric: Metric, value: f64, tags: &Tags<'_>| {
        let mut tag_object = serde_json::Map::new();
        for (key, value) in [
            ("scenario", tags.scenario),
            ("name", tags.name),
            ("method", tags.method),
            ("url", tags.url),
            ("check", tags.check),
        ] {
            if !value.is_empty() {
                tag_object.insert(key.to_owned(), value.into());
            }
        }
        if matches!(
            metric,
            Metric::HttpReqs | Metric::HttpReqDuration | Metric::HttpReqFailed
        ) {
            tag_object.insert("status".to_owned(), tags.status.to_string().into());
            tag_object.insert(
                "expected_response".to_owned(),
                crate::metrics::expected(tags.status).to_string().into(),
            );
        }
        let line = serde_json::json!({
            "metric": metric.name(),
            "type": "Point",
            "data": { "time": time, "value": value, "tags": tag_object },
        });
        let _ = writeln!(out, "{line}");
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    match sample {
        Sample::Request { duration, failed } => {
            point(Metric::HttpReqs, 1.0, tags);
            point(Metric::HttpReqDuration, ms(duration), tags);
            point(Metric::HttpReqFailed, f64::from(u8::from(failed)), tags);
        }
        Sample::Check { passed, .. } => point(Metric::Checks, f64::from(u8::from(passed)), tags),
        Sample::Iteration { duration } => {
            point(Metric::Iterations, 1.0, tags);
            point(Metric::IterationDuration, ms(duration), tags);
        }
        Sample::Dropped => point(Metric::DroppedIterations, 1.0, tags),
        Sample::Vus { active, max } => {
            point(Metric::Vus, active as f64, tags);
            point(Metric::VusMax, max as f64, tags);
        }
    }
    out
}

/// `2026-12-06T22:14:41.123456Z`: UTC, to the microsecond.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil: the proleptic Gregorian calendar from 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_in_utc() {
        let at = |secs: u64, micros: u64| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(at(1_796_595_281, 123_456), "2026-12-06T22:14:41.123456Z");
    }

    #[test]
    fn a_request_is_three_points_with_its_tags() {
        let tags = Tags {
            scenario: "s",
            name: "login",
            method: "POST",
            url: "http://h/login",
            status: 503,
            check: "",
        };
        let sample = Sample::Request {
            duration: Duration::from_micros(1500),
            failed: true,
        };
        let text = points(sample, &tags, UNIX_EPOCH);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let metrics: Vec<&str> = lines
            .iter()
            .map(|l| l["metric"].as_str().unwrap())
            .collect();
        assert_eq!(
            metrics,
            ["http_reqs", "http_req_duration", "http_req_failed"]
        );
        assert_eq!(lines[1]["data"]["value"], 1.5);
        assert_eq!(lines[2]["data"]["value"], 1.0);
        assert_eq!(
            lines[0]["data"]["tags"],
            serde_json::json!({"scenario": "s", "name": "login", "method": "POST",
                "url": "http://h/login", "status": "503", "expected_response": "false"})
        );
        assert_eq!(lines[0]["data"]["time"], "1970-01-01T00:00:00.000000Z");
    }
}
