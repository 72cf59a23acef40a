use bellwether_core::spec::RunSpec;

use super::*;

fn template(image: Option<&str>) -> ReplicaTemplate {
    ReplicaTemplate {
        service: "web".into(),
        revision: 4,
        version: "v1.2+build".into(),
        run: RunSpec {
            command: vec!["server".into(), "--fast".into()],
            env: [("MODE".into(), "live".into()), ("PORT".into(), "1".into())].into(),
            secrets: vec!["TOKEN".into()],
            workdir: None,
            port_env: "PORT".into(),
            image: image.map(str::to_owned),
        },
        readiness: Probe::http("/ready"),
        liveness: Some(Probe::http("/alive")),
        environment: None,
    }
}

fn shape() -> PodShape {
    PodShape {
        container_port: 8080,
        grace_period: Duration::from_secs(7),
    }
}

#[test]
fn a_template_without_an_image_is_refused_with_why() {
    let refused = replica_set(&template(None), 1, &shape()).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "service \"web\" has no image: the kubernetes platform runs containers, so its `run` needs `image:` (the command is run in that image)"
    );
}

#[test]
fn the_pod_template_carries_the_run_spec_and_no_secret_value() {
    let set = replica_set(&template(Some("registry/web:4")), 3, &shape()).unwrap();
    assert_eq!(set["metadata"]["name"], "web-r4");
    assert_eq!(set["spec"]["replicas"], 3);
    assert_eq!(
        set["spec"]["selector"]["matchLabels"],
        json!({"app.kubernetes.io/managed-by": "bellwether", "bellwether.dev/service": "web", "bellwether.dev/revision": "4"})
    );
    let pod = &set["spec"]["template"];
    assert!(
        pod["metadata"]["labels"]["bellwether.dev/version"]
            .as_str()
            .unwrap()
            .starts_with("v1-2-build-")
    );
    assert_eq!(
        pod["metadata"]["annotations"]["bellwether.dev/version-name"],
        "v1.2+build"
    );
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 7);
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["image"], "registry/web:4");
    assert_eq!(container["command"], json!(["server", "--fast"]));
    let env = container["env"].as_array().unwrap();
    let value = |name: &str| env.iter().find(|e| e["name"] == name).cloned().unwrap();
    assert_eq!(
        value("PORT")["value"],
        "8080",
        "the port variable is the container port"
    );
    assert_eq!(env.iter().filter(|e| e["name"] == "PORT").count(), 1);
    assert_eq!(value("MODE")["value"], "live");
    assert_eq!(value("BELLWETHER_REVISION")["value"], "4");
    assert_eq!(
        value("BELLWETHER_POD_IP")["valueFrom"]["fieldRef"]["fieldPath"],
        "status.podIP"
    );
    assert_eq!(
        value("TOKEN"),
        json!({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "web-r4", "key": "TOKEN"}}})
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({"path": "/ready", "port": 8080, "scheme": "HTTP"})
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/alive");
    assert_eq!(container["readinessProbe"]["periodSeconds"], 1);
}

#[test]
fn the_secret_is_owned_by_the_replica_set_once_there_is_one() {
    let values = [("TOKEN".to_owned(), "s3cret".to_owned())].into();
    let secret = secret(&template(Some("web")), &values, Some(("web-r4", "uid-1")));
    assert_eq!(secret["stringData"]["TOKEN"], "s3cret");
    assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], "uid-1");
}

/// The objects the platform writes for a revision are the golden manifests.
#[test]
fn the_objects_written_are_the_golden_manifests() {
    let template = template(Some("registry.example/web:1.2"));
    crate::golden::check(
        "replicaset.yaml",
        &replica_set(&template, 3, &shape()).unwrap(),
    );
    crate::golden::check(
        "secret.yaml",
        &secret(
            &template,
            &[("TOKEN".to_owned(), "example-value".to_owned())].into(),
            Some(("web-r4", "5a1d6f0e-0000-4000-8000-000000000004")),
        ),
    );
}
