//! Each executor's schedule, the thresholds' abort and the checks, against an in-memory server
//! on tokio's paused clock: counts are exact and a minute of load takes no time.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bellwether_load::metrics::{Metric, Rate};
use bellwether_load::{Options, Report, Run};
use support::{Memory, Server};

/// A virtual bound: a run that hangs fails at it rather than never ending.
const BOUND: Duration = Duration::from_secs(3600);

fn no_csv(_: &str) -> Result<String, String> {
    Err("no files here".to_owned())
}

async fn run(server: &Arc<Server>, source: &str) -> Report {
    let plan = bellwether_load::load("t.yaml", source, &no_csv).unwrap_or_else(|e| panic!("{e}"));
    let run = Run::start(
        plan,
        Options {
            connector: Arc::new(Memory(Arc::clone(server))),
            samples: None,
            workers: Vec::new(),
        },
    );
    tokio::time::timeout(BOUND, run.finish())
        .await
        .expect("the run ends")
}

#[tokio::test(start_paused = true)]
async fn constant_vus_loop_for_the_duration() {
    let server = Server::instant();
    let report = run(
        &server,
        "scenarios: {s: {executor: constant-vus, vus: 5, duration: 10s}}
requests:
  - {url: 'http://app:80/', sleep: 1s}
",
    )
    .await;
    // Each VU starts an iteration at 0 s, 1 s, … 9 s.
    assert_eq!(report.metrics.count(Metric::Iterations), 50);
    assert_eq!(report.metrics.count(Metric::HttpReqs), 50);
    assert_eq!(server.count(), 50);
    assert_eq!(report.metrics.gauge(Metric::VusMax).max, 5);
    assert_eq!(report.elapsed, Duration::from_secs(10));
    assert_eq!(
        server
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        5,
        "one keep-alive connection per VU"
    );
}

#[tokio::test(start_paused = true)]
async fn ramping_vus_follow_the_stages() {
    let server = Server::instant();
    let report = run(
        &server,
        "scenarios:
  s:
    executor: ramping-vus
    startVUs: 0
    stages: [{duration: 10s, target: 10}, {duration: 10s, target: 10}, {duration: 10s, target: 0}]
requests:
  - {url: 'http://app:80/', sleep: 1s}
",
    )
    .await;
    // VU n (from 0) is wanted from n + 1 s, when the ramp up reaches n + 1, to 29 - n s, the
    // last moment the ramp down is above n; iterating once a second from its first moment it
    // starts 29 - 2n iterations: 200 for the ten VUs.
    assert_eq!(report.metrics.count(Metric::Iterations), 200);
    let vus = report.metrics.gauge(Metric::Vus);
    assert_eq!((vus.max, vus.value), (10, 0));
}

#[tokio::test(start_paused = true)]
async fn a_constant_arrival_rate_starts_iterations_on_time() {
    let server = Server::new(|_| (Duration::from_millis(10), 200));
    let report = run(
        &server,
        "scenarios:
  s: {executor: constant-arrival-rate, rate: 50, duration: 10s, preAllocatedVUs: 2, maxVUs: 5}
requests:
  - {url: 'http://app:80/'}
",
    )
    .await;
    assert_eq!(report.metrics.count(Metric::Iterations), 500);
    assert_eq!(report.metrics.count(Metric::DroppedIterations), 0);
    let times: Vec<_> = server.seen.lock().unwrap().iter().map(|s| s.2).collect();
    let first = times[0];
    for (n, at) in times.iter().enumerate() {
        assert_eq!(
            *at - first,
            Duration::from_millis(20) * n as u32,
            "request {n}"
        );
    }
    let latency = report.metrics.trend(Metric::HttpReqDuration).unwrap();
    assert_eq!((latency.min(), latency.max()), (10.0, 10.0));
    // Every 20 ms an iteration of 10 ms: one VU is enough, the pre-allocated two are all.
    assert_eq!(report.metrics.gauge(Metric::VusMax).max, 2);
}

