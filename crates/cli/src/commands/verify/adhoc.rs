//! Checks written on the command line: a URL, `tcp://HOST:PORT` or `tls://HOST:PORT`, shaped
//! by flags that mirror the keys of `checks:` in bellwether.yaml.

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_core::spec::{
    BodyMatch, CheckSpec, CheckTarget, Expect, HeaderExpect, HttpCheck, StatusRange, TlsCheck,
    VerifySpec,
};
use bellwether_verify::parse_json_expect;
use clap::Args;

/// What a suite's timeout allows beyond its duration, for its last round's checks.
pub(super) const TIMEOUT_SLACK: Duration = Duration::from_secs(60);

/// How a check written as a URL is made and judged.
#[derive(Debug, Args)]
pub(crate) struct Shape {
    /// The request method.
    #[arg(short = 'X', long, default_value = "GET")]
    pub(crate) method: String,
    /// A request header, `NAME: VALUE` (may be repeated).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// The request body.
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    pub(crate) body: Option<String>,
    /// A status that passes: 200, or a class such as 2xx (may be repeated) [default: 2xx].
    #[arg(long)]
    pub(crate) status: Vec<String>,
    /// Text the body must contain.
    #[arg(long, conflicts_with = "body_regex")]
    pub(crate) body_contains: Option<String>,
    /// A regular expression that must match somewhere in the body.
    #[arg(long)]
    pub(crate) body_regex: Option<String>,
    /// A value the JSON body must hold, `$.status=ok` (may be repeated).
    #[arg(long, value_name = "PATH=VALUE")]
    pub(crate) json_path: Vec<String>,
    /// A response header that must be present, with this value after `:` when one is given
    /// (may be repeated).
    #[arg(long, value_name = "NAME[: VALUE]")]
    pub(crate) expect_header: Vec<String>,
    /// An attempt slower than this fails.
    #[arg(long, default_value = "10s", value_parser = crate::commands::parse_duration)]
    pub(crate) max_time: Duration,
    /// Attempts after a failed one before the check fails.
    #[arg(long, default_value_t = 0)]
    pub(crate) retries: u32,
    /// The wait between attempts.
    #[arg(long, default_value = "1s", value_parser = crate::commands::parse_duration)]
    pub(crate) backoff: Duration,
    /// The certificate of an https:// or tls:// target must stay valid this many more days.
    #[arg(long, value_name = "DAYS")]
    pub(crate) tls_min_days: Option<u32>,
    /// A PEM file of the certificates to trust instead of the system's.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub(crate) ca: Option<String>,
    /// Accept any certificate (its expiry is still checked).
    #[arg(long)]
    pub(crate) insecure: bool,
}

/// Whether a target is written out rather than a name from the project file.
pub(super) fn is_target(text: &str) -> bool {
    ["http://", "https://", "tcp://", "tls://"]
        .iter()
        .any(|scheme| text.starts_with(scheme))
}

impl Shape {
    /// The check `target` names, shaped by the flags.
    pub(super) fn check(&self, target: &str) -> anyhow::Result<CheckSpec> {
        let tls = TlsCheck {
            min_days: self.tls_min_days,
            ca: self.ca.clone(),
            insecure: self.insecure,
            server_name: None,
        };
        let mut name = target;
        let check = if let Some(address) = target
            .strip_prefix("tcp://")
            .or_else(|| target.strip_prefix("tls://"))
        {
            let handshake = target.starts_with("tls://") || tls != TlsCheck::default();
            name = address;
            CheckTarget::Tcp {
                address: address.trim_end_matches('/').to_owned(),
                tls: handshake.then_some(tls),
            }
        } else {
            CheckTarget::Http(HttpCheck {
                url: target.to_owned(),
                method: self.method.to_ascii_uppercase(),
                headers: self.headers()?,
                body: self.body.clone(),
                expect: self.expect()?,
                tls,
            })
        };
        Ok(CheckSpec {
            name: name.to_owned(),
            target: check,
            max_time: self.max_time,
            retries: self.retries,
            backoff: self.backoff,
        })
    }

    fn headers(&self) -> anyhow::Result<BTreeMap<String, String>> {
        self.headers
            .iter()
            .map(|h| {
                let (name, value) = h.split_once(':').ok_or_else(|| {
                    anyhow::anyhow!(
                        "header `{h}` is not NAME: VALUE (e.g. `Accept: application/json`)"
                    )
                })?;
                Ok((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect()
    }

    fn expect(&self) -> anyhow::Result<Expect> {
        let mut expect = Expect::default();
        if !self.status.is_empty() {
            expect.status = self
                .status
                .iter()
                .map(|s| {
                    StatusRange::parse(s).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--status `{s}` is not an HTTP status (expected e.g. 200 or 2xx)"
                        )
                    })
                })
                .collect::<anyhow::Result<_>>()?;
        }
        expect.body = match (&self.body_contains, &self.body_regex) {
            (Some(text), _) => Some(BodyMatch::Contains(text.clone())),
            (None, Some(pattern)) => {
                regex::Regex::new(pattern).map_err(|e| {
                    anyhow::anyhow!("--body-regex `{pattern}` is not a regular expression: {e}")
                })?;
                Some(BodyMatch::Regex(pattern.clone()))
            }
            (None, None) => None,
        };
        expect.json = self
            .json_path
            .iter()
            .map(|p| parse_json_expect(p).map_err(|e| anyhow::anyhow!("--json-path: {e}")))
            .collect::<anyhow::Result<_>>()?;
        expect.headers = self
            .expect_header
            .iter()
            .map(|h| match h.split_once(':') {
                Some((name, value)) => HeaderExpect {
                    name: name.trim().to_owned(),
                    value: Some(value.trim().to_owned()),
                },
                None => HeaderExpect {
                    name: h.trim().to_owned(),
                    value: None,
                },
            })
            .collect();
        Ok(expect)
    }
}

/// A suite of the checks written on the command line: one round in which all must pass,
/// unless the flags say otherwise.
pub(super) fn suite(checks: Vec<CheckSpec>) -> VerifySpec {
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    VerifySpec {
        name: names.join(", "),
        checks,
        duration: Duration::ZERO,
        interval: Duration::from_secs(10),
        min_success_rate: 1.0,
        timeout: TIMEOUT_SLACK,
    }
}
