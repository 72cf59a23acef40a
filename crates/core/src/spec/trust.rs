//! `trust:`: whose events run pipelines as written, and what runs from everyone else may do.
//!
//! A run is untrusted when its event comes from a fork's pull request, or from an author the
//! policy does not trust. An untrusted run gets no secrets, may not enter a protected
//! environment or deploy, waits for an approval before its first step, takes its pipelines
//! from the base branch, and runs its steps as an unprivileged user. The runner enforces
//! that; this module only decides who is trusted.

use serde::{Deserialize, Serialize};

/// The environment an untrusted run's approval is asked for, reserved for it.
pub const APPROVAL_ENVIRONMENT: &str = "outside-contribution";

/// GitHub's author associations of people with write access to the repository.
const TRUSTED_ASSOCIATIONS: &[&str] = &["OWNER", "MEMBER", "COLLABORATOR"];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trust {
    /// Authors (GitHub logins, commit authors) whose events are trusted. When empty, a pull
    /// request is trusted when GitHub says its author has write access (owner, member or
    /// collaborator), and a push is trusted (pushing needs write access).
    pub authors: Vec<String>,
    /// Who may approve an untrusted run (identities, `group:NAME`); empty: anyone allowed to
    /// review.
    pub reviewers: Vec<String>,
    /// The OS user untrusted steps run as.
    pub user: String,
}

impl Default for Trust {
    fn default() -> Self {
        Trust {
            authors: Vec::new(),
            reviewers: Vec::new(),
            user: "nobody".to_owned(),
        }
    }
}

/// Where an event comes from, as far as trust goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// Who pushed or opened the pull request.
    pub actor: String,
    /// The fork a pull request comes from (`owner/name`), when it is not the repository itself.
    pub fork: Option<String>,
    /// GitHub's `author_association` of a pull request's author.
    pub association: Option<String>,
}

impl Trust {
    /// `None` when the event is trusted; otherwise why it is not, for the run's log.
    pub fn judge(&self, origin: &Origin) -> Option<String> {
        if let Some(fork) = &origin.fork {
            return Some(format!("the pull request comes from the fork `{fork}`"));
        }
        if !self.authors.is_empty() {
            return (!self.authors.iter().any(|a| a == &origin.actor)).then(|| {
                format!(
                    "`{}` is not among the trusted authors (trust.authors)",
                    origin.actor
                )
            });
        }
        match &origin.association {
            Some(a) if !TRUSTED_ASSOCIATIONS.contains(&a.as_str()) => Some(format!(
                "`{}` has no write access to the repository (GitHub says {})",
                origin.actor,
                a.to_ascii_lowercase().replace('_', " ")
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(actor: &str, fork: Option<&str>, association: Option<&str>) -> Origin {
        Origin {
            actor: actor.to_owned(),
            fork: fork.map(str::to_owned),
            association: association.map(str::to_owned),
        }
    }

    #[test]
    fn forks_and_outsiders_are_untrusted() {
        let open = Trust::default();
        assert_eq!(open.judge(&origin("alice", None, None)), None);
        assert_eq!(open.judge(&origin("alice", None, Some("MEMBER"))), None);
        assert_eq!(
            open.judge(&origin("mallory", None, Some("FIRST_TIME_CONTRIBUTOR"))),
            Some(
                "`mallory` has no write access to the repository (GitHub says first time contributor)"
                    .to_owned()
            )
        );
        assert_eq!(
            open.judge(&origin("alice", Some("alice/app"), Some("OWNER"))),
            Some("the pull request comes from the fork `alice/app`".to_owned())
        );
        let listed = Trust {
            authors: vec!["alice".to_owned()],
            ..Trust::default()
        };
        assert_eq!(listed.judge(&origin("alice", None, None)), None);
        assert!(
            listed
                .judge(&origin("bob", None, Some("MEMBER")))
                .is_some_and(|why| why.contains("trust.authors"))
        );
    }
}
