//! Migration hints: an Argo Rollouts `Rollout` or `AnalysisTemplate` pasted into
//! `bellwether.yaml` stops the parser at its first unknown key; this reads the whole file as a
//! tree of keys instead and says, for every Argo spelling bellwether writes another way, how it
//! is written here, all in one pass.

use crate::span::Pos;
use crate::tree::Node;

/// Every Argo Rollouts key in the file read as `root` with its bellwether spelling, in file
/// order.
pub(crate) fn hints(root: &Node) -> Vec<(Pos, String)> {
    let mut out = Vec::new();
    walk(root, &mut Vec::new(), &mut out);
    out.sort_by_key(|(pos, _)| (pos.line, pos.column));
    out
}

fn walk<'a>(node: &'a Node, path: &mut Vec<&'a str>, out: &mut Vec<(Pos, String)>) {
    match node {
        Node::Map(entries) => {
            for (key, value) in entries {
                if let Some(hint) = hint(path, &key.value, &value.value) {
                    out.push((key.pos, format!("Argo Rollouts' `{}` {hint}", key.value)));
                }
                path.push(&key.value);
                walk(&value.value, path, out);
                path.pop();
            }
        }
        Node::Seq(items) => items.iter().for_each(|i| walk(&i.value, path, out)),
        Node::Scalar => {}
    }
}

/// How bellwether writes `key`, found under `path`, if it is Argo's and bellwether's differs.
fn hint(path: &[&str], key: &str, value: &Node) -> Option<&'static str> {
    let parent = path.last().copied();
    Some(match (path.len(), parent, key) {
        (0, _, "apiVersion") => {
            "is not needed: bellwether.yaml has no apiVersion (a Rollout becomes a service under `services:`)"
        }
        (0, _, "kind") => {
            "is not needed: a Rollout becomes a service under `services: {NAME: …}`, and an AnalysisTemplate's metrics go under that service's `analysis:`"
        }
        (0, _, "metadata") => {
            "is not needed: the Rollout's name is the service's key, as in `services: {api-service: …}`"
        }
        (0, _, "spec") => {
            "is the service itself here: `services: {NAME: {replicas, strategy, …}}`; an AnalysisTemplate's spec (args, metrics) is the service's `analysis:`"
        }
        (_, Some("spec"), "selector") => {
            "is not needed: a service's revisions are its own (expected no selector)"
        }
        (_, Some("spec"), "template") => {
            "(the pod template) is the service's `run: {command: […], env: {…}}` on the local platform"
        }
        (_, _, "progressDeadlineSeconds") => {
            "is `progressDeadline` here, e.g. `progressDeadline: 10m`"
        }
        (_, _, "scaleDownDelaySeconds") => "is `scaleDownDelay` here, e.g. `scaleDownDelay: 30s`",
        (_, _, "abortScaleDownDelaySeconds") => {
            "is `abortScaleDownDelay` here, e.g. `abortScaleDownDelay: 30s`"
        }
        (_, _, "previewReplicaCount") => "is `previewReplicas` here",
        (_, Some("canary"), "trafficRouting") => {
            "is a key of the service here, beside `strategy`: `trafficRouting: {istio: …}` on the kubernetes platform; without it bellwether's own router splits the traffic on `listen`"
        }
        (_, _, "canaryService" | "stableService" | "activeService" | "previewService") => {
            "is not needed: the router sends each revision its share on the service's `listen` address (a blue-green preview on `previewListen`)"
        }
        (_, _, "templates") => {
            "names AnalysisTemplates; here an analysis names the service's metrics: `metrics: [NAME, …]`"
        }
        (_, _, "templateName") => {
            "is a metric's name here: `analysis: {metrics: [NAME]}`, the metric declared under the service's `analysis.metrics`"
        }
        (_, Some("prometheus"), "query") => {
            "is the metric's `query:` here, beside `provider:` (expected only address, headers and timeout in the provider)"
        }
        (_, _, "dryRun") if matches!(value, Node::Seq(_)) => {
            "is `dryRun: true` on each metric here"
        }
        (_, _, "measurementRetention") => {
            "is not needed: every measurement is kept with its rollout (expected no measurementRetention)"
        }
        (_, _, "experiment") => {
            "is not supported: the canary itself is measured against the stable revision as baseline (expected a step such as setWeight, pause or analysis)"
        }
        _ => return None,
    })
}
