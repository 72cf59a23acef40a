//! The secret store: `<data>/secrets/`, each value encrypted at rest with XChaCha20-Poly1305
//! under a random key kept beside it in a file only its owner may read (mode 0600). The
//! secret's name is the associated data, so a value moved to another name fails to decrypt.
//!
//! A secret is the project's, or scoped to one environment (`secret set NAME --env
//! production`): given only to the jobs of that environment, over the project's value of the
//! same name. The scope is authenticated with the name, so a value cannot be moved between
//! environments either.
//!
//! Names are listed without the key; values are decrypted only when a run asks for them by
//! name. Every change rewrites the store file whole, under a lock, through a temporary file
//! that is synced and renamed over it: a crash leaves the old store or the new one, never a
//! mixture.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bellwether_core::error::chain;
use bellwether_core::platform::SecretSource;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use crate::walk::hex;

const KEY_FILE: &str = "key";
const STORE_FILE: &str = "secrets.json";
const LOCK_FILE: &str = "lock";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "`{0}` is not a valid secret name (expected letters, digits and `_`, not starting with a digit or GITHUB_, e.g. DEPLOY_TOKEN)"
    )]
    BadName(String),
    #[error(
        "`{0}` is not a valid environment name (expected letters, digits, `-`, `_` and `.`, e.g. production)"
    )]
    BadEnvironment(String),
    #[error("the value of secret `{0}` is empty (expected it on standard input)")]
    Empty(String),
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} can be read by other users (mode {1:o}): the key to the secrets must be readable by its owner only (chmod 600 {0})"
    )]
    KeyExposed(String, u32),
    #[error(
        "{0} is missing, so the secrets stored beside it cannot be decrypted (set them again after removing {1})"
    )]
    KeyMissing(String, String),
    #[error("{0} is damaged: {1}")]
    Damaged(String, String),
    #[error("{path} is damaged")]
    Unreadable {
        path: String,
        source: serde_json::Error,
    },
    #[error(
        "secret `{0}` cannot be decrypted: the key file does not match, or the store was altered"
    )]
    Undecryptable(String),
}

/// What `list` shows of a secret: never its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    pub name: String,
    /// The environment it is scoped to; `None` for the project's own.
    pub environment: Option<String>,
    /// When it was last set, in milliseconds since the Unix epoch.
    pub updated_ms: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct StoreFile {
    secrets: BTreeMap<String, Sealed>,
    /// Environment-scoped secrets, by environment and name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    environments: BTreeMap<String, BTreeMap<String, Sealed>>,
}

impl StoreFile {
    fn scope(&self, environment: Option<&str>) -> Option<&BTreeMap<String, Sealed>> {
        match environment {
            None => Some(&self.secrets),
            Some(e) => self.environments.get(e),
        }
    }
}

