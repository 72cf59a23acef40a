//! Steady load through the router while its table changes a hundred times: no request may
//! fail because of the router, each interval's split must match its weight, and a revision
//! removed from the table finishes the requests it had started.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bellwether_router::{RouterConfig, TableSpec};
use tokio::sync::{Notify, mpsc};

use crate::support::{Backend, Client, LIMIT, get, revision, start_router, table};

/// Client connections kept busy at once.
const WORKERS: usize = 8;
/// Requests counted per interval before the next change.
const PER_INTERVAL: usize = 300;
const CHANGES: usize = 100;
/// The largest gap, in percentage points, between an interval's observed canary share and
/// its weight. The router's turn sequence keeps it within about one request per hundred.
const TOLERANCE: f64 = 2.0;

/// One completed request: the table generation when it was sent and when it came back (even
/// numbers are settled tables, odd ones a change in progress), and who answered.
struct Done {
    sent: u64,
    back: u64,
    status: u16,
    backend: String,
}

/// A small deterministic generator for the weight steps.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn spec(
    canary_name: &str,
    canary_number: u64,
    stable: &[std::net::SocketAddr],
    canary: &[std::net::SocketAddr],
    canary_bp: u16,
) -> TableSpec {
    table(vec![
        revision("stable", 1, stable, 10_000 - canary_bp),
        revision(canary_name, canary_number, canary, canary_bp),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_through_a_hundred_weight_changes_and_revision_swaps_loses_nothing() {
    tokio::time::timeout(LIMIT, async {
        let stable = [Backend::start("stable").await.addr, Backend::start("stable").await.addr];
        let canary_a = [Backend::start("canary-a").await.addr, Backend::start("canary-a").await.addr];
        let canary_b = [Backend::start("canary-b").await.addr];
        let running = start_router(spec("canary-a", 2, &stable, &canary_a, 0), RouterConfig::default()).await;

        let generation = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut workers = Vec::new();
        for _ in 0..WORKERS {
            let (generation, stop, tx) = (Arc::clone(&generation), Arc::clone(&stop), tx.clone());
            let addr = running.addr;
            workers.push(tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                while !stop.load(Ordering::Relaxed) {
                    let sent = generation.load(Ordering::SeqCst);
                    let answer = client.get("/", &[]).await;
                    let back = generation.load(Ordering::SeqCst);
                    let (status, backend) = match answer {
                        Ok(a) if a.body.is_ok() => (a.status.as_u16(), a.backend().to_owned()),
                        Ok(a) => (a.status.as_u16(), format!("cut: {:?}", a.body)),
                        Err(e) => (0, format!("error: {e}")),
                    };
                    let _ = tx.send(Done { sent, back, status, backend });
                }
            }));
        }
        drop(tx);

        let started = Instant::now();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut weight_bp: i64 = 0;
        let mut rising = true;
        let mut total = 0usize;
        let mut worst: f64 = 0.0;
        for change in 0..CHANGES {
            // Step 0→100% and back in random steps of 0.01% to 25%.
            let step = 1 + rng.next(2_500) as i64;
            weight_bp = if rising { weight_bp + step } else { weight_bp - step };
            if weight_bp >= 10_000 || weight_bp <= 0 {
                weight_bp = weight_bp.clamp(0, 10_000);
                rising = !rising;
            }
            // Every 25 changes the canary is replaced by another revision on other backends.
            let (name, number, addrs) = if (change / 25) % 2 == 0 { ("canary-a", 2, &canary_a[..]) } else { ("canary-b", 3, &canary_b[..]) };
            generation.fetch_add(1, Ordering::SeqCst);
            running.router.apply(spec(name, number, &stable, addrs, weight_bp as u16)).unwrap();
            let settled = generation.fetch_add(1, Ordering::SeqCst) + 1;

            let mut counted = 0usize;
            let mut to_canary = 0usize;
            while counted < PER_INTERVAL {
                let done = rx.recv().await.expect("workers run until stopped");
                total += 1;
                assert_eq!(done.status, 200, "change {change}: a request failed: {}", done.backend);
                if done.sent == settled && done.back == settled {
                    counted += 1;
                    if done.backend.starts_with("canary") {
                        assert_eq!(done.backend, name, "change {change}: routed to a removed revision");
                        to_canary += 1;
                    }
                }
            }
            let observed = to_canary as f64 * 100.0 / counted as f64;
            let expected = weight_bp as f64 / 100.0;
            worst = worst.max((observed - expected).abs());
            assert!(
                (observed - expected).abs() <= TOLERANCE,
                "change {change}: canary got {observed:.2}% of {counted}, configured {expected:.2}%"
            );
        }
        stop.store(true, Ordering::Relaxed);
        while let Some(done) = rx.recv().await {
            total += 1;
            assert_eq!(done.status, 200, "a request failed: {}", done.backend);
        }
        for w in workers {
            w.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{total} requests in {secs:.1} s ({:.0}/s), {CHANGES} changes, worst split error {worst:.2} points",
            total as f64 / secs
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_removed_revision_finishes_what_it_started() {
    tokio::time::timeout(LIMIT, async {
        let (arrived, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let old =
            Backend::start_with("old", Some((Arc::clone(&arrived), Arc::clone(&release)))).await;
        let new = Backend::start("new").await;
        let running = start_router(
            table(vec![revision("old", 1, &[old.addr], 10_000)]),
            RouterConfig::default(),
        )
        .await;
        let addr = running.addr;
        let in_flight = tokio::spawn(async move { get(addr, "/slow", &[]).await });
        arrived.notified().await;
        running
            .router
            .apply(table(vec![revision("new", 2, &[new.addr], 10_000)]))
            .unwrap();
        assert_eq!(get(addr, "/", &[]).await.text(), "new");
        release.notify_one();
        let answer = in_flight.await.unwrap();
        assert_eq!(
            (answer.status.as_u16(), answer.text().as_str()),
            (200, "old")
        );
        let s = running
            .router
            .signals()
            .revision("api", 1, "old")
            .sample(Duration::from_secs(60));
        assert_eq!((s.requests, s.status_classes[1], s.in_flight), (1, 1, 0));
    })
    .await
    .unwrap();
}
