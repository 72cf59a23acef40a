//! `bellwether up`: the control plane in the foreground. The controller resumes every rollout
//! where its store left it, each service gets its router, and the HTTP API serves the other
//! verbs until SIGINT or SIGTERM. The banner (addresses, the token file) is the command's
//! answer and goes to stdout; the event log and diagnostics go through `tracing` to stderr.

pub(crate) mod access;
mod lead;
mod notify;
mod retention;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bellwether_api::paths;
use bellwether_controller::{ControlPlane, Options, ProjectOrigin, Seams};
use bellwether_runner::{DataDir, SecretStore};
use bellwether_store_postgres::{Leases, PgRunStore, PgStore, Target};
use bellwether_triggers::{Config, Pipelines, Source};
use clap::Args;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::run::deploy::ApiDeployer;

use crate::exit::{self, Code};
use crate::output::say;

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The project file: its pipelines, and its services until the first `bellwether apply` (from then on, the project the last apply left, kept in the data directory).
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    file: PathBuf,
    /// Where the store, replica logs and state live [default: .bellwether next to the file].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Keep the control plane's state (rollouts, revisions, tokens, the audit trail, notifications) in this PostgreSQL database instead of the data directory's SQLite file: postgres://USER@HOST:PORT/DATABASE, the password from $PGPASSWORD (one in the URL shows in the process list) [default: the file's `server.store`]. Several `up` on one database take turns leading.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// What runs the services' replicas: processes on this machine (local), or ReplicaSets of a Kubernetes cluster (kubernetes), which needs each service's `run.image`.
    #[arg(long, value_enum, default_value_t = PlatformKind::Local)]
    platform: PlatformKind,
    /// The kubeconfig of the cluster (--platform kubernetes) [default: the pod's service account in a cluster, else $KUBECONFIG or ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The namespace the revisions run in (--platform kubernetes) [default: the kubeconfig context's, or the service account's].
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Where the API listens (port 0 picks a free one). Every request but the health check needs a token; off loopback it needs TLS (--tls-cert) or --insecure-listen.
    #[arg(long, value_name = "ADDR", default_value = bellwether_server::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Serve the API (and the webhook listener) over TLS with this PEM certificate chain, the server's certificate first.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Listen off loopback over plain HTTP, e.g. behind a proxy that terminates TLS; tokens then cross the network in the clear up to it.
    #[arg(long)]
    insecure_listen: bool,
    /// Where the other control planes sharing the store reach this one's API when it leads, e.g. http://10.0.3.7:7070 [default: the address it listens on, which must then not be 0.0.0.0 or ::].
    #[arg(long, value_name = "URL")]
    advertise: Option<String>,
    /// A host name the API answers to besides IP addresses and localhost (the name a proxy or browser uses); may be repeated.
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// Leave the replicas running on exit, for the next `bellwether up` to adopt.
    #[arg(long)]
    keep_replicas: bool,
    /// The git repository pipelines build from and `--poll` watches: a directory or a URL (cloned into the data directory) [default: the project's own repository].
    #[arg(long, value_name = "PATH|URL")]
    repo: Option<String>,
    /// Look at the repository this often and run the pipelines a push matches, e.g. 30s [default: off].
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    poll: Option<Duration>,
    /// A file holding the secret GitHub-format webhooks are signed with (X-Hub-Signature-256); without it (or $BELLWETHER_WEBHOOK_SECRET) webhooks are refused.
    #[arg(long, value_name = "FILE")]
    webhook_secret_file: Option<PathBuf>,
    /// How many jobs of one pipeline run go at once [default: the number of CPUs].
    #[arg(short = 'j', long = "parallel", value_name = "N")]
    parallel: Option<usize>,
    /// How many pipeline runs go on at once; more are queued and start in order as runs end. Untrusted runs (forks' pull requests) have as many slots again, of their own.
    #[arg(long, value_name = "N", default_value_t = 4)]
    max_runs: usize,
    /// Serve the webhook route on this address instead of the API's (which then refuses it), e.g. to expose only it to GitHub.
    #[arg(long, value_name = "ADDR")]
    webhook_listen: Option<SocketAddr>,
    /// How long a client has to send a request's head, which is also how long a connection may sit idle between requests.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration, default_value = "10s")]
    header_timeout: Duration,
    /// How many connections each listener serves at once; more wait to be accepted until one closes.
    #[arg(long, value_name = "N", default_value_t = bellwether_server::Limits::default().max_connections)]
    max_connections: usize,
    /// How many webhook deliveries are handled at once; more are answered 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = bellwether_server::Limits::default().max_webhooks)]
    max_webhooks: usize,
    /// How often `server.retention` is swept after the sweep at start: a knob for tests, which cannot wait the hour.
    #[arg(long, hide = true, value_name = "DURATION", value_parser = super::parse_duration, default_value = "1h")]
    retention_every: Duration,
}

