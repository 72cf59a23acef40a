//! The verify provider against a real HTTP server on loopback: a suite that passes is 1, one
//! that fails is 0 with the failed checks in the detail, and a revision with no ready replica
//! is an error the run retries.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bellwether_analysis::providers::{MetricProvider, VerifyProvider};
use bellwether_analysis::{Observation, Value};
use bellwether_core::rollout::RevisionNumber;
use bellwether_core::signal::AddressSource;
use bellwether_core::spec::{CheckSpec, CheckTarget, HttpCheck, ProviderSpec, VerifySpec};
use support::{Answer, Server, target};
use tokio::time::timeout;

/// Revision 7 is at `address`; any other has no ready replica.
struct Replica(Option<String>);

impl AddressSource for Replica {
    fn address(&self, _: &str, revision: RevisionNumber) -> Option<String> {
        self.0.clone().filter(|_| revision == 7)
    }
}

fn suite(path: &str) -> ProviderSpec {
    ProviderSpec::Verify {
        suite: VerifySpec {
            name: "smoke".into(),
            checks: vec![CheckSpec {
                name: "health".into(),
                target: CheckTarget::Http(HttpCheck::get(path)),
                max_time: Duration::from_secs(2),
                retries: 0,
                backoff: Duration::from_millis(10),
            }],
            duration: Duration::from_millis(40),
            interval: Duration::from_millis(20),
            min_success_rate: 1.0,
            timeout: Duration::from_secs(10),
        },
    }
}

async fn measure(
    provider: &VerifyProvider,
    spec: &ProviderSpec,
    revision: u64,
) -> Result<Observation, String> {
    let mut t = target(7, &[]);
    t.revision = revision;
    timeout(Duration::from_secs(20), provider.measure(spec, &t))
        .await
        .expect("bounded")
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_suite_is_run_against_the_revisions_replica() {
    let server = Server::start(|r| match r.path.as_str() {
        "/health" => Answer::ok("ok"),
        _ => Answer::status(503, "down"),
    })
    .await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let provider = VerifyProvider::new(Arc::new(Replica(Some(address.clone()))));

    let passed = measure(&provider, &suite("/health"), 7).await.unwrap();
    assert_eq!(passed.value, Some(Value::Number(1.0)));
    let detail = passed.detail.unwrap();
    assert!(
        detail.starts_with("verify smoke passed: 3 of 3 attempts passed"),
        "{detail}"
    );
    assert_eq!(server.requests.lock().unwrap().len(), 3);

    let failed = measure(&provider, &suite("/ready"), 7).await.unwrap();
    assert_eq!(failed.value, Some(Value::Number(0.0)));
    let detail = failed.detail.unwrap();
    assert!(
        detail.starts_with("verify smoke failed: 0 of 1 attempts passed"),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("; ✗ health GET http://{address}/ready → 503, ")),
        "{detail}"
    );
    assert!(detail.contains("status 503 (expected 2xx)"), "{detail}");

    let nowhere = measure(&provider, &suite("/health"), 8).await.unwrap_err();
    assert_eq!(
        nowhere,
        "revision 8 of service `api` has no ready replica to check"
    );
}
