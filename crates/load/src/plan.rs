//! A load file checked and lowered into a [`Plan`]: every problem found with its
//! `file:line:column` and what was expected, in one pass. No I/O: a CSV file named by a request
//! is read through the caller's function.

use std::fmt;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Uri};
use serde_saphyr::{Location, Spanned};

use crate::duration;
use crate::file::{self, ChecksFile, LoadFile, RequestFile, ScenarioFile};
use crate::metrics::{Selector, Tag};
use crate::schedule::{RateRamp, Stage, VuRamp};
use crate::template::{Template, Variants};
use crate::threshold::{self, Expr, Threshold};

/// What a load test does: its scenarios, the requests of each iteration and the thresholds.
#[derive(Clone, Debug)]
pub struct Plan {
    pub scenarios: Vec<Scenario>,
    /// One iteration sends each in order.
    pub requests: Vec<Request>,
    /// Each check's name, by id.
    pub checks: Vec<String>,
    pub thresholds: Vec<Threshold>,
    /// The sub-metrics the thresholds select, each once.
    pub sub_metrics: Vec<Selector>,
}

/// A scenario: an executor and when it starts.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub executor: Executor,
    pub start_time: Duration,
    /// How long iterations still running at the end may take to finish.
    pub graceful_stop: Duration,
}

/// How a scenario schedules iterations.
#[derive(Clone, Debug)]
pub enum Executor {
    /// `constant-vus`, `ramping-vus`: each VU loops over iterations while it is wanted.
    Vus { ramping: bool, ramp: VuRamp },
    /// `constant-arrival-rate`, `ramping-arrival-rate`: iterations start on a schedule of their
    /// own, each on a free VU; one that finds none, with `max_vus` busy, is dropped.
    Arrival {
        ramping: bool,
        ramp: RateRamp,
        pre_allocated: u32,
        max_vus: u32,
    },
}

impl Scenario {
    /// How long it schedules iterations, from its start time.
    pub fn duration(&self) -> Duration {
        match &self.executor {
            Executor::Vus { ramp, .. } => ramp.duration(),
            Executor::Arrival { ramp, .. } => ramp.duration(),
        }
    }

    pub fn max_vus(&self) -> u32 {
        match &self.executor {
            Executor::Vus { ramp, .. } => ramp.max(),
            Executor::Arrival { max_vus, .. } => *max_vus,
        }
    }

    /// One line as k6's header prints it.
    pub fn describe(&self) -> String {
        let stop = duration::format(self.graceful_stop);
        let length = duration::format(self.duration());
        match &self.executor {
            Executor::Vus {
                ramping: false,
                ramp,
            } => {
                format!(
                    "{} looping VUs for {length} (gracefulStop: {stop})",
                    ramp.max()
                )
            }
            Executor::Vus {
                ramping: true,
                ramp,
            } => format!(
                "Up to {} looping VUs for {length} over {} stages (gracefulStop: {stop})",
                ramp.max(),
                ramp.stages.len()
            ),
            Executor::Arrival {
                ramping,
                ramp,
                pre_allocated,
                max_vus,
            } => {
                let peak = ramp
                    .stages
                    .iter()
                    .map(|s| s.target)
                    .fold(ramp.start, f64::max);
                let over = if *ramping {
                    format!(" over {} stages", ramp.stages.len())
                } else {
                    String::new()
                };
                format!(
                    "{}{peak:.2} iterations/s for {length}{over} (maxVUs: {pre_allocated}-{max_vus}, gracefulStop: {stop})",
                    if *ramping { "Up to " } else { "" }
                )
            }
        }
    }
}

/// One request of an iteration.
#[derive(Clone, Debug)]
pub struct Request {
    /// The `name` tag: as written, or the URL.
    pub name: String,
    pub method: Method,
    pub url: Template,
    pub headers: Vec<(HeaderName, Template)>,
    pub body: Option<Template>,
    /// Rows for the placeholders, one per iteration in turn; none without placeholders.
    pub variants: Variants,
    /// Think time after the response.
    pub sleep: Duration,
    pub timeout: Duration,
    pub checks: Vec<Check>,
}

/// A check of a response; `id` indexes [`Plan::checks`].
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub id: usize,
    pub rule: Rule,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    Status(u16),
    BodyContains(String),
    MaxDuration(Duration),
}

