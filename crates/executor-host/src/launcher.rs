//! `HostLauncher`: the host executor of each attempt of a run, for `bellwether run` and the
//! control plane alike, and the `runner` context its steps see.

use std::collections::BTreeMap;
use std::time::Duration;

use bellwether_pipeline_core::expr::Value;
use bellwether_runner::{Launcher, Site};

use crate::host::HostExecutor;

/// Between SIGTERM and SIGKILL for a step that times out or is cancelled.
const GRACE: Duration = Duration::from_secs(5);

/// Runs each attempt's steps on this machine, as a [`HostExecutor`].
#[derive(Clone, Copy, Debug, Default)]
pub struct HostLauncher;

impl Launcher for HostLauncher {
    type Executor = HostExecutor;

    fn runner(&self, site: &Site) -> BTreeMap<String, Value> {
        let arch = if cfg!(target_arch = "aarch64") {
            "ARM64"
        } else {
            "X64"
        };
        BTreeMap::from([
            ("os".to_owned(), Value::string("Linux")),
            ("arch".to_owned(), Value::string(arch)),
            ("name".to_owned(), Value::string("bellwether-host")),
            (
                "temp".to_owned(),
                Value::string(site.scratch.display().to_string()),
            ),
        ])
    }

    fn executor(&self, site: Site) -> HostExecutor {
        HostExecutor::new(site, GRACE)
    }
}
