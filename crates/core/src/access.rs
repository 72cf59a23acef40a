//! Who may do what: roles and the permissions they grant, the identity a credential stands
//! for, what is kept of a token, and the audit trail's entries and their chain ([`audit`]).
//! The roles nest by intent, not by inclusion: an approver reviews gates but does not deploy,
//! so that the person who ships and the one who approves can be told apart.

pub mod audit;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Deploys and steers rollouts (promote, abort, pause, resume, undo) and dispatches runs.
    Deployer,
    /// Reviews the gates of protected environments.
    Approver,
    /// Everything, including `apply`, tokens and `rollback --all`.
    Admin,
}

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Read,
    Deploy,
    /// Promote, abort, pause, resume, retry, undo.
    Operate,
    Dispatch,
    Approve,
    Apply,
    RollbackAll,
    ManageTokens,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::Read,
        Permission::Deploy,
        Permission::Operate,
        Permission::Dispatch,
        Permission::Approve,
        Permission::Apply,
        Permission::RollbackAll,
        Permission::ManageTokens,
    ];
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Deployer, Role::Approver, Role::Admin];

    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Viewer => permission == Read,
            Role::Deployer => matches!(permission, Read | Deploy | Operate | Dispatch),
            Role::Approver => matches!(permission, Read | Approve),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                format!("`{s}` is no role (expected viewer, deployer, approver or admin)")
            })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Read => "read",
            Permission::Deploy => "deploy",
            Permission::Operate => "operate rollouts",
            Permission::Dispatch => "dispatch pipelines",
            Permission::Approve => "review gates",
            Permission::Apply => "apply projects",
            Permission::RollbackAll => "roll back everything",
            Permission::ManageTokens => "manage tokens",
        })
    }
}

/// Who acts: the name of the credential presented, and its role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub role: Role,
    /// The environments it may act in; empty is every one.
    #[serde(default)]
    pub environments: Vec<String>,
    /// The groups it belongs to, which an environment may name as its reviewers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Permission {
    /// Whether it concerns every environment at once, which a scoped identity never may.
    pub fn project_wide(self) -> bool {
        matches!(
            self,
            Permission::Apply | Permission::RollbackAll | Permission::ManageTokens
        )
    }
}

impl Identity {
    /// Whether its role and scope allow `permission` at all (where, is decided per target).
    pub fn allows(&self, permission: Permission) -> bool {
        self.role.allows(permission) && (self.environments.is_empty() || !permission.project_wide())
    }

    /// Whether it may act on something deployed to `environments`: an unscoped identity on
    /// anything, a scoped one only where every environment is within its scope.
    pub fn may_act_in(&self, environments: &[String]) -> bool {
        self.environments.is_empty()
            || (!environments.is_empty()
                && environments.iter().all(|e| self.environments.contains(e)))
    }
}

/// What is known of a token, its secret aside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    pub created_at_ms: u64,
    pub expires_at_ms: Option<u64>,
    pub revoked_at_ms: Option<u64>,
    /// The environments it may act in; empty is every one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// The groups it belongs to (`reviewers: [group:sre]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// What a new token may do: its role, where, and the groups it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    /// Empty: every environment.
    pub environments: Vec<String>,
    pub groups: Vec<String>,
}

impl Grant {
    /// `role` everywhere, in no group.
    pub fn everywhere(role: Role) -> Self {
        Self {
            role,
            environments: Vec::new(),
            groups: Vec::new(),
        }
    }
}

impl TokenInfo {
    /// Neither revoked nor expired at `now_ms`.
    pub fn active(&self, now_ms: u64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms.is_none_or(|t| now_ms < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_allows_exactly_its_permissions() {
        use Permission::*;
        let all = Permission::ALL;
        let allowed = |role: Role| -> Vec<Permission> {
            all.into_iter().filter(|p| role.allows(*p)).collect()
        };
        assert_eq!(allowed(Role::Viewer), [Read]);
        assert_eq!(allowed(Role::Deployer), [Read, Deploy, Operate, Dispatch]);
        assert_eq!(allowed(Role::Approver), [Read, Approve]);
        assert_eq!(allowed(Role::Admin), all);
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
