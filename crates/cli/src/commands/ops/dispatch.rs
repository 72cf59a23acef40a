//! `bellwether dispatch PIPELINE [--input K=V]...`: a `manual` run on the control plane, which
//! checks out the branch's head and records the run with the others (`bellwether runs`).

use bellwether_api::{DispatchRequest, InputValue, TriggeredView, paths};
use clap::Args;

use crate::commands::client::Client;
use crate::commands::run::event::parse_pair;
use crate::exit::{self, Code};
use crate::output::{Format, print_records};

#[derive(Debug, Args)]
pub(crate) struct DispatchArgs {
    #[arg(add = crate::commands::completion::pipelines())]
    pipeline: String,
    /// An input of the `manual` trigger, `name=value`; repeat for each.
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = parse_pair)]
    inputs: Vec<(String, String)>,
    /// The branch whose head runs [default: the repository's default branch].
    #[arg(long)]
    branch: Option<String>,
}

pub(crate) async fn run(
    client: &Client,
    args: DispatchArgs,
    format: Format,
) -> anyhow::Result<Code> {
    let request = DispatchRequest {
        inputs: args
            .inputs
            .into_iter()
            .map(|(k, v)| (k, InputValue::Text(v)))
            .collect(),
        branch: args.branch,
    };
    let view: TriggeredView = client
        .post(&paths::dispatch(&args.pipeline), &request)
        .await?;
    if !print_records(format, &view)? {
        for run in &view.runs {
            println!(
                "{}: run {} started · `bellwether runs {}` shows it",
                run.pipeline, run.number, run.number
            );
        }
    }
    Ok(exit::SUCCESS)
}