/// What runs the replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlatformKind {
    Local,
    Kubernetes,
}

pub(crate) fn run(args: &UpArgs) -> anyhow::Result<Code> {
    if args.platform == PlatformKind::Local
        && (args.kubeconfig.is_some() || args.namespace.is_some())
    {
        eprintln!(
            "error: --kubeconfig and --namespace are for --platform kubernetes (expected --platform kubernetes with them, or neither)"
        );
        return Ok(exit::BAD_INPUT);
    }
    let project = super::project(&args.file)?;
    let base_dir = base_dir(&args.file)?;
    let webhook_secret = webhook_secret(args)?;
    let tls = tls(args)?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| base_dir.join(".bellwether"));
    let options = Options {
        secrets: Some(Arc::new(SecretStore::new(&data_dir))),
        data_dir,
        base_dir,
        project,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(args, options, webhook_secret, tls))?;
    Ok(exit::SUCCESS)
}

/// The PostgreSQL database at `url`, its password from the URL or `$PGPASSWORD`.
fn target(url: &str) -> anyhow::Result<Target> {
    let password = std::env::var("PGPASSWORD").ok();
    Ok(Target::parse(url)?.with_password_unless_given(password.as_deref()))
}

/// Opens what `open` makes of `target` off the runtime's threads. Messages name the database
/// without the password.
async fn opened<T: Send + 'static>(
    target: &Target,
    open: fn(&Target) -> Result<T, bellwether_store::StoreError>,
) -> anyhow::Result<T> {
    let at = target.to_string();
    let target = target.clone();
    tokio::task::spawn_blocking(move || open(&target))
        .await
        .context("the store's opening stopped")?
        .with_context(|| format!("cannot open the store at {at}"))
}

/// What the control plane that leads with a lease keeps in PostgreSQL.
struct Led {
    /// Cancelled when the lease is lost.
    lost: CancellationToken,
    store: Arc<dyn bellwether_store::Store>,
    /// The pipelines' run history, fenced by the same lease.
    runs: Arc<dyn bellwether_store::RunHistory>,
}

/// The PostgreSQL store of `target` for the control plane that leads with `lead`: every write
/// refused once another holds the lease.
async fn open_led(target: &Target, lead: &lead::Leadership) -> anyhow::Result<Led> {
    let store = opened(target, PgStore::open).await?.fenced(lead.token);
    let runs = opened(target, PgRunStore::open).await?.fenced(lead.token);
    tracing::info!("state and run history in {target}");
    Ok(Led {
        lost: lead.lost_token(),
        store: Arc::new(store),
        runs: Arc::new(runs),
    })
}

/// The kubernetes platform on the cluster and namespace the arguments name, and the router
/// that writes its services' `trafficRouting` as the cluster's objects.
async fn kubernetes(args: &UpArgs, options: &Options) -> anyhow::Result<Seams> {
    let connection = bellwether_platform_kubernetes::connect(
        args.kubeconfig.as_deref(),
        args.namespace.as_deref(),
    )
    .await?;
    tracing::info!(
        "replicas run as ReplicaSets in namespace {} of the cluster at {}",
        connection.namespace,
        connection.server
    );
    let mut platform = bellwether_platform_kubernetes::Options::new(connection.namespace);
    platform.secrets.clone_from(&options.secrets);
    let traffic = bellwether_platform_kubernetes::KubernetesTraffic::new(
        connection.client.clone(),
        &platform,
    );
    let mut seams = Seams::new(Arc::new(
        bellwether_platform_kubernetes::KubernetesPlatform::new(connection.client, platform),
    ));
    seams.traffic = Some(Arc::new(traffic));
    Ok(seams)
}

