//! Printing data as `-o json` or `-o yaml`; tables are each command's own.

use serde::Serialize;

use crate::cli::Format;

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
