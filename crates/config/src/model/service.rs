//! A service: how a revision runs, its replicas, probes, strategy and analysis.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::alias::Alias;
use super::{AnalysisConfig, AnalysisRefConfig, Command, StrategyConfig, TrafficRoutingConfig};
use crate::span::{Entries, Pos, Spanned};
use crate::values::{DurationValue, Whole};

/// A deployable service.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceConfig {
    /// How many replicas serve the stable revision. Default: 1.
    pub replicas: Option<Spanned<Whole<u32>>>,
    /// How one revision runs.
    pub run: Option<Spanned<RunConfig>>,
    /// Shorthand for `readiness`: `health: /health` or `health: {path: /health}`.
    pub health: Option<Spanned<ProbeForm>>,
    /// The HTTP probe that decides when a replica may receive traffic.
    /// Default: `GET /` every 1s, 1s timeout, unready after 3 failures, ready after 1 success.
    pub readiness: Option<Spanned<ProbeForm>>,
    /// The HTTP probe that restarts a replica that stops answering. Default: none.
    pub liveness: Option<Spanned<ProbeForm>>,
    /// How a new revision replaces the stable one: exactly one of `canary`, `blueGreen` or
    /// `rolling`. Default: `rolling` with its defaults.
    pub strategy: Option<Spanned<StrategyConfig>>,
    /// The metrics that judge a rollout of this service.
    pub analysis: Option<Spanned<AnalysisConfig>>,
    /// An analysis of the stable revision once an abort has sent all traffic back to it, e.g.
    /// `{verify: [smoke]}`: whether the rollback healed the service. Its verdict is reported
    /// (in the rollout's reason and history) and changes nothing. Default: none.
    pub post_rollback_analysis: Option<Spanned<AnalysisRefConfig>>,
    /// A rollout that makes no progress for this long (e.g. replicas never become ready)
    /// aborts. Default: 10m.
    pub progress_deadline: Option<Spanned<DurationValue>>,
    /// How many old revisions are kept for `undo`. Default: 10.
    pub revision_history_limit: Option<Spanned<Whole<u32>>>,
    /// The environments this service may be deployed to, by name. Default: any.
    pub environments: Option<Vec<Spanned<String>>>,
    /// Services that must be running before this one starts, by name: they start first, and an
    /// emergency rollback of everything undoes this service before them. Default: none.
    pub depends_on: Option<Vec<Spanned<String>>>,
    /// Where the service's router listens: an IP address or `localhost`, and a port
    /// (e.g. `127.0.0.1:8080`). Default: a free port on 127.0.0.1, shown by `bellwether list`.
    pub listen: Option<Spanned<String>>,
    /// Where a blue-green rollout serves its preview revision before the switch, written like
    /// `listen`. Default: no preview listener (the preview gets no traffic before the switch).
    pub preview_listen: Option<Spanned<String>>,
    /// Where the routing table lives on the kubernetes platform, in Argo Rollouts' spellings:
    /// `{istio: ...}`, `{nginx: {stableIngress}}` or
    /// `{plugins: {argoproj-labs/gatewayAPI: {httpRoute}}}`. Default: bellwether's own router.
    pub traffic_routing: Option<Spanned<TrafficRoutingConfig>>,
}

/// How one revision of the service runs: a process on the local platform, an image on
/// platforms that run images.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(transform = Alias { name: "portEnv", alias: "port_env" })]
pub struct RunConfig {
    /// Program and arguments, run without a shell. Required unless `image` is set.
    pub command: Option<Spanned<Command>>,
    /// Arguments appended to `command`.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables for every replica.
    #[serde(default)]
    pub env: Entries<String>,
    /// Secrets each replica gets as environment variables of the same names
    /// (`bellwether secret set NAME [--env ENVIRONMENT]`): the environment's own when the
    /// revision is deployed to one, else the project's. A deploy is refused while one is unset.
    #[serde(default)]
    pub secrets: Vec<Spanned<String>>,
    /// Working directory, relative to the directory of `bellwether.yaml`. Default: that directory.
    pub workdir: Option<Spanned<String>>,
    /// The environment variable through which each replica learns the port it must listen on
    /// (`port_env` is accepted too). Default: `PORT`.
    #[serde(alias = "port_env")]
    pub port_env: Option<Spanned<String>>,
    /// Container image, for platforms that run images.
    pub image: Option<Spanned<String>>,
}

/// An HTTP GET probe of one replica; a 2xx or 3xx answer is a success. Written in full, or as
/// just the path: `health: /health`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeConfig {
    /// The path to request. Default: `/`.
    pub path: Option<Spanned<String>>,
    /// Time between probes. Default: 1s.
    pub interval: Option<Spanned<DurationValue>>,
    /// How long one probe may take. Default: 1s.
    pub timeout: Option<Spanned<DurationValue>>,
    /// Time after start before the first probe. Default: 0s.
    pub initial_delay: Option<Spanned<DurationValue>>,
    /// Consecutive failures that make a replica unready (or, for liveness, restart it). Default: 3.
    pub failure_threshold: Option<Spanned<Whole<u32>>>,
    /// Consecutive successes that make a replica ready again. Default: 1.
    pub success_threshold: Option<Spanned<Whole<u32>>>,
}

/// A probe written either as a path or in full; see [`ProbeConfig`].
#[derive(Clone, Debug, Default)]
pub struct ProbeForm(pub ProbeConfig);

impl<'de> Deserialize<'de> for ProbeForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProbeVisitor;

        impl<'de> Visitor<'de> for ProbeVisitor {
            type Value = ProbeForm;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path like /health or a probe like {path: /health, interval: 2s}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                // The shorthand's node position is the probe's; validation falls back to it.
                let path = Spanned::new(v.to_owned(), Pos::UNKNOWN);
                Ok(ProbeForm(ProbeConfig {
                    path: Some(path),
                    ..ProbeConfig::default()
                }))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ProbeConfig::deserialize(de::value::MapAccessDeserializer::new(map)).map(ProbeForm)
            }
        }

        deserializer.deserialize_any(ProbeVisitor)
    }
}

impl JsonSchema for ProbeForm {
    fn schema_name() -> Cow<'static, str> {
        "Probe".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "string", "description": "The path to probe, e.g. `/health`." },
                generator.subschema_for::<ProbeConfig>()
            ]
        })
    }
}