async fn serve(
    args: &UpArgs,
    options: Options,
    webhook_secret: Option<Vec<u8>>,
    tls: Option<bellwether_server::Tls>,
) -> anyhow::Result<()> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Signals are caught from the start, so that one during start-up still shuts down cleanly.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
    let shutdown = CancellationToken::new();
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        stopping.cancel();
    });
    // Bound first: a standby answers on the API's address too, and the leader's is in the lease.
    let listeners = listen(args).await?;
    let addr = listeners.api.local_addr()?;
    // The flag wins over the file's `server.store`.
    let store = args
        .store
        .clone()
        .or_else(|| options.project.server.store.clone());
    let Some(url) = &store else {
        return lead_on(
            args,
            options,
            webhook_secret,
            tls,
            listeners,
            None,
            shutdown,
        )
        .await;
    };
    let address = advertised(args, scheme, addr)?;
    let target = target(url)?;
    let leases = Arc::new(opened(&target, Leases::open).await?);
    let standby = lead::Standby {
        listener: &listeners.api,
        names: args.allow_hosts.clone(),
        limits: limits(args),
        tls: tls.clone(),
    };
    let Some(lead) = lead::lead(leases, lead::holder(), address, standby, &shutdown).await else {
        tracing::info!("shutting down");
        return Ok(());
    };
    let led = match open_led(&target, &lead).await {
        Ok(led) => {
            lead_on(
                args,
                options,
                webhook_secret,
                tls,
                listeners,
                Some(led),
                shutdown,
            )
            .await
        }
        Err(e) => Err(e),
    };
    if let Some(why) = lead.why_lost() {
        return Err(anyhow::anyhow!("stopped leading: {why}"));
    }
    lead.release().await;
    led
}

/// How each of the API's listeners holds its clients.
fn limits(args: &UpArgs) -> bellwether_server::Limits {
    bellwether_server::Limits {
        header_timeout: args.header_timeout,
        max_connections: args.max_connections,
        max_webhooks: args.max_webhooks,
    }
}

/// Where standbys reach this control plane's API: `--advertise`, else the address listened on,
/// which must then be one another process can reach.
fn advertised(args: &UpArgs, scheme: &str, addr: SocketAddr) -> anyhow::Result<String> {
    match &args.advertise {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(url.clone()),
        Some(url) => anyhow::bail!(
            "--advertise {url} is not a URL of the API (expected http://HOST:PORT or https://HOST:PORT)"
        ),
        None if addr.ip().is_unspecified() => anyhow::bail!(
            "listening on {addr}, which names no address the other control planes can reach: give --advertise http://HOST:{} (this machine's address)",
            addr.port()
        ),
        None => Ok(format!("{scheme}://{addr}")),
    }
}

