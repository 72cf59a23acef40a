//! The job provider against real processes: exit statuses, output, the environment, timeouts
//! that kill the whole process group, and a stopped measurement that does the same.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bellwether_analysis::Observation;
use bellwether_analysis::providers::{JobProvider, MetricProvider};
use bellwether_core::signal::AddressSource;
use bellwether_core::spec::ProviderSpec;
use support::target;
use tokio::time::timeout;

fn job(script: &str, limit: Duration) -> ProviderSpec {
    ProviderSpec::Job {
        command: vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()],
        timeout: limit,
    }
}

/// Revision N's one ready replica listens on port 9000 + N; revision 5 has none.
struct Replicas;

impl AddressSource for Replicas {
    fn address(&self, service: &str, revision: u64) -> Option<String> {
        (service == "api" && revision != 5).then(|| format!("127.0.0.1:{}", 9000 + revision))
    }
}

fn provider() -> JobProvider {
    JobProvider::new(Arc::new(Replicas))
}

async fn measure(spec: &ProviderSpec) -> Result<Observation, String> {
    let mut compared = target(7, &[("env", "prod")]);
    compared.stable = Some(6);
    timeout(Duration::from_secs(10), provider().measure(spec, &compared))
        .await
        .expect("bounded")
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_exit_status_is_the_value() {
    let second = Duration::from_secs(5);
    let cases = [
        ("exit 0", Ok(Observation::number(0.0))),
        (
            "echo checking; echo 'smoke failed: /checkout answered 500' >&2; exit 3",
            Ok(Observation::number(3.0)
                .with_detail("last output: smoke failed: /checkout answered 500")),
        ),
        (
            r#"test "$BELLWETHER_SERVICE/$BELLWETHER_REVISION/$BELLWETHER_ROLE" = api/7/canary"#,
            Ok(Observation::number(0.0)),
        ),
        (
            r#"test "$BELLWETHER_ADDRESS $BELLWETHER_CANARY_ADDRESS $BELLWETHER_STABLE_ADDRESS" = "127.0.0.1:9007 127.0.0.1:9007 127.0.0.1:9006""#,
            Ok(Observation::number(0.0)),
        ),
        (
            "test {{revision}}-{{args.env}} = 7-prod",
            Ok(Observation::number(0.0)),
        ),
        // Cargo gives the test process this; the job gets only the inherited allow-list.
        (
            r#"test -n "$PATH" && test -z "$CARGO_MANIFEST_DIR""#,
            Ok(Observation::number(0.0)),
        ),
        (
            "kill -9 $$",
            Err("`sh -c kill -9 $$` was killed by a signal".to_owned()),
        ),
    ];
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    for (script, want) in cases {
        assert_eq!(measure(&job(script, second)).await, want, "{script}");
    }
    // A revision with no ready replica is not given an address.
    let mut lonely = target(5, &[]);
    lonely.stable = Some(4);
    let told = provider()
        .measure(
            &job(r#"test -z "$BELLWETHER_ADDRESS" && test "$BELLWETHER_STABLE_ADDRESS" = 127.0.0.1:9004"#, second),
            &lonely,
        )
        .await
        .map_err(|e| e.to_string());
    assert_eq!(told, Ok(Observation::number(0.0)));
    let missing = ProviderSpec::Job {
        command: vec!["/nonexistent/smoke".to_owned()],
        timeout: second,
    };
    assert_eq!(
        measure(&missing).await,
        Err(
            "could not start `/nonexistent/smoke`: No such file or directory (os error 2)"
                .to_owned()
        )
    );
}

/// Whether a process is gone (or a zombie, which is dead but not yet reaped by its parent).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

async fn pid_in(file: &Path) -> u32 {
    for _ in 0..100 {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the job never wrote its child's pid");
}

async fn until_dead(pid: u32) -> bool {
    for _ in 0..100 {
        if dead(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let result = measure(&job(&script, Duration::from_millis(300))).await;
    assert_eq!(
        result,
        Err(format!(
            "`sh -c {script}` did not finish within 300ms; its process group was killed"
        ))
    );
    let grandchild = pid_in(&pidfile).await;
    assert!(
        until_dead(grandchild).await,
        "sleep {grandchild} survived the timeout"
    );
}

#[tokio::test]
async fn a_dropped_measurement_kills_the_process_group() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let spec = job(&script, Duration::from_secs(60));
    let t = target(7, &[]);
    let jobs = provider();
    let measuring = jobs.measure(&spec, &t);
    assert!(
        timeout(Duration::from_millis(300), measuring)
            .await
            .is_err()
    );
    let grandchild = pid_in(&pidfile).await;
    assert!(
        until_dead(grandchild).await,
        "sleep {grandchild} survived the stop"
    );
}
