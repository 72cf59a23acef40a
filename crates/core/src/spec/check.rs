//! Verification: named checks of a running service (an HTTP request and what its answer must
//! show, or a TCP connection, with or without TLS) and suites of them run repeatedly against a
//! minimum success rate. `bellwether check` and `bellwether verify` run them, and so do
//! pipeline steps and rollouts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One check: what to reach, what the answer must show, how long it may take and how often it
/// is tried before it fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckSpec {
    pub name: String,
    pub target: CheckTarget,
    /// An attempt slower than this fails: the whole answer for HTTP, the connection (and
    /// handshake) for TCP.
    pub max_time: Duration,
    /// Attempts after a failed one before the check fails.
    pub retries: u32,
    /// The wait between attempts.
    pub backoff: Duration,
}

/// What a check reaches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckTarget {
    Http(HttpCheck),
    /// A TCP connection to `host:port`, and a TLS handshake over it when `tls` is set.
    Tcp {
        address: String,
        tls: Option<TlsCheck>,
    },
}

/// An HTTP request and what its answer must show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpCheck {
    /// An absolute `http://` or `https://` URL, or a path (`/healthz`) taken relative to the
    /// address under test: the revision in a rollout, `--target` on the command line.
    pub url: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub expect: Expect,
    /// For `https://` URLs: whom to trust and how long the certificate must still be valid.
    pub tls: TlsCheck,
}

impl HttpCheck {
    /// A `GET` of `url` that expects any 2xx answer.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: "GET".into(),
            headers: BTreeMap::new(),
            body: None,
            expect: Expect::default(),
            tls: TlsCheck::default(),
        }
    }
}

/// What an HTTP answer must show. Every rule must hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expect {
    /// The status must fall in one of these ranges.
    pub status: Vec<StatusRange>,
    pub body: Option<BodyMatch>,
    /// The JSON body must hold these values at these paths (`$.status` = `"ok"`).
    pub json: Vec<JsonExpect>,
    /// Response headers that must be present, with this exact value when one is given.
    pub headers: Vec<HeaderExpect>,
}

impl Default for Expect {
    fn default() -> Self {
        Self {
            status: vec![StatusRange::SUCCESS],
            body: None,
            json: Vec::new(),
            headers: Vec::new(),
        }
    }
}

/// Statuses from `low` to `high`, both included: `200` is 200–200, `2xx` is 200–299.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRange {
    pub low: u16,
    pub high: u16,
}

impl StatusRange {
    pub const SUCCESS: Self = Self {
        low: 200,
        high: 299,
    };

    pub fn contains(self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }

    /// `200`, or a class such as `2xx`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(class) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
            let digit = class.parse::<u16>().ok().filter(|d| (1..=5).contains(d))?;
            return Some(Self {
                low: digit * 100,
                high: digit * 100 + 99,
            });
        }
        let status = text
            .parse::<u16>()
            .ok()
            .filter(|s| (100..=599).contains(s))?;
        Some(Self {
            low: status,
            high: status,
        })
    }
}

impl std::fmt::Display for StatusRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else if self.low.is_multiple_of(100) && self.high == self.low + 99 {
            write!(f, "{}xx", self.low / 100)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// What the body must contain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyMatch {
    Contains(String),
    /// A regular expression (Rust's `regex` syntax) that must match somewhere in the body.
    Regex(String),
}

/// A value the JSON body must hold at a path; numbers compare as numbers (`1` equals `1.0`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonExpect {
    pub path: String,
    pub equals: serde_json::Value,
}

/// A response header that must be present (names compare without case), with this exact
/// value when `value` is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderExpect {
    pub name: String,
    pub value: Option<String>,
}

/// How a TLS connection is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsCheck {
    /// The certificate must stay valid at least this many more days.
    pub min_days: Option<u32>,
    /// A PEM file of the certificates to trust instead of the system's.
    pub ca: Option<String>,
    /// Accept any certificate (its expiry is still checked): for self-signed test servers.
    pub insecure: bool,
    /// The name to verify the certificate for, when it is not the host connected to.
    pub server_name: Option<String>,
}

/// A suite: checks run together every `interval` for `duration`, passing when at least
/// `min_success_rate` of all their attempts passed, and failing as soon as it no longer can.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifySpec {
    pub name: String,
    pub checks: Vec<CheckSpec>,
    /// How long rounds go on; zero runs one round.
    pub duration: Duration,
    pub interval: Duration,
    /// A share from 0 to 1 of the attempts that must pass.
    pub min_success_rate: f64,
    /// The most the whole suite may take, slow checks included; past it the suite fails.
    pub timeout: Duration,
}

impl VerifySpec {
    /// One check on its own as a suite: one round, which it must pass, within the time its
    /// attempts may take.
    pub fn once(check: CheckSpec) -> Self {
        let attempts = check.retries.saturating_add(1);
        let timeout = (check.max_time + check.backoff) * attempts;
        Self {
            name: check.name.clone(),
            checks: vec![check],
            duration: Duration::ZERO,
            interval: Duration::from_secs(1),
            min_success_rate: 1.0,
            timeout,
        }
    }

    /// How many rounds the suite plans: one at the start, then one every `interval` while
    /// `duration` lasts.
    pub fn rounds(&self) -> u32 {
        if self.duration.is_zero() || self.interval.is_zero() {
            return 1;
        }
        let rounds = self.duration.as_millis() / self.interval.as_millis() + 1;
        u32::try_from(rounds).unwrap_or(u32::MAX)
    }
}
