//! `bellwether notifications [--failed]`: what was told to whom, and what could not be.

use bellwether_api::paths;
use bellwether_notify::{Delivery, Status};
use clap::Args;

use crate::commands::client::Client;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
pub(crate) struct NotificationsArgs {
    /// Only the notifications given up on after every attempt failed.
    #[arg(long)]
    failed: bool,
}

pub(crate) async fn run(
    client: &Client,
    args: &NotificationsArgs,
    format: Format,
) -> anyhow::Result<Code> {
    let path = if args.failed {
        format!("{}?failed=true", paths::NOTIFICATIONS)
    } else {
        paths::NOTIFICATIONS.to_owned()
    };
    let deliveries: Vec<Delivery> = client.get(&path).await?;
    if print_records(format, &deliveries)? {
        return Ok(exit::SUCCESS);
    }
    if deliveries.is_empty() {
        let none = if args.failed {
            "no notification was given up on"
        } else {
            "no notifications yet (`notifications:` in bellwether.yaml names where they go)"
        };
        println!("{none}");
        return Ok(exit::SUCCESS);
    }
    println!("WHEN      TARGET  KIND  STATUS  ATTEMPTS  ABOUT");
    for d in &deliveries {
        let status = match d.status {
            Status::Queued => "queued",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        };
        let error = d
            .last_error
            .as_deref()
            .map(|e| format!(" (last: {e})"))
            .unwrap_or_default();
        println!(
            "{}  {}  {}  {status}  {}  {}{error}",
            super::super::runs::timestamp(d.queued_ms),
            d.target,
            d.notice.kind,
            d.attempts,
            d.notice.message
        );
    }
    Ok(exit::SUCCESS)
}
