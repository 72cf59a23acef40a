//! A throwaway PostgreSQL server for tests and benchmarks: Debian's `initdb` and `postgres`
//! (from `/usr/lib/postgresql/*/bin`, else `PATH`) on a temporary directory, listening on a
//! free loopback port and a unix socket in that directory, with a database per caller.
//!
//! The server stops, and its directory goes, when the process that started it ends however it
//! ends: it runs under a small shell that waits for its standard input to close, which the
//! process holds open. As root (PostgreSQL refuses to run as root) it runs as the `postgres`
//! user Debian's package creates, or `nobody`. A missing PostgreSQL is a panic naming what to
//! install: a test that needs it fails rather than passing without it.

use std::collections::BTreeSet;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::Target;

/// How long the server may take to accept its first connection.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Runs the server as `$3…` with its log in `$2`, and removes `$1` once it has stopped.
const KEEPER: &str = r#"dir="$1"; log="$2"; shift 2
exec 3<&0
(cat <&3 >/dev/null; kill -INT $$; while kill -0 $$ 2>/dev/null; do sleep 0.1; done; rm -rf "$dir") &
exec "$@" 3<&- >"$log" 2>&1 </dev/null"#;

/// The superuser the cluster is made with.
pub const USER: &str = "bellwether";

/// A running PostgreSQL server.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    password: String,
    /// Created so far, by name: a database is made once, at its first use.
    databases: Mutex<BTreeSet<String>>,
    /// Closing its standard input stops the server.
    keeper: Mutex<(Child, Option<ChildStdin>)>,
}

