//! A run's workspace: in a git repository, what would be committed (uncommitted changes in,
//! ignored files out) or exactly a commit; outside one, a copy of the project directory.

use std::path::Path;
use std::process::Command;

use bellwether_runner::{Checkout, Workspace};

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=dev@example.com", "-c", "user.name=dev"])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[test]
fn tree_takes_what_would_be_committed_and_commit_takes_the_commit() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let repo = dir.path().join("repo");
    write(&repo.join("app/bellwether.yaml"), "pipelines: {}\n");
    write(&repo.join("app/src/main.rs"), "committed");
    write(&repo.join(".gitignore"), "target/\n");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    write(&repo.join("app/src/main.rs"), "changed, not committed");
    write(&repo.join("app/src/new.rs"), "untracked");
    write(&repo.join("app/target/debug/big.o"), "ignored");
    write(
        &repo.join("app/.bellwether/runs/1/log"),
        "the data directory",
    );
    let project = repo.join("app");
    let data = project.join(".bellwether");

    let tree = Workspace::create(&project, &dir.path().join("runs/1"), &Checkout::Tree, &data)
        .expect("a workspace");
    assert_eq!(tree.workdir, tree.root.join("app"));
    assert_eq!(tree.sha.len(), 40);
    assert_eq!(
        read(&tree.workdir.join("src/main.rs")).as_deref(),
        Some("changed, not committed")
    );
    assert_eq!(
        read(&tree.workdir.join("src/new.rs")).as_deref(),
        Some("untracked")
    );
    assert!(
        !tree.workdir.join("target").exists(),
        "ignored files stay out"
    );
    assert!(
        !tree.workdir.join(".bellwether").exists(),
        "the data directory stays out"
    );

    let commit = Workspace::create(
        &project,
        &dir.path().join("runs/2"),
        &Checkout::Commit("HEAD".into()),
        &data,
    )
    .expect("a worktree");
    assert_eq!(commit.sha, tree.sha);
    assert_eq!(
        read(&commit.workdir.join("src/main.rs")).as_deref(),
        Some("committed")
    );
    assert!(!commit.workdir.join("src/new.rs").exists());
    let root = commit.root.clone();
    commit.remove();
    assert!(!root.exists());
    tree.remove();
}

#[test]
fn outside_git_the_project_directory_is_copied() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let project = dir.path().join("project");
    write(&project.join("bellwether.yaml"), "pipelines: {}\n");
    write(&project.join("script.sh"), "echo hi");
    write(&project.join(".bellwether/cache/x"), "data");
    let data = project.join(".bellwether");
    let ws = Workspace::create(&project, &dir.path().join("ws"), &Checkout::Tree, &data)
        .expect("a copy");
    assert_eq!(
        read(&ws.workdir.join("script.sh")).as_deref(),
        Some("echo hi")
    );
    assert!(!ws.workdir.join(".bellwether").exists());
    assert_eq!(ws.sha, "0".repeat(40));
    let err = Workspace::create(
        &project,
        &dir.path().join("ws2"),
        &Checkout::Commit("HEAD".into()),
        &data,
    )
    .err()
    .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.starts_with("--checkout HEAD needs a git repository")));
}
