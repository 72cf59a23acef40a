//! The platform conformance suite against the local platform: each replica a Python HTTP
//! server on a loopback port (Python is on every machine these tests run on).

use std::sync::Arc;
use std::time::Duration;

use bellwether_controller::conformance::Fixture;
use bellwether_core::spec::RunSpec;
use bellwether_platform_local::{LocalPlatform, Options};

/// The suite's workload: `/health` 200, `/exit` exits, anything else 404; a line at start and
/// one per request.
const WORKLOAD: &str = r#"
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/exit":
            os._exit(1)
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *args):
        print("request", self.path, flush=True)
print("listening", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

fn local(dir: &std::path::Path) -> Arc<dyn bellwether_controller::Platform> {
    let mut options = Options::new(dir, dir);
    options.grace_period = Duration::from_millis(500);
    options.drain_delay = Duration::from_millis(10);
    Arc::new(LocalPlatform::new(options))
}

bellwether_controller::platform_conformance!(Fixture::new(
    local,
    RunSpec {
        command: vec!["python3".into(), "-c".into(), WORKLOAD.into()],
        env: Default::default(),
        workdir: None,
        port_env: "PORT".into(),
        image: None,
        secrets: Vec::new(),
    },
));
