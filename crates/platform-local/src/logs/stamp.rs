//! The time at the start of each line of a log file: `2026-12-07T09:00:00.123456789Z ` and
//! the line as the replica wrote it. Files written before lines were stamped read as lines
//! without a time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bellwether_core::time::Timestamp;

/// The stamp's length with the space after it: RFC 3339 in UTC to the nanosecond is always 30
/// bytes (for years 1000 to 9999).
pub(crate) const LEN: usize = 31;

/// The stamp of the lines that arrive at `at`: made once for all the lines of one read.
pub(crate) fn at(at: SystemTime) -> String {
    humantime::format_rfc3339_nanos(at).to_string()
}

/// Writes `line`, after `stamp` (from [`at`]), and a newline to `out`.
pub(crate) fn write(out: &mut Vec<u8>, stamp: &str, line: &[u8]) {
    out.extend_from_slice(stamp.as_bytes());
    out.push(b' ');
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// A line of a log file as its time (when it has one) and the replica's text.
pub(crate) fn parse(line: &[u8]) -> (Option<Timestamp>, &[u8]) {
    let time = line
        .get(..LEN)
        .filter(|head| head[LEN - 1] == b' ')
        .and_then(|head| std::str::from_utf8(&head[..LEN - 1]).ok())
        .and_then(|text| humantime::parse_rfc3339(text).ok())
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok());
    match time {
        Some(since) => (Some(Timestamp::from_millis(millis(since))), &line[LEN..]),
        None => (None, line),
    }
}

fn millis(since: Duration) -> u64 {
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_line_reads_back_as_its_time_and_text() {
        let at = UNIX_EPOCH + Duration::from_nanos(1_796_634_000_123_456_789);
        let mut out = Vec::new();
        write(&mut out, &super::at(at), b"hello world");
        assert_eq!(out, b"2026-12-07T09:00:00.123456789Z hello world\n");
        let (time, text) = parse(&out[..out.len() - 1]);
        assert_eq!(time, Some(Timestamp::from_millis(1_796_634_000_123)));
        assert_eq!(text, b"hello world");
        // A whole second is written with its nanoseconds all the same.
        let mut whole = Vec::new();
        write(
            &mut whole,
            &super::at(UNIX_EPOCH + Duration::from_secs(1_796_634_000)),
            b"",
        );
        assert_eq!(whole.len(), LEN + 1);
    }

    #[test]
    fn a_line_without_a_stamp_is_all_text() {
        for line in [
            &b"plain output"[..],
            b"",
            b"2026-12-07T09:00:00Z short stamp",
            b"2026-13-07T09:00:00.123456789Z bad month",
            b"2026-12-07T09:00:00.123456789Zno space",
        ] {
            assert_eq!(parse(line), (None, line));
        }
    }
}
