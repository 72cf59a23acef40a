//! Finding a service's replica logs on disk: `<revision>/<index>.log` with its rotations
//! `<index>.log.N` (N = 1 the newest).

use std::path::{Path, PathBuf};

use bellwether_core::rollout::RevisionNumber;

/// One replica's log: the file it writes and its rotations, oldest first.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ReplicaFiles {
    pub(crate) revision: RevisionNumber,
    pub(crate) index: u32,
    pub(crate) live: PathBuf,
    pub(crate) rotated: Vec<PathBuf>,
}

/// The replica logs under `dir` (a service's log directory), of one revision or all: by
/// revision, then by replica.
pub(crate) fn replicas(dir: &Path, revision: Option<RevisionNumber>) -> Vec<ReplicaFiles> {
    let revisions = match revision {
        Some(r) => vec![(r, dir.join(r.to_string()))],
        None => numbered_entries(dir),
    };
    revisions
        .into_iter()
        .flat_map(|(revision, dir)| replicas_in(revision, &dir))
        .collect()
}

/// The entries of `dir` whose name is a number, in numeric order.
fn numbered_entries(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect();
    out.sort();
    out
}

/// A revision's logs, grouped by replica in index order.
fn replicas_in(revision: RevisionNumber, dir: &Path) -> Vec<ReplicaFiles> {
    let mut files: Vec<((u32, std::cmp::Reverse<u32>), PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (index, rest) = name.split_once(".log")?;
            let rotation = match rest.strip_prefix('.') {
                Some(n) => n.parse().ok()?,
                None if rest.is_empty() => 0,
                None => return None,
            };
            Some(((index.parse().ok()?, std::cmp::Reverse(rotation)), e.path()))
        })
        .collect();
    files.sort();
    let mut replicas: Vec<ReplicaFiles> = Vec::new();
    for ((index, _), path) in files {
        if replicas.last().is_none_or(|r| r.index != index) {
            replicas.push(ReplicaFiles {
                revision,
                index,
                live: dir.join(format!("{index}.log")),
                rotated: Vec::new(),
            });
        }
        let replica = replicas.last_mut().expect("pushed above");
        if path != replica.live {
            replica.rotated.push(path);
        }
    }
    replicas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_group_by_replica_with_rotations_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "2/0.log.2",
            "2/0.log.1",
            "2/0.log",
            "2/1.log",
            "2/x.log",
            "10/0.log",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let at = |file: &str| dir.path().join(file);
        let replica = |revision, index, rotated: &[&str]| ReplicaFiles {
            revision,
            index,
            live: at(&format!("{revision}/{index}.log")),
            rotated: rotated.iter().map(|f| at(f)).collect(),
        };
        assert_eq!(
            replicas(dir.path(), None),
            [
                replica(2, 0, &["2/0.log.2", "2/0.log.1"]),
                replica(2, 1, &[]),
                replica(10, 0, &[]),
            ]
        );
        assert_eq!(replicas(dir.path(), Some(10)), [replica(10, 0, &[])]);
        assert!(replicas(dir.path(), Some(7)).is_empty());
    }
}
