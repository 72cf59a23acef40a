//! `bellwether get SERVICE [-w]`: the service's view; watching, it is drawn again on every
//! event (in place on a terminal), or followed by one line per event when piped.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use bellwether_api::{ServiceView, paths};
use clap::Args;

use super::format::now;
use super::view::{event_line, render};
use crate::commands::client::{Client, Events, Watched};
use crate::exit::{self, Code};
use crate::output::{Format, print_records, records};

/// On a terminal the view is drawn again at least this often, so that its ages stay true.
const REFRESH: Duration = Duration::from_secs(1);
/// Events that arrive within this of each other are shown with one redraw.
const SETTLE: Duration = Duration::from_millis(50);

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    #[arg(add = crate::commands::completion::services())]
    service: String,
    /// Keep watching: redraw on every event on a terminal, a line per event when piped.
    #[arg(short = 'w', long)]
    watch: bool,
}

pub(crate) async fn run(client: &Client, args: &GetArgs, format: Format) -> anyhow::Result<Code> {
    let path = paths::service(&args.service);
    if !args.watch {
        let view: ServiceView = client.get(&path).await?;
        if !print_records(format, &view)? {
            print!("{}", render(&view, now()));
        }
        return Ok(exit::SUCCESS);
    }
    // Subscribed before the first read, so nothing happens unseen in between.
    let mut events = client.events(Some(&args.service)).await?;
    let view: ServiceView = client.get(&path).await?;
    match format {
        Format::Table if std::io::stdout().is_terminal() => {
            screen(client, &path, &mut events, view).await
        }
        Format::Table => lines(client, &path, &mut events, view).await,
        Format::Json | Format::Yaml => data(client, &path, &mut events, view, format).await,
    }
}

/// Redraws the view in place on every event and every second.
async fn screen(
    client: &Client,
    path: &str,
    events: &mut Events,
    mut view: ServiceView,
) -> anyhow::Result<Code> {
    loop {
        let mut out = std::io::stdout().lock();
        write!(out, "\x1b[H\x1b[J{}", render(&view, now()))?;
        writeln!(out, "\nwatching {} · Ctrl-C to stop", view.name)?;
        out.flush()?;
        drop(out);
        match tokio::time::timeout(REFRESH, events.next()).await {
            Err(_) => continue,
            Ok(next) => ended(next?)?,
        };
        settle(events).await?;
        view = client.get(path).await?;
    }
}

/// The view once, then a line per event; the view again when events were missed.
async fn lines(
    client: &Client,
    path: &str,
    events: &mut Events,
    view: ServiceView,
) -> anyhow::Result<Code> {
    print!("{}", render(&view, now()));
    println!();
    loop {
        match ended(events.next().await?)? {
            Watched::Event(event) => println!("{}", event_line(&event)),
            Watched::Lagged => {
                let view: ServiceView = client.get(path).await?;
                println!("(some events were missed; the view now:)");
                print!("{}", render(&view, now()));
            }
        }
    }
}

/// `-o json` prints one view per line; `-o yaml` one document per view.
async fn data(
    client: &Client,
    path: &str,
    events: &mut Events,
    mut view: ServiceView,
    format: Format,
) -> anyhow::Result<Code> {
    loop {
        match format {
            Format::Yaml => print!("---\n{}", serde_saphyr::to_string(&records(&view)?)?),
            _ => println!("{}", serde_json::to_string(&records(&view)?)?),
        }
        std::io::stdout().flush()?;
        ended(events.next().await?)?;
        settle(events).await?;
        view = client.get(path).await?;
    }
}

fn ended(next: Option<Watched>) -> anyhow::Result<Watched> {
    next.ok_or_else(|| anyhow::anyhow!("the control plane ended the event stream (did it stop?)"))
}

/// Takes the events that follow in a burst, so that a burst costs one read of the view.
async fn settle(events: &mut Events) -> anyhow::Result<()> {
    while let Ok(next) = tokio::time::timeout(SETTLE, events.next()).await {
        ended(next?)?;
    }
    Ok(())
}
