//! `bellwether status SERVICE [--timeout 10m]`: waits for the rollout to end, for pipelines.
//! Exit 0 when healthy, 1 when degraded (aborted), 3 when it waits for a human, 4 on timeout.

use std::time::Duration;

use bellwether_api::{ServiceView, paths};
use bellwether_core::rollout::Phase;
use bellwether_core::time::human_duration;
use clap::Args;
use tokio::time::Instant;

use super::view::settled;
use crate::commands::client::Client;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[arg(add = crate::commands::completion::services())]
    service: String,
    /// How long to wait for the rollout to end before giving up (exit 4).
    #[arg(long, default_value = "10m", value_parser = crate::commands::parse_duration)]
    timeout: Duration,
}

pub(crate) async fn run(
    client: &Client,
    args: &StatusArgs,
    format: Format,
) -> anyhow::Result<Code> {
    let deadline = Instant::now() + args.timeout;
    let path = paths::service(&args.service);
    let mut events = client.events(Some(&args.service)).await?;
    let mut shown = String::new();
    loop {
        let view: ServiceView = client.get(&path).await?;
        let line = format!("{}: {}", view.phase, view.reason);
        if format == Format::Table && line != shown {
            println!("{line}");
            shown = line;
        }
        if let Some(phase) = settled(&view) {
            print_records(format, &view)?;
            return Ok(match phase {
                Phase::Healthy => exit::SUCCESS,
                Phase::Paused => exit::PAUSED,
                Phase::Degraded | Phase::Progressing => exit::FAILURE,
            });
        }
        match tokio::time::timeout_at(deadline, events.next()).await {
            Err(_) => {
                if !print_records(format, &view)? {
                    println!(
                        "timed out after {}: {} is still {}",
                        human_duration(args.timeout),
                        view.name,
                        view.phase
                    );
                }
                return Ok(exit::TIMED_OUT);
            }
            Ok(next) => {
                if next?.is_none() {
                    anyhow::bail!(
                        "the control plane ended the event stream before the rollout ended (did it stop?)"
                    );
                }
            }
        }
    }
}
