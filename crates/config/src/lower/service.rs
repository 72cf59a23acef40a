//! A service: replicas, how a revision runs, probes, then its analysis and strategy.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bellwether_core::spec::{Probe, RunSpec, ServiceSpec, Strategy, VerifySpec};

use super::provider::{self, Table};
use super::scalars::{Zero, duration_or};
use super::strategy::{self, ServiceCx};
use super::{analysis, names, traffic};
use crate::diagnostic::Sink;
use crate::model::{ProbeForm, RunConfig, ServiceConfig};
use crate::span::Spanned;

const DEFAULT_PORT_ENV: &str = "PORT";
const DEFAULT_PROGRESS_DEADLINE: Duration = Duration::from_secs(600);
const DEFAULT_REVISION_HISTORY_LIMIT: u32 = 10;
/// Without a probe path, a replica is ready once it answers HTTP at all.
const DEFAULT_PROBE_PATH: &str = "/";

pub(super) fn lower(
    name: &Spanned<String>,
    service: &Spanned<ServiceConfig>,
    providers: &Table,
    environments: &[&str],
    services: &[&str],
    suites: &BTreeMap<String, VerifySpec>,
    sink: &mut Sink<'_>,
) -> ServiceSpec {
    names::service(name, sink);
    let s = &service.value;
    let replicas = match &s.replicas {
        Some(r) if r.value.0 == 0 => {
            sink.error(r.pos, "replicas 0 runs nothing (expected 1 or more)");
            1
        }
        Some(r) => r.value.0,
        None => 1,
    };
    let run = match &s.run {
        Some(run) => run_spec(run, sink),
        None => {
            sink.error(
                name.pos,
                format!(
                    "service `{}` has no `run` (expected e.g. `run: {{command: [\"./api\"]}}`)",
                    name.value
                ),
            );
            RunSpec::default()
        }
    };
    if let (Some(health), Some(_)) = (&s.health, &s.readiness) {
        sink.error(health.pos, "`health` and `readiness` are both set (`health` is shorthand for `readiness`; expected one of them)");
    }
    let readiness = s
        .readiness
        .as_ref()
        .or(s.health.as_ref())
        .map_or_else(|| Probe::http(DEFAULT_PROBE_PATH), |p| probe(p, sink));
    let liveness = s.liveness.as_ref().map(|p| probe(p, sink));
    let routing = s.traffic_routing.as_ref().map(|r| &r.value);
    let metrics = analysis::metrics(s.analysis.as_ref(), &name.value, routing, providers, sink);
    let cx = ServiceCx {
        name: &name.value,
        replicas,
        metrics: metrics.names.iter().map(String::as_str).collect(),
        judge: metrics.judge.is_some(),
        suites: suites.keys().map(String::as_str).collect(),
        args: &metrics.args,
    };
    let strategy = strategy::lower(s.strategy.as_ref(), &cx, sink);
    let post_rollback_analysis = s
        .post_rollback_analysis
        .as_ref()
        .map(|a| strategy::analysis_ref(a, &cx, sink));
    let mut verify: Vec<VerifySpec> = Vec::new();
    let analyses = strategy
        .analyses()
        .into_iter()
        .chain(&post_rollback_analysis);
    for name in analyses.flat_map(|a| &a.verify) {
        if let Some(suite) = suites.get(name).filter(|s| !verify.contains(s)) {
            verify.push(suite.clone());
        }
    }
    if let Some(judge) = &metrics.judge {
        analysis::judge::check_asked_for(judge.pos, &strategy, sink);
    }
    for env in s.environments.iter().flatten() {
        if environments.is_empty() {
            sink.error(
                env.pos,
                format!("unknown environment `{}` (no environments are declared; expected an `environments:` section that declares it)", env.value),
            );
        } else {
            names::reference("environment", env, environments, sink);
        }
    }
    for dependency in s.depends_on.iter().flatten() {
        if dependency.value == name.value {
            sink.error(
                dependency.pos,
                format!(
                    "service `{}` depends on itself (expected other services)",
                    name.value
                ),
            );
        } else {
            names::reference("service", dependency, services, sink);
        }
    }
    let preview_listen = s
        .preview_listen
        .as_ref()
        .and_then(|l| address("previewListen", l, sink));
    if let (Some(preview), Some(written)) = (preview_listen, &s.preview_listen) {
        if !matches!(strategy, Strategy::BlueGreen(_)) {
            sink.warning(
                written.pos,
                "previewListen is only used by a blueGreen strategy (expected it left out, or `strategy: {blueGreen: ...}`)",
            );
        }
        let listen = s.listen.as_ref().and_then(|l| parse_address(&l.value));
        // Port 0 asks for a free port each time, so two of them never collide.
        if listen == Some(preview) && preview.port() != 0 {
            sink.error(
                written.pos,
                format!(
                    "previewListen {preview} is also the service's `listen` (expected another port)"
                ),
            );
        }
    }
    let traffic = traffic::lower(s.traffic_routing.as_ref(), &strategy, sink);
    ServiceSpec {
        name: name.value.clone(),
        replicas,
        run,
        readiness,
        liveness,
        strategy,
        progress_deadline: duration_or(
            s.progress_deadline.as_ref(),
            "progressDeadline",
            Zero::Rejected,
            DEFAULT_PROGRESS_DEADLINE,
            sink,
        ),
        revision_history_limit: s
            .revision_history_limit
            .as_ref()
            .map_or(DEFAULT_REVISION_HISTORY_LIMIT, |l| l.value.0),
        metrics: metrics.specs,
        judge: metrics.judge.map(|j| j.value),
        environments: s
            .environments
            .iter()
            .flatten()
            .map(|e| e.value.clone())
            .collect(),
        depends_on: s
            .depends_on
            .iter()
            .flatten()
            .map(|d| d.value.clone())
            .collect(),
        listen: s.listen.as_ref().and_then(|l| address("listen", l, sink)),
        preview_listen,
        verify,
        post_rollback_analysis,
        traffic,
    }
}

