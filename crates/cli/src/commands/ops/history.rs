//! `bellwether history SERVICE`: the revisions kept for `undo`, then every stored event of the
//! service's rollouts with what it did.

use bellwether_api::{HistoryEntry, RevisionRecord, paths};
use clap::Args;
use serde::Serialize;

use super::format::{date_time, table};
use crate::commands::client::Client;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    #[arg(add = crate::commands::completion::services())]
    service: String,
}

#[derive(Serialize)]
struct History {
    revisions: Vec<RevisionRecord>,
    events: Vec<HistoryEntry>,
}

pub(crate) async fn run(
    client: &Client,
    args: &HistoryArgs,
    format: Format,
) -> anyhow::Result<Code> {
    let history = History {
        revisions: client.get(&paths::revisions(&args.service)).await?,
        events: client.get(&paths::history(&args.service)).await?,
    };
    if !print_records(format, &history)? {
        print!("{}", render(&history));
    }
    Ok(exit::SUCCESS)
}

fn render(history: &History) -> String {
    let revisions: Vec<Vec<String>> = history
        .revisions
        .iter()
        .map(|r| {
            vec![
                r.number.to_string(),
                r.version.clone(),
                date_time(r.created_at),
                if r.stable { "stable" } else { "" }.to_owned(),
            ]
        })
        .collect();
    let events: Vec<Vec<String>> = history
        .events
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                date_time(e.at),
                e.kind.clone(),
                e.phase.to_string(),
                e.notes.join("; "),
            ]
        })
        .collect();
    format!(
        "{}\n{}",
        table(&["REVISION", "VERSION", "CREATED", ""], &revisions),
        table(&["SEQ", "AT", "EVENT", "PHASE", "WHAT HAPPENED"], &events)
    )
}
