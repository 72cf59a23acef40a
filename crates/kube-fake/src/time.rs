//! The cluster's clock, as the API writes times: whole seconds in metadata, nanoseconds in log
//! timestamps, both RFC 3339 in UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Now;

impl Now {
    pub(crate) fn seconds(self) -> String {
        let now = OffsetDateTime::now_utc();
        let whole = now.replace_nanosecond(0).unwrap_or(now);
        whole.format(&Rfc3339).unwrap_or_default()
    }
}

/// A log timestamp as the kubelet writes it: nanoseconds, always nine digits.
pub(crate) fn log_timestamp(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond()
    )
}

pub(crate) fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}
