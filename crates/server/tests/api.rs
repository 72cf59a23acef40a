//! The API over a real control plane on a temporary data dir, served on an ephemeral loopback
//! port: statuses and `ApiError` bodies, the event stream, logs, and a shutdown that ends the
//! endless responses.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bellwether_access::Role;
use bellwether_api::{ApiError, EventView, Health, ServiceSummary, paths};
use bellwether_controller::{ControlPlane, Options};
use bellwether_runner::now_ms;
use bellwether_server::Access;
use reqwest::{Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bound on every test.
const LIMIT: Duration = Duration::from_secs(60);

/// A replica that never answers HTTP (so its rollout stays in progress) and writes a numbered
/// line every 100 ms.
const PROJECT: &str = r#"services:
  web:
    replicas: 1
    run:
      command: ["sh", "-c", "echo started; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"]
    health: /health
    strategy:
      canary:
        steps: [ {setWeight: 50}, {pause: {}} ]
"#;

struct Api {
    base: String,
    /// Presents an admin token.
    http: reqwest::Client,
    access: Arc<Access>,
    plane: ControlPlane,
    stop: oneshot::Sender<()>,
    served: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let project = bellwether_config::load("bellwether.yaml", PROJECT)
            .unwrap()
            .project;
        let plane = ControlPlane::start(Options {
            data_dir: dir.path().join("data"),
            base_dir: dir.path().to_path_buf(),
            project,
            secrets: None,
        })
        .await
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let access = Arc::new(Access::open(plane.store(), addr, vec![]).unwrap());
        let (stop, stopped) = oneshot::channel();
        let served = tokio::spawn(bellwether_server::serve(
            listener,
            plane.clone(),
            Arc::clone(&access),
            async {
                let _ = stopped.await;
            },
        ));
        let http = client(&token(&access, "tester", Role::Admin));
        Api {
            base,
            http,
            access,
            plane,
            stop,
            served,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: &str) -> Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Stops the server, which must end every stream and return, then the control plane.
    async fn finish(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap().unwrap();
        self.plane.shutdown(true).await;
    }
}

/// A new token of `role` named `name`.
fn token(access: &Access, name: &str, role: Role) -> String {
    let (secret, _) = access.tokens().create(name, role, None, now_ms()).unwrap();
    secret.expose().to_owned()
}

/// A client presenting `token` on every request.
fn client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(LIMIT, test)
        .await
        .expect("the test finished in time");
}

/// The status and the `ApiError` message of a failed request.
async fn error(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(kind, "application/json", "{status}");
    let body: ApiError = response.json().await.unwrap();
    (status, body.error)
}

