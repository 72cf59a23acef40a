//! `uses:` steps with a built-in equivalent, read as that step: `actions/checkout` (the
//! workspace is the checkout), `actions/cache` (the `cache` step), `actions/upload-artifact`
//! and `actions/download-artifact` (the `artifacts` step) and `actions/setup-*` (the host's
//! toolchain). Every other action is refused with what to write instead.

use bellwether_pipeline_core::toolchain::Toolchain;
use serde_json::Value;

use crate::model::{ArtifactsConfig, CacheConfig, Names, PipelineStepConfig};
use crate::span::{Entries, Pos, Spanned};
use crate::suggest::did_you_mean;

/// What a `uses:` step is here.
pub(super) enum Builtin {
    Checkout,
    Cache(Spanned<CacheConfig>),
    Artifacts(Spanned<ArtifactsConfig>),
    Setup {
        tool: Toolchain,
        version: Option<Spanned<String>>,
    },
}

/// Problems with a `uses:` step, each where it is written.
pub(super) type Problems = Vec<(Pos, String)>;

const CHECKOUT: &[&str] = &[
    "repository",
    "ref",
    "token",
    "ssh-key",
    "ssh-known-hosts",
    "ssh-strict",
    "ssh-user",
    "persist-credentials",
    "path",
    "clean",
    "filter",
    "sparse-checkout",
    "sparse-checkout-cone-mode",
    "fetch-depth",
    "fetch-tags",
    "show-progress",
    "lfs",
    "submodules",
    "set-safe-directory",
    "github-server-url",
];
const CACHE: &[&str] = &[
    "key",
    "path",
    "restore-keys",
    "enableCrossOsArchive",
    "fail-on-cache-miss",
    "lookup-only",
    "save-always",
    "upload-chunk-size",
];
const UPLOAD: &[&str] = &[
    "name",
    "path",
    "if-no-files-found",
    "retention-days",
    "compression-level",
    "overwrite",
    "include-hidden-files",
];
const DOWNLOAD: &[&str] = &["name", "path"];
const SETUP_COMMON: &[&str] = &[
    "cache",
    "cache-dependency-path",
    "architecture",
    "check-latest",
    "token",
];
const SETUP_NODE: &[&str] = &["registry-url", "scope", "always-auth"];
const SETUP_PYTHON: &[&str] = &["allow-prereleases", "update-environment", "pip-install"];
const SETUP_JAVA: &[&str] = &["distribution", "java-package", "server-id", "settings-path"];
/// `ref:` values that name the run's own commit.
const OWN_REFS: &[&str] = &[
    "${{ github.sha }}",
    "${{ github.ref }}",
    "${{ github.head_ref }}",
    "${{ github.ref_name }}",
    "${{ github.event.pull_request.head.sha }}",
];

/// The built-in equivalent of `step`'s `uses:`, or every problem with it.
pub(super) fn builtin(
    uses: &Spanned<String>,
    step: &PipelineStepConfig,
    label: &str,
) -> Result<Builtin, Problems> {
    let (action, _version) = uses.value.split_once('@').unwrap_or((&uses.value, ""));
    let action = action.to_ascii_lowercase();
    let with = Inputs::read(step.with.as_ref())?;
    let refuse = |instead: &str| {
        Err(vec![(
            uses.pos,
            format!(
                "step `{label}` uses `{}`, which does not run here (expected {instead})",
                uses.value
            ),
        )])
    };
    if action.starts_with("./") || action.starts_with("docker://") {
        return refuse("the action's steps written out as `run:` steps in this job");
    }
    let Some(name) = action.strip_prefix("actions/") else {
        return refuse(
            "what it does as a `run:` step; built in are actions/checkout, actions/cache, actions/upload-artifact, actions/download-artifact and actions/setup-node, -python, -go and -java",
        );
    };
    match name {
        "checkout" => checkout(&with, label),
        "cache" => {
            with.known("actions/cache", CACHE)?;
            let key = with.required("actions/cache", "key", label, uses.pos)?;
            let paths = with.required("actions/cache", "path", label, uses.pos)?;
            Ok(Builtin::Cache(Spanned::new(
                CacheConfig {
                    key: Some(key.clone()),
                    restore_keys: with.get("restore-keys").map(lines),
                    paths: Some(lines(paths)),
                    save_always: with.get("save-always").map(|s| s.value == "true"),
                },
                uses.pos,
            )))
        }
        "upload-artifact" => {
            with.known("actions/upload-artifact", UPLOAD)?;
            let paths = with.required("actions/upload-artifact", "path", label, uses.pos)?;
            // GitHub's default name.
            let name = with
                .get("name")
                .cloned()
                .unwrap_or_else(|| Spanned::new("artifact".to_owned(), uses.pos));
            if let Some(f) = with.get("if-no-files-found")
                && !matches!(f.value.as_str(), "warn" | "error" | "ignore")
            {
                return Err(vec![(
                    f.pos,
                    format!(
                        "if-no-files-found `{}` is not one of warn, error, ignore",
                        f.value
                    ),
                )]);
            }
            Ok(Builtin::Artifacts(Spanned::new(
                ArtifactsConfig {
                    upload: Some(lines(paths)),
                    name: Some(name),
                    download: None,
                    path: None,
                    from_common_root: true,
                },
                uses.pos,
            )))
        }
        "download-artifact" => {
            with.known("actions/download-artifact", DOWNLOAD)?;
            let Some(name) = with.get("name") else {
                return Err(vec![(
                    uses.pos,
                    format!(
                        "step `{label}` downloads every artifact, and here a download names what it fetches (expected `with: {{name: …}}`, one step per artifact)"
                    ),
                )]);
            };
            Ok(Builtin::Artifacts(Spanned::new(
                ArtifactsConfig {
                    upload: None,
                    name: None,
                    download: Some(Spanned::new(Names(vec![name.clone()]), name.pos)),
                    path: with.get("path").cloned(),
                    from_common_root: false,
                },
                uses.pos,
            )))
        }
        setup => match Toolchain::from_action(setup) {
            Some(tool) => {
                let extra = match tool {
                    Toolchain::Node => SETUP_NODE,
                    Toolchain::Python => SETUP_PYTHON,
                    Toolchain::Java => SETUP_JAVA,
                    Toolchain::Go => &[],
                };
                let mut allowed = vec![tool.version_input()];
                allowed.extend(SETUP_COMMON);
                allowed.extend(extra);
                let file_input = format!("{}-file", tool.version_input());
                if let Some(file) = with.get(&file_input) {
                    return Err(vec![(
                        file.pos,
                        format!(
                            "`{file_input}` is not read here (expected the version written in `{}`, e.g. `{}: {}`)",
                            tool.version_input(),
                            tool.version_input(),
                            example(tool)
                        ),
                    )]);
                }
                with.known(&format!("actions/{setup}"), &allowed)?;
                Ok(Builtin::Setup {
                    tool,
                    version: with.get(tool.version_input()).cloned(),
                })
            }
            None => refuse(
                "what it does as a `run:` step; built in are actions/checkout, actions/cache, actions/upload-artifact, actions/download-artifact and actions/setup-node, -python, -go and -java",
            ),
        },
    }
}

