//! Finding the cluster: a kubeconfig naming an HTTPS server makes a client (rustls, its
//! crypto provider chosen), and one that cannot be read says which file.

use bellwether_platform_kubernetes::connect;

#[tokio::test]
async fn a_kubeconfig_of_an_https_cluster_makes_a_client_and_its_namespace_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let kubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: team\ncurrent-context: x\n";
    std::fs::write(&path, kubeconfig).unwrap();
    let connection = connect(Some(&path), None).await.expect("a client");
    assert_eq!(connection.namespace, "team");
    assert_eq!(connection.server, "https://127.0.0.1:1/");
    let other = connect(Some(&path), Some("other")).await.expect("a client");
    assert_eq!(other.namespace, "other");
    let refused = other.client.apiserver_version().await;
    assert!(refused.is_err(), "nothing listens there");
}

#[tokio::test]
async fn a_kubeconfig_that_cannot_be_read_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere");
    let error = connect(Some(&path), None).await.err().expect("refused");
    let message = error.to_string();
    assert_eq!(
        message,
        format!("cannot read the kubeconfig {}", path.display())
    );
}
