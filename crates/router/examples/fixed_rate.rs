//! A fixed-rate HTTP/1.1 load generator for `bench/router.sh`, since wrk only saturates and
//! Debian ships no wrk2: `fixed_rate URL RATE SECONDS CONNECTIONS`.
//!
//! Each keep-alive connection sends on its own schedule (RATE / CONNECTIONS per second). A
//! request that has to wait for the previous response on its connection is timed from when it
//! should have been sent, so a slow server cannot hide its queueing (coordinated omission); one
//! sent on time is timed from when it was sent, so tokio's 1 ms timer does not count against
//! the server. Prints one line: `RESULT rps=.. p50=.. p99=.. p999=.. errors=..` (milliseconds).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, rate, seconds, connections] = args.as_slice() else {
        eprintln!("usage: fixed_rate URL RATE SECONDS CONNECTIONS");
        std::process::exit(2);
    };
    let parse = |what: &str, text: &str| -> f64 {
        text.parse().unwrap_or_else(|_| {
            eprintln!("{what} `{text}` is not a number");
            std::process::exit(2)
        })
    };
    let (rate, seconds, connections) = (
        parse("RATE", rate),
        parse("SECONDS", seconds),
        parse("CONNECTIONS", connections) as usize,
    );
    // Requests go in origin form (`GET /path`) with a Host header, as browsers and wrk send.
    let Some((target, path)) = url
        .strip_prefix("http://")
        .map(|rest| match rest.find('/') {
            Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
            None => (rest.to_owned(), "/".to_owned()),
        })
    else {
        eprintln!("URL must be http://HOST:PORT/...");
        std::process::exit(2)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(target, path, rate, seconds, connections.max(1)));
}

async fn run(target: String, path: String, rate: f64, seconds: f64, connections: usize) {
    let Some(addr) = tokio::net::lookup_host(&target)
        .await
        .ok()
        .and_then(|mut a| a.next())
    else {
        eprintln!("`{target}` is not a reachable HOST:PORT");
        std::process::exit(2)
    };
    if !(rate.is_finite() && rate > 0.0 && seconds > 0.0) {
        eprintln!("RATE and SECONDS must be positive");
        std::process::exit(2)
    }
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let begin = Instant::now() + Duration::from_millis(100);
    let end = begin + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let path = path.clone();
            let first = begin + interval.mul_f64(c as f64 / connections as f64);
            tokio::spawn(connection(addr, path, first, interval, end))
        })
        .collect();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let (mut done, mut errors) = (0u64, 0u64);
    for task in tasks {
        let (h, d, e) = task.await.expect("a load task");
        all.add(&h).expect("same bounds");
        done += d;
        errors += e;
    }
    let elapsed = (Instant::now().min(end + Duration::from_secs(5)) - begin).as_secs_f64();
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "RESULT rps={:.0} p50={:.3} p99={:.3} p999={:.3} errors={errors}",
        done as f64 / elapsed.max(seconds),
        ms(0.5),
        ms(0.99),
        ms(0.999)
    );
}

async fn connect(addr: SocketAddr) -> Option<Sender> {
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

async fn connection(
    addr: SocketAddr,
    path: String,
    first: Instant,
    interval: Duration,
    end: Instant,
) -> (Histogram<u64>, u64, u64) {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let (mut done, mut errors) = (0u64, 0u64);
    let mut sender = connect(addr).await;
    let mut intended = first;
    let mut previous_done = Instant::now();
    while intended < end {
        let late = previous_done > intended;
        if !late {
            tokio::time::sleep_until(intended).await;
        }
        let sent = Instant::now();
        let from = if late { intended } else { sent };
        let ok = match &mut sender {
            Some(s) => {
                let req = Request::get(path.as_str())
                    .header("host", "bench")
                    .body(Empty::new())
                    .expect("a request");
                match s.send_request(req).await {
                    Ok(response) => {
                        let status = response.status();
                        response.into_body().collect().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                }
            }
            None => false,
        };
        previous_done = Instant::now();
        if ok {
            done += 1;
            let micros = (previous_done - from).as_micros() as u64;
            h.saturating_record(micros.max(1));
        } else {
            errors += 1;
            sender = connect(addr).await;
        }
        intended += interval;
    }
    (h, done, errors)
}
