//! The web provider: an HTTP request (GET, POST, ...) whose JSON answer holds the value, picked
//! by a JSON path (`core::json_path`). An answer outside 2xx is an error that names the status.

mod provider;

pub use provider::WebProvider;
