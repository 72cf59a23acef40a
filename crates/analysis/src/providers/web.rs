//! The web provider: an HTTP request (GET, POST, ...) whose JSON answer holds the value, picked
//! by a JSON path. An answer outside 2xx is an error that names the status.

mod json_path;
mod provider;

use json_path::json_path;
pub use provider::WebProvider;

#[cfg(test)]
mod tests;
