//! Text helpers for the verbs' tables: aligned columns, times and counts as people read them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bellwether_core::time::{Timestamp, human_duration};

/// Columns padded to their widest cell, two spaces apart, no trailing spaces.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The control plane's timestamps are milliseconds since the Unix epoch.
pub(crate) fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_millis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// `12:03:04Z`.
pub(crate) fn clock(at: Timestamp) -> String {
    let secs = at.as_millis() / 1000;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    format!("{h:02}:{m:02}:{s:02}Z")
}

/// `2025-01-02 12:03:04Z`.
pub(crate) fn date_time(at: Timestamp) -> String {
    let days = i64::try_from(at.as_millis() / 86_400_000).unwrap_or(i64::MAX);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {}", clock(at))
}

/// How long before `now` an instant was, to the second: `3s ago`, `2m5s ago`.
pub(crate) fn ago(now: Timestamp, at: Timestamp) -> String {
    let secs = now.since(at).as_secs();
    if secs == 0 {
        return "just now".to_owned();
    }
    format!("{} ago", human_duration(Duration::from_secs(secs)))
}

/// `2413` → `2,413`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_times_and_counts_read_as_people_write_them() {
        assert_eq!(date_time(Timestamp::from_millis(0)), "1970-01-01 00:00:00Z");
        assert_eq!(
            date_time(Timestamp::from_millis(1_709_251_199_000)),
            "2024-02-29 23:59:59Z"
        );
        assert_eq!(thousands(2413), "2,413");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        let now = Timestamp::from_millis(200_000);
        assert_eq!(ago(now, Timestamp::from_millis(75_000)), "2m5s ago");
        assert_eq!(ago(now, now), "just now");
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["1".to_owned(), "v1".to_owned(), String::new()],
            vec!["12".to_owned(), "v2-long".to_owned(), "x".to_owned()],
        ];
        assert_eq!(
            table(&["REV", "VERSION", "NOTE"], &rows),
            "REV  VERSION  NOTE\n1    v1\n12   v2-long  x\n"
        );
    }
}
