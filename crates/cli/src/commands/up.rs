//! `bellwether up`: the control plane in the foreground. The controller resumes every rollout
//! where its store left it, each service gets its router, and the HTTP API serves the other
//! verbs until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bellwether_controller::{ControlPlane, Options};
use clap::Args;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use super::ops::event_line;
use crate::exit::{self, Code};

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The project file.
    #[arg(short = 'f', long = "file", default_value = "bellwether.yaml")]
    file: PathBuf,
    /// Where the store, replica logs and state live [default: .bellwether next to the file].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where the API listens (port 0 picks a free one). Keep it on loopback: the API has no authentication.
    #[arg(long, value_name = "ADDR", default_value = bellwether_server::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Leave the replicas running on exit, for the next `bellwether up` to adopt.
    #[arg(long)]
    keep_replicas: bool,
}

pub(crate) fn run(args: &UpArgs) -> anyhow::Result<Code> {
    let name = args.file.display().to_string();
    let source = super::read(&args.file)?;
    let project = match bellwether_config::load(&name, &source) {
        Ok(loaded) => loaded.project,
        Err(diagnostics) => {
            for d in diagnostics.iter() {
                eprint!("{}", crate::diagnostics::render(d, &source));
            }
            anyhow::bail!("{name} is not valid; fix it first (`bellwether validate {name}`)");
        }
    };
    let base_dir = base_dir(&args.file)?;
    let options = Options {
        data_dir: args
            .data_dir
            .clone()
            .unwrap_or_else(|| base_dir.join(".bellwether")),
        base_dir,
        project,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(args, options))?;
    Ok(exit::SUCCESS)
}

async fn serve(args: &UpArgs, options: Options) -> anyhow::Result<()> {
    // Signals are caught from the start, so that one during start-up still shuts down cleanly.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
    let data_dir = options.data_dir.display().to_string();
    let control = ControlPlane::start(options)
        .await
        .with_context(|| format!("cannot start the control plane (data in {data_dir})"))?;
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            control.shutdown(!args.keep_replicas).await;
            return Err(error).with_context(|| format!("cannot listen on {}", args.listen));
        }
    };
    let addr = listener.local_addr()?;
    let mut banner = format!("control plane API listening on http://{addr} (data in {data_dir})\n");
    for service in control.list() {
        match service.listen {
            Some(router) => {
                banner += &format!("service {}: router listening on {router}\n", service.name);
            }
            None => banner += &format!("service {}: no router\n", service.name),
        }
    }
    if addr.to_string() != bellwether_server::DEFAULT_LISTEN {
        banner += &format!("for the other commands: export BELLWETHER_SERVER=http://{addr}\n");
    }
    // Whoever reads the banner may go away (`up | head -1`): the control plane carries on.
    say(&mut std::io::stdout(), &banner);
    let mut events = control.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => say(&mut std::io::stderr(), &format!("{}\n", event_line(&event))),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => say(
                    &mut std::io::stderr(),
                    &format!("({n} events not shown: the log fell behind)\n"),
                ),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let stop = async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    };
    let served = bellwether_server::serve(listener, control.clone(), stop).await;
    say(&mut std::io::stderr(), "shutting down\n");
    control.shutdown(!args.keep_replicas).await;
    served.context("the API server failed")
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

/// Writes `text`, ignoring a reader that went away: the control plane must outlive its log.
fn say(out: &mut impl std::io::Write, text: &str) {
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
