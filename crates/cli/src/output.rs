//! Printing data as `-o json` or `-o yaml`; tables are each command's own.

use clap::ValueEnum;
use serde::Serialize;

/// `-o table` is for people; `-o json` and `-o yaml` are stable, for scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Yaml,
}

/// Prints `value` in a machine format. Returns `false` for `table`, which the caller renders.
pub(crate) fn print_data<T: Serialize>(format: Format, value: &T) -> anyhow::Result<bool> {
    match format {
        Format::Table => Ok(false),
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(value)?);
            Ok(true)
        }
        Format::Yaml => {
            print!("{}", serde_saphyr::to_string(value)?);
            Ok(true)
        }
    }
}