/// Runs the control plane until `shutdown`, or until `lead`'s lease is lost: with the store of
/// the data directory, or the PostgreSQL store of the lead.
async fn lead_on(
    args: &UpArgs,
    options: Options,
    webhook_secret: Option<Vec<u8>>,
    tls: Option<bellwether_server::Tls>,
    listeners: Listeners,
    led: Option<Led>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let data_dir = options.data_dir.display().to_string();
    let data_path = options.data_dir.clone();
    let project_dir = options.base_dir.clone();
    let file = args.file.display().to_string();
    let store = led.as_ref().map(|led| Arc::clone(&led.store));
    let retention = options.project.server.retention;
    let started = match (args.platform, store) {
        (PlatformKind::Local, None) => ControlPlane::start(options).await,
        (PlatformKind::Local, Some(store)) => ControlPlane::start_storing(options, store).await,
        (PlatformKind::Kubernetes, store) => {
            let mut seams = kubernetes(args, &options).await?;
            seams.store = store;
            ControlPlane::start_on(options, seams).await
        }
    };
    let control =
        started.with_context(|| format!("cannot start the control plane (data in {data_dir})"))?;
    match control.origin() {
        ProjectOrigin::Given => {
            tracing::info!("services from {file}: nothing was applied yet");
        }
        ProjectOrigin::Applied {
            file: applied,
            at_ms,
        } => tracing::info!(
            "services as the last `bellwether apply` left them ({applied}, {}), kept in {data_dir}; {file} is read only until the first apply",
            super::runs::timestamp(*at_ms)
        ),
        ProjectOrigin::Unreadable(why) => tracing::warn!(
            "the project last applied cannot be read back ({why}); services from {file} until the next `bellwether apply`"
        ),
    }
    let notifications = control.project().notifications;
    let Listeners {
        api: listener,
        webhooks: webhook_listener,
        plain: plain_loopback,
    } = listeners;
    let addr = listener.local_addr()?;
    let webhook_addr = match &webhook_listener {
        Some(listener) => listener.local_addr()?,
        None => addr,
    };
    let plain_addr = match &plain_loopback {
        Some(listener) => Some(listener.local_addr()?),
        None => None,
    };
    let opened = access::open(
        &control,
        addr,
        plain_addr,
        args.allow_hosts.clone(),
        &data_path,
    );
    let (access, admin) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            control.shutdown(!args.keep_replicas).await;
            return Err(error);
        }
    };
    let notifier = match bellwether_notify::Notifier::start(
        control.store(),
        notifications,
        Arc::new(SecretStore::new(&data_path)),
    ) {
        Ok(notifier) => notifier,
        Err(error) => {
            control.shutdown(!args.keep_replicas).await;
            return Err(error).context("cannot read the notification outbox");
        }
    };
    let notices = notify::Notices::new(notifier.clone(), format!("{scheme}://{addr}"));
    let mut banner =
        format!("control plane API listening on {scheme}://{addr} (data in {data_dir})\n");
    banner += &format!(
        "admin token in {} (the commands run in {} read it; elsewhere set BELLWETHER_TOKEN)\n",
        admin.display(),
        project_dir.display()
    );
    banner += &format!(
        "dashboard on {scheme}://{addr}/ (`bellwether dashboard` prints a link that signs you in)\n"
    );
    for service in control.list() {
        match service.listen {
            Some(router) => {
                banner += &format!("service {}: router listening on {router}\n", service.name);
            }
            None => banner += &format!("service {}: no router\n", service.name),
        }
    }
    let triggers = CancellationToken::new();
    let pipelines_token = access::fresh(
        &access,
        bellwether_server::PIPELINES,
        bellwether_access::Role::Deployer,
    );
    let data = match &led {
        // Runs of a leader that lost the lease can no longer write: they are this one's to end.
        Some(led) => DataDir::shared(&data_path, Arc::clone(&led.runs))
            .and_then(|data| data.sweep().map(|()| data)),
        None => DataDir::open(&data_path),
    };
    let led_lost = led.map(|led| led.lost);
    if let Ok(data) = &data {
        retention::start(
            retention,
            args.retention_every,
            data.clone(),
            control.store(),
            triggers.clone(),
        );
    }
    let pipelines = match pipelines_token.and_then(|token| {
        let listener = Arc::new(notices.clone());
        pipelines(
            args,
            data?,
            &project_dir,
            Addresses {
                scheme,
                plain: plain_addr.unwrap_or(addr),
                webhooks: webhook_addr,
            },
            webhook_secret,
            token,
            listener,
        )
    }) {
        Ok((pipelines, about)) => {
            banner += &about;
            start_triggers(&pipelines, args.poll, &triggers);
            pipelines
        }
        Err(error) => {
            control.shutdown(!args.keep_replicas).await;
            return Err(error);
        }
    };
    if addr.to_string() != bellwether_server::DEFAULT_LISTEN {
        banner += &format!("for the other commands: export BELLWETHER_SERVER={scheme}://{addr}\n");
    }
    // Whoever reads the banner may go away (`up | head -1`): the control plane carries on.
    say(&banner);
    let mut events = control.subscribe();
    let audited = Arc::clone(&access);
    let watched = control.clone();
    tokio::spawn(async move {
        let mut phases = std::collections::BTreeMap::new();
        loop {
            match events.recv().await {
                Ok(event) => {
                    tracing::info!(
                        service = %event.service,
                        seq = event.seq,
                        kind = %event.kind,
                        phase = %event.phase,
                        "{}",
                        event.notes.join("; ")
                    );
                    access::audit_decision(&audited, &mut phases, &event).await;
                    notices.rollout(&watched, &event);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("{n} events not shown: the log fell behind");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let lost = async move {
        match led_lost {
            Some(lost) => lost.cancelled().await,
            None => std::future::pending().await,
        }
    };
    let stop = async move {
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = lost => {}
        }
    };
    let serving = bellwether_server::Serving {
        listener,
        webhook_listener,
        tls,
        plain_loopback,
        limits: limits(args),
    };
    let served = bellwether_server::serve_on(
        serving,
        control.clone(),
        Some(pipelines.clone()),
        access,
        stop,
    )
    .await;
    tracing::info!("shutting down");
    triggers.cancel();
    pipelines.shutdown(RUNS_GRACE).await;
    notifier.shutdown().await;
    control.shutdown(!args.keep_replicas).await;
    served.context("the API server failed")
}

/// The TLS of `--tls-cert` and `--tls-key`; without it, `up` listens off loopback only when
/// told `--insecure-listen`.
fn tls(args: &UpArgs) -> anyhow::Result<Option<bellwether_server::Tls>> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return Ok(Some(bellwether_server::Tls::from_pem_files(cert, key)?));
    }
    let exposed = [Some(args.listen), args.webhook_listen]
        .into_iter()
        .flatten()
        .find(|addr| !addr.ip().is_loopback());
    if let Some(addr) = exposed
        && !args.insecure_listen
    {
        anyhow::bail!(
            "refusing to listen on {addr} without TLS: off loopback, tokens and webhooks would cross the network in the clear; give --tls-cert and --tls-key, or --insecure-listen when a proxy in front terminates TLS"
        );
    }
    Ok(None)
}

/// Where the API is served.
struct Listeners {
    api: TcpListener,
    /// The webhooks' own, if asked for.
    webhooks: Option<TcpListener>,
    /// Over TLS, a plain one on loopback for the pipelines' deploy steps, whose client
    /// speaks no TLS.
    plain: Option<TcpListener>,
}

async fn listen(args: &UpArgs) -> anyhow::Result<Listeners> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))
    };
    let api = bind(args.listen).await?;
    let webhooks = match args.webhook_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let plain = match args.tls_cert {
        Some(_) => Some(bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?),
        None => None,
    };
    Ok(Listeners {
        api,
        webhooks,
        plain,
    })
}

