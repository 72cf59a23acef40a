//! Bearer tokens. A token is `bwt_` and 64 hex digits (256 random bits), shown once when made;
//! only its SHA-256 digest is stored, so the store leaks no usable credential. Tokens live as
//! events on the store's `access/tokens` stream and in memory, so that checking a request
//! costs no store call. A digest of 256 random bits needs no slow hash: nothing can be guessed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use bellwether_store::{Record, Store, StoreError};
use serde::{Deserialize, Serialize};

use bellwether_core::access::audit::digest;
use bellwether_core::access::{Grant, Identity, Role, TokenInfo};

use crate::AccessError;

const STREAM: &str = "access/tokens";
const PREFIX: &str = "bwt_";

/// A token in clear, as shown once to whoever created it; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    fn generate() -> Result<Self, AccessError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(AccessError::Random)?;
        Ok(Self(format!("{PREFIX}{}", hex(&bytes))))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Why a presented token does not identify anyone. Deliberately coarse for the caller: the
/// server answers 401 for each, and names the token only in the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("no credential: send `Authorization: Bearer TOKEN`")]
    Missing,
    #[error("the token is not known")]
    Unknown,
    #[error("the token `{0}` was revoked")]
    Revoked(String),
    #[error("the token `{0}` has expired")]
    Expired(String),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Event {
    Created { info: TokenInfo, digest: String },
    Revoked { name: String, at_ms: u64 },
}

#[derive(Default)]
struct State {
    seq: u64,
    /// Every token ever made, by digest; a revoked one stays, so that it is refused as revoked.
    by_digest: BTreeMap<String, TokenInfo>,
}

impl State {
    fn apply(&mut self, event: Event) {
        match event {
            Event::Created { info, digest } => {
                self.by_digest.insert(digest, info);
            }
            Event::Revoked { name, at_ms } => {
                for info in self.by_digest.values_mut() {
                    if info.name == name && info.revoked_at_ms.is_none() {
                        info.revoked_at_ms = Some(at_ms);
                    }
                }
            }
        }
    }

    fn current(&self, name: &str, now_ms: u64) -> Option<&TokenInfo> {
        self.by_digest
            .values()
            .find(|i| i.name == name && i.active(now_ms))
    }
}

/// The tokens of a control plane.
pub struct Tokens {
    store: Arc<dyn Store>,
    state: Mutex<State>,
}

impl Tokens {
    /// Reads every token from the store.
    pub fn open(store: Arc<dyn Store>) -> Result<Self, AccessError> {
        let tokens = Self {
            store,
            state: Mutex::new(State::default()),
        };
        tokens.catch_up(&mut tokens.state())?;
        Ok(tokens)
    }

    /// Makes a token for every environment: its secret, shown once, and what is kept of it.
    /// A name may be reused only once the token that had it was revoked or expired.
    pub fn create(
        &self,
        name: &str,
        role: Role,
        expires_at_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<(Secret, TokenInfo), AccessError> {
        self.create_with(name, Grant::everywhere(role), expires_at_ms, now_ms)
    }

    /// [`Tokens::create`], with what `grant` allows: a role in some environments, in groups.
    pub fn create_with(
        &self,
        name: &str,
        grant: Grant,
        expires_at_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<(Secret, TokenInfo), AccessError> {
        if !valid_name(name) {
            return Err(AccessError::BadName(name.to_owned()));
        }
        if let Some(bad) = grant.groups.iter().find(|g| !valid_name(g)) {
            return Err(AccessError::BadGroup(bad.clone()));
        }
        let Grant {
            role,
            environments,
            mut groups,
        } = grant;
        groups.sort();
        groups.dedup();
        let secret = Secret::generate()?;
        let info = TokenInfo {
            name: name.to_owned(),
            role,
            created_at_ms: now_ms,
            expires_at_ms,
            revoked_at_ms: None,
            environments,
            groups,
        };
        let event = Event::Created {
            info: info.clone(),
            digest: digest(secret.expose()),
        };
        self.append(now_ms, event, |state| match state.current(name, now_ms) {
            Some(_) => Err(AccessError::NameTaken(name.to_owned())),
            None => Ok(()),
        })?;
        Ok((secret, info))
    }

    /// Revokes the token named `name`: it is refused from now on.
    pub fn revoke(&self, name: &str, now_ms: u64) -> Result<TokenInfo, AccessError> {
        let event = Event::Revoked {
            name: name.to_owned(),
            at_ms: now_ms,
        };
        let mut found = None;
        self.append(now_ms, event, |state| {
            found = state.current(name, now_ms).cloned();
            found
                .as_ref()
                .map(|_| ())
                .ok_or_else(|| AccessError::UnknownToken(name.to_owned()))
        })?;
        let mut info = found.ok_or_else(|| AccessError::UnknownToken(name.to_owned()))?;
        info.revoked_at_ms = Some(now_ms);
        Ok(info)
    }

    /// Every token, newest first, revoked and expired ones included.
    pub fn list(&self) -> Vec<TokenInfo> {
        let mut all: Vec<TokenInfo> = self.state().by_digest.values().cloned().collect();
        all.sort_by(|a, b| {
            b.created_at_ms
                .cmp(&a.created_at_ms)
                .then(a.name.cmp(&b.name))
        });
        all
    }

    /// Who presents `token`, if anyone.
    pub fn authenticate(&self, token: &str, now_ms: u64) -> Result<Identity, Denied> {
        let state = self.state();
        let info = state.by_digest.get(&digest(token)).ok_or(Denied::Unknown)?;
        if info.revoked_at_ms.is_some() {
            return Err(Denied::Revoked(info.name.clone()));
        }
        if info.expires_at_ms.is_some_and(|t| now_ms >= t) {
            return Err(Denied::Expired(info.name.clone()));
        }
        Ok(Identity {
            name: info.name.clone(),
            role: info.role,
            environments: info.environments.clone(),
            groups: info.groups.clone(),
        })
    }

    /// Appends `event` once `check` accepts the state it follows; another writer's append in
    /// between (another control plane on the same store) is read, and the check made again.
    fn append(
        &self,
        now_ms: u64,
        event: Event,
        mut check: impl FnMut(&State) -> Result<(), AccessError>,
    ) -> Result<(), AccessError> {
        let mut state = self.state();
        let record = Record::new(now_ms, kind(&event), serde_json::to_value(&event)?);
        loop {
            check(&state)?;
            match self
                .store
                .append(STREAM, state.seq, std::slice::from_ref(&record))
            {
                Ok(seq) => {
                    state.seq = seq;
                    state.apply(event);
                    return Ok(());
                }
                Err(StoreError::Conflict { .. }) => self.catch_up(&mut state)?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn catch_up(&self, state: &mut State) -> Result<(), AccessError> {
        for record in self.store.read(STREAM, state.seq)? {
            state.apply(serde_json::from_value(record.body)?);
            state.seq = record.seq;
        }
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn kind(event: &Event) -> &'static str {
    match event {
        Event::Created { .. } => "token_created",
        Event::Revoked { .. } => "token_revoked",
    }
}

/// What token and group names are made of: they appear in `reviewers:` and the audit trail.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
