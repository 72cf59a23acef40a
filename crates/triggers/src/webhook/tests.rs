use super::*;

const SECRET: &[u8] = b"It's a Secret to Everybody";
// GitHub's own example of a valid delivery (its docs on validating webhook deliveries), and
// the same digest from Python's `hmac.new(secret, body, hashlib.sha256).hexdigest()`.
const BODY: &[u8] = b"Hello, World!";
const SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn a_signature_is_accepted_only_for_the_same_body_and_secret() {
    assert_eq!(sign(SECRET, BODY), SIGNATURE);
    assert_eq!(verify(SECRET, BODY, Some(SIGNATURE)), Ok(()));
    assert_eq!(
        verify(SECRET, b"Hello, World?", Some(SIGNATURE)),
        Err(WebhookError::WrongSignature)
    );
    assert_eq!(
        verify(b"another secret", BODY, Some(SIGNATURE)),
        Err(WebhookError::WrongSignature)
    );
    assert_eq!(verify(SECRET, BODY, None), Err(WebhookError::Unsigned));
    for malformed in [
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea",
        "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=é57107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
    ] {
        assert_eq!(
            verify(SECRET, BODY, Some(malformed)),
            Err(WebhookError::MalformedSignature),
            "{malformed}"
        );
    }
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const BASE: &str = "89abcdef0123456789abcdef0123456789abcdef";

#[test]
fn a_push_names_its_branch_commit_pusher_and_every_changed_path() {
    let body = serde_json::json!({
        "ref": "refs/heads/release/1.2",
        "before": BASE,
        "after": SHA,
        "commits": [
            {"added": ["src/new.rs"], "modified": ["README.md"], "removed": []},
            {"added": [], "modified": ["src/new.rs"], "removed": ["old.txt"]}
        ],
        "pusher": {"name": "ada", "email": "ada@example.com"},
        "sender": {"login": "ada-gh"}
    });
    let delivery = parse(Some("push"), body.to_string().as_bytes()).unwrap();
    assert_eq!(
        delivery,
        Delivery::Event(Box::new(Pushed {
            event: Event {
                name: EventName::Push,
                git_ref: GitRef::Branch("release/1.2".to_owned()),
                base: None,
                action: None,
                changed_paths: Some(vec![
                    "README.md".to_owned(),
                    "old.txt".to_owned(),
                    "src/new.rs".to_owned()
                ]),
                workflow_run: None,
            },
            sha: SHA.to_owned(),
            base_sha: None,
            actor: "ada".to_owned(),
            fork: None,
            association: None,
        }))
    );
}

#[test]
fn a_tag_push_is_a_tag_and_a_deletion_starts_nothing() {
    let tag =
        serde_json::json!({"ref": "refs/tags/v1.0.0", "after": SHA, "sender": {"login": "bo"}});
    let Delivery::Event(pushed) = parse(Some("push"), tag.to_string().as_bytes()).unwrap() else {
        panic!("a tag push is an event");
    };
    assert_eq!(pushed.event.git_ref, GitRef::Tag("v1.0.0".to_owned()));
    assert_eq!(pushed.actor, "bo");
    let deleted = serde_json::json!({
        "ref": "refs/heads/old", "after": "0".repeat(40), "deleted": true
    });
    assert_eq!(
        parse(Some("push"), deleted.to_string().as_bytes()).unwrap(),
        Delivery::Ignored("branch `old` was deleted".to_owned())
    );
}

#[test]
fn a_pull_request_names_head_base_and_action() {
    let body = serde_json::json!({
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "head": {"ref": "feature/x", "sha": SHA},
            "base": {"ref": "develop", "sha": BASE}
        },
        "sender": {"login": "cy"}
    });
    let Delivery::Event(pushed) = parse(Some("pull_request"), body.to_string().as_bytes()).unwrap()
    else {
        panic!("a pull request is an event");
    };
    assert_eq!(pushed.event.name, EventName::PullRequest);
    assert_eq!(pushed.event.git_ref, GitRef::Branch("feature/x".to_owned()));
    assert_eq!(pushed.event.base.as_deref(), Some("develop"));
    assert_eq!(pushed.event.action.as_deref(), Some("synchronize"));
    assert_eq!(
        (pushed.sha.as_str(), pushed.base_sha.as_deref()),
        (SHA, Some(BASE))
    );
    assert_eq!(pushed.actor, "cy");
    assert_eq!((pushed.fork, pushed.association), (None, None));
}

