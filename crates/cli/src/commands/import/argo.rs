//! Argo Rollouts manifests as a `bellwether.yaml`: each `Rollout` a service (its pod's first
//! container the process each replica runs, its strategy's steps as written), the metrics of
//! the `AnalysisTemplate`s and `ClusterAnalysisTemplate`s it references the service's
//! `analysis`, each named where the Rollout named the template, so that a metric runs where
//! it is referenced, as in Argo Rollouts. What has no equivalent is left out and named in a
//! note.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// The file made, and what could not be carried over.
pub(crate) struct Imported {
    pub(crate) yaml: String,
    pub(crate) notes: Vec<String>,
}

#[derive(Serialize, Default)]
struct Out {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    providers: BTreeMap<String, Value>,
    services: BTreeMap<String, OutService>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct OutService {
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<Value>,
    run: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readiness: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    liveness: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress_deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision_history_limit: Option<Value>,
    strategy: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traffic_routing: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<OutAnalysis>,
}

#[derive(Serialize, Default)]
struct OutAnalysis {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<Value>,
    metrics: Vec<OutMetric>,
}

/// A metric, its keys in the order people read them.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct OutMetric {
    name: String,
    provider: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    initial_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    success_condition: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_condition: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_limit: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inconclusive_limit: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consecutive_error_limit: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<Value>,
}

/// An AnalysisTemplate: its args and metrics, as written.
#[derive(Default)]
struct Template {
    args: Vec<Value>,
    metrics: Vec<Value>,
    dry_run: Vec<String>,
}

/// Converts the documents of `files` (name, text); an error names a file that is not YAML.
pub(crate) fn import(files: &[(String, String)]) -> Result<Imported, String> {
    let mut notes = Vec::new();
    let mut rollouts = Vec::new();
    let mut templates: BTreeMap<String, Template> = BTreeMap::new();
    let mut deployments: BTreeMap<String, Value> = BTreeMap::new();
    for (name, text) in files {
        let documents: Vec<Value> =
            serde_saphyr::from_multiple(text).map_err(|e| format!("{name} is not YAML: {e}"))?;
        for doc in documents.into_iter().filter(|d| !d.is_null()) {
            let kind = str_at(&doc, &["kind"]).unwrap_or("").to_owned();
            let object = str_at(&doc, &["metadata", "name"]).unwrap_or("").to_owned();
            match kind.as_str() {
                "Rollout" => rollouts.push(doc),
                "AnalysisTemplate" | "ClusterAnalysisTemplate" => {
                    templates.insert(object, template(&doc));
                }
                "Deployment" => {
                    deployments.insert(object, doc);
                }
                "" => notes.push(format!("{name}: a document without `kind` was left out")),
                other => notes.push(format!(
                    "{name}: {other} `{object}` was left out: bellwether's router and platform do its work (or it has no equivalent)"
                )),
            }
        }
    }
    let mut out = Out::default();
    let mut used: Vec<String> = Vec::new();
    for rollout in &rollouts {
        let Some(name) = str_at(rollout, &["metadata", "name"]) else {
            notes.push("a Rollout without `metadata.name` was left out".to_owned());
            continue;
        };
        let mut cx = Cx {
            service: name,
            notes: &mut notes,
            templates: &templates,
            used: &mut used,
            providers: &mut out.providers,
            analysis: OutAnalysis::default(),
        };
        let service = cx.service(rollout, &deployments);
        out.services.insert(name.to_owned(), service);
    }
    for name in templates.keys().filter(|t| !used.contains(t)) {
        notes.push(format!(
            "AnalysisTemplate `{name}` is referenced by no Rollout given, so it was left out (a metric runs where it is referenced)"
        ));
    }
    if out.services.is_empty() {
        return Err(
            "no Rollout in the files given (expected `kind: Rollout` documents)".to_owned(),
        );
    }
    let yaml = serde_saphyr::to_string(&out).map_err(|e| format!("cannot write YAML: {e}"))?;
    Ok(Imported { yaml, notes })
}

