//! Synthetic traffic for a revision with too little of its own (`trafficGenerator` of a canary,
//! or of an analysis for the revision it judges): `GET` requests through the service's router,
//! routed to that revision by a header whose value only this control plane knows. They count
//! in its signals as real requests do, and reach no other revision; a request from outside
//! cannot pick a revision this way.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bellwether_core::rollout::RevisionNumber;
use bellwether_core::spec::TrafficGenerator;
use bellwether_load::{Generator, Traffic};
use bellwether_router::TableSpec;

/// The header the generator's requests carry.
const HEADER: &str = "x-bellwether-synthetic";

pub(super) struct Synthetic {
    /// `None` when no random value could be drawn: then nothing is generated.
    token: Option<String>,
    running: Option<Running>,
}

/// A generator sending to one revision as one spec says; it stops when dropped.
struct Running {
    revision: RevisionNumber,
    spec: TrafficGenerator,
    url: String,
    _generator: Generator,
}

impl Synthetic {
    pub(super) fn new() -> Self {
        let mut bytes = [0u8; 16];
        let token = getrandom::fill(&mut bytes)
            .map(|()| bytes.iter().map(|b| format!("{b:02x}")).collect())
            .map_err(|e| tracing::warn!("no synthetic traffic: no random token ({e})"))
            .ok();
        Self {
            token,
            running: None,
        }
    }

    /// Sends `spec`'s traffic to `revision` through the router at `listen`, routed there by
    /// `table`; with `None`, stops sending.
    pub(super) fn apply(
        &mut self,
        want: Option<(RevisionNumber, &TrafficGenerator)>,
        listen: SocketAddr,
        table: &mut TableSpec,
        replicas: &BTreeMap<RevisionNumber, Vec<SocketAddr>>,
    ) {
        let (Some((revision, spec)), Some(token)) = (want, &self.token) else {
            self.running = None;
            return;
        };
        table.route_header_to(HEADER, token, revision, replicas);
        let url = format!("http://{}{}", reachable(listen), spec.path);
        let current = self
            .running
            .as_ref()
            .is_some_and(|r| r.revision == revision && r.spec == *spec && r.url == url);
        if current {
            return;
        }
        self.running = None;
        let mut headers: Vec<(String, String)> = spec.headers.clone().into_iter().collect();
        headers.push((HEADER.to_owned(), token.clone()));
        let traffic = Traffic {
            url: url.clone(),
            headers,
            rate: spec.rate,
            cap: TrafficGenerator::MAX_RATE,
        };
        match Generator::start(traffic) {
            Ok(generator) => {
                tracing::info!(revision, rate = spec.rate, %url, "synthetic traffic to revision {revision} started");
                self.running = Some(Running {
                    revision,
                    spec: spec.clone(),
                    url,
                    _generator: generator,
                });
            }
            Err(e) => tracing::warn!(revision, "no synthetic traffic: {e}"),
        }
    }
}

/// Where this machine reaches a listener bound to `addr`: loopback for an unspecified address.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}