fn example(tool: Toolchain) -> &'static str {
    match tool {
        Toolchain::Node => "20",
        Toolchain::Python => "'3.12'",
        Toolchain::Go => "'1.22'",
        Toolchain::Java => "21",
    }
}

fn checkout(with: &Inputs, label: &str) -> Result<Builtin, Problems> {
    with.known("actions/checkout", CHECKOUT)?;
    let mut problems = Vec::new();
    if let Some(repo) = with.get("repository")
        && repo.value.trim() != "${{ github.repository }}"
    {
        problems.push((repo.pos, format!("step `{label}` checks out repository `{}`, and the workspace holds this repository only (expected a `run:` step with `git clone`, or `repository` left out)", repo.value)));
    }
    if let Some(r) = with.get("ref")
        && !OWN_REFS.contains(&r.value.trim())
    {
        problems.push((r.pos, format!("step `{label}` checks out `{}`, and the workspace holds the run's commit (expected `ref` left out; to build another commit, `bellwether run --checkout REV`)", r.value)));
    }
    if let Some(p) = with.get("path")
        && !matches!(p.value.trim(), "" | ".")
    {
        problems.push((p.pos, format!("step `{label}` checks out into `{}`, and the checkout is the workspace itself (expected `path` left out, and paths relative to the workspace)", p.value)));
    }
    if problems.is_empty() {
        Ok(Builtin::Checkout)
    } else {
        Err(problems)
    }
}

/// `with:` as strings, as GitHub hands inputs to actions.
struct Inputs(Vec<(Spanned<String>, Spanned<String>)>);

impl Inputs {
    fn read(with: Option<&Spanned<Entries<Value>>>) -> Result<Inputs, Problems> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for (key, value) in with.map(|w| w.value.iter()).into_iter().flatten() {
            let text = match &value.value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                Value::Array(_) | Value::Object(_) => {
                    problems.push((key.pos, format!("input `{}` is a list or mapping (expected a string; several lines for several values)", key.value)));
                    continue;
                }
            };
            out.push((key.clone(), Spanned::new(text, value.pos.or(key.pos))));
        }
        if problems.is_empty() {
            Ok(Inputs(out))
        } else {
            Err(problems)
        }
    }

    fn get(&self, name: &str) -> Option<&Spanned<String>> {
        self.0.iter().find(|(k, _)| k.value == name).map(|(_, v)| v)
    }

    fn known(&self, action: &str, allowed: &[&str]) -> Result<(), Problems> {
        let problems: Problems = self
            .0
            .iter()
            .filter(|(k, _)| !allowed.contains(&k.value.as_str()))
            .map(|(k, _)| {
                (
                    k.pos,
                    format!(
                        "unknown input `{}` of {action}{} (expected one of {})",
                        k.value,
                        did_you_mean(&k.value, allowed.iter().copied()),
                        allowed.join(", ")
                    ),
                )
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn required(
        &self,
        action: &str,
        name: &str,
        label: &str,
        at: Pos,
    ) -> Result<&Spanned<String>, Problems> {
        self.get(name).ok_or_else(|| {
            vec![(
                at,
                format!(
                    "step `{label}` uses {action} without `{name}` (expected `with: {{{name}: …}}`)"
                ),
            )]
        })
    }
}

/// A multi-line input as a list: one value a line, blank lines left out.
fn lines(value: &Spanned<String>) -> Spanned<Names> {
    let names = value
        .value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Spanned::new(l.to_owned(), value.pos))
        .collect();
    Spanned::new(Names(names), value.pos)
}

/// The `artifacts` step a step is, written as one or as an artifact action.
pub(super) fn artifacts_step(step: &PipelineStepConfig) -> Option<Spanned<ArtifactsConfig>> {
    if let Some(a) = &step.artifacts {
        return Some(a.clone());
    }
    match builtin(step.uses.as_ref()?, step, "") {
        Ok(Builtin::Artifacts(a)) => Some(a),
        _ => None,
    }
}
