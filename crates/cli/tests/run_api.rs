//! A run as the dashboard reads it, from a real `bellwether up`: `GET /v1/runs/events` tells
//! of each change as the run goes (no polling), `GET /v1/runs/{n}` has the job graph (needs,
//! matrix legs, steps), the gate with its rules and who approved it, and
//! `GET /v1/runs/{n}/logs` serves a step's log from an offset and refuses queries that try to
//! leave the run's logs with a clear 4xx.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::ControlPlane;

/// The whole walk: a two-leg build, a gate, an approval and a ship.
const WALK: Duration = Duration::from_secs(120);

const PROJECT: &str = r#"environments:
  production: { approvals: 1, reviewers: [alice] }
pipelines:
  release:
    on: { manual: {} }
    jobs:
      build:
        strategy: { matrix: { os: [linux, mac] } }
        steps:
          - run: echo built on ${{ matrix.os }}
      ship:
        needs: [build]
        environment: production
        steps:
          - run: echo shipped
  slow:
    on: { manual: {} }
    jobs:
      tail:
        steps:
          - run: echo first; while [ ! -e GO_FILE ]; do sleep 0.05; done; echo second
"#;

/// The project, whose `slow` pipeline's step ends once `go` exists.
fn project(dir: &Path, go: &Path) -> PathBuf {
    let text = PROJECT.replace("GO_FILE", &go.display().to_string());
    support::committed_project(&dir.join("repo"), &text)
}

/// Reads the change stream until run `number` reaches `status`, reading the run again only
/// when the stream names it.
async fn until_status(
    client: &reqwest::Client,
    plane: &ControlPlane,
    events: &mut reqwest::Response,
    number: u64,
    status: &str,
) -> serde_json::Value {
    until(client, plane, events, number, |run| run["status"] == status).await
}

