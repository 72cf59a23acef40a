//! Durations as k6 writes them (Go's `time.ParseDuration`): `30s`, `1m30s`, `500ms`, `1.5h`.

use std::time::Duration;

/// Parses `text`, or says what a duration looks like.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (expected e.g. 500ms, 30s, 1m30s, 2h)");
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = trimmed;
    let mut total = 0.0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// A duration for people: `1m30s`, `250ms`, `2h0m0s` as k6 prints them.
pub fn format(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let seconds = duration.as_secs_f64();
    let whole = duration.as_secs();
    let (h, m) = (whole / 3600, (whole % 3600) / 60);
    let s = seconds - (h * 3600 + m * 60) as f64;
    let s = if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    };
    match (h, m) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        for (text, millis) in [
            ("0", 0),
            ("500ms", 500),
            ("30s", 30_000),
            ("1m30s", 90_000),
            ("1.5s", 1_500),
            ("2h", 7_200_000),
            ("1h2m3s", 3_723_000),
            ("250us", 0),
        ] {
            assert_eq!(parse(text).unwrap().as_millis(), millis, "{text}");
        }
        for bad in ["", "30", "s", "3 s", "1x", "-1s", "1..2s"] {
            assert_eq!(
                parse(bad).unwrap_err(),
                format!("`{bad}` is not a duration (expected e.g. 500ms, 30s, 1m30s, 2h)")
            );
        }
    }

    #[test]
    fn durations_format_as_k6_prints_them() {
        for (millis, text) in [
            (250, "250ms"),
            (30_000, "30s"),
            (90_000, "1m30s"),
            (1_500, "1.5s"),
            (7_200_000, "2h0m0s"),
        ] {
            assert_eq!(format(Duration::from_millis(millis)), text);
        }
    }
}
