//! The demo's five releases of `shop`, and the project each one runs under.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::anyhow;
use bellwether_core::spec::Project;

pub(super) const SERVICE: &str = "shop";

const PROJECT: &str = include_str!("project.yaml");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Strategy {
    Canary,
    BlueGreen,
    Rolling,
}

impl Strategy {
    pub(super) fn name(self) -> &'static str {
        match self {
            Strategy::Canary => "canary",
            Strategy::BlueGreen => "blue-green",
            Strategy::Rolling => "rolling",
        }
    }

    fn yaml(self) -> &'static str {
        match self {
            Strategy::Canary => include_str!("canary.yaml"),
            Strategy::BlueGreen => include_str!("blue-green.yaml"),
            Strategy::Rolling => include_str!("rolling.yaml"),
        }
    }
}

/// How a release should end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    Promoted,
    RolledBack,
}

pub(super) struct Act {
    pub(super) version: &'static str,
    pub(super) strategy: Strategy,
    /// What this release is, in a few words.
    pub(super) story: &'static str,
    /// The share of requests the version fails on purpose.
    pub(super) error_rate: &'static str,
    pub(super) expect: Expect,
}

impl Act {
    /// The revision's environment: its version, for the `x-demo-version` header, and its
    /// error rate.
    pub(super) fn env(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("DEMO_VERSION".to_owned(), self.version.to_owned()),
            ("DEMO_ERROR_RATE".to_owned(), self.error_rate.to_owned()),
        ])
    }
}

pub(super) const ACTS: &[Act] = &[
    Act {
        version: "v1",
        strategy: Strategy::Canary,
        story: "first deployment",
        error_rate: "0",
        expect: Expect::Promoted,
    },
    Act {
        version: "v2",
        strategy: Strategy::Canary,
        story: "a healthy canary, 10% -> 25% -> 50% -> 75%, judged all along",
        error_rate: "0",
        expect: Expect::Promoted,
    },
    Act {
        version: "v3",
        strategy: Strategy::Canary,
        story: "a canary that fails 5% of its requests",
        error_rate: "0.05",
        expect: Expect::RolledBack,
    },
    Act {
        version: "v4",
        strategy: Strategy::BlueGreen,
        story: "blue-green: a preview judged before the switch",
        error_rate: "0",
        expect: Expect::Promoted,
    },
    Act {
        version: "v5",
        strategy: Strategy::Rolling,
        story: "a rolling update, one replica at a time",
        error_rate: "0",
        expect: Expect::Promoted,
    },
];

/// The demo's project with `strategy`, its replicas run by `exe demo-service` and its router
/// on `listen`.
pub(super) fn project(
    exe: &Path,
    listen: SocketAddr,
    strategy: Strategy,
) -> anyhow::Result<Project> {
    let text = render(exe, listen, strategy);
    bellwether_config::load("demo.yaml", &text)
        .map(|loaded| loaded.project)
        .map_err(|e| anyhow!("the demo's own project is invalid:\n{e}"))
}

fn render(exe: &Path, listen: SocketAddr, strategy: Strategy) -> String {
    // JSON strings are YAML strings: this quotes any path safely.
    let exe = serde_json::Value::from(exe.to_string_lossy().into_owned()).to_string();
    PROJECT
        .replace("\"@EXE@\"", &exe)
        .replace("@LISTEN@", &listen.to_string())
        .replace("@STRATEGY@\n", strategy.yaml())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_makes_a_valid_project() {
        let exe = Path::new("/opt/my \"tools\"/bellwether");
        let listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        for strategy in [Strategy::Canary, Strategy::BlueGreen, Strategy::Rolling] {
            let project = project(exe, listen, strategy).unwrap();
            let shop = &project.services[SERVICE];
            assert_eq!(shop.run.command[0], exe.to_string_lossy());
            assert_eq!(shop.listen, Some(listen));
        }
    }
}