struct Cx<'a> {
    service: &'a str,
    notes: &'a mut Vec<String>,
    templates: &'a BTreeMap<String, Template>,
    used: &'a mut Vec<String>,
    providers: &'a mut BTreeMap<String, Value>,
    analysis: OutAnalysis,
}

impl Cx<'_> {
    fn note(&mut self, text: impl std::fmt::Display) {
        self.notes.push(format!("{}: {text}", self.service));
    }

    fn service(&mut self, rollout: &Value, deployments: &BTreeMap<String, Value>) -> OutService {
        let spec = &rollout["spec"];
        let mut service = OutService {
            replicas: spec.get("replicas").cloned(),
            progress_deadline: spec
                .get("progressDeadlineSeconds")
                .and_then(Value::as_u64)
                .map(|s| format!("{s}s")),
            revision_history_limit: spec.get("revisionHistoryLimit").cloned(),
            ..OutService::default()
        };
        let pod = match (spec.get("template"), str_at(spec, &["workloadRef", "name"])) {
            (Some(template), _) => Some(template.clone()),
            (None, Some(deployment)) => match deployments.get(deployment) {
                Some(d) => Some(d["spec"]["template"].clone()),
                None => {
                    self.note(format!(
                        "its pod template is Deployment `{deployment}`'s (`workloadRef`), which is not among the files given: write the service's `run:` by hand"
                    ));
                    None
                }
            },
            (None, None) => None,
        };
        if let Some(pod) = pod {
            self.pod(&pod, &mut service);
        }
        if service.run.is_empty() {
            service
                .run
                .insert("command".to_owned(), Value::from(vec!["CHANGE-ME"]));
            self.note("it has no container to run: `run.command` is CHANGE-ME");
        }
        match (
            spec["strategy"].get("canary"),
            spec["strategy"].get("blueGreen"),
        ) {
            (Some(canary), _) => {
                service.traffic_routing = self.traffic_routing(canary);
                let canary = self.canary(canary);
                service
                    .strategy
                    .insert("canary".to_owned(), Value::Object(canary));
            }
            (None, Some(blue_green)) => {
                let blue_green = self.blue_green(blue_green);
                service
                    .strategy
                    .insert("blueGreen".to_owned(), Value::Object(blue_green));
            }
            (None, None) => {
                self.note("it has no canary or blueGreen strategy: a rolling update is used");
                service
                    .strategy
                    .insert("rolling".to_owned(), Value::Object(Map::new()));
            }
        }
        if !self.analysis.metrics.is_empty() {
            service.analysis = Some(std::mem::take(&mut self.analysis));
        }
        service
    }

    /// The first container: its image, command, environment and probes.
    fn pod(&mut self, pod: &Value, service: &mut OutService) {
        let containers = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let Some(container) = containers.first() else {
            return;
        };
        if containers.len() > 1 {
            self.note(format!(
                "only its first container runs; {} other(s) left out",
                containers.len() - 1
            ));
        }
        if let Some(image) = container.get("image").and_then(Value::as_str) {
            service.run.insert("image".to_owned(), Value::from(image));
        }
        let command: Vec<Value> = ["command", "args"]
            .iter()
            .filter_map(|k| container.get(*k)?.as_array().cloned())
            .flatten()
            .collect();
        if !command.is_empty() {
            service
                .run
                .insert("command".to_owned(), Value::Array(command));
        }
        let mut env = Map::new();
        let mut secrets = Vec::new();
        for var in container["env"].as_array().into_iter().flatten() {
            let Some(name) = var.get("name").and_then(Value::as_str) else {
                continue;
            };
            if let Some(value) = var.get("value") {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                env.insert(name.to_owned(), Value::from(text));
            } else if var["valueFrom"].get("secretKeyRef").is_some() {
                secrets.push(Value::from(name));
                self.note(format!(
                    "env `{name}` came from a Kubernetes Secret: it is a bellwether secret now (`bellwether secret set {name}`)"
                ));
            } else {
                self.note(format!(
                    "env `{name}` came from `valueFrom`, which has no equivalent: left out"
                ));
            }
        }
        if !env.is_empty() {
            service.run.insert("env".to_owned(), Value::Object(env));
        }
        if !secrets.is_empty() {
            service
                .run
                .insert("secrets".to_owned(), Value::Array(secrets));
        }
        if let Some(port) = container["ports"][0].get("containerPort") {
            self.note(format!(
                "it listened on port {port}: each replica is told its port in $PORT (`run.portEnv` names another variable)"
            ));
        }
        for (key, slot) in [
            ("readinessProbe", &mut service.readiness),
            ("livenessProbe", &mut service.liveness),
        ] {
            let Some(probe) = container.get(key) else {
                continue;
            };
            match str_at(probe, &["httpGet", "path"]) {
                Some(path) => *slot = Some(path.to_owned()),
                None => self.notes.push(format!(
                    "{}: its {key} is not an HTTP GET, which is the only probe here: left out",
                    self.service
                )),
            }
        }
    }

    fn canary(&mut self, canary: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        let mut steps = Vec::new();
        for step in canary["steps"].as_array().into_iter().flatten() {
            if let Some(step) = self.step(step) {
                steps.push(step);
            }
        }
        out.insert("steps".to_owned(), Value::Array(steps));
        if let Some(analysis) = canary.get("analysis") {
            let mut background = self.analysis_ref(analysis, "background analysis");
            if let Some(start) = analysis.get("startingStep") {
                background.insert("startingStep".to_owned(), start.clone());
            }
            out.insert("analysis".to_owned(), Value::Object(background));
        }
        for key in ["maxSurge", "maxUnavailable"] {
            if let Some(v) = canary.get(key) {
                out.insert(key.to_owned(), v.clone());
            }
        }
        for (key, to) in [
            ("scaleDownDelaySeconds", "scaleDownDelay"),
            ("abortScaleDownDelaySeconds", "abortScaleDownDelay"),
        ] {
            if let Some(s) = canary.get(key).and_then(Value::as_u64) {
                out.insert(to.to_owned(), Value::from(format!("{s}s")));
            }
        }
        for key in ["canaryService", "stableService"] {
            if canary.get(key).is_some() {
                self.note(format!(
                    "`{key}` is not needed: bellwether's router splits the traffic on `listen`, and on a cluster bellwether writes the Services `{0}-stable` and `{0}-canary` itself",
                    self.service
                ));
            }
        }
        out
    }

    /// A canary's `trafficRouting`, which is the service's here: Istio with a DestinationRule,
    /// NGINX and the Gateway API plugin carry over; the rest is named in a note.
    fn traffic_routing(&mut self, canary: &Value) -> Option<Value> {
        let routing = canary.get("trafficRouting")?.as_object()?;
        let mut out = Map::new();
        for (key, value) in routing {
            match key.as_str() {
                "istio" if value.get("destinationRule").is_some() => {
                    let mut istio = value.clone();
                    if let Some(istio) = istio.as_object_mut()
                        && let Some(services) = istio.remove("virtualServices")
                    {
                        self.note("istio `virtualServices`: only the first is carried over, as `virtualService`");
                        if let Some(first) = services.get(0) {
                            istio.insert("virtualService".to_owned(), first.clone());
                        }
                    }
                    out.insert(key.clone(), istio);
                }
                "istio" => self.note(
                    "istio without a `destinationRule` (host-level splitting) has no equivalent: bellwether selects revisions by a DestinationRule's subsets; left out",
                ),
                "nginx" => {
                    if let Some(ingress) = value.get("stableIngress") {
                        self.note(format!(
                            "nginx: the stable Ingress must route to Service `{}-stable`, which bellwether writes",
                            self.service
                        ));
                        out.insert(key.clone(), serde_json::json!({"stableIngress": ingress}));
                    }
                }
                "plugins" => {
                    for (plugin, config) in value.as_object().into_iter().flatten() {
                        if plugin == "argoproj-labs/gatewayAPI" && config.get("httpRoute").is_some() {
                            let mut kept = Map::new();
                            for k in ["httpRoute", "namespace"] {
                                if let Some(v) = config.get(k) {
                                    kept.insert(k.to_owned(), v.clone());
                                }
                            }
                            let plugins = Map::from_iter([(plugin.clone(), Value::Object(kept))]);
                            out.insert(key.clone(), Value::Object(plugins));
                        } else {
                            self.note(format!("traffic router plugin `{plugin}` has no equivalent: left out"));
                        }
                    }
                }
                other => self.note(format!(
                    "trafficRouting `{other}` has no equivalent: left out (bellwether's router splits the traffic on `listen`)"
                )),
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }

    fn step(&mut self, step: &Value) -> Option<Value> {
        let (kind, body) = step.as_object()?.iter().next()?;
        let body = match kind.as_str() {
            "setWeight" | "setCanaryScale" | "setMirrorRoute" | "setHeaderRoute" => body.clone(),
            "pause" => match body.get("duration") {
                Some(d) => Value::from(duration(d)),
                None => Value::Object(Map::new()),
            },
            "analysis" => Value::Object(self.analysis_ref(body, "an analysis step")),
            other => {
                self.note(format!("its `{other}` step has no equivalent: left out"));
                return None;
            }
        };
        Some(Value::Object(Map::from_iter([(kind.clone(), body)])))
    }

    fn blue_green(&mut self, blue_green: &Value) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(v) = blue_green.get("autoPromotionEnabled") {
            out.insert("autoPromotionEnabled".to_owned(), v.clone());
        }
        for (key, to) in [
            ("autoPromotionSeconds", "autoPromotionSeconds"),
            ("scaleDownDelaySeconds", "scaleDownDelay"),
            ("abortScaleDownDelaySeconds", "abortScaleDownDelay"),
        ] {
            if let Some(s) = blue_green.get(key).and_then(Value::as_u64) {
                out.insert(to.to_owned(), Value::from(format!("{s}s")));
            }
        }
        if let Some(n) = blue_green.get("previewReplicaCount") {
            out.insert("previewReplicas".to_owned(), n.clone());
        }
        for key in ["prePromotionAnalysis", "postPromotionAnalysis"] {
            if let Some(analysis) = blue_green.get(key) {
                let reference = self.analysis_ref(analysis, key);
                out.insert(key.to_owned(), Value::Object(reference));
            }
        }
        for key in ["activeService", "previewService"] {
            if blue_green.get(key).is_some() {
                self.note(format!(
                    "`{key}` is not needed: the router serves the active revision on `listen` (and the preview on `previewListen`)"
                ));
            }
        }
        out
    }

    /// `{templates, args}` as `{metrics, args}`: each template's metrics join the service's
    /// analysis, and the reference names them.
    fn analysis_ref(&mut self, analysis: &Value, place: &str) -> Map<String, Value> {
        let mut metrics = Vec::new();
        for reference in analysis["templates"].as_array().into_iter().flatten() {
            let Some(name) = str_at(reference, &["templateName"]) else {
                continue;
            };
            let Some(template) = self.templates.get(name) else {
                self.note(format!(
                    "{place} references AnalysisTemplate `{name}`, which is not among the files given: its metrics are missing"
                ));
                continue;
            };
            if !self.used.iter().any(|u| u == name) {
                self.used.push(name.to_owned());
            }
            for arg in &template.args {
                let arg_name = arg.get("name");
                if !self.analysis.args.iter().any(|a| a.get("name") == arg_name) {
                    self.analysis.args.push(arg.clone());
                }
            }
            for metric in &template.metrics {
                let Some(converted) = self.metric(metric, &template.dry_run) else {
                    continue;
                };
                metrics.push(Value::from(converted.name.as_str()));
                if !self
                    .analysis
                    .metrics
                    .iter()
                    .any(|m| m.name == converted.name)
                {
                    self.analysis.metrics.push(converted);
                }
            }
        }
        let mut out = Map::new();
        out.insert("metrics".to_owned(), Value::Array(metrics));
        if let Some(args) = analysis
            .get("args")
            .filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
        {
            out.insert("args".to_owned(), args.clone());
        }
        out
    }

    fn metric(&mut self, metric: &Value, dry_run: &[String]) -> Option<OutMetric> {
        let name = metric.get("name")?.as_str()?.to_owned();
        let provider = &metric["provider"];
        let mut query = None;
        let provider = if let Some(prometheus) = provider.get("prometheus") {
            let address = str_at(prometheus, &["address"]).unwrap_or("");
            query = prometheus.get("query").cloned();
            Value::from(self.provider("prometheus", address, prometheus))
        } else if let Some(web) = provider.get("web") {
            Value::Object(Map::from_iter([(
                "web".to_owned(),
                Value::Object(web_provider(web)),
            )]))
        } else {
            let kind = provider
                .as_object()
                .and_then(|p| p.keys().next().cloned())
                .unwrap_or_else(|| "none".to_owned());
            let instead = if kind == "job" {
                "write it as a command: `provider: {job: {command: [...]}}`, judged by its exit status"
            } else {
                "measure it through Prometheus or a web endpoint"
            };
            self.note(format!(
                "metric `{name}` uses the `{kind}` provider, which is not built in: left out ({instead})"
            ));
            return None;
        };
        let field = |key: &str| metric.get(key).cloned();
        Some(OutMetric {
            dry_run: dry_run.iter().any(|d| d == &name || d == ".*"),
            name,
            provider,
            interval: metric.get("interval").map(duration),
            initial_delay: metric.get("initialDelay").map(duration),
            count: field("count"),
            success_condition: field("successCondition"),
            failure_condition: field("failureCondition"),
            failure_limit: field("failureLimit"),
            inconclusive_limit: field("inconclusiveLimit"),
            consecutive_error_limit: field("consecutiveErrorLimit"),
            query,
        })
    }

    /// The name of the provider at `address`, declared once.
    fn provider(&mut self, kind: &str, address: &str, written: &Value) -> String {
        let same = |p: &Value| str_at(p, &[kind, "address"]) == Some(address);
        if let Some((name, _)) = self.providers.iter().find(|(_, p)| same(p)) {
            return name.clone();
        }
        let name = match self.providers.len() {
            0 => kind.to_owned(),
            n => format!("{kind}-{}", n + 1),
        };
        let mut config = Map::new();
        config.insert("address".to_owned(), Value::from(address));
        if let Some(s) = written.get("timeout").and_then(Value::as_u64) {
            config.insert("timeout".to_owned(), Value::from(format!("{s}s")));
        }
        self.providers.insert(
            name.clone(),
            Value::Object(Map::from_iter([(kind.to_owned(), Value::Object(config))])),
        );
        name
    }
}