#[test]
fn a_pull_request_from_a_fork_says_so() {
    let side = |git_ref: &str, sha: &str, repo: serde_json::Value| serde_json::json!({"ref": git_ref, "sha": sha, "repo": repo});
    let delivery = |head: serde_json::Value| {
        let body = serde_json::json!({
            "action": "opened",
            "pull_request": {
                "head": head,
                "base": side("main", BASE, serde_json::json!({"full_name": "acme/app"})),
                "author_association": "FIRST_TIME_CONTRIBUTOR"
            },
            "sender": {"login": "mallory"}
        });
        match parse(Some("pull_request"), body.to_string().as_bytes()).unwrap() {
            Delivery::Event(pushed) => *pushed,
            other => panic!("{other:?}"),
        }
    };
    let forked = delivery(side(
        "main",
        SHA,
        serde_json::json!({"full_name": "mallory/app"}),
    ));
    assert_eq!(forked.fork.as_deref(), Some("mallory/app"));
    assert_eq!(
        forked.association.as_deref(),
        Some("FIRST_TIME_CONTRIBUTOR")
    );
    let deleted = delivery(side("main", SHA, serde_json::Value::Null));
    assert_eq!(deleted.fork.as_deref(), Some("a deleted fork"));
    let own = delivery(side(
        "fix",
        SHA,
        serde_json::json!({"full_name": "acme/app"}),
    ));
    assert_eq!(own.fork, None);
}

#[test]
fn malformed_deliveries_say_what_is_wrong() {
    let cases: Vec<(Option<&str>, String)> = vec![
        (None, "{}".to_owned()),
        (Some("push"), "not json".to_owned()),
        (Some("push"), r#"{"after": "x"}"#.to_owned()),
        (
            Some("push"),
            format!(r#"{{"ref": "refs/notes/x", "after": "{SHA}"}}"#),
        ),
        (
            Some("push"),
            r#"{"ref": "refs/heads/main", "after": "$(rm -rf /)"}"#.to_owned(),
        ),
        (Some("pull_request"), r#"{"action": "opened"}"#.to_owned()),
    ];
    let messages: Vec<String> = cases
        .iter()
        .map(|(name, body)| parse(*name, body.as_bytes()).unwrap_err().to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "no X-GitHub-Event header (expected push, pull_request or ping)",
            "the push payload is malformed: expected ident at line 1 column 2",
            "the push payload is malformed: missing field `ref` at line 1 column 14",
            "the push payload is malformed: ref `refs/notes/x` is neither refs/heads/… nor refs/tags/…",
            "the push payload is malformed: `$(rm -rf /)` is not a commit id (expected 40 hex digits)",
            "the pull_request payload is malformed: missing field `pull_request` at line 1 column 20",
        ]
    );
    assert_eq!(
        parse(Some("issues"), b"{}").unwrap(),
        Delivery::Ignored(
            "`issues` deliveries start nothing (pipelines run on push, pull_request and release)"
                .to_owned()
        )
    );
    assert_eq!(parse(Some("ping"), b"{}").unwrap(), Delivery::Ping);
}

#[test]
fn a_release_names_its_tag_and_action_and_a_tag_git_refuses_is_malformed() {
    let body = serde_json::json!({
        "action": "published",
        "release": {"tag_name": "v1.2.0", "target_commitish": "main", "draft": false},
        "sender": {"login": "ada"}
    });
    let Ok(Delivery::Event(pushed)) = parse(Some("release"), body.to_string().as_bytes()) else {
        panic!("a release is an event");
    };
    assert_eq!(pushed.event.name, EventName::Release);
    assert_eq!(pushed.event.git_ref, GitRef::Tag("v1.2.0".to_owned()));
    assert_eq!(pushed.event.action.as_deref(), Some("published"));
    assert_eq!(pushed.actor, "ada");
    assert_eq!(
        pushed.sha, "",
        "the commit is the tag's, looked up in the repository"
    );
    for tag in ["", "-x", "a..b", "v1 2", "v1:2", "v1\n2"] {
        let body = serde_json::json!({"action": "published", "release": {"tag_name": tag}});
        assert!(
            matches!(
                parse(Some("release"), body.to_string().as_bytes()),
                Err(WebhookError::Malformed { .. })
            ),
            "{tag:?}"
        );
    }
}