impl Rule {
    fn describe(&self) -> String {
        match self {
            Rule::Status(s) => format!("status is {s}"),
            Rule::BodyContains(text) => format!("body contains {text:?}"),
            Rule::MaxDuration(d) => format!("duration < {}", duration::format(*d)),
        }
    }
}

/// What was wrong with a load file: each problem with its position.
#[derive(Debug, thiserror::Error)]
pub struct LoadError {
    pub file: String,
    pub problems: Vec<Problem>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, p.message)?;
        }
        Ok(())
    }
}

/// The default request timeout, as k6's.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The default `gracefulStop`, as k6's.
const GRACEFUL_STOP: Duration = Duration::from_secs(30);

/// Reads a load file. `read_csv` reads a file a request names (as written; the caller decides
/// what it is relative to).
pub fn load(
    file_name: &str,
    source: &str,
    read_csv: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Plan, LoadError> {
    let fail = |problems| LoadError {
        file: file_name.to_owned(),
        problems,
    };
    let parsed = file::parse(source).map_err(|(at, message)| {
        fail(vec![Problem {
            line: at.line(),
            column: at.column(),
            message,
        }])
    })?;
    let mut lower = Lower {
        problems: Vec::new(),
        read_csv,
    };
    let plan = lower.plan(parsed);
    if lower.problems.is_empty() {
        Ok(plan)
    } else {
        lower.problems.sort_by_key(|p| (p.line, p.column));
        Err(fail(lower.problems))
    }
}

struct Lower<'a> {
    problems: Vec<Problem>,
    read_csv: &'a dyn Fn(&str) -> Result<String, String>,
}

const TOP: Location = Location::UNKNOWN;