/// How long runs going on get to end after they are cancelled at shutdown.
const RUNS_GRACE: Duration = Duration::from_secs(10);

/// The secret of `--webhook-secret-file`, else of $BELLWETHER_WEBHOOK_SECRET.
fn webhook_secret(args: &UpArgs) -> anyhow::Result<Option<Vec<u8>>> {
    let secret = match &args.webhook_secret_file {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the webhook secret from {}", file.display()))?,
        None => match std::env::var("BELLWETHER_WEBHOOK_SECRET") {
            Ok(secret) => secret,
            Err(_) => return Ok(None),
        },
    };
    let secret = secret.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        anyhow::bail!("the webhook secret is empty (expected the secret shared with the sender)");
    }
    Ok(Some(secret.as_bytes().to_vec()))
}

/// Where the API and the webhook route are served.
struct Addresses {
    scheme: &'static str,
    /// Where this process's own clients reach the API in plain HTTP.
    plain: SocketAddr,
    webhooks: SocketAddr,
}

/// The control plane's pipelines, and what the banner says of them.
fn pipelines(
    args: &UpArgs,
    data: DataDir,
    project: &Path,
    at: Addresses,
    webhook_secret: Option<Vec<u8>>,
    token: bellwether_access::Secret,
    listener: Arc<dyn bellwether_triggers::RunListener>,
) -> anyhow::Result<(Pipelines, String)> {
    let source = match Source::new(args.repo.as_deref(), project, &data.dir) {
        Ok(source) => Some(source),
        Err(e) if args.repo.is_some() || args.poll.is_some() => {
            return Err(e).context("cannot build from the repository");
        }
        Err(_) => None,
    };
    let mut about = match &source {
        Some(source) => format!("pipelines: runs check out commits of {}", source.describe()),
        None => "pipelines: outside git, runs copy the project directory".to_owned(),
    };
    if let Some(every) = args.poll {
        about += &format!(", polled every {}", humantime::format_duration(every));
    }
    about += &match webhook_secret {
        Some(_) => format!(
            "; signed webhooks at {}://{}{}\n",
            at.scheme,
            at.webhooks,
            paths::GITHUB_WEBHOOK
        ),
        None => "; webhooks refused (no --webhook-secret-file)\n".to_owned(),
    };
    let config = Config {
        file: args.file.clone(),
        data,
        source,
        webhook_secret,
        parallel: args
            .parallel
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
            .max(1),
        max_runs: args.max_runs.max(1),
        deployer: Some(Arc::new(ApiDeployer::with_token(
            &format!("http://{}", at.plain),
            token.expose(),
        )?)),
        listener: Some(listener),
    };
    Ok((Pipelines::new(config), about))
}

/// Polling and cron schedules, until `stop`.
fn start_triggers(pipelines: &Pipelines, poll: Option<Duration>, stop: &CancellationToken) {
    if let Some(every) = poll {
        tokio::spawn(bellwether_triggers::watch::poll(
            pipelines.clone(),
            every,
            stop.clone(),
        ));
    }
    tokio::spawn(bellwether_triggers::schedule::schedule(
        pipelines.clone(),
        stop.clone(),
    ));
}

/// Commands and relative paths in the file are relative to its directory.
fn base_dir(file: &Path) -> anyhow::Result<PathBuf> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    dir.canonicalize()
        .with_context(|| format!("cannot resolve the directory of {}", file.display()))
}
