//! `bellwether router`: the built-in router on its own, in front of fixed backends, with an
//! optional admin API. Useful for trying the router and for benchmarks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bellwether_core::spec::Weight;
use bellwether_router::admin::{self, AdminToken};
use bellwether_router::{
    Balance, HeaderRouteSpec, Matcher, MirrorSpec, RevisionSpec, Router, RouterConfig, Signals,
    TableSpec,
};
use clap::{Args, ValueEnum};

use super::parse_duration;
use crate::exit::{self, Code};
use crate::output::say;

#[derive(Debug, Args)]
pub(crate) struct RouterArgs {
    /// Where clients connect.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// A revision and its replicas, `NAME=ADDR[,ADDR...]`; repeat for each revision. The first
    /// is the stable one: it receives whatever weight the others leave.
    #[arg(long = "backend", value_name = "NAME=ADDRS", required = true, value_parser = parse_backend)]
    pub(crate) backends: Vec<(String, Vec<SocketAddr>)>,
    /// A revision's share of traffic, `NAME=PERCENT` (e.g. `canary=10`, `canary=0.5%`).
    #[arg(long = "weight", value_name = "NAME=PERCENT", value_parser = parse_weight)]
    pub(crate) weights: Vec<(String, Weight)>,
    /// Send requests whose header matches to a revision first: `NAME:HEADER=VALUE` (exact),
    /// `NAME:HEADER^=PREFIX` or `NAME:HEADER~=REGEX`.
    #[arg(long = "header-route", value_name = "ROUTE", value_parser = parse_header_route)]
    pub(crate) header_routes: Vec<HeaderRouteSpec>,
    /// Copy a share of requests to a revision and discard its answers, `NAME=PERCENT`.
    #[arg(long, value_name = "NAME=PERCENT", value_parser = parse_weight)]
    pub(crate) mirror: Option<(String, Weight)>,
    /// Serve the admin API (signals, weights, header routes, /metrics) here; off loopback only with --admin-token.
    #[arg(long, value_name = "ADDR")]
    pub(crate) admin: Option<SocketAddr>,
    /// The bearer token every admin request must present (`Authorization: Bearer TOKEN`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BELLWETHER_ROUTER_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub(crate) admin_token: Option<String>,
    /// The service name in signals and metrics.
    #[arg(long, default_value = "default")]
    pub(crate) service: String,
    /// How each revision spreads requests over its replicas.
    #[arg(long, value_enum, default_value_t = BalanceArg::LeastOutstanding)]
    pub(crate) balance: BalanceArg,
    /// Time allowed to connect to a replica.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub(crate) connect_timeout: Duration,
    /// Time allowed for a backend's response head; past it the client gets 504.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub(crate) response_timeout: Duration,
    /// Time a response body may go without data; past it the response is cut off.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub(crate) body_idle_timeout: Duration,
    /// Time allowed for a client's request head; past it the client gets 408.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) header_read_timeout: Duration,
    /// An HTTP/2 connection idle this long (no byte either way) is closed.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub(crate) idle_timeout: Duration,
    /// Client connections served at once; more wait to be accepted until one closes.
    #[arg(long, default_value_t = RouterConfig::default().max_connections)]
    pub(crate) max_connections: usize,
    /// Threads serving requests, each with its own listener on the port [default: one per core].
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum BalanceArg {
    LeastOutstanding,
    RoundRobin,
}

pub(crate) fn run(args: &RouterArgs) -> anyhow::Result<Code> {
    let spec = table(args)?;
    let config = RouterConfig {
        connect_timeout: args.connect_timeout,
        response_timeout: args.response_timeout,
        body_idle_timeout: args.body_idle_timeout,
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
        ..RouterConfig::default()
    };
    let admin_token = match &args.admin_token {
        Some(token) => Some(AdminToken::new(token).context("the admin token is empty")?),
        None => None,
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let summary = summary(&spec);
    // The admin API and the wait for Ctrl-C need little: one thread is plenty.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    // Bound first, so that an admin API refused (off loopback without a token) stops the
    // router before it serves anything.
    let admin = match args.admin {
        Some(addr) => Some(runtime.block_on(admin::bind(addr, admin_token.as_ref()))?),
        None => None,
    };
    let router = Arc::new(Router::new(spec, config, Signals::new())?);
    let bound = Arc::clone(&router).serve_threads(args.listen, threads)?;
    say(&format!("router listening on {bound}\nroutes: {summary}\n"));
    runtime.block_on(async {
        if let Some(admin) = admin {
            say(&format!("admin listening on {}\n", admin.local_addr()?));
            tokio::spawn(admin::serve(router, admin, admin_token));
        }
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")
    })?;
    Ok(exit::SUCCESS)
}

/// The table the flags describe; revisions are numbered in the order given.
fn table(args: &RouterArgs) -> anyhow::Result<TableSpec> {
    let balance = match args.balance {
        BalanceArg::LeastOutstanding => Balance::LeastOutstanding,
        BalanceArg::RoundRobin => Balance::RoundRobin,
    };
    let revisions = args
        .backends
        .iter()
        .zip(1..)
        .map(|((name, replicas), number)| RevisionSpec {
            name: name.clone(),
            number,
            replicas: replicas.clone(),
            weight: Weight::ZERO,
            balance,
        })
        .collect();
    let mut spec = TableSpec {
        service: args.service.clone(),
        revisions,
        header_routes: args.header_routes.clone(),
        mirror: args.mirror.as_ref().map(|(revision, weight)| MirrorSpec {
            revision: revision.clone(),
            weight: *weight,
        }),
    };
    spec.set_weights(&args.weights)?;
    spec.validate()?;
    Ok(spec)
}

fn summary(spec: &TableSpec) -> String {
    let parts: Vec<String> = spec
        .revisions
        .iter()
        .map(|r| {
            let addrs: Vec<String> = r.replicas.iter().map(ToString::to_string).collect();
            format!("{}={} ({})", r.name, r.weight, addrs.join(", "))
        })
        .collect();
    parts.join(", ")
}

fn parse_backend(text: &str) -> Result<(String, Vec<SocketAddr>), String> {
    let (name, addrs) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=ADDR[,ADDR...]"))?;
    let addrs = addrs
        .split(',')
        .map(|a| {
            a.trim()
                .parse()
                .map_err(|_| format!("`{a}` is not an address like 127.0.0.1:9001"))
        })
        .collect::<Result<Vec<SocketAddr>, String>>()?;
    Ok((name.trim().to_owned(), addrs))
}

fn parse_weight(text: &str) -> Result<(String, Weight), String> {
    let (name, pct) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=PERCENT"))?;
    let weight = pct.parse::<Weight>().map_err(|e| e.to_string())?;
    Ok((name.trim().to_owned(), weight))
}

fn parse_header_route(text: &str) -> Result<HeaderRouteSpec, String> {
    let bad =
        || format!("`{text}` is not NAME:HEADER=VALUE, NAME:HEADER^=PREFIX or NAME:HEADER~=REGEX");
    let (revision, rule) = text.split_once(':').ok_or_else(bad)?;
    let (lhs, value) = rule.split_once('=').ok_or_else(bad)?;
    let (header, matcher) = if let Some(h) = lhs.strip_suffix('^') {
        (h, Matcher::Prefix(value.to_owned()))
    } else if let Some(h) = lhs.strip_suffix('~') {
        (h, Matcher::Regex(value.to_owned()))
    } else {
        (lhs, Matcher::Exact(value.to_owned()))
    };
    if revision.is_empty() || header.is_empty() {
        return Err(bad());
    }
    Ok(HeaderRouteSpec {
        revision: revision.to_owned(),
        header: header.to_owned(),
        matcher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_into_a_table() {
        let (name, addrs) = parse_backend("stable=127.0.0.1:9001,127.0.0.1:9002").unwrap();
        assert_eq!((name.as_str(), addrs.len()), ("stable", 2));
        assert!(parse_backend("stable").is_err());
        assert!(parse_backend("stable=localhost").is_err());
        assert_eq!(parse_weight("canary=0.5%").unwrap().1.basis_points(), 50);
        assert!(parse_weight("canary=101").is_err());
        let routes = [
            "canary:x-canary=1",
            "canary:x-user^=qa-",
            "canary:cookie~=beta=(yes|1)",
        ];
        let parsed: Vec<Matcher> = routes
            .iter()
            .map(|r| parse_header_route(r).unwrap().matcher)
            .collect();
        assert_eq!(
            parsed,
            [
                Matcher::Exact("1".into()),
                Matcher::Prefix("qa-".into()),
                Matcher::Regex("beta=(yes|1)".into())
            ]
        );
        assert!(parse_header_route("x-canary=1").is_err());
        assert!(parse_header_route(":x=1").is_err());
    }
}