/// A web metric's provider: Argo's `{$.x}` JSON path as `$.x`, headers as a mapping.
fn web_provider(web: &Value) -> Map<String, Value> {
    let mut inline = Map::new();
    for key in ["url", "method", "body"] {
        if let Some(v) = web.get(key) {
            inline.insert(key.to_owned(), v.clone());
        }
    }
    if let Some(path) = str_at(web, &["jsonPath"]) {
        let bare = path.trim().trim_start_matches('{').trim_end_matches('}');
        inline.insert("jsonPath".to_owned(), Value::from(bare));
    }
    let headers: Map<String, Value> = web["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some((str_at(h, &["key"])?.to_owned(), h.get("value")?.clone())))
        .collect();
    if !headers.is_empty() {
        inline.insert("headers".to_owned(), Value::Object(headers));
    }
    if let Some(s) = web.get("timeoutSeconds").and_then(Value::as_u64) {
        inline.insert("timeout".to_owned(), Value::from(format!("{s}s")));
    }
    inline
}

fn template(doc: &Value) -> Template {
    let spec = &doc["spec"];
    Template {
        args: spec["args"].as_array().cloned().unwrap_or_default(),
        metrics: spec["metrics"].as_array().cloned().unwrap_or_default(),
        dry_run: spec["dryRun"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some(str_at(d, &["metricName"])?.to_owned()))
            .collect(),
    }
}

/// Argo's durations: a number of seconds, or text such as `5m`.
fn duration(value: &Value) -> String {
    match value {
        Value::Number(n) => format!("{n}s"),
        Value::String(s) if s.chars().all(|c| c.is_ascii_digit()) => format!("{s}s"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(*key))
        .and_then(Value::as_str)
}