impl Cluster {
    /// The test process's one server, started at first use, without fsync (tests check
    /// semantics, not durability).
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| Cluster::start(false))
    }

    /// Starts a server; `durable` keeps PostgreSQL's default durability (fsync at commit),
    /// which benchmarks want. Panics with what is missing when it cannot.
    pub fn start(durable: bool) -> Cluster {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed: no initdb in /usr/lib/postgresql/*/bin or on PATH \
                 (Debian: apt-get install postgresql; scripts/test.sh installs it)"
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("bellwether-postgres-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        let owner = owner();
        let password = format!("pw-{:x}", hash(&(&dir, std::process::id())));
        fs::write(dir.join("pwfile"), &password).expect("the password file");
        fs::create_dir(dir.join("socket")).expect("the socket directory");
        if let Some((uid, gid)) = owner {
            for path in [dir.as_path(), &dir.join("pwfile"), &dir.join("socket")] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
            }
        }
        let as_owner = |program: PathBuf| {
            let mut command = Command::new(program);
            command.current_dir(&dir);
            if let Some((uid, gid)) = owner {
                command.uid(uid).gid(gid);
            }
            command
        };
        let initdb = as_owner(bin.join("initdb"))
            .arg("--pgdata")
            .arg(dir.join("data"))
            .args(["--username", USER, "--encoding", "UTF8", "--locale", "C"])
            .args(["--auth-local", "trust", "--auth-host", "scram-sha-256"])
            .arg(format!("--pwfile={}", dir.join("pwfile").display()))
            .arg("--no-sync")
            .output()
            .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let port = free_port();
        let log = dir.join("postgres.log");
        let mut settings = vec![
            "listen_addresses=127.0.0.1".to_owned(),
            format!("port={port}"),
            format!("unix_socket_directories={}", dir.join("socket").display()),
            "max_connections=300".to_owned(),
            "log_min_messages=warning".to_owned(),
        ];
        if !durable {
            settings.extend(
                [
                    "fsync=off",
                    "synchronous_commit=off",
                    "full_page_writes=off",
                ]
                .map(str::to_owned),
            );
        }
        let mut postgres = vec![bin.join("postgres").display().to_string(), "-D".to_owned()];
        postgres.push(dir.join("data").display().to_string());
        for setting in settings {
            postgres.extend(["-c".to_owned(), setting]);
        }
        // The shell becomes the server (`exec`, so that SIGINT is not ignored in it as in a
        // background job), leaving behind a watcher of its standard input: once that closes
        // (this process has ended, or dropped the cluster), a fast shutdown, then the
        // directory removed.
        let mut keeper = as_owner(PathBuf::from("/bin/sh"))
            .arg("-c")
            .arg(KEEPER)
            .arg("keeper")
            .arg(&dir)
            .arg(&log)
            .args(&postgres)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the server starts");
        let stdin = keeper.stdin.take();
        let cluster = Cluster {
            dir,
            port,
            password,
            databases: Mutex::new(BTreeSet::new()),
            keeper: Mutex::new((keeper, stdin)),
        };
        cluster.wait_until_ready();
        cluster
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `postgres://bellwether@127.0.0.1:<port>/<database>`: the URL without its password.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Database `database`, created at its first use, as a target with the password.
    pub fn database(&self, database: &str) -> Target {
        let mut made = self.databases.lock().unwrap_or_else(|p| p.into_inner());
        if !made.contains(database) {
            self.admin(&format!("CREATE DATABASE \"{database}\""));
            made.insert(database.to_owned());
        }
        self.target(database)
    }

    /// A database of its own for a test's directory `dir`, as the conformance suite names
    /// its fixtures.
    pub fn database_for(&self, dir: &Path) -> Target {
        self.database(&format!("t{:016x}", hash(&dir)))
    }

    /// Runs `sql` as the superuser on the `postgres` database.
    pub fn admin(&self, sql: &str) {
        self.execute("postgres", sql);
    }

    /// Runs `sql` as the superuser on `database`.
    pub fn execute(&self, database: &str, sql: &str) {
        let config = self.target(database).config;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let (client, connection) = config.connect(NoTls).await.expect("connected");
            tokio::spawn(connection);
            match client.batch_execute(sql).await {
                Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => {}
                done => done.unwrap_or_else(|e| panic!("{sql}: {e:?}")),
            }
        });
    }

    fn target(&self, database: &str) -> Target {
        Target::parse(&self.url(database))
            .expect("a URL")
            .with_password_unless_given(Some(&self.password))
    }

    /// Polls a connection until the server answers one, or fails with its log.
    fn wait_until_ready(&self) {
        let config = self.target("postgres").config;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let tried = runtime.block_on(async { config.connect(NoTls).await.map(|_| ()) });
            let Err(error) = tried else { return };
            let exited = {
                let mut keeper = self.keeper.lock().unwrap_or_else(|p| p.into_inner());
                keeper.0.try_wait().ok().flatten()
            };
            if exited.is_some() || Instant::now() > deadline {
                let mut log = String::new();
                let _ = fs::File::open(self.dir.join("postgres.log"))
                    .and_then(|mut f| f.read_to_string(&mut log));
                panic!("PostgreSQL did not start ({error}): {log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    /// Stops the server (a cluster in a static is stopped by the process's exit instead).
    fn drop(&mut self) {
        let keeper = self.keeper.get_mut().unwrap_or_else(|p| p.into_inner());
        drop(keeper.1.take());
        let _ = keeper.0.wait();
    }
}

fn hash(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// A port free on loopback a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb`, else the `PATH` entry that
/// has it.
fn bin_dir() -> Option<PathBuf> {
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    debian.sort();
    let path = std::env::var_os("PATH").unwrap_or_default();
    debian
        .pop()
        .map(|(_, bin)| bin)
        .or_else(|| std::env::split_paths(&path).find(|dir| dir.join("initdb").exists()))
}

/// Who the server runs as when this process is root: `postgres` or `nobody`.
fn owner() -> Option<(u32, u32)> {
    let root = fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if !root {
        return None;
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let user = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name))
                .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))?
        })
    };
    let found = user("postgres").or_else(|| user("nobody"));
    Some(found.expect("a user other than root to run PostgreSQL as (postgres or nobody)"))
}