impl Lower<'_> {
    fn error(&mut self, at: Location, message: impl Into<String>) {
        let at = if at == Location::UNKNOWN {
            (1, 1)
        } else {
            (at.line(), at.column())
        };
        self.problems.push(Problem {
            line: at.0,
            column: at.1,
            message: message.into(),
        });
    }

    fn duration(&mut self, value: &Spanned<String>) -> Option<Duration> {
        duration::parse(&value.value)
            .map_err(|m| self.error(value.referenced, m))
            .ok()
    }

    fn plan(&mut self, file: LoadFile) -> Plan {
        let mut scenarios = Vec::new();
        match file.scenarios {
            None => self.error(
                TOP,
                "missing key `scenarios` (expected at least one scenario)",
            ),
            Some(s) if s.value.0.is_empty() => {
                self.error(s.referenced, "no scenarios (expected at least one)");
            }
            Some(s) => {
                for (name, scenario) in s.value.0 {
                    if let Some(s) = self.scenario(name.value, scenario) {
                        scenarios.push(s);
                    }
                }
            }
        }
        let mut checks = Vec::new();
        let mut requests = Vec::new();
        match file.requests {
            None => self.error(
                TOP,
                "missing key `requests` (expected the requests of an iteration)",
            ),
            Some(r) if r.value.is_empty() => {
                self.error(r.referenced, "no requests (expected at least one)");
            }
            Some(r) => {
                for request in r.value {
                    if let Some(r) = self.request(request, &mut checks) {
                        requests.push(r);
                    }
                }
            }
        }
        let mut thresholds = Vec::new();
        for (key, list) in file.thresholds.0 {
            let selector = match threshold::parse_selector(&key.value) {
                Ok(s) => s,
                Err(m) => {
                    self.error(key.referenced, m);
                    continue;
                }
            };
            self.known_tags(&selector, key.referenced, &scenarios, &requests);
            for entry in list.value {
                let written = &entry.value.threshold;
                let at = if written.referenced == Location::UNKNOWN {
                    entry.referenced
                } else {
                    written.referenced
                };
                let expr = match Expr::parse(&written.value, selector.metric.kind()) {
                    Ok(e) => e,
                    Err(m) => {
                        self.error(at, m);
                        continue;
                    }
                };
                let delay = match &entry.value.delay_abort_eval {
                    Some(d) => self.duration(d).unwrap_or_default(),
                    None => Duration::ZERO,
                };
                thresholds.push(Threshold {
                    selector: selector.clone(),
                    expr,
                    abort_on_fail: entry.value.abort_on_fail,
                    delay_abort_eval: delay,
                });
            }
        }
        let mut sub_metrics: Vec<Selector> = Vec::new();
        for t in &thresholds {
            if !t.selector.tags.is_empty() && !sub_metrics.contains(&t.selector) {
                sub_metrics.push(t.selector.clone());
            }
        }
        Plan {
            scenarios,
            requests,
            checks,
            thresholds,
            sub_metrics,
        }
    }

    /// A sub-metric on a request or scenario name that does not exist would stay empty and
    /// pass or fail for no reason: refused.
    fn known_tags(
        &mut self,
        selector: &Selector,
        at: Location,
        scenarios: &[Scenario],
        requests: &[Request],
    ) {
        for (tag, value) in &selector.tags {
            let names: Vec<&str> = match tag {
                Tag::Name => requests.iter().map(|r| r.name.as_str()).collect(),
                Tag::Scenario => scenarios.iter().map(|s| s.name.as_str()).collect(),
                _ => continue,
            };
            if !names.contains(&value.as_str()) && !names.is_empty() {
                self.error(
                    at,
                    format!(
                        "no {} is named `{value}` (expected one of {})",
                        if *tag == Tag::Name {
                            "request"
                        } else {
                            "scenario"
                        },
                        names.join(", ")
                    ),
                );
            }
        }
    }

    fn scenario(&mut self, name: String, s: Spanned<ScenarioFile>) -> Option<Scenario> {
        let at = s.referenced;
        let f = s.value;
        let kinds = [
            "constant-vus",
            "ramping-vus",
            "constant-arrival-rate",
            "ramping-arrival-rate",
        ];
        let kind = f.executor.value.as_str();
        let allowed: &[&str] = match kind {
            "constant-vus" => &["vus", "duration"],
            "ramping-vus" => &["startVUs", "stages"],
            "constant-arrival-rate" => {
                &["rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"]
            }
            "ramping-arrival-rate" => &[
                "startRate",
                "timeUnit",
                "stages",
                "preAllocatedVUs",
                "maxVUs",
            ],
            other => {
                self.error(
                    f.executor.referenced,
                    format!(
                        "unknown executor `{other}` (expected one of {})",
                        kinds.join(", ")
                    ),
                );
                return None;
            }
        };
        let present = [
            ("vus", f.vus.as_ref().map(|v| v.referenced)),
            ("duration", f.duration.as_ref().map(|v| v.referenced)),
            ("stages", f.stages.as_ref().map(|v| v.referenced)),
            ("startVUs", f.start_vus.as_ref().map(|v| v.referenced)),
            ("rate", f.rate.as_ref().map(|v| v.referenced)),
            ("timeUnit", f.time_unit.as_ref().map(|v| v.referenced)),
            ("startRate", f.start_rate.as_ref().map(|v| v.referenced)),
            (
                "preAllocatedVUs",
                f.pre_allocated_vus.as_ref().map(|v| v.referenced),
            ),
            ("maxVUs", f.max_vus.as_ref().map(|v| v.referenced)),
        ];
        let mut ok = true;
        for (key, where_) in present {
            if let Some(where_) = where_
                && !allowed.contains(&key)
            {
                let mut expected: Vec<&str> = allowed.to_vec();
                expected.extend(["gracefulStop", "startTime"]);
                self.error(
                    where_,
                    format!(
                        "`{key}` does not apply to {kind} (expected {})",
                        expected.join(", ")
                    ),
                );
                ok = false;
            }
        }
        let graceful_stop = match &f.graceful_stop {
            Some(d) => self.duration(d)?,
            None => GRACEFUL_STOP,
        };
        let start_time = match &f.start_time {
            Some(d) => self.duration(d)?,
            None => Duration::ZERO,
        };
        let executor = match kind {
            "constant-vus" => {
                let vus = self.positive(f.vus.as_ref(), 1, "vus")?;
                let duration = self.length(f.duration.as_ref(), at)?;
                Executor::Vus {
                    ramping: false,
                    ramp: VuRamp {
                        start: vus,
                        stages: vec![Stage {
                            duration,
                            target: f64::from(vus),
                        }],
                    },
                }
            }
            "ramping-vus" => {
                let stages = self.stages(f.stages.as_ref(), at, true)?;
                Executor::Vus {
                    ramping: true,
                    ramp: VuRamp {
                        start: f.start_vus.map_or(1, |v| v.value),
                        stages,
                    },
                }
            }
            _ => {
                let ramping = kind == "ramping-arrival-rate";
                let unit = match &f.time_unit {
                    Some(u) => match self.duration(u)? {
                        d if d.is_zero() => {
                            self.error(u.referenced, "timeUnit is 0 (expected e.g. 1s or 1m)");
                            return None;
                        }
                        d => d.as_secs_f64(),
                    },
                    None => 1.0,
                };
                let per_second = |r: f64| r / unit;
                let ramp = if ramping {
                    let start = match &f.start_rate {
                        Some(r) => self.rate(r)?,
                        None => 0.0,
                    };
                    let mut stages = self.stages(f.stages.as_ref(), at, false)?;
                    for s in &mut stages {
                        s.target = per_second(s.target);
                    }
                    RateRamp {
                        start: per_second(start),
                        stages,
                    }
                } else {
                    let Some(rate) = &f.rate else {
                        self.error(at, format!("missing key `rate` (expected the iterations per timeUnit of {kind})"));
                        return None;
                    };
                    let rate = self.rate(rate)?;
                    if rate == 0.0 {
                        self.error(
                            f.rate.as_ref().map_or(at, |r| r.referenced),
                            "rate is 0 (expected iterations per timeUnit)",
                        );
                        return None;
                    }
                    let duration = self.length(f.duration.as_ref(), at)?;
                    RateRamp {
                        start: per_second(rate),
                        stages: vec![Stage {
                            duration,
                            target: per_second(rate),
                        }],
                    }
                };
                let Some(pre) = &f.pre_allocated_vus else {
                    self.error(at, format!("missing key `preAllocatedVUs` (expected how many VUs {kind} starts with)"));
                    return None;
                };
                let pre_allocated = pre.value;
                let max_vus = f.max_vus.as_ref().map_or(pre_allocated, |m| m.value);
                if max_vus < pre_allocated {
                    self.error(
                        f.max_vus.as_ref().map_or(at, |m| m.referenced),
                        format!("maxVUs {max_vus} is below preAllocatedVUs {pre_allocated} (expected at least as many)"),
                    );
                    return None;
                }
                if max_vus == 0 {
                    self.error(
                        pre.referenced,
                        "no VUs (expected preAllocatedVUs or maxVUs of 1 or more)",
                    );
                    return None;
                }
                Executor::Arrival {
                    ramping,
                    ramp,
                    pre_allocated,
                    max_vus,
                }
            }
        };
        ok.then_some(Scenario {
            name,
            executor,
            start_time,
            graceful_stop,
        })
    }

    fn positive(&mut self, value: Option<&Spanned<u32>>, default: u32, key: &str) -> Option<u32> {
        match value {
            None => Some(default),
            Some(v) if v.value == 0 => {
                self.error(v.referenced, format!("{key} is 0 (expected 1 or more)"));
                None
            }
            Some(v) => Some(v.value),
        }
    }

    fn rate(&mut self, value: &Spanned<f64>) -> Option<f64> {
        if value.value.is_finite() && value.value >= 0.0 {
            Some(value.value)
        } else {
            self.error(
                value.referenced,
                format!("rate {} is not a rate (expected 0 or more)", value.value),
            );
            None
        }
    }

    /// A scenario's `duration`, which must be there and longer than 0.
    fn length(&mut self, value: Option<&Spanned<String>>, at: Location) -> Option<Duration> {
        let Some(value) = value else {
            self.error(at, "missing key `duration` (expected e.g. 30s)");
            return None;
        };
        match self.duration(value)? {
            d if d.is_zero() => {
                self.error(value.referenced, "duration is 0 (expected e.g. 30s)");
                None
            }
            d => Some(d),
        }
    }

    fn stages(
        &mut self,
        value: Option<&Spanned<Vec<Spanned<file::StageFile>>>>,
        at: Location,
        whole: bool,
    ) -> Option<Vec<Stage>> {
        let Some(list) = value else {
            self.error(
                at,
                "missing key `stages` (expected a list of {duration, target})",
            );
            return None;
        };
        if list.value.is_empty() {
            self.error(
                list.referenced,
                "no stages (expected a list of {duration, target})",
            );
            return None;
        }
        let mut stages = Vec::new();
        for s in &list.value {
            let duration = self.duration(&s.value.duration)?;
            let target = s.value.target.value;
            if !(target.is_finite() && target >= 0.0) || (whole && target.fract() != 0.0) {
                self.error(
                    s.value.target.referenced,
                    format!(
                        "target {target} is not {} (expected 0 or more)",
                        if whole { "a number of VUs" } else { "a rate" }
                    ),
                );
                return None;
            }
            stages.push(Stage { duration, target });
        }
        if stages.iter().all(|s| s.duration.is_zero()) {
            self.error(
                list.referenced,
                "the stages last 0s (expected a duration above 0)",
            );
            return None;
        }
        Some(stages)
    }

    fn request(&mut self, r: Spanned<RequestFile>, checks: &mut Vec<String>) -> Option<Request> {
        let f = r.value;
        let variants = match (&f.variants, &f.csv) {
            (Some(_), Some(csv)) => {
                self.error(
                    csv.referenced,
                    "both `variants` and `csv` (expected one of them)",
                );
                return None;
            }
            (Some(list), None) if list.value.is_empty() => {
                self.error(list.referenced, "no variants (expected a list of mappings)");
                return None;
            }
            (Some(list), None) => Variants::from_maps(&list.value),
            (None, Some(csv)) => {
                let read = (self.read_csv)(&csv.value).and_then(|text| {
                    Variants::from_csv(&text).map_err(|m| format!("{}: {m}", csv.value))
                });
                match read {
                    Ok(v) => v,
                    Err(m) => {
                        self.error(csv.referenced, m);
                        return None;
                    }
                }
            }
            (None, None) => Variants::default(),
        };
        let template = |lower: &mut Self, text: &Spanned<String>| {
            Template::parse(&text.value, &variants.columns)
                .map_err(|m| lower.error(text.referenced, m))
                .ok()
        };
        let url = template(self, &f.url)?;
        if let Some(fixed) = url.fixed()
            && let Err(m) = check_url(fixed)
        {
            self.error(f.url.referenced, m);
            return None;
        }
        let method = match &f.method {
            None => Method::GET,
            Some(m) => match Method::from_bytes(m.value.to_ascii_uppercase().as_bytes()) {
                Ok(method) => method,
                Err(_) => {
                    self.error(
                        m.referenced,
                        format!(
                            "`{}` is not an HTTP method (expected e.g. GET, POST)",
                            m.value
                        ),
                    );
                    return None;
                }
            },
        };
        let mut headers = Vec::new();
        for (key, value) in &f.headers.0 {
            let Ok(name) = HeaderName::from_bytes(key.value.as_bytes()) else {
                self.error(
                    key.referenced,
                    format!("`{}` is not a header name", key.value),
                );
                continue;
            };
            let Some(value_template) = template(self, value) else {
                continue;
            };
            if let Some(fixed) = value_template.fixed()
                && HeaderValue::from_str(fixed).is_err()
            {
                self.error(
                    value.referenced,
                    format!("`{fixed}` is not a header value (expected visible ASCII)"),
                );
                continue;
            }
            headers.push((name, value_template));
        }
        let body = match &f.body {
            Some(b) => Some(template(self, b)?),
            None => None,
        };
        let sleep = match &f.sleep {
            Some(d) => self.duration(d)?,
            None => Duration::ZERO,
        };
        let timeout = match &f.timeout {
            Some(d) => self.duration(d)?,
            None => TIMEOUT,
        };
        let name = f.name.map_or(f.url.value, |n| n.value);
        let mut rules = Vec::new();
        if let Some(ChecksFile {
            status,
            body_contains,
            max_duration,
        }) = f.checks
        {
            rules.extend(status.map(|s| Rule::Status(s.value)));
            rules.extend(body_contains.map(|b| Rule::BodyContains(b.value)));
            if let Some(d) = &max_duration {
                rules.push(Rule::MaxDuration(self.duration(d)?));
            }
        }
        let checks = rules
            .into_iter()
            .map(|rule| {
                checks.push(format!("{name}: {}", rule.describe()));
                Check {
                    id: checks.len() - 1,
                    rule,
                }
            })
            .collect();
        Some(Request {
            name,
            method,
            url,
            headers,
            body,
            variants,
            sleep,
            timeout,
            checks,
        })
    }
}

/// Whether a URL is one the engine can send to: absolute, `http://`, with a host.
pub fn check_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("`{url}` is not a URL (expected e.g. http://127.0.0.1:8080/path)"))?;
    match uri.scheme_str() {
        Some("http") if uri.authority().is_some() => Ok(uri),
        Some("https") => Err(format!(
            "`{url}` is https, which `bellwether load` does not speak yet (expected http://)"
        )),
        _ => Err(format!(
            "`{url}` is not an absolute http:// URL (expected e.g. http://127.0.0.1:8080/path)"
        )),
    }
}

#[cfg(test)]
mod tests;
