//! The web dashboard in a real browser: `tests/browser/dashboard.mjs` drives Debian's Chromium
//! (with playwright-core, installed by `scripts/test.sh`) against a real `bellwether up`. It
//! watches a canary through its steps, promotes it with a click, sees a run appear on an open
//! runs page, approves it at its gate and reads its step's log and the review on its page, and
//! finds no action offered to a viewer. Also: the page and its files are served with
//! a policy that lets no other script run, and without a token the API refuses the page.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{ControlPlane, lines_of};

/// The browser's whole walk through the dashboard, including its waits.
const WALK: Duration = Duration::from_secs(180);

const PROJECT: &str = r#"environments:
  production: { approvals: 1 }
services:
  shop:
    replicas: 1
    run:
      command: ["BIN", "demo-service"]
    readiness: { path: /health, interval: 100ms }
    strategy:
      canary:
        steps:
          - setWeight: 20
          - pause: {}
          - setWeight: 60
          - pause: { duration: 2s }
pipelines:
  release:
    on: { manual: {} }
    jobs:
      build:
        strategy: { matrix: { target: [linux, mac] } }
        steps:
          - run: echo built for ${{ matrix.target }}
          - run: echo tested
      ship:
        needs: [build]
        environment: production
        steps:
          - run: echo shipped
"#;

fn project(dir: &Path) -> PathBuf {
    support::committed_project(&dir.join("repo"), &PROJECT.replace("BIN", support::BIN))
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

#[test]
fn a_canary_is_watched_and_promoted_and_a_run_approved_in_a_real_browser() {
    let modules = browser_dir().join("node_modules/playwright-core");
    assert!(
        modules.exists() && Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Debian's chromium and tests/browser's node modules: run scripts/test.sh, which installs them"
    );
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path()));
    let token = |name: &str, role: &str| {
        let made = plane.run(&["token", "create", name, "--role", role]);
        assert_eq!(made.code, 0, "{made:?}");
        made.stdout.trim().to_owned()
    };
    let approver = token("alice", "approver");
    let viewer = token("vera", "viewer");
    let first = plane.run(&["deploy", "shop", "--version", "v1"]);
    assert_eq!(first.code, 0, "{first:?}");
    let settled = plane.run(&["status", "shop", "--timeout", "60s"]);
    assert_eq!(settled.code, 0, "{settled:?}");

    let mut node = Command::new("node");
    // `scripts/screenshots.sh` asks for pictures of each page.
    if let Some(shots) = std::env::var_os("BELLWETHER_SCREENSHOTS") {
        std::fs::create_dir_all(&shots).unwrap();
        node.env("SHOT_DIR", shots);
    }
    let mut child = node
        .arg(browser_dir().join("dashboard.mjs"))
        .env("BW_URL", &plane.server)
        .env("BW_ADMIN", &plane.token)
        .env("BW_APPROVER", &approver)
        .env("BW_VIEWER", &viewer)
        .env("BW_SERVICE", "shop")
        .env("BW_PIPELINE", "release")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    let status = support::wait_bounded(&mut child, WALK);
    let said: Vec<String> = out.try_iter().chain(err.try_iter()).collect();
    let Some(status) = status else {
        panic!(
            "the browser walk took over {WALK:?}:\n{}\n{:#?}",
            said.join("\n"),
            plane.log()
        );
    };
    assert!(
        status.success() && said.iter().any(|l| l.ends_with(" ok")),
        "the browser walk failed ({status}):\n{}\n{:#?}",
        said.join("\n"),
        plane.log()
    );
}

#[test]
fn the_page_runs_only_its_own_script_and_the_api_wants_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let plane = ControlPlane::start(&project(dir.path()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(support::COMMAND)
        .build()
        .unwrap();
    runtime.block_on(async {
        for (path, kind) in [
            ("/", "text/html"),
            ("/assets/app.js", "text/javascript"),
            ("/assets/app.css", "text/css"),
        ] {
            let response = client
                .get(format!("{}{path}", plane.server))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            assert!(header("content-type").starts_with(kind), "{path}");
            let policy = header("content-security-policy");
            assert!(
                policy.contains("script-src 'self'")
                    && policy.contains("frame-ancestors 'none'")
                    && !policy.contains("unsafe"),
                "{path}: {policy}"
            );
            assert_eq!(header("x-content-type-options"), "nosniff");
            assert!(response.headers().get("set-cookie").is_none());
        }
        let page = client
            .get(&plane.server)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains("<script>") && !page.contains(" onclick"),
            "no inline script or handler: {page}"
        );
        let whoami = format!("{}/v1/whoami", plane.server);
        let refused = client.get(&whoami).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        let me: serde_json::Value = client
            .get(&whoami)
            .bearer_auth(&plane.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["role"], "admin");
        let pipelines: serde_json::Value = client
            .get(format!("{}/v1/pipelines", plane.server))
            .bearer_auth(&plane.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            pipelines,
            serde_json::json!([{"name": "release", "manual": true, "inputs": []}])
        );
        assert_eq!(me["permissions"].as_array().map(Vec::len), Some(8), "{me}");
    });
}