/// What a secret's ciphertext is bound to: its name, and its environment if it has one.
fn associated_data(environment: Option<&str>, name: &str) -> String {
    match environment {
        None => name.to_owned(),
        Some(e) => format!("{e}/{name}"),
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    nonce: String,
    ciphertext: String,
    updated_ms: u64,
}

#[derive(Clone, Debug)]
pub struct SecretStore {
    dir: PathBuf,
}

impl SecretStore {
    /// The store of the data directory `data`.
    pub fn new(data: &Path) -> SecretStore {
        SecretStore {
            dir: data.join("secrets"),
        }
    }

    /// A secret name as stored: upper case, since names ignore case (as GitHub's do).
    pub fn normalize(name: &str) -> Result<String, SecretError> {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let upper = name.to_ascii_uppercase();
        if !valid || upper.starts_with("GITHUB_") {
            return Err(SecretError::BadName(name.to_owned()));
        }
        Ok(upper)
    }

    /// An environment's name as a scope: what `environments:` may declare.
    pub fn check_environment(environment: &str) -> Result<(), SecretError> {
        let valid = !environment.is_empty()
            && environment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if valid && environment != "." && environment != ".." {
            Ok(())
        } else {
            Err(SecretError::BadEnvironment(environment.to_owned()))
        }
    }

    /// Sets secret `name` (of `environment`, or the project's) to `value`; returns whether it
    /// replaced one.
    pub fn set(
        &self,
        environment: Option<&str>,
        name: &str,
        value: &str,
        now_ms: u64,
    ) -> Result<bool, SecretError> {
        let name = Self::normalize(name)?;
        if let Some(e) = environment {
            Self::check_environment(e)?;
        }
        if value.is_empty() {
            return Err(SecretError::Empty(name));
        }
        let _lock = self.lock()?;
        let cipher = self.cipher(true)?;
        let mut store = self.read()?;
        let nonce = XNonce::generate();
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value.as_bytes(),
                    aad: associated_data(environment, &name).as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable(associated_data(environment, &name)))?;
        let sealed = Sealed {
            nonce: hex(&nonce),
            ciphertext: hex(&ciphertext),
            updated_ms: now_ms,
        };
        let scope = match environment {
            None => &mut store.secrets,
            Some(e) => store.environments.entry(e.to_owned()).or_default(),
        };
        let replaced = scope.insert(name, sealed).is_some();
        self.write(&store)?;
        Ok(replaced)
    }

    /// Removes secret `name` (of `environment`, or the project's); returns whether there was
    /// one.
    pub fn remove(&self, environment: Option<&str>, name: &str) -> Result<bool, SecretError> {
        let name = Self::normalize(name)?;
        let _lock = self.lock()?;
        let mut store = self.read()?;
        let removed = match environment {
            None => store.secrets.remove(&name).is_some(),
            Some(e) => {
                let scope = store.environments.get_mut(e);
                let removed = scope.and_then(|s| s.remove(&name)).is_some();
                store.environments.retain(|_, s| !s.is_empty());
                removed
            }
        };
        if removed {
            self.write(&store)?;
        }
        Ok(removed)
    }

    /// The secrets' names, scopes and when each was set: the project's first, then each
    /// environment's, in name order.
    pub fn list(&self) -> Result<Vec<SecretInfo>, SecretError> {
        let store = self.read()?;
        let info = |environment: Option<&String>, (name, s): (String, Sealed)| SecretInfo {
            name,
            environment: environment.cloned(),
            updated_ms: s.updated_ms,
        };
        let mut out: Vec<SecretInfo> = store.secrets.into_iter().map(|s| info(None, s)).collect();
        for (environment, secrets) in store.environments {
            out.extend(secrets.into_iter().map(|s| info(Some(&environment), s)));
        }
        Ok(out)
    }

    /// The values of the secrets of `environment` (or the project's) that `wanted` selects by
    /// name, decrypted.
    pub fn load(
        &self,
        environment: Option<&str>,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, String>, SecretError> {
        let store = self.read()?;
        let mut out = BTreeMap::new();
        let selected: Vec<(&String, &Sealed)> = store
            .scope(environment)
            .into_iter()
            .flatten()
            .filter(|(n, _)| wanted(n))
            .collect();
        if selected.is_empty() {
            return Ok(out);
        }
        let cipher = self.cipher(false)?;
        for (name, sealed) in selected {
            let undecryptable = || SecretError::Undecryptable(associated_data(environment, name));
            let nonce = unhex(&sealed.nonce)
                .and_then(|n| XNonce::try_from(n.as_slice()).ok())
                .ok_or_else(undecryptable)?;
            let ciphertext = unhex(&sealed.ciphertext).ok_or_else(undecryptable)?;
            let plain = cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: &ciphertext,
                        aad: associated_data(environment, name).as_bytes(),
                    },
                )
                .map_err(|_| undecryptable())?;
            let value = String::from_utf8(plain).map_err(|_| undecryptable())?;
            out.insert(name.clone(), value);
        }
        Ok(out)
    }

    fn io(&self, file: &str) -> impl Fn(std::io::Error) -> SecretError {
        let path = self.dir.join(file);
        move |source| SecretError::Io {
            path: path.clone(),
            source,
        }
    }

    fn create_dir(&self) -> Result<(), SecretError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(self.io(""))
    }

    /// Held while the store is read and rewritten, so that two changes never lose one.
    fn lock(&self) -> Result<File, SecretError> {
        self.create_dir()?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join(LOCK_FILE))
            .map_err(self.io(LOCK_FILE))?;
        file.lock().map_err(self.io(LOCK_FILE))?;
        Ok(file)
    }

    /// The cipher under the store's key; `create` makes the key when there is none yet.
    fn cipher(&self, create: bool) -> Result<XChaCha20Poly1305, SecretError> {
        let path = self.dir.join(KEY_FILE);
        let shown = path.display().to_string();
        let key = match File::open(&path) {
            Ok(mut f) => {
                let mode = f
                    .metadata()
                    .map_err(self.io(KEY_FILE))?
                    .permissions()
                    .mode()
                    & 0o777;
                if mode & 0o077 != 0 {
                    return Err(SecretError::KeyExposed(shown, mode));
                }
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes).map_err(self.io(KEY_FILE))?;
                bytes
            }
            Err(e) if e.kind() == ErrorKind::NotFound && create => {
                let store = self.read()?;
                if !store.secrets.is_empty() || !store.environments.is_empty() {
                    let store = self.dir.join(STORE_FILE).display().to_string();
                    return Err(SecretError::KeyMissing(shown, store));
                }
                self.create_key()?
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let store = self.dir.join(STORE_FILE).display().to_string();
                return Err(SecretError::KeyMissing(shown, store));
            }
            Err(e) => return Err(self.io(KEY_FILE)(e)),
        };
        XChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| SecretError::Damaged(shown, "the key is not 32 bytes long".to_owned()))
    }

    /// A new random key, written with mode 0600 from the start: it is never readable by
    /// anyone else, not even for a moment.
    fn create_key(&self) -> Result<Vec<u8>, SecretError> {
        self.create_dir()?;
        let key = Key::generate();
        let path = self.dir.join(KEY_FILE);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(self.io(KEY_FILE))?;
        file.write_all(&key)
            .and_then(|()| file.sync_all())
            .map_err(self.io(KEY_FILE))?;
        sync_dir(&self.dir).map_err(self.io(""))?;
        Ok(key.to_vec())
    }

    fn read(&self) -> Result<StoreFile, SecretError> {
        let path = self.dir.join(STORE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SecretError::Unreadable {
                path: path.display().to_string(),
                source,
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(StoreFile::default()),
            Err(e) => Err(self.io(STORE_FILE)(e)),
        }
    }

    fn write(&self, store: &StoreFile) -> Result<(), SecretError> {
        let json = serde_json::to_vec_pretty(store).map_err(|source| SecretError::Unreadable {
            path: self.dir.join(STORE_FILE).display().to_string(),
            source,
        })?;
        let partial = self
            .dir
            .join(format!(".{STORE_FILE}.{}", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .and_then(|mut f| {
                f.write_all(&json)?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&partial, self.dir.join(STORE_FILE)))
            .and_then(|()| sync_dir(&self.dir));
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written.map_err(self.io(STORE_FILE))
    }
}

/// Replicas' secrets (`run.secrets`), read when each starts: the environment's value over the
/// project's, as for jobs.
impl SecretSource for SecretStore {
    fn values(
        &self,
        environment: Option<&str>,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, String> {
        let wanted = |n: &str| names.iter().any(|w| w.eq_ignore_ascii_case(n));
        let mut found = self.load(None, wanted).map_err(|e| chain(&e))?;
        if let Some(e) = environment {
            found.extend(self.load(Some(e), wanted).map_err(|e| chain(&e))?);
        }
        names
            .iter()
            .map(|name| match found.get(&name.to_ascii_uppercase()) {
                Some(value) => Ok((name.clone(), value.clone())),
                None => Err(match environment {
                    Some(e) => format!(
                        "secret `{name}` is set neither for environment `{e}` nor for the project (`bellwether secret set {name} [--env {e}]` sets it)"
                    ),
                    None => format!(
                        "secret `{name}` is not set (`bellwether secret set {name}` sets it)"
                    ),
                }),
            })
            .collect()
    }
}

/// Makes a rename or a new file in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_encrypted_under_a_private_key() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = SecretStore::new(dir.path());
        assert!(matches!(
            store.set(None, "deploy_token", "s3cr3t-v4lue", 1),
            Ok(false)
        ));
        assert!(matches!(
            store.set(None, "DEPLOY_TOKEN", "line one\nline two", 2),
            Ok(true)
        ));
        assert!(matches!(store.set(None, "OTHER", "x", 3), Ok(false)));
        let on_disk =
            std::fs::read_to_string(dir.path().join("secrets/secrets.json")).expect("the store");
        assert!(
            !on_disk.contains("line one") && !on_disk.contains("s3cr3t"),
            "{on_disk}"
        );
        let mode = |f: &str| {
            std::fs::metadata(dir.path().join("secrets").join(f))
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        assert_eq!(mode(KEY_FILE), Some(0o600));
        assert_eq!(mode(STORE_FILE), Some(0o600));
        let loaded = store
            .load(None, |n| n == "DEPLOY_TOKEN")
            .expect("decrypted");
        assert_eq!(
            loaded,
            BTreeMap::from([("DEPLOY_TOKEN".to_owned(), "line one\nline two".to_owned())])
        );
        let names: Vec<(String, u64)> = store
            .list()
            .expect("a list")
            .into_iter()
            .map(|s| (s.name, s.updated_ms))
            .collect();
        assert_eq!(
            names,
            [("DEPLOY_TOKEN".to_owned(), 2), ("OTHER".to_owned(), 3)]
        );
        assert!(matches!(store.remove(None, "other"), Ok(true)));
        assert!(matches!(store.remove(None, "other"), Ok(false)));
    }

    #[test]
    fn bad_names_values_keys_and_tampering_are_refused_with_reasons() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = SecretStore::new(dir.path());
        for bad in ["", "1ST", "has-dash", "GITHUB_TOKEN", "a b"] {
            assert!(
                matches!(store.set(None, bad, "v", 1), Err(SecretError::BadName(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            store.set(None, "EMPTY", "", 1),
            Err(SecretError::Empty(_))
        ));
        store.set(None, "A", "alpha", 1).expect("set");
        store.set(None, "B", "bravo", 1).expect("set");
        // A value moved under another name does not decrypt: the name is authenticated.
        let path = dir.path().join("secrets/secrets.json");
        let mut file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        let a = file["secrets"]["A"].clone();
        file["secrets"]["B"] = a;
        std::fs::write(&path, serde_json::to_vec(&file).expect("json")).expect("write");
        assert_eq!(store.load(None, |n| n == "A").expect("A").len(), 1);
        let err = store.load(None, |n| n == "B").expect_err("B was altered");
        assert_eq!(
            err.to_string(),
            "secret `B` cannot be decrypted: the key file does not match, or the store was altered"
        );
        let key = dir.path().join("secrets/key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            store.load(None, |_| true),
            Err(SecretError::KeyExposed(_, 0o644))
        ));
        std::fs::remove_file(&key).expect("rm");
        assert!(matches!(
            store.load(None, |_| true),
            Err(SecretError::KeyMissing(..))
        ));
        assert!(matches!(
            store.set(None, "C", "c", 1),
            Err(SecretError::KeyMissing(..))
        ));
        assert!(
            store
                .load(None, |_| false)
                .expect("nothing asked")
                .is_empty()
        );
    }

    #[test]
    fn environment_secrets_are_kept_apart_and_bound_to_their_environment() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = SecretStore::new(dir.path());
        store.set(None, "DB", "project-db", 1).expect("set");
        store
            .set(Some("production"), "db", "production-db", 2)
            .expect("set");
        store
            .set(Some("staging"), "DB", "staging-db", 3)
            .expect("set");
        let db = |environment| {
            store
                .load(environment, |n| n == "DB")
                .expect("decrypted")
                .remove("DB")
        };
        assert_eq!(db(None).as_deref(), Some("project-db"));
        assert_eq!(db(Some("production")).as_deref(), Some("production-db"));
        assert_eq!(db(Some("staging")).as_deref(), Some("staging-db"));
        assert_eq!(db(Some("qa")), None);
        let listed: Vec<(Option<String>, String)> = store
            .list()
            .expect("a list")
            .into_iter()
            .map(|s| (s.environment, s.name))
            .collect();
        assert_eq!(
            listed,
            [
                (None, "DB".to_owned()),
                (Some("production".to_owned()), "DB".to_owned()),
                (Some("staging".to_owned()), "DB".to_owned()),
            ]
        );
        for bad in ["", "a/b", "..", "pro duction"] {
            assert!(
                matches!(
                    store.set(Some(bad), "X", "v", 1),
                    Err(SecretError::BadEnvironment(_))
                ),
                "{bad:?}"
            );
        }
        // Staging's value moved into production does not decrypt there.
        let path = dir.path().join("secrets/secrets.json");
        let mut file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        file["environments"]["production"]["DB"] = file["environments"]["staging"]["DB"].clone();
        std::fs::write(&path, serde_json::to_vec(&file).expect("json")).expect("write");
        let err = store
            .load(Some("production"), |_| true)
            .expect_err("moved between environments");
        assert!(err.to_string().contains("`production/DB`"), "{err}");
        assert!(matches!(store.remove(Some("staging"), "db"), Ok(true)));
        assert!(matches!(store.remove(Some("staging"), "db"), Ok(false)));
        assert_eq!(db(None).as_deref(), Some("project-db"));
    }

    #[test]
    fn concurrent_changes_lose_nothing() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = SecretStore::new(dir.path());
                std::thread::spawn(move || store.set(None, &format!("S{i}"), "v", 1).is_ok())
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap_or(false)));
        assert_eq!(
            SecretStore::new(dir.path()).list().expect("a list").len(),
            8
        );
    }
}
