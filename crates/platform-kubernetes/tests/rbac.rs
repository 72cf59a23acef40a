//! The shipped Role (`deploy/kubernetes/rbac.yaml`) against every request the platform and
//! the traffic plugins make of the fake cluster, as its authorizer sees them: a canary per
//! plugin promoted and another aborted, a revision's Secret, logs tailed and followed, the pods'
//! metrics listed while they run, pods listed again after `410 Gone`, leftovers reaped and
//! everything deleted at shutdown. Every
//! request must be allowed by the Role, and every verb the Role grants must have been used.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bellwether_core::platform::LogQuery;
use bellwether_kube_fake::{ApiRequest, Resource};
use serde_json::Value;
use support::plane::{NAMESPACE, Plugin, Rig};

const WAIT: Duration = Duration::from_secs(60);

/// One rule of a Role, as `rbac.authorization.k8s.io/v1` spells it.
#[derive(Debug)]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
    resource_names: Vec<String>,
}

fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// The rules of the one Role in the shipped manifest.
fn shipped_role() -> Vec<Rule> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/kubernetes/rbac.yaml"
    );
    let text = std::fs::read_to_string(path).expect("deploy/kubernetes/rbac.yaml");
    let objects: Vec<Value> = serde_saphyr::from_multiple(&text).expect("rbac.yaml parses");
    let mut roles = objects.into_iter().filter(|o| o["kind"] == "Role");
    let role = roles.next().expect("a Role in rbac.yaml");
    assert!(roles.next().is_none(), "one Role in rbac.yaml");
    let rules = role["rules"].as_array().cloned().unwrap_or_default();
    rules
        .iter()
        .map(|rule| Rule {
            api_groups: strings(&rule["apiGroups"]),
            resources: strings(&rule["resources"]),
            verbs: strings(&rule["verbs"]),
            resource_names: strings(&rule["resourceNames"]),
        })
        .collect()
}

fn matches(granted: &[String], wanted: &str) -> bool {
    granted.iter().any(|g| g == "*" || g == wanted)
}

/// `resource` or `resource/subresource`, as a rule names it.
fn resource_of(request: &ApiRequest) -> String {
    match &request.subresource {
        Some(sub) => format!("{}/{sub}", request.resource),
        None => request.resource.clone(),
    }
}

/// Whether `rule` allows `request` in the Role's namespace, as RBAC's authorizer decides.
fn allows(rule: &Rule, request: &ApiRequest) -> bool {
    request.namespace.as_deref() == Some(NAMESPACE)
        && !request.resource.is_empty()
        && matches(&rule.api_groups, &request.group)
        && matches(&rule.resources, &resource_of(request))
        && matches(&rule.verbs, request.verb)
        && (rule.resource_names.is_empty()
            || request
                .name
                .as_ref()
                .is_some_and(|n| rule.resource_names.contains(n)))
}

/// Reads the service's logs, following them, until a line comes; then stops following.
async fn follow_logs(rig: &Rig) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let query = LogQuery {
        revision: None,
        tail: Some(5),
        follow: true,
    };
    let stopped = Box::pin(async move {
        let _ = stopped.await;
    });
    let mut logs = rig.plane.logs("api", query, stopped).expect("logs");
    let batch = tokio::time::timeout(WAIT, logs.recv()).await;
    assert!(
        batch.is_ok_and(|b| b.is_some_and(|lines| !lines.is_empty())),
        "a line of the logs"
    );
    let _ = stop.send(());
}

/// Waits (bounded) until the fake cluster answered a watch `410 Gone`.
async fn until_gone(rig: &Rig) {
    let script = rig.cluster().script();
    let waited = tokio::time::timeout(WAIT, async {
        while script.gone_answered() == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    waited.await.expect("a watch answered 410 Gone");
}

/// The requests of one plugin's story: v1 deployed, v2 promoted through its pauses (a
/// conflict on the user's object retried), v3 aborted, the logs followed, the pods' watch
/// compacted away, the control plane shut down.
async fn story(
    plugin: Plugin,
    mirror: bool,
    conflicted: Resource,
    pauses: [usize; 2],
) -> Vec<ApiRequest> {
    let secrets = Some(Arc::new(support::Secrets) as _);
    let rig = support::plane::rig(
        support::plane::canary(plugin.routing, mirror, ", secrets: [TOKEN]"),
        &plugin.objects,
        secrets,
    )
    .await;
    rig.promote_then_abort(conflicted, 1, pauses).await;
    follow_logs(&rig).await;
    // A change made while the watch is stuck, then compacted away: resuming is 410 Gone.
    let script = rig.cluster().script();
    script.slow_watches(Duration::from_secs(3600));
    let unrelated = serde_json::json!({"metadata": {"name": "unrelated"}});
    rig.cluster()
        .create(Resource::Secrets, NAMESPACE, unrelated)
        .expect("a change");
    script.compact();
    script.slow_watches(Duration::ZERO);
    script.drop_watches();
    until_gone(&rig).await;
    let cluster = Arc::clone(&rig.cluster);
    rig.stop().await;
    cluster.cluster.requests()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_role_allows_every_request_made_and_grants_nothing_unused() {
    let rules = shipped_role();
    let mut requests = story(
        support::plane::gateway_api(),
        true,
        Resource::HttpRoutes,
        [3, 5],
    )
    .await;
    requests.extend(
        story(
            support::plane::istio(),
            true,
            Resource::VirtualServices,
            [3, 5],
        )
        .await,
    );
    requests.extend(story(support::plane::nginx(), false, Resource::Ingresses, [2, 4]).await);

    let refused: BTreeSet<String> = requests
        .iter()
        .filter(|r| !rules.iter().any(|rule| allows(rule, r)))
        .map(|r| format!("{} {} ({})", r.verb, r.path, r.group))
        .collect();
    assert!(
        refused.is_empty(),
        "requests the Role does not allow: {refused:#?}"
    );

    let used: BTreeSet<(String, String, &str)> = requests
        .iter()
        .map(|r| (r.group.clone(), resource_of(r), r.verb))
        .collect();
    let mut unused = Vec::new();
    for rule in &rules {
        for group in &rule.api_groups {
            for resource in &rule.resources {
                for verb in &rule.verbs {
                    let key = (group.clone(), resource.clone(), verb.as_str());
                    if !used.contains(&key) {
                        unused.push(format!("{verb} {group}/{resource}"));
                    }
                }
            }
        }
    }
    assert!(
        unused.is_empty(),
        "granted by the Role, never used: {unused:#?}"
    );
}