/// Reads a streamed body until `done` holds for the text so far.
async fn read_until(response: &mut Response, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    while !done(&text) {
        let chunk = response.chunk().await.unwrap().expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_answer_json_and_every_failure_is_an_api_error() {
    bounded(async {
        let api = Api::start().await;
        let health: Health = api.get(paths::HEALTH).await.json().await.unwrap();
        assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
        let list: Vec<ServiceSummary> = api.get(paths::SERVICES).await.json().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, "web");
        assert!(list[0].listen.is_some());

        assert_eq!(
            error(api.get(&paths::service("nope")).await).await,
            (StatusCode::NOT_FOUND, "no service named `nope`".to_owned())
        );
        let (status, message) = error(api.post(&paths::deploy("web"), "{\"version\":").await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            message.starts_with("invalid JSON body: EOF while parsing"),
            "{message}"
        );
        let (status, message) = error(api.post(&paths::deploy("web"), "").await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("missing field `version`"), "{message}");
        let (status, message) = error(
            api.post(&paths::commands("web"), r#"{"command":{"promote":{"full":false}}}"#)
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{message}");
        assert!(message.starts_with("cannot promote"), "{message}");
        assert_eq!(
            error(api.get("/v1/nowhere").await).await,
            (StatusCode::NOT_FOUND, "no route for GET /v1/nowhere".to_owned())
        );
        let delete = api
            .http
            .delete(format!("{}{}", api.base, paths::SERVICES))
            .send()
            .await
            .unwrap();
        assert_eq!(
            error(delete).await,
            (
                StatusCode::METHOD_NOT_ALLOWED,
                "DELETE is not allowed on /v1/services".to_owned()
            )
        );
        let (status, message) = error(api.get(&format!("{}?tail=many", paths::logs("web"))).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.starts_with("invalid query: tail:"), "{message}");

        let bad = serde_json::json!({"file": "next.yaml", "source": "services:\n  web:\n    replicas: -1\n"});
        let (status, message) = error(api.post(paths::APPLY, &bad.to_string()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.starts_with("next.yaml is not valid:\n"), "{message}");
        assert!(message.contains("next.yaml:3:"), "{message}");
        let same = serde_json::json!({"file": "bellwether.yaml", "source": PROJECT});
        let applied: bellwether_api::ApplySummary =
            api.post(paths::APPLY, &same.to_string()).await.json().await.unwrap();
        assert_eq!(applied.unchanged, ["web"]);
        api.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_each_stored_event_as_a_json_data_line() {
    bounded(async {
        let api = Api::start().await;
        let (status, _) = error(api.get(&format!("{}?service=nope", paths::EVENTS)).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let mut events = api.get(&format!("{}?service=web", paths::EVENTS)).await;
        assert_eq!(events.status(), StatusCode::OK);
        assert_eq!(events.headers()["content-type"], "text/event-stream");
        let deploy = api.post(&paths::deploy("web"), r#"{"version":"v1"}"#).await;
        assert_eq!(deploy.status(), StatusCode::OK);
        let text = read_until(&mut events, |t| t.contains("\n\n")).await;
        let data = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap_or_else(|| panic!("no data line in {text:?}"));
        let event: EventView = serde_json::from_str(data).unwrap();
        assert_eq!((event.service.as_str(), event.seq), ("web", 1));
        // The server's shutdown ends the stream rather than waiting for it.
        api.finish().await;
        while let Some(chunk) = events.chunk().await.unwrap_or(None) {
            assert!(!chunk.is_empty());
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_prefixed_by_replica_tailed_and_followed() {
    bounded(async {
        let api = Api::start().await;
        let deploy = api.post(&paths::deploy("web"), r#"{"version":"v1"}"#).await;
        assert_eq!(deploy.status(), StatusCode::OK);
        let mut follow = api
            .get(&format!("{}?follow=true", paths::logs("web")))
            .await;
        assert_eq!(follow.status(), StatusCode::OK);
        assert_eq!(
            follow.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        let text = read_until(&mut follow, |t| t.contains("r1/0 | tick 3\n")).await;
        assert!(text.starts_with("r1/0 | started\n"), "{text}");

        let tail = api
            .get(&format!("{}?revision=1&tail=1", paths::logs("web")))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(tail.lines().count(), 1, "{tail}");
        assert!(tail.starts_with("r1/0 | tick "), "{tail}");
        let (status, _) = error(
            api.get(&format!("{}?revision=1", paths::logs("nope")))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        api.finish().await;
    })
    .await;
}

/// The path of a route with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{service}", "web")
        .replace("{pipeline}", "ship")
        .replace("{number}", "1")
        .replace("{name}", "someone")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_but_the_health_check_needs_a_token_whose_role_allows_it() {
    bounded(async {
        let api = Api::start().await;
        let anonymous = reqwest::Client::new();
        let viewer = client(&token(&api.access, "vera", Role::Viewer));
        let table = bellwether_server::route_table();
        assert!(table.len() >= 20, "{table:#?}");
        let send = |client: &reqwest::Client, rule: &bellwether_server::RouteRule| {
            client
                .request(
                    rule.method.clone(),
                    format!("{}{}", api.base, concrete(&rule.path)),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
        };
        for rule in &table {
            let without = send(&anonymous, rule).await.unwrap().status();
            let as_viewer = send(&viewer, rule).await.unwrap().status();
            match rule.need {
                bellwether_server::Need::Public => {
                    assert_eq!(
                        rule.method,
                        reqwest::Method::GET,
                        "only reads are public: {rule:?}"
                    );
                    assert!(without.is_success(), "{rule:?}: {without}");
                }
                bellwether_server::Need::Signed => {
                    assert_ne!(
                        without,
                        StatusCode::UNAUTHORIZED,
                        "{rule:?}: its signature decides"
                    );
                }
                bellwether_server::Need::Token(permission) => {
                    assert_eq!(without, StatusCode::UNAUTHORIZED, "{rule:?}");
                    let read = permission == bellwether_access::Permission::Read;
                    if read {
                        assert!(
                            !matches!(as_viewer.as_u16(), 401 | 403),
                            "{rule:?}: {as_viewer}"
                        );
                    } else {
                        assert_eq!(as_viewer, StatusCode::FORBIDDEN, "{rule:?}");
                    }
                }
            }
        }
        api.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_revoked_and_expired_tokens_are_refused_and_refusals_are_audited() {
    bounded(async {
        let api = Api::start().await;
        let deploy = |client: reqwest::Client| {
            let url = format!("{}{}", api.base, paths::deploy("web"));
            async move {
                client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(r#"{"version":"v1"}"#)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let (status, message) = error(deploy(client("bwt_0123456789")).await).await;
        assert_eq!(
            (status, message.as_str()),
            (
                StatusCode::UNAUTHORIZED,
                "not authenticated: the token is not known"
            )
        );
        let revoked = token(&api.access, "gone", Role::Admin);
        api.access.tokens().revoke("gone", now_ms()).unwrap();
        let (status, message) = error(deploy(client(&revoked)).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(message.contains("`gone` was revoked"), "{message}");
        let (expired, _) = api
            .access
            .tokens()
            .create("old", Role::Admin, Some(1), 0)
            .unwrap();
        let (status, message) = error(deploy(client(expired.expose())).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(message.contains("`old` has expired"), "{message}");
        let viewer = token(&api.access, "vera", Role::Viewer);
        let (status, message) = error(deploy(client(&viewer)).await).await;
        assert_eq!(
            (status, message.as_str()),
            (
                StatusCode::FORBIDDEN,
                "`vera` is a viewer and may not deploy"
            )
        );

        let trail = api.access.audit().read(0).unwrap();
        let seen: Vec<(&str, &str, u16)> = trail
            .iter()
            .map(|s| {
                (
                    s.entry.actor.as_str(),
                    s.entry.action.as_str(),
                    s.entry.status.unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("anonymous", "deploy", 401),
                ("anonymous", "deploy", 401),
                ("anonymous", "deploy", 401),
                ("vera", "deploy", 403),
            ]
        );
        assert!(
            trail
                .iter()
                .all(|s| s.entry.outcome == bellwether_access::Outcome::Refused)
        );
        assert!(trail.iter().all(|s| {
            s.entry
                .source
                .as_deref()
                .is_some_and(|a| a.starts_with("127.0.0.1:"))
        }));
        assert_eq!(bellwether_access::verify(&trail).unwrap().0, 4);
        api.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_cannot_be_made_to_act_cross_site_or_through_a_foreign_host() {
    bounded(async {
        let api = Api::start().await;
        let url = format!("{}{}", api.base, paths::commands("web"));
        let body = r#"{"command":"pause"}"#;
        let attempts = [
            (
                "a form's text/plain POST",
                vec![("content-type", "text/plain")],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "no content type",
                vec![],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "another site's page",
                vec![
                    ("content-type", "application/json"),
                    ("origin", "http://evil.example"),
                ],
                StatusCode::FORBIDDEN,
            ),
            (
                "a cross-site fetch",
                vec![
                    ("content-type", "application/json"),
                    ("sec-fetch-site", "cross-site"),
                ],
                StatusCode::FORBIDDEN,
            ),
            (
                "DNS rebinding",
                vec![
                    ("content-type", "application/json"),
                    ("host", "evil.example:7070"),
                ],
                StatusCode::MISDIRECTED_REQUEST,
            ),
        ];
        for (name, headers, expected) in attempts {
            let mut request = api.http.post(&url).body(body);
            for (k, v) in headers {
                request = request.header(k, v);
            }
            let (status, message) = error(request.send().await.unwrap()).await;
            assert_eq!(status, expected, "{name}: {message}");
        }
        // The same page of the server itself may act.
        let origin = api.base.clone();
        let ok = api
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("origin", origin)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_ne!(ok.status(), StatusCode::FORBIDDEN);
        api.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_acts_is_the_token_never_a_name_in_the_body() {
    bounded(async {
        let api = Api::start().await;
        let alice = client(&token(&api.access, "alice", Role::Deployer));
        let post = |path: String, body: &'static str| {
            let url = format!("{}{path}", api.base);
            let alice = alice.clone();
            async move {
                alice
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let deployed = post(paths::deploy("web"), r#"{"version":"v1","by":"mallory"}"#).await;
        assert!(
            deployed.status().is_success(),
            "{}",
            deployed.text().await.unwrap()
        );
        let paused = post(
            paths::commands("web"),
            r#"{"command":"pause","by":"mallory"}"#,
        )
        .await;
        assert!(
            paused.status().is_success(),
            "{}",
            paused.text().await.unwrap()
        );
        let history = api.get(&paths::history("web")).await.text().await.unwrap();
        assert!(
            history.contains("alice") && !history.contains("mallory"),
            "{history}"
        );
        let trail = api.access.audit().read(0).unwrap();
        let actors: Vec<(&str, &str)> = trail
            .iter()
            .map(|s| (s.entry.actor.as_str(), s.entry.action.as_str()))
            .collect();
        assert_eq!(actors, [("alice", "deploy"), ("alice", "command")]);
        api.finish().await;
    })
    .await;
}
