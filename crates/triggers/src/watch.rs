//! Polling the repository: every interval its refs are read (a remote fetched first) and
//! compared with those seen last; each branch that moved or appeared, and each new tag, is a
//! push. What was seen is kept in `<data>/triggers/refs.json`, so pushes made while the
//! control plane was down are found when it starts, and none fires twice. The first look at
//! a repository only records it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bellwether_core::error::chain;
use bellwether_pipeline_core::trigger::{Event, EventName, GitRef};
use tokio_util::sync::CancellationToken;

use crate::pipelines::{Pipelines, blocking};
use crate::webhook::Pushed;

/// One ref that moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Moved {
    pub(crate) git_ref: GitRef,
    pub(crate) before: Option<String>,
    pub(crate) after: String,
}

/// The branches that moved or appeared and the tags that appeared between two looks.
/// Deleted refs and moved tags start nothing.
pub(crate) fn moved(
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<Moved> {
    now.iter()
        .filter_map(|(name, sha)| {
            let old = before.get(name);
            if old == Some(sha) {
                return None;
            }
            let git_ref = if let Some(branch) = name.strip_prefix("refs/heads/") {
                GitRef::Branch(branch.to_owned())
            } else {
                let tag = name.strip_prefix("refs/tags/")?;
                if old.is_some() {
                    return None;
                }
                GitRef::Tag(tag.to_owned())
            };
            Some(Moved {
                git_ref,
                before: old.cloned(),
                after: sha.clone(),
            })
        })
        .collect()
}

/// Polls every `every` until `stop`.
pub async fn poll(pipelines: Pipelines, every: Duration, stop: CancellationToken) {
    let Some(source) = pipelines.source().cloned() else {
        return;
    };
    let seen_file = pipelines.data_dir().join("triggers/refs.json");
    let mut seen = read_seen(&seen_file);
    loop {
        let looked = {
            let source = source.clone();
            blocking(move || {
                source.sync()?;
                Ok(source.refs()?)
            })
            .await
        };
        match looked {
            Err(e) => tracing::warn!("polling {}: {}", source.describe(), chain(&e)),
            Ok(refs) => {
                if let Some(before) = &seen {
                    for m in moved(before, &refs) {
                        let pushed = pushed(&source, m);
                        let what = pushed.event.describe();
                        match pipelines.pushed(pushed).await {
                            Ok(t) if t.runs.is_empty() => {
                                tracing::info!("{what}: no pipeline matches");
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!("{what}: {}", chain(&e)),
                        }
                    }
                }
                if seen.as_ref() != Some(&refs) {
                    if let Err(e) = write_seen(&seen_file, &refs) {
                        tracing::warn!("cannot keep what polling saw: {e}");
                    }
                    seen = Some(refs);
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

fn pushed(source: &crate::Source, m: Moved) -> Pushed {
    let changed_paths = match (&m.git_ref, &m.before) {
        (GitRef::Branch(_), Some(before)) => source.changed_paths(before, &m.after),
        _ => None,
    };
    Pushed {
        actor: source
            .author(&m.after)
            .unwrap_or_else(|| "git polling".to_owned()),
        event: Event {
            name: EventName::Push,
            git_ref: m.git_ref,
            base: None,
            action: None,
            changed_paths,
            workflow_run: None,
        },
        sha: m.after,
        base_sha: None,
        fork: None,
        association: None,
    }
}

fn read_seen(path: &Path) -> Option<BTreeMap<String, String>> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Through a temporary file and a rename, so a crash never leaves half a file.
fn write_seen(path: &PathBuf, refs: &BTreeMap<String, String>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(refs)?)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn moved_and_new_branches_and_new_tags_are_pushes() {
        let before = refs(&[
            ("refs/heads/main", "a1"),
            ("refs/heads/gone", "b1"),
            ("refs/heads/still", "c1"),
            ("refs/tags/v1", "d1"),
        ]);
        let now = refs(&[
            ("refs/heads/main", "a2"),
            ("refs/heads/new", "e1"),
            ("refs/heads/still", "c1"),
            ("refs/tags/v1", "d2"),
            ("refs/tags/v2", "f1"),
        ]);
        assert_eq!(
            moved(&before, &now),
            vec![
                Moved {
                    git_ref: GitRef::Branch("main".to_owned()),
                    before: Some("a1".to_owned()),
                    after: "a2".to_owned(),
                },
                Moved {
                    git_ref: GitRef::Branch("new".to_owned()),
                    before: None,
                    after: "e1".to_owned(),
                },
                Moved {
                    git_ref: GitRef::Tag("v2".to_owned()),
                    before: None,
                    after: "f1".to_owned(),
                },
            ]
        );
    }
}
