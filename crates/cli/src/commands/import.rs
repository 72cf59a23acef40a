//! `bellwether import argo-rollouts FILE...`: another tool's files as a `bellwether.yaml`,
//! printed (or written with `--out`), with a note on stderr for everything that could not be
//! carried over. What it prints always passes `bellwether validate`: it is checked first.

mod argo;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::exit::{self, Code};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    #[command(subcommand)]
    from: From,
}

#[derive(Debug, Subcommand)]
enum From {
    /// Argo Rollouts manifests: each Rollout becomes a service, the AnalysisTemplates it references its analysis.
    ArgoRollouts {
        /// YAML files of Rollouts, AnalysisTemplates, ClusterAnalysisTemplates and the Deployments a Rollout's `workloadRef` names (several documents per file allowed).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write the result here instead of standard output (refused if the file exists).
        #[arg(long, short = 'O', value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub(crate) fn run(args: &ImportArgs) -> anyhow::Result<Code> {
    let From::ArgoRollouts { files, out } = &args.from;
    let texts = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            Ok((f.display().to_string(), text))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let imported = match argo::import(&texts) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::FAILURE);
        }
    };
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let text = format!(
        "# Imported from Argo Rollouts ({}) by `bellwether import argo-rollouts`.\n{}",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        imported.yaml
    );
    if let Err(diagnostics) = bellwether_config::load("bellwether.yaml", &text) {
        eprintln!("error: the imported file does not validate, so nothing was written:");
        for d in &diagnostics {
            eprintln!("  {d}");
        }
        return Ok(exit::FAILURE);
    }
    match out {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            file.write_all(text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(exit::SUCCESS)
}