/// Reads the change stream until run `number` is as `done` wants it.
async fn until(
    client: &reqwest::Client,
    plane: &ControlPlane,
    events: &mut reqwest::Response,
    number: u64,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut buffer = String::new();
    loop {
        let run = get_json(client, plane, &format!("/v1/runs/{number}")).await;
        if done(&run) {
            return run;
        }
        // The next change of this run.
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let named = block
                    .lines()
                    .any(|l| l.strip_prefix("data: ") == Some(&number.to_string()));
                if named || block.contains("event: lagged") {
                    break;
                }
                continue;
            }
            let chunk = events.chunk().await.unwrap().unwrap_or_else(|| {
                panic!("the change stream ended before run {number} was as awaited: {run:#}")
            });
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn get_json(client: &reqwest::Client, plane: &ControlPlane, path: &str) -> serde_json::Value {
    let response = client
        .get(format!("{}{path}", plane.server))
        .bearer_auth(&plane.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// `GET` a run's step log: the status, `x-log-size` and the body.
async fn log(
    client: &reqwest::Client,
    plane: &ControlPlane,
    number: u64,
    query: &str,
) -> (u16, Option<u64>, String) {
    let response = client
        .get(format!("{}/v1/runs/{number}/logs?{query}", plane.server))
        .bearer_auth(&plane.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let size = response
        .headers()
        .get("x-log-size")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (status, size, response.text().await.unwrap())
}

#[test]
fn a_run_streams_its_changes_shows_its_graph_gate_and_reviews_and_serves_step_logs() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path(), &dir.path().join("go")));
    let made = plane.run(&["token", "create", "alice", "--role", "approver"]);
    assert_eq!(made.code, 0, "{made:?}");
    let alice = made.stdout.trim().to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .connect_timeout(support::COMMAND)
        .build()
        .unwrap();
    let walk = async {
        let mut events = client
            .get(format!("{}/v1/runs/events", plane.server))
            .bearer_auth(&plane.token)
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);
        assert_eq!(events.headers()["content-type"], "text/event-stream");
        let started: serde_json::Value = client
            .post(format!("{}/v1/pipelines/release/dispatch", plane.server))
            .bearer_auth(&plane.token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let number = started["runs"][0]["number"]
            .as_u64()
            .expect("a run started");

        let waiting = until_status(&client, &plane, &mut events, number, "waiting").await;
        let gate = &waiting["gates"][0];
        assert_eq!(
            (
                gate["job"].as_str(),
                gate["environment"].as_str(),
                gate["state"].as_str()
            ),
            (Some("ship"), Some("production"), Some("waiting")),
            "{waiting:#}"
        );
        assert_eq!(
            gate["rules"],
            serde_json::json!([
                "1 approval",
                "not by whoever started the run",
                "reviewers: alice"
            ]),
            "{waiting:#}"
        );
        let review = client
            .post(format!("{}/v1/runs/{number}/reviews", plane.server))
            .bearer_auth(&alice)
            .header("content-type", "application/json")
            .body(r#"{"approved": true, "comment": "looks good"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(review.status(), 200, "{:?}", review.text().await);

        let run = until_status(&client, &plane, &mut events, number, "success").await;
        let jobs = run["jobs"].as_array().unwrap();
        let ids: Vec<_> = jobs.iter().map(|j| j["job"].as_str().unwrap()).collect();
        assert_eq!(ids, ["build", "ship"], "{run:#}");
        assert_eq!(jobs[0]["needs"], serde_json::json!([]));
        assert_eq!(jobs[1]["needs"], serde_json::json!(["build"]));
        let legs = jobs[0]["instances"].as_array().unwrap();
        assert_eq!(legs.len(), 2, "{run:#}");
        for (i, leg) in legs.iter().enumerate() {
            assert_eq!(leg["index"], i);
            assert_eq!(leg["status"], "success", "{run:#}");
            let step = &leg["steps"][0];
            assert_eq!(step["status"], "success", "{run:#}");
            assert!(step["started_ms"].as_u64() <= step["finished_ms"].as_u64());
        }
        assert_eq!(run["gates"][0]["state"], "open", "{run:#}");
        let reviews = run["reviews"].as_array().unwrap();
        assert_eq!(reviews.len(), 1, "{run:#}");
        assert_eq!(
            (
                reviews[0]["environment"].as_str(),
                reviews[0]["by"].as_str(),
                reviews[0]["approved"].as_bool(),
                reviews[0]["comment"].as_str()
            ),
            (
                Some("production"),
                Some("alice"),
                Some(true),
                Some("looks good")
            )
        );

        // A step's log, whole and from an offset; each leg has its own.
        let (status, size, text) = log(&client, &plane, number, "job=ship&step=1").await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("shipped"), "{text:?}");
        assert_eq!(size, Some(text.len() as u64));
        let size = size.unwrap();
        let (_, _, tail) = log(
            &client,
            &plane,
            number,
            &format!("job=ship&step=1&offset={}", size - 3),
        )
        .await;
        assert_eq!(tail, text[text.len() - 3..]);
        let (_, _, past) = log(
            &client,
            &plane,
            number,
            &format!("job=ship&step=1&offset={}", size + 100),
        )
        .await;
        assert_eq!(past, "");
        let (_, _, mac) = log(&client, &plane, number, "job=build&instance=1&step=1").await;
        assert!(mac.contains("built on mac"), "{mac:?}");

        // Hostile or mistaken queries: a clear 4xx, never a file outside the run's logs.
        for (query, want, says) in [
            ("job=..&step=1", 400, "not a path"),
            ("job=../ship&step=1", 400, "not a path"),
            ("job=ship/../../..&step=1", 400, "not a path"),
            ("job=%2Fetc%2Fpasswd&step=1", 400, "not a path"),
            ("job=nope&step=1", 404, "no job `nope`"),
            ("job=ship&step=0", 400, "numbered from 1"),
            ("job=ship&step=..%2F..%2F1", 400, "step"),
            ("job=ship&step=%2Fetc%2Fpasswd", 400, "step"),
            ("job=ship&step=9", 404, "no step 9"),
            ("job=ship&instance=3&step=1", 404, "no leg 3"),
            ("job=ship&step=1&path=%2Fetc%2Fpasswd", 400, "path"),
            ("step=1", 400, "job"),
        ] {
            let (status, _, body) = log(&client, &plane, number, query).await;
            let error: serde_json::Value = serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("{query}: not an ApiError: {body}"));
            let message = error["error"].as_str().unwrap_or_default();
            assert_eq!(status, want, "{query}: {message}");
            assert!(message.contains(says), "{query}: {message}");
        }
        let (status, _, _) = log(&client, &plane, number + 1, "job=ship&step=1").await;
        assert_eq!(status, 404);
        let anonymous = client
            .get(format!(
                "{}/v1/runs/{number}/logs?job=ship&step=1",
                plane.server
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    };
    runtime
        .block_on(async { tokio::time::timeout(WALK, walk).await })
        .unwrap_or_else(|_| panic!("the walk took over {WALK:?}: {:#?}", plane.log()));
}

/// Until a step's log holds `text`, from `offset` on: the log grows with no change of the run
/// to announce it, so it is read again every 50 ms (within the test's bound).
async fn log_until(
    client: &reqwest::Client,
    plane: &ControlPlane,
    number: u64,
    offset: u64,
    text: &str,
) -> (u64, String) {
    loop {
        let (status, size, body) = log(
            client,
            plane,
            number,
            &format!("job=tail&step=1&offset={offset}"),
        )
        .await;
        if status == 200 && body.contains(text) {
            return (size.unwrap(), body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_running_steps_log_is_read_from_where_the_last_read_ended() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let plane = ControlPlane::start(&project(dir.path(), &go));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .connect_timeout(support::COMMAND)
        .build()
        .unwrap();
    let walk = async {
        let mut events = client
            .get(format!("{}/v1/runs/events", plane.server))
            .bearer_auth(&plane.token)
            .send()
            .await
            .unwrap();
        let started: serde_json::Value = client
            .post(format!("{}/v1/pipelines/slow/dispatch", plane.server))
            .bearer_auth(&plane.token)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let number = started["runs"][0]["number"]
            .as_u64()
            .expect("a run started");
        let running = until(&client, &plane, &mut events, number, |run| {
            run["jobs"][0]["instances"][0]["steps"][0]["status"] == "running"
        })
        .await;
        assert_eq!(running["status"], "running");
        let (size, first) = log_until(&client, &plane, number, 0, "first").await;
        assert!(!first.contains("second"), "{first:?}");
        std::fs::write(&go, "").unwrap();
        let (_, rest) = log_until(&client, &plane, number, size, "second").await;
        assert!(
            !rest.contains("first"),
            "read again from the start: {rest:?}"
        );
        until_status(&client, &plane, &mut events, number, "success").await;
    };
    runtime
        .block_on(async { tokio::time::timeout(WALK, walk).await })
        .unwrap_or_else(|_| panic!("the walk took over {WALK:?}: {:#?}", plane.log()));
}
