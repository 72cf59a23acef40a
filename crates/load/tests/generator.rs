//! The traffic generator: the rate it is asked for up to its cap, never above, with its
//! headers; stopped when told to or dropped.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bellwether_load::{Generator, Sent, Traffic};
use support::{Memory, Server};

fn traffic(rate: f64, cap: f64) -> Traffic {
    Traffic {
        url: "http://canary:80/health".to_owned(),
        headers: vec![("x-canary".to_owned(), "always".to_owned())],
        rate,
        cap,
    }
}

#[tokio::test(start_paused = true)]
async fn the_cap_holds_whatever_rate_is_asked() {
    let server = Server::new(|_| (Duration::from_millis(5), 200));
    let generator = Generator::start_with(
        traffic(10_000.0, 20.0),
        Arc::new(Memory(Arc::clone(&server))),
    )
    .unwrap();
    assert_eq!(generator.rate(), 20.0);
    tokio::time::sleep(Duration::from_millis(9_999)).await;
    let sent = generator.stop().await;
    assert_eq!(
        sent,
        Sent {
            requests: 200,
            failed: 0,
            dropped: 0
        }
    );
    let seen = server.seen.lock().unwrap();
    assert!(
        seen.iter()
            .all(|(path, canary, _)| path == "/health" && canary.as_deref() == Some("always"))
    );
    // No second holds more than the cap.
    let first = seen[0].2;
    for window in 0..10u32 {
        let from = first + Duration::from_secs(window.into());
        let n = seen
            .iter()
            .filter(|s| s.2 >= from && s.2 < from + Duration::from_secs(1))
            .count();
        assert_eq!(n, 20, "second {window}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_rate_below_the_cap_is_kept_and_a_slow_target_is_not_piled_on() {
    let server = Server::new(|_| (Duration::from_secs(30), 200));
    let generator = Generator::start_with(
        traffic(200.0, 1_000.0),
        Arc::new(Memory(Arc::clone(&server))),
    )
    .unwrap();
    assert_eq!(generator.rate(), 200.0);
    tokio::time::sleep(Duration::from_millis(1_999)).await;
    // 400 are due in 2 s and nothing answers: MAX_IN_FLIGHT requests wait, the rest are
    // dropped.
    assert_eq!(server.count(), Generator::MAX_IN_FLIGHT as usize);
    let sent = generator.sent();
    assert_eq!(sent.dropped, 400 - u64::from(Generator::MAX_IN_FLIGHT));
    drop(generator);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        server.count(),
        Generator::MAX_IN_FLIGHT as usize,
        "dropping it stops it"
    );
}

#[tokio::test]
async fn it_sends_over_tcp_and_stops_when_dropped() {
    let server = Server::instant();
    let addr = support::tcp(Arc::clone(&server)).await;
    // The schedule counts from the start: a first request delivered late (a busy machine)
    // lets the next ones come closer together than the rate, never ahead of the schedule.
    let started = tokio::time::Instant::now();
    let generator = Generator::start(Traffic {
        url: format!("http://{addr}/ping"),
        headers: vec![("x-canary".to_owned(), "yes".to_owned())],
        rate: 5_000.0,
        cap: 100.0,
    })
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while server.count() < 50 {
        assert!(tokio::time::Instant::now() < deadline, "no traffic arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(generator);
    let stopped = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = server.seen.lock().unwrap();
    // At 100/s the nth request (from 0) is due at n / 100 s: one more than the rate times the
    // time, and one for rounding; none after the drop but one in flight.
    let allowed = (stopped - started).as_secs_f64() * 100.0 + 2.0;
    assert!(
        (seen.len() as f64) <= allowed,
        "{} requests in {:?}",
        seen.len(),
        stopped - started
    );
    assert!(
        seen.iter()
            .all(|s| s.0 == "/ping" && s.1.as_deref() == Some("yes"))
    );
    assert!(
        seen.iter()
            .all(|s| s.2 <= stopped + Duration::from_millis(50))
    );
}

#[test]
fn bad_traffic_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let refused = |t: Traffic| Generator::start(t).err().unwrap();
    assert_eq!(
        refused(traffic(0.0, 10.0)),
        "rate 0 is not a rate (expected requests per second above 0)"
    );
    assert_eq!(
        refused(traffic(10.0, f64::INFINITY)),
        "cap inf is not a rate (expected requests per second above 0)"
    );
    assert_eq!(
        refused(Traffic {
            url: "canary:80".to_owned(),
            ..traffic(1.0, 1.0)
        }),
        "`canary:80` is not an absolute http:// URL (expected e.g. http://127.0.0.1:8080/path)"
    );
}
