//! The harness of the tests that drive a real control plane: `bellwether up` as a child
//! process on a temporary data dir and an ephemeral API port, and the CLI's verbs against it.

#![allow(dead_code, unreachable_pub)] // each test file uses its own part of the harness

pub mod cluster;
pub mod prometheus;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const BIN: &str = env!("CARGO_BIN_EXE_bellwether");
/// Bound on any one command; a rollout step on a loaded machine takes a few seconds at most.
pub const COMMAND: Duration = Duration::from_secs(60);

/// `bellwether up`, stopped with SIGTERM (then SIGKILL) when the test ends however it ends.
pub struct ControlPlane {
    child: Child,
    pub server: String,
    /// The admin token `up` wrote, which the CLI presents as a user beside it would.
    pub token: String,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Reads `up`'s stderr until it closes.
    reader: Option<thread::JoinHandle<()>>,
    /// `up`'s stdout, the banner's lines not read yet.
    stdout: Receiver<String>,
    /// The banner's lines read so far.
    banner: Mutex<Vec<String>>,
}

impl ControlPlane {
    /// Starts `up` on `file` with its data next to it.
    pub fn start(file: &Path) -> Self {
        Self::start_with(file, &[])
    }

    /// Starts `up` on `file` with more flags.
    pub fn start_with(file: &Path, flags: &[&str]) -> Self {
        Self::start_env(file, flags, &[])
    }

    /// Starts `up` on `file` with more flags and environment variables.
    pub fn start_env(file: &Path, flags: &[&str], env: &[(&str, &str)]) -> Self {
        Self::launch(Command::new(BIN), file, flags, env)
    }

    /// Starts `up` in directory `dir` on `file`, a path relative to it.
    pub fn start_in(dir: &Path, file: &Path) -> Self {
        let mut command = Command::new(BIN);
        command.current_dir(dir);
        Self::launch(command, file, &[], &[])
    }

    /// Starts `up` on `file` and returns once it listens, leading or standing by; a standby's
    /// `token` is empty until [`Self::await_lead`].
    pub fn start_or_stand_by(file: &Path, flags: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(Command::new(BIN), file, flags, env, false)
    }

