//! A service routed by the cluster's objects while writing them fails: the controller goes on
//! answering (an abort is taken, the control plane shuts down), the view says why the cluster
//! does not route as the rollout stands, the revision that loses its traffic keeps its
//! replicas until the routing is written, and the writes are tried again until one lands.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bellwether_controller::{
    ControlPlane, Options, Platform, Routing, Seams, TrafficError, TrafficRouter,
};
use bellwether_core::rollout::{Command, Phase, Traffic};
use bellwether_core::spec::ServiceSpec;

use crate::harness::{DataDir, bounded, deploy, healthy_at, project, until};
use crate::ready_platform::ReadyPlatform;

const SERVICE: &str = r#"
services:
  api:
    replicas: 2
    run: {image: "api:1", command: [service]}
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {}
        scaleDownDelay: 0s
        abortScaleDownDelay: 0s
    trafficRouting:
      nginx: {stableIngress: api}
"#;

const LIMIT: Duration = Duration::from_secs(20);

/// Writes nothing while `failing`, as with the cluster's object missing; records what it
/// wrote otherwise.
#[derive(Default)]
struct FlakyRouter {
    failing: AtomicBool,
    refused: AtomicU32,
    written: Mutex<Vec<Traffic>>,
}

impl FlakyRouter {
    fn last(&self) -> Option<Traffic> {
        self.written.lock().unwrap().last().cloned()
    }
}

impl TrafficRouter for FlakyRouter {
    fn route<'a>(
        &'a self,
        _spec: &'a ServiceSpec,
        routing: &'a Routing,
    ) -> Pin<Box<dyn Future<Output = Result<(), TrafficError>> + Send + 'a>> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                self.refused.fetch_add(1, Ordering::SeqCst);
                return Err("ingresses.networking.k8s.io \"api\" not found".into());
            }
            self.written.lock().unwrap().push(routing.traffic.clone());
            Ok(())
        })
    }
}

/// The revisions the platform runs replicas of.
fn running(platform: &ReadyPlatform) -> Vec<u64> {
    platform.watch("api").borrow().keys().copied().collect()
}

async fn until_refused(router: &FlakyRouter, count: u32) {
    tokio::time::timeout(LIMIT, async {
        while router.refused.load(Ordering::SeqCst) < count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the router was asked again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_route_holds_the_scale_down_and_nothing_else() {
    bounded(async {
        let dir = DataDir::new();
        let platform = Arc::new(ReadyPlatform::default());
        let router = Arc::new(FlakyRouter::default());
        let mut seams = Seams::new(Arc::clone(&platform) as Arc<dyn Platform>);
        seams.traffic = Some(Arc::clone(&router) as Arc<dyn TrafficRouter>);
        let options = Options {
            data_dir: dir.path().join("data"),
            base_dir: dir.path().to_owned(),
            project: project(SERVICE),
            secrets: None,
        };
        let plane = ControlPlane::start_on(options, seams)
            .await
            .expect("the control plane starts");
        plane.deploy("api", deploy("v1", &[])).await.unwrap();
        until(&plane, "api", "v1 stable", LIMIT, |v| healthy_at(v, "v1")).await;
        plane.deploy("api", deploy("v2", &[])).await.unwrap();
        until(&plane, "api", "v2 paused", LIMIT, |v| {
            v.phase == Phase::Paused
        })
        .await;
        assert_eq!(running(&platform), [1, 2]);

        // The ingress goes away: the abort is taken all the same, and v2 keeps its replicas
        // for as long as the traffic has not been moved off it.
        router.failing.store(true, Ordering::SeqCst);
        let abort = Command::Abort {
            reason: Some("test".into()),
        };
        tokio::time::timeout(LIMIT, plane.command("api", abort, "test"))
            .await
            .expect("the abort is answered while the route fails")
            .expect("the abort is taken");
        let view = until(&plane, "api", "aborted, not routed", LIMIT, |v| {
            v.phase == Phase::Degraded && v.routing_pending.is_some()
        })
        .await;
        let pending = view.routing_pending.unwrap_or_default();
        assert!(
            pending.contains("cannot route the traffic with an NGINX Ingress")
                && pending.contains("ingresses.networking.k8s.io \"api\" not found"),
            "{pending}"
        );
        until_refused(&router, 3).await;
        assert_eq!(
            running(&platform),
            [1, 2],
            "v2 scaled down before its traffic left it"
        );

        // The ingress is back: the routing lands, then v2 is scaled down.
        router.failing.store(false, Ordering::SeqCst);
        tokio::time::timeout(LIMIT, async {
            while running(&platform) != [1] {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("v2 scaled down once routed away from");
        assert_eq!(router.last(), Some(Traffic::all_to(1)));
        until(&plane, "api", "routed", LIMIT, |v| {
            v.routing_pending.is_none()
        })
        .await;

        // A control plane whose routes fail still stops when asked.
        router.failing.store(true, Ordering::SeqCst);
        plane.deploy("api", deploy("v3", &[])).await.unwrap();
        until_refused(&router, 6).await;
        tokio::time::timeout(LIMIT, plane.shutdown(false))
            .await
            .expect("the control plane stops while its route fails");
    })
    .await;
}
