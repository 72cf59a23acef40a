//! Which token the CLI presents to a control plane, in this order:
//!
//! 1. `$BELLWETHER_TOKEN`;
//! 2. the token `bellwether login` saved for that server, in `$XDG_CONFIG_HOME/bellwether/
//!    credentials.json` (else `~/.config/…`), a file only its owner may read (0600);
//! 3. `.bellwether/admin.token` in the current directory: the admin token `bellwether up`
//!    writes (0600) into its default data directory, so that the commands run beside it need
//!    no setup.
//!
//! Tokens never appear on a command line, where `ps` would show them.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where `bellwether up` writes its admin token, inside its data directory.
pub(crate) const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The token to present to `server`, and where it came from (for error messages).
pub(crate) fn token_for(server: &str) -> Option<(String, String)> {
    if let Ok(token) = std::env::var("BELLWETHER_TOKEN")
        && !token.trim().is_empty()
    {
        return Some((token.trim().to_owned(), "$BELLWETHER_TOKEN".to_owned()));
    }
    if let Some(file) = credentials_file()
        && let Ok(text) = fs::read_to_string(&file)
        && let Ok(saved) = serde_json::from_str::<BTreeMap<String, String>>(&text)
        && let Some(token) = saved.get(server.trim_end_matches('/'))
    {
        return Some((token.clone(), file.display().to_string()));
    }
    let local = Path::new(".bellwether").join(ADMIN_TOKEN_FILE);
    let token = fs::read_to_string(&local).ok()?;
    Some((token.trim().to_owned(), local.display().to_string()))
}

/// Saves `token` for `server` in the credentials file, which only its owner may read.
pub(crate) fn save(server: &str, token: &str) -> anyhow::Result<PathBuf> {
    let file =
        credentials_file().context("cannot tell where the credentials file goes: set $HOME")?;
    let dir = file
        .parent()
        .context("the credentials file has no directory")?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut saved: BTreeMap<String, String> = match fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is not a credentials file", file.display()))?,
        Err(_) => BTreeMap::new(),
    };
    saved.insert(server.trim_end_matches('/').to_owned(), token.to_owned());
    write_private(&file, serde_json::to_string_pretty(&saved)?.as_bytes())?;
    Ok(file)
}

/// Writes `bytes` to `path` through a temporary file created 0600 and renamed over it: never
/// readable by others, never half-written.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

fn credentials_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("bellwether").join("credentials.json"))
}