    /// Waits up to `within` for this control plane to lead (its banner then names its admin
    /// token, which it takes); whether it does.
    pub fn await_lead(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.token.is_empty() {
            let Ok(line) = self
                .stdout
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                return false;
            };
            self.read_banner(line);
        }
        true
    }

    fn read_banner(&mut self, line: String) {
        self.banner.lock().unwrap().push(line.clone());
        if let Some((_, rest)) = line.split_once("API listening on ") {
            self.server = rest.split_whitespace().next().unwrap().to_owned();
        }
        if let Some((_, rest)) = line.split_once("admin token in ") {
            let file = rest.split(" (").next().unwrap();
            self.token = std::fs::read_to_string(file).unwrap().trim().to_owned();
        }
    }

    fn launch(command: Command, file: &Path, flags: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(command, file, flags, env, true)
    }

    fn spawn(
        mut command: Command,
        file: &Path,
        flags: &[&str],
        env: &[(&str, &str)],
        leading: bool,
    ) -> Self {
        let mut child = command
            .args(["up", "-f"])
            .arg(file)
            .args(["--listen", "127.0.0.1:0"])
            .args(flags)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bellwether up starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        let reader = thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let stdout = lines_of(child.stdout.take().unwrap());
        let mut plane = ControlPlane {
            child,
            server: String::new(),
            token: String::new(),
            stderr,
            reader: Some(reader),
            stdout,
            banner: Mutex::new(Vec::new()),
        };
        let deadline = Instant::now() + COMMAND;
        while plane.server.is_empty() || (leading && plane.token.is_empty()) {
            let line = plane
                .stdout
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("`up` printed no API address: {:?}", plane.log()));
            plane.read_banner(line);
        }
        plane
    }

    /// The first line of `up`'s banner holding `needle`, waiting for it if need be.
    pub fn banner_line(&self, needle: &str) -> String {
        let mut banner = self.banner.lock().unwrap();
        if let Some(line) = banner.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + COMMAND;
        loop {
            let line = self
                .stdout
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("`up` printed no line with {needle:?}: {banner:?}"));
            banner.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Kills `up` with SIGKILL, as a crash would: its replicas keep running.
    pub fn kill9(mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Whether `up` has exited, and with what code.
    pub fn exited(&mut self) -> Option<Option<i32>> {
        self.child.try_wait().ok().flatten().map(|s| s.code())
    }

    pub fn log(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Stops `up` with SIGTERM, as Ctrl-C would, and returns everything it wrote to stderr.
    pub fn stop(mut self) -> Vec<String> {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let status = wait_bounded(&mut self.child, Duration::from_secs(20));
        assert!(status.is_some(), "`up` did not stop: {:#?}", self.log());
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.log()
    }

    /// `GET path` on the API with `token` (none if empty): the status, the content type and
    /// the body.
    pub fn get_as(&self, token: &str, path: &str) -> (u16, String, String) {
        let address = self.server.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(COMMAND)).unwrap();
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
        if !token.is_empty() {
            request += &format!("Authorization: Bearer {token}\r\n");
        }
        stream
            .write_all(format!("{request}\r\n").as_bytes())
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type: ")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        (status, content_type, body.to_owned())
    }

    /// Runs a verb against this control plane.
    pub fn run(&self, args: &[&str]) -> Outcome {
        self.run_as(&self.token, args)
    }

    /// Runs a verb presenting `token`.
    pub fn run_as(&self, token: &str, args: &[&str]) -> Outcome {
        bellwether(
            args,
            &[
                ("BELLWETHER_SERVER", self.server.as_str()),
                ("BELLWETHER_TOKEN", token),
            ],
        )
    }

    /// Runs `status` and checks its exit code, showing everything on a mismatch.
    pub fn expect_status(&self, service: &str, code: i32) -> Outcome {
        let outcome = self.run(&["status", service, "--timeout", "50s"]);
        assert_eq!(
            outcome.code,
            code,
            "{outcome:?}\ncontrol plane log: {:#?}",
            self.log()
        );
        outcome
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SIGTERM lets `up` stop its replicas; SIGKILL if it does not manage within the bound.
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        wait_bounded(&mut self.child, Duration::from_secs(20));
    }
}

/// Waits for the child to exit, killing it if it takes longer than `within`; whether it did.
pub fn wait_bounded(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let (done, finished) = mpsc::channel::<()>();
    let pid = Pid::from_raw(child.id() as i32);
    let watchdog = thread::spawn(move || {
        let late = finished.recv_timeout(within).is_err();
        if late {
            let _ = kill(pid, Signal::SIGKILL);
        }
        late
    });
    let status = child.wait().ok();
    let _ = done.send(());
    let late = watchdog.join().unwrap_or(true);
    status.filter(|_| !late)
}

#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bellwether` to completion, killed if it takes longer than [`COMMAND`].
pub fn bellwether(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("USER", "tester")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut err = child.stderr.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let readers = (
        thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        }),
        thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        }),
    );
    let status = wait_bounded(&mut child, COMMAND);
    let stdout = readers.0.join().unwrap();
    let stderr = readers.1.join().unwrap();
    let Some(status) = status else {
        panic!("bellwether {args:?} took over {COMMAND:?}: {stdout}{stderr}");
    };
    Outcome {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

/// Runs `bellwether run PIPELINE --plain` on `file`, its data kept in `data`.
pub fn run_pipeline(file: &Path, pipeline: &str, data: &Path) -> Outcome {
    bellwether(
        &[
            "run",
            pipeline,
            "-f",
            file.to_str().unwrap(),
            "--plain",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    )
}

/// A child's output as lines on a channel, so a test can wait for one with a bound.
pub fn lines_of(output: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            // Keeps reading after the receiver is gone, so the child never writes to a closed pipe.
            let _ = sender.send(line);
        }
    });
    receiver
}

/// Waits for a line containing `needle`; returns every line seen up to it.
pub fn wait_for(lines: &Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + COMMAND;
    let mut seen = Vec::new();
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => panic!("no line with {needle:?} in {seen:#?}"),
        }
    }
}

pub fn json(outcome: &Outcome) -> serde_json::Value {
    assert_eq!(outcome.code, 0, "{outcome:?}");
    serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", outcome.stdout))
}