/// Reads a listen address written as `ip:port` or `localhost:port` (127.0.0.1).
fn parse_address(written: &str) -> Option<SocketAddr> {
    let written = written.trim();
    match written.strip_prefix("localhost:") {
        Some(port) => Some(SocketAddr::from(([127, 0, 0, 1], port.parse().ok()?))),
        None => written.parse().ok(),
    }
}

fn address(key: &str, written: &Spanned<String>, sink: &mut Sink<'_>) -> Option<SocketAddr> {
    match parse_address(&written.value) {
        Some(addr) => Some(addr),
        None => {
            sink.error(
                written.pos,
                format!(
                    "{key} `{}` is not an address (expected an IP address or localhost, and a port, e.g. 127.0.0.1:8080)",
                    written.value
                ),
            );
            None
        }
    }
}

fn run_spec(run: &Spanned<RunConfig>, sink: &mut Sink<'_>) -> RunSpec {
    let r = &run.value;
    let mut command = Vec::new();
    match &r.command {
        Some(c) if provider::command(c, sink) => command.extend(c.value.0.iter().cloned()),
        Some(_) => {}
        None if r.image.is_none() => {
            sink.error(run.pos, "`run` needs a `command` (expected e.g. `command: [\"./api\"]`, or an `image` for platforms that run images)");
        }
        None => {}
    }
    command.extend(r.args.iter().cloned());
    let port_env = match &r.port_env {
        Some(p) => {
            names::env_var("portEnv", p, sink);
            p.value.clone()
        }
        None => DEFAULT_PORT_ENV.to_owned(),
    };
    for (key, _) in r.env.iter() {
        names::env_var("env name", key, sink);
        if key.value == port_env {
            sink.warning(
                key.pos,
                format!("env sets {port_env}, which bellwether sets to each replica's own port (expected it left out, or another `portEnv`)"),
            );
        }
    }
    let mut secrets: Vec<String> = Vec::new();
    for name in &r.secrets {
        if !names::secret("secret name", name, sink) {
            continue;
        }
        if name.value == port_env || r.env.iter().any(|(k, _)| k.value == name.value) {
            sink.error(
                name.pos,
                format!("`{}` is already an environment variable of the replicas (expected a secret's own name)", name.value),
            );
        } else if secrets.contains(&name.value) {
            sink.error(name.pos, format!("secret `{}` is listed twice", name.value));
        } else {
            secrets.push(name.value.clone());
        }
    }
    RunSpec {
        secrets,
        command,
        env: r
            .env
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect(),
        workdir: r.workdir.as_ref().map(|w| w.value.clone()),
        port_env,
        image: r.image.as_ref().map(|i| i.value.clone()),
    }
}

fn probe(form: &Spanned<ProbeForm>, sink: &mut Sink<'_>) -> Probe {
    let p = &form.value.0;
    let defaults = Probe::http(DEFAULT_PROBE_PATH);
    let path = match &p.path {
        Some(path) if !path.value.starts_with('/') => {
            let at = path.pos.or(form.pos);
            sink.error(
                at,
                format!(
                    "probe path `{}` must start with `/` (expected e.g. /health)",
                    path.value
                ),
            );
            defaults.path.clone()
        }
        Some(path) => path.value.clone(),
        None => defaults.path.clone(),
    };
    let threshold = |t: &Option<Spanned<crate::values::Whole<u32>>>,
                     key: &str,
                     default: u32,
                     sink: &mut Sink<'_>| match t {
        Some(t) if t.value.0 == 0 => {
            sink.error(
                t.pos,
                format!("{key} 0 can never be reached (expected 1 or more)"),
            );
            default
        }
        Some(t) => t.value.0,
        None => default,
    };
    Probe {
        path,
        interval: duration_or(
            p.interval.as_ref(),
            "interval",
            Zero::Rejected,
            defaults.interval,
            sink,
        ),
        timeout: duration_or(
            p.timeout.as_ref(),
            "timeout",
            Zero::Rejected,
            defaults.timeout,
            sink,
        ),
        initial_delay: duration_or(
            p.initial_delay.as_ref(),
            "initialDelay",
            Zero::Allowed,
            defaults.initial_delay,
            sink,
        ),
        failure_threshold: threshold(
            &p.failure_threshold,
            "failureThreshold",
            defaults.failure_threshold,
            sink,
        ),
        success_threshold: threshold(
            &p.success_threshold,
            "successThreshold",
            defaults.success_threshold,
            sink,
        ),
    }
}
