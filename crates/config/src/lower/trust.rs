//! `trust: {authors, reviewers, user}`.

use bellwether_core::spec::{APPROVAL_ENVIRONMENT, Trust};

use crate::diagnostic::Sink;
use crate::model::ProjectFile;

pub(super) fn lower(file: &ProjectFile, sink: &mut Sink<'_>) -> Trust {
    if let Some(reserved) = file
        .environments
        .iter()
        .find(|(name, _)| name.value == APPROVAL_ENVIRONMENT)
    {
        sink.error(
            reserved.0.pos,
            format!("environment `{APPROVAL_ENVIRONMENT}` is reserved: it is the approval untrusted runs wait for (expected another name)"),
        );
    }
    let t = &file.trust;
    let mut names = t.authors.iter().chain(&t.reviewers);
    if let Some(empty) = names.find(|n| n.value.trim().is_empty() || n.value.trim() == "group:") {
        sink.error(
            empty.pos,
            "an author or reviewer is empty (expected a name, or `group:NAME` for reviewers)",
        );
    }
    let mut trust = Trust {
        authors: t
            .authors
            .iter()
            .map(|a| a.value.trim().to_owned())
            .collect(),
        reviewers: t
            .reviewers
            .iter()
            .map(|r| r.value.trim().to_owned())
            .collect(),
        ..Trust::default()
    };
    if let Some(user) = &t.user {
        let valid = !user.value.is_empty()
            && user
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if valid {
            trust.user = user.value.clone();
        } else {
            sink.error(
                user.pos,
                format!(
                    "`{}` is not a user name (expected an OS user such as `nobody`)",
                    user.value
                ),
            );
        }
    }
    trust
}