/// `git -C repo ARGS` as Ada, which must succeed; its output, trimmed.
pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=Ada", "-c", "user.email=ada@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A new repository `repo` whose `bellwether.yaml` holds `yaml`, committed on `main` with the
/// data directory ignored; the file's path.
pub fn committed_project(repo: &Path, yaml: &str) -> PathBuf {
    std::fs::create_dir_all(repo).unwrap();
    std::fs::write(repo.join("bellwether.yaml"), yaml).unwrap();
    std::fs::write(repo.join(".gitignore"), ".bellwether/\n").unwrap();
    git(repo, &["init", "--quiet", "--initial-branch=main"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", "first"]);
    repo.join("bellwether.yaml")
}

/// `bellwether secret set NAME [--env E] -f FILE` with `value` on standard input.
pub fn set_secret(file: &Path, name: &str, environment: Option<&str>, value: &str) {
    let mut command = Command::new(BIN);
    command.args(["secret", "set", name, "-f"]).arg(file);
    if let Some(e) = environment {
        command.args(["--env", e]);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "secret set {name}");
}

/// Polls `found` until it gives a value, failing after `within` with what the control
/// plane logged.
pub fn eventually<T>(
    plane: &ControlPlane,
    what: &str,
    within: Duration,
    mut found: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}: {:#?}",
            plane.log()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A child process that is killed when the test ends, however it ends.
pub struct Running {
    pub child: Child,
    /// The addresses it printed as `... listening on ADDR`, in order.
    pub addrs: Vec<SocketAddr>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `bellwether` and waits until it has printed `listeners` addresses.
pub fn start_listening(args: &[&str], env: &[(&str, &str)], listeners: usize) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bellwether"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut running = Running {
        child,
        addrs: Vec::new(),
    };
    let mut lines = BufReader::new(stdout).lines();
    while running.addrs.len() < listeners {
        let line = lines
            .next()
            .expect("the process prints its addresses")
            .expect("utf-8");
        if let Some((_, addr)) = line.split_once("listening on ") {
            running.addrs.push(addr.trim().parse().expect("an address"));
        }
    }
    running
}

pub fn demo(version: &str, extra: &[(&str, &str)]) -> Running {
    let mut env = vec![("PORT", "0"), ("DEMO_VERSION", version)];
    env.extend_from_slice(extra);
    start_listening(&["demo-service"], &env, 1)
}

/// A project of one service, `web`, two `demo-service` replicas, whose canary goes 20, 40, 60
/// and 80% with a 1 s pause after each: eight steps, for the tests that kill control planes.
pub fn four_step_canary(dir: &Path) -> PathBuf {
    let file = dir.join("bellwether.yaml");
    let yaml = format!(
        r#"services:
  web:
    replicas: 2
    run:
      command: ["{BIN}", "demo-service"]
    readiness: {{ path: /health, interval: 100ms }}
    strategy:
      canary:
        steps:
          - setWeight: 20
          - pause: 1s
          - setWeight: 40
          - pause: 1s
          - setWeight: 60
          - pause: 1s
          - setWeight: 80
          - pause: 1s
"#
    );
    std::fs::write(&file, yaml).unwrap();
    file
}

/// A small deterministic generator, so a failure replays with the same random moments.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

/// The canary steps each attempt of `version`'s rollout of `web` entered, in order, from the
/// service's history; and whether its events are numbered 1, 2, 3… without a gap or a repeat.
pub fn steps_entered(plane: &ControlPlane, version: &str) -> (Vec<String>, bool) {
    let history = json(&plane.run(&["history", "web", "-o", "json"]));
    let events = history["events"].as_array().unwrap();
    let numbered = events
        .iter()
        .enumerate()
        .all(|(i, e)| e["seq"].as_u64() == Some(i as u64 + 1));
    let mut steps = Vec::new();
    let mut ours = false;
    for note in events
        .iter()
        .flat_map(|e| e["notes"].as_array().unwrap().iter())
        .filter_map(|n| n.as_str())
    {
        if note.starts_with("canary rollout of revision") {
            ours = note.contains(&format!("({version})"));
        } else if ours && note.starts_with("step ") && !note.ends_with("completed") {
            steps.push(note.split(':').next().unwrap().to_owned());
        }
    }
    (steps, numbered)
}
