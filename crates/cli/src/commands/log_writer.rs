//! `bellwether log-writer FILE --max-bytes N --keep N` (hidden): a replica's log writer, a
//! process of its own so that the log goes on being written when the control plane that
//! started the replica is gone. The local platform starts it with the replica's output on
//! standard input; it ends when every process that could write there has exited.

use std::path::PathBuf;

use anyhow::Context;
use bellwether_platform_local::{Rotation, write_log};
use clap::Args;

use crate::exit::{self, Code};

#[derive(Debug, Args)]
pub(crate) struct LogWriterArgs {
    /// The replica's log file.
    file: PathBuf,
    /// Rotate the file past this size.
    #[arg(long)]
    max_bytes: u64,
    /// How many rotated files to keep.
    #[arg(long)]
    keep: u32,
}

pub(crate) fn run(args: &LogWriterArgs) -> anyhow::Result<Code> {
    let rotation = Rotation {
        max_bytes: args.max_bytes,
        keep: args.keep,
    };
    write_log(std::io::stdin().lock(), &args.file, rotation)
        .with_context(|| format!("cannot write the log {}", args.file.display()))?;
    Ok(exit::SUCCESS)
}