#[tokio::test(start_paused = true)]
async fn iterations_beyond_max_vus_are_dropped() {
    // 95 ms, not 100, so that a VU is free before the next iteration is due, never at once.
    let server = Server::new(|_| (Duration::from_millis(95), 200));
    let report = run(
        &server,
        "scenarios:
  s: {executor: constant-arrival-rate, rate: 100, duration: 5s, preAllocatedVUs: 1, maxVUs: 2}
requests:
  - {url: 'http://app:80/'}
",
    )
    .await;
    // Two VUs busy 95 ms per iteration serve 20 of the 100 due each second.
    let done = report.metrics.count(Metric::Iterations);
    let dropped = report.metrics.count(Metric::DroppedIterations);
    assert_eq!(done + dropped, 500);
    assert_eq!(done, 100);
    assert_eq!(report.metrics.gauge(Metric::VusMax).max, 2);
}

#[tokio::test(start_paused = true)]
async fn a_ramping_arrival_rate_follows_the_area_under_its_stages() {
    let server = Server::instant();
    let report = run(
        &server,
        "scenarios:
  s:
    executor: ramping-arrival-rate
    startRate: 0
    timeUnit: 1s
    preAllocatedVUs: 10
    stages: [{duration: 10s, target: 100}, {duration: 5s, target: 100}]
requests:
  - {url: 'http://app:80/'}
",
    )
    .await;
    assert_eq!(report.metrics.count(Metric::Iterations), 1000);
    let times: Vec<_> = server.seen.lock().unwrap().iter().map(|s| s.2).collect();
    let in_first_five = times
        .iter()
        .filter(|t| **t - times[0] < Duration::from_secs(5))
        .count();
    assert_eq!(
        in_first_five, 125,
        "5 t² iterations by t seconds of the ramp"
    );
}

#[tokio::test(start_paused = true)]
async fn iterations_due_while_the_only_vu_is_busy_are_dropped_not_delayed() {
    // A server that takes 995 ms for its first answer and 10 ms after: with one VU and a rate
    // of 10/s, the nine iterations due during that answer are dropped, and the schedule goes on
    // at 1 s as if nothing happened (no iteration starts late and looks fast).
    let first = std::sync::atomic::AtomicBool::new(true);
    let server = Server::new(move |_| {
        let slow = first.swap(false, std::sync::atomic::Ordering::Relaxed);
        (Duration::from_millis(if slow { 995 } else { 10 }), 200)
    });
    let report = run(
        &server,
        "scenarios:
  s: {executor: constant-arrival-rate, rate: 10, duration: 3s, preAllocatedVUs: 1}
requests:
  - {url: 'http://app:80/'}
",
    )
    .await;
    assert_eq!(report.metrics.count(Metric::DroppedIterations), 9);
    assert_eq!(report.metrics.count(Metric::Iterations), 21);
    let latency = report.metrics.trend(Metric::HttpReqDuration).unwrap();
    assert_eq!(latency.max(), 995.0);
    // Within the histogram's three significant digits.
    assert!((latency.percentile(90.0) - 10.0).abs() < 0.01);
}

