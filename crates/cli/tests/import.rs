//! `bellwether import argo-rollouts`: an Argo Rollouts user's manifests (a Rollout with Istio
//! routing, carried over, AnalysisTemplates with Prometheus, web and job metrics) become a bellwether.yaml
//! that validates and simulates, with a note for everything left behind.

mod support;

use support::bellwether;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/argo");

#[test]
fn a_rollout_and_its_templates_become_a_file_that_validates_and_simulates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bellwether.yaml");
    let files = [
        format!("{DATA}/rollout.yaml"),
        format!("{DATA}/templates.yaml"),
    ];
    let imported = bellwether(
        &[
            "import",
            "argo-rollouts",
            &files[0],
            &files[1],
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(imported.code, 0, "{imported:?}");
    for note in [
        "env `DATABASE_URL` came from a Kubernetes Secret: it is a bellwether secret now",
        "metric `smoke` uses the `job` provider, which is not built in: left out",
        "its `experiment` step has no equivalent: left out",
        "`canaryService` is not needed",
        "AnalysisTemplate `unused` is referenced by no Rollout given",
        "Service `api-service-canary` was left out",
    ] {
        assert!(imported.stderr.contains(note), "{note}: {imported:?}");
    }
    let text = std::fs::read_to_string(&out).unwrap();
    for carried in [
        "image: registry.example.com/api-service:1.4.2",
        "readiness: /health/ready",
        "progressDeadline: 600s",
        "startingStep: 2",
        "- pause: 300s",
        "successCondition: result[0] >= 0.99",
        "dryRun: true",
        "jsonPath: $.burnRate",
        "trafficRouting:",
        "destinationRule:",
        "canarySubsetName: canary",
    ] {
        assert!(text.contains(carried), "{carried}: {text}");
    }

    let validated = bellwether(&["validate", out.to_str().unwrap()], &[]);
    assert_eq!(validated.code, 0, "{validated:?}");
    // The steps as written (less the experiment), the last pause waiting for a person.
    let simulated = bellwether(&["simulate", "-f", out.to_str().unwrap()], &[]);
    assert_eq!(simulated.code, 3, "paused: {simulated:?}");
    for step in [
        "step 2: pause 2m",
        "step 4: analysis (success-rate, p99-latency)",
        "start background analysis of revision 2",
        "outcome: Paused: step 9/9: pause until promoted",
    ] {
        assert!(simulated.stdout.contains(step), "{step}: {simulated:?}");
    }

    // An existing file is never overwritten.
    let again = bellwether(
        &[
            "import",
            "argo-rollouts",
            &files[0],
            &files[1],
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("cannot create"), "{again:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

#[test]
fn files_without_a_rollout_or_not_yaml_are_refused() {
    let templates = format!("{DATA}/templates.yaml");
    let none = bellwether(&["import", "argo-rollouts", &templates], &[]);
    assert_eq!(none.code, 1, "{none:?}");
    assert!(
        none.stderr.contains("no Rollout in the files given"),
        "{none:?}"
    );
    assert!(none.stdout.is_empty(), "{none:?}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: [unclosed\n").unwrap();
    let broken = bellwether(&["import", "argo-rollouts", bad.to_str().unwrap()], &[]);
    assert_eq!(broken.code, 1, "{broken:?}");
    assert!(broken.stderr.contains("is not YAML"), "{broken:?}");
}

#[test]
fn a_blue_green_rollout_keeps_its_promotion_settings_and_analyses() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("bg.yaml");
    std::fs::write(
        &manifest,
        r#"
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: checkout}
spec:
  replicas: 3
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: checkout}
  strategy:
    blueGreen:
      activeService: checkout-active
      previewService: checkout-preview
      autoPromotionEnabled: false
      previewReplicaCount: 1
      scaleDownDelaySeconds: 300
      prePromotionAnalysis:
        templates: [{templateName: smoke-rate}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout}
spec:
  template:
    spec:
      containers:
        - name: checkout
          image: checkout:2
          args: [serve, --port=8080]
          readinessProbe: {httpGet: {path: /ready, port: 8080}}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: smoke-rate}
spec:
  metrics:
    - name: smoke-rate
      count: 3
      interval: 10s
      successCondition: result >= 0.9
      provider:
        prometheus: {address: "http://prometheus:9090", query: "avg(up)"}
"#,
    )
    .unwrap();
    let imported = bellwether(
        &["import", "argo-rollouts", manifest.to_str().unwrap()],
        &[],
    );
    assert_eq!(imported.code, 0, "{imported:?}");
    for carried in [
        "image: checkout:2",
        "- serve",
        "readiness: /ready",
        "blueGreen:",
        "autoPromotionEnabled: false",
        "previewReplicas: 1",
        "scaleDownDelay: 300s",
        "prePromotionAnalysis:",
        "- smoke-rate",
    ] {
        assert!(imported.stdout.contains(carried), "{carried}: {imported:?}");
    }
    assert!(
        imported.stderr.contains("`previewService` is not needed"),
        "{imported:?}"
    );
    let out = dir.path().join("bellwether.yaml");
    std::fs::write(&out, &imported.stdout).unwrap();
    let validated = bellwether(&["validate", out.to_str().unwrap()], &[]);
    assert_eq!(validated.code, 0, "{validated:?}");
}
