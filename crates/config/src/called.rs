//! The workflows that jobs call (`uses: ./.github/workflows/x.yml`), read through the caller's
//! reader from the repository's root, and those they call in turn, before anything is lowered
//! (this crate does no I/O). Whatever cannot be read or parsed is kept as such, for the
//! lowering to report where the call is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::model::PipelineConfig;
use crate::{Read, syntax};

/// A called workflow file, by its `uses` as written.
#[derive(Clone, Debug)]
pub(crate) enum CalledFile {
    /// Its name for messages, and its contents.
    Read(String, Box<PipelineConfig>),
    Unreadable(String),
    Invalid(Diagnostics),
}

pub(crate) type Called = BTreeMap<String, CalledFile>;

/// Whether a job's `uses` names a workflow of this repository.
pub(crate) fn is_local(uses: &str) -> bool {
    uses.starts_with("./")
}

/// The repository's root for a file: the directory that holds its `.github`, else its own.
fn root(file_name: &str) -> PathBuf {
    let path = Path::new(file_name);
    path.ancestors()
        .find(|dir| dir.file_name().is_some_and(|n| n == ".github"))
        .and_then(Path::parent)
        .or_else(|| path.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Reads every workflow the jobs of `pipelines` (of the file `file_name`) call, transitively.
pub(crate) fn read_all<'a>(
    file_name: &str,
    pipelines: impl IntoIterator<Item = &'a PipelineConfig>,
    read: Read<'_>,
) -> Called {
    let root = root(file_name);
    let mut called = Called::new();
    let mut todo: Vec<String> = pipelines.into_iter().flat_map(calls).collect();
    while let Some(uses) = todo.pop() {
        if called.contains_key(&uses) {
            continue;
        }
        let path = root.join(uses.trim_start_matches("./"));
        let shown = path.display().to_string();
        let file = match read(&path) {
            Err(e) => CalledFile::Unreadable(format!("cannot read {shown}: {e}")),
            Ok(source) => match syntax::parse_workflow(&shown, &source) {
                Ok(config) => {
                    todo.extend(calls(&config));
                    CalledFile::Read(shown, Box::new(config))
                }
                Err(diagnostics) => CalledFile::Invalid(diagnostics),
            },
        };
        called.insert(uses, file);
    }
    called
}

/// The local workflows a pipeline's jobs call.
fn calls(pipeline: &PipelineConfig) -> Vec<String> {
    pipeline
        .jobs
        .iter()
        .filter_map(|(_, job)| job.value.uses.as_ref())
        .map(|uses| uses.value.clone())
        .filter(|uses| is_local(uses))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_read_from_the_repository_root() {
        assert_eq!(root("repo/.github/workflows/ci.yml"), Path::new("repo"));
        assert_eq!(root(".github/workflows/ci.yml"), Path::new(""));
        assert_eq!(root("project/bellwether.yaml"), Path::new("project"));
        assert_eq!(root("bellwether.yaml"), Path::new(""));
    }
}