#[tokio::test(start_paused = true)]
async fn graceful_stop_interrupts_iterations_that_run_past_it() {
    let server = Server::new(|path| {
        let slow = path == "/slow";
        (Duration::from_secs(if slow { 10 } else { 0 }), 200)
    });
    let report = run(
        &server,
        "scenarios:
  s: {executor: constant-vus, vus: 1, duration: 2s, gracefulStop: 1s}
requests:
  - {url: 'http://app:80/slow'}
",
    )
    .await;
    assert_eq!(report.elapsed, Duration::from_secs(3));
    assert_eq!(
        report.metrics.count(Metric::HttpReqs),
        0,
        "an interrupted request is not counted"
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn scenarios_start_at_their_start_time() {
    let server = Server::instant();
    let report = run(
        &server,
        "scenarios:
  first: {executor: constant-arrival-rate, rate: 1, duration: 2s, preAllocatedVUs: 1}
  later: {executor: constant-arrival-rate, rate: 1, duration: 2s, preAllocatedVUs: 1, startTime: 5s}
requests:
  - {url: 'http://app:80/'}
",
    )
    .await;
    let times: Vec<_> = server.seen.lock().unwrap().iter().map(|s| s.2).collect();
    let offsets: Vec<Duration> = times.iter().map(|t| *t - times[0]).collect();
    assert_eq!(offsets, [0, 1, 5, 6].map(Duration::from_secs));
    assert_eq!(report.elapsed, Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn abort_on_fail_stops_the_test_once_its_delay_is_over() {
    let server = Server::new(|_| (Duration::from_millis(5), 503));
    let report = run(
        &server,
        "scenarios: {s: {executor: constant-vus, vus: 2, duration: 1m}}
requests:
  - {url: 'http://app:80/', sleep: 100ms}
thresholds:
  http_req_failed: [{threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: 3s}]
",
    )
    .await;
    assert_eq!(
        report.aborted_by.as_deref(),
        Some("http_req_failed: rate<0.01")
    );
    assert!(
        report.elapsed >= Duration::from_secs(3) && report.elapsed < Duration::from_secs(5),
        "{:?}",
        report.elapsed
    );
}

#[tokio::test(start_paused = true)]
async fn checks_variants_and_sub_metrics_are_recorded() {
    let server = Server::new(|path| {
        let slow = path.starts_with("/users/b");
        (Duration::from_millis(if slow { 300 } else { 10 }), 200)
    });
    let report = run(
        &server,
        "scenarios: {s: {executor: constant-vus, vus: 1, duration: 10s}}
requests:
  - name: user
    url: 'http://app:80/users/{{user}}'
    variants: [{user: ann}, {user: bob}]
    sleep: 690ms
    checks: {status: 200, bodyContains: 'hello /users/a', maxDuration: 100ms}
  - {name: home, url: 'http://app:80/', checks: {status: 404}}
thresholds:
  'http_req_duration{name:user}': ['max<200']
  'http_req_duration{name:home}': ['max<200']
",
    )
    .await;
    // Iterations of 10 + 690 + 10 or 300 + 690 + 10 ms alternate: ann, bob, ann, … (7 in 10 s…
    // the eighth starts at 5.6 + 1.0 s + …); what matters is the order and the counts agree.
    let paths = server.paths();
    let users: Vec<&str> = paths
        .iter()
        .filter(|p| p.starts_with("/users/"))
        .map(String::as_str)
        .collect();
    assert!(users.len() >= 6);
    for (n, p) in users.iter().enumerate() {
        assert_eq!(
            *p,
            if n % 2 == 0 {
                "/users/ann"
            } else {
                "/users/bob"
            }
        );
    }
    let checks = report.metrics.checks();
    let n = users.len() as u64;
    let bobs = n / 2;
    assert_eq!(
        checks[0],
        Rate {
            passes: n,
            total: n
        },
        "status"
    );
    assert_eq!(
        checks[1],
        Rate {
            passes: n - bobs,
            total: n
        },
        "body contains"
    );
    assert_eq!(
        checks[2],
        Rate {
            passes: n - bobs,
            total: n
        },
        "duration"
    );
    assert_eq!(
        checks[3],
        Rate {
            passes: 0,
            total: n
        },
        "home's status"
    );
    let plan_thresholds = bellwether_load::load("t.yaml", "scenarios: {s: {executor: constant-vus, duration: 1s}}\nrequests: [{name: user, url: 'http://a:1/'}, {name: home, url: 'http://a:1/'}]\nthresholds:\n  'http_req_duration{name:user}': ['max<200']\n  'http_req_duration{name:home}': ['max<200']\n", &no_csv).unwrap();
    let judged: Vec<bool> = plan_thresholds
        .thresholds
        .iter()
        .map(|t| t.judge(&report.metrics, report.elapsed).passed)
        .collect();
    assert_eq!(judged, [false, true]);
}

#[tokio::test(start_paused = true)]
async fn a_request_unanswered_within_its_timeout_fails_and_its_connection_is_replaced() {
    let server = Server::new(|_| (Duration::from_secs(10), 200));
    let report = run(
        &server,
        "scenarios: {s: {executor: constant-vus, vus: 1, duration: 5s}}
requests:
  - {url: 'http://app:80/slow', timeout: 1s}
",
    )
    .await;
    assert_eq!(report.metrics.count(Metric::HttpReqs), 5);
    assert_eq!(report.metrics.rate(Metric::HttpReqFailed).passes, 5);
    assert_eq!(
        report.metrics.trend(Metric::HttpReqDuration).unwrap().max(),
        1000.0
    );
    assert_eq!(
        server
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        5
    );
}
