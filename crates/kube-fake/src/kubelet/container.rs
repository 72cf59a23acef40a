//! A container as a local process: its `command` and `args` (the image itself is not run),
//! its `env` with the downward API's `fieldRef`s and `secretKeyRef`s resolved, its own
//! process group, and its output kept line by line as the pod's log.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::logs::Logs;
use crate::resource::{Key, Resource};
use crate::store::Store;

/// Variables a container gets from its image; the host's stand in for them.
const FROM_IMAGE: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TERM"];

/// The container's environment, or why it cannot be made (a missing Secret or key, an
/// unknown field), as `CreateContainerConfigError` says.
pub(super) fn environment(
    store: &Store,
    pod: &Value,
    container: &Value,
    ip: Ipv4Addr,
) -> Result<BTreeMap<String, String>, String> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let mut env: BTreeMap<String, String> = FROM_IMAGE
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), std::env::var(name).ok()?)))
        .collect();
    env.insert(
        "HOSTNAME".into(),
        pod["metadata"]["name"].as_str().unwrap_or_default().into(),
    );
    for variable in container["env"].as_array().into_iter().flatten() {
        let name = variable["name"].as_str().unwrap_or_default().to_owned();
        let from = &variable["valueFrom"];
        let value = if let Some(field) = from["fieldRef"]["fieldPath"].as_str() {
            match field {
                "status.podIP" => ip.to_string(),
                "status.hostIP" => "127.0.0.1".to_owned(),
                "metadata.name" => pod["metadata"]["name"].as_str().unwrap_or_default().into(),
                "metadata.namespace" => namespace.into(),
                other => return Err(format!("unsupported fieldRef {other:?} of {name}")),
            }
        } else if !from["secretKeyRef"].is_null() {
            let reference = &from["secretKeyRef"];
            let secret = reference["name"].as_str().unwrap_or_default();
            let key = reference["key"].as_str().unwrap_or_default();
            let found = store.get(&Key {
                resource: Resource::Secrets,
                namespace: namespace.into(),
                name: secret.into(),
            });
            let Some(found) = found else {
                return Err(format!("secret \"{secret}\" not found"));
            };
            match secret_value(&found, key) {
                Some(value) => value,
                None => {
                    return Err(format!(
                        "couldn't find key {key} in Secret {namespace}/{secret}"
                    ));
                }
            }
        } else {
            variable["value"].as_str().unwrap_or_default().to_owned()
        };
        env.insert(name, value);
    }
    Ok(env)
}

/// A Secret's value of `key`: `stringData` as written, `data` decoded from base64.
fn secret_value(secret: &Value, key: &str) -> Option<String> {
    if let Some(text) = secret["stringData"][key].as_str() {
        return Some(text.to_owned());
    }
    let encoded = secret["data"][key].as_str()?;
    String::from_utf8(base64_decode(encoded)?).ok()
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

/// The container's process, started in a group of its own, its output going to the pod's log.
pub(super) struct Process {
    pub child: Child,
    pub pid: Option<u32>,
    readers: Vec<JoinHandle<()>>,
}

pub(super) fn start(
    container: &Value,
    env: &BTreeMap<String, String>,
    logs: &Logs,
    key: &Key,
) -> Result<Process, String> {
    let strings = |field: &str| -> Vec<String> {
        container[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let mut argv = strings("command");
    argv.extend(strings("args"));
    let Some((program, args)) = argv.split_first() else {
        return Err("the container has no command: this kubelet runs no images".into());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = container["workingDir"].as_str() {
        command.current_dir(dir);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("failed to start {program:?}: {e}"))?;
    logs.start(&key.namespace, &key.name);
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(keep(out, logs.clone(), key.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(keep(err, logs.clone(), key.clone())));
    }
    let pid = child.id();
    Ok(Process {
        child,
        pid,
        readers,
    })
}

impl Process {
    /// Once the process has exited: waits (briefly: a child of its may hold the pipes) for
    /// the rest of its output, then ends its run of the log.
    pub(super) async fn finish(self, logs: &Logs, key: &Key) {
        for reader in self.readers {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), reader).await;
        }
        logs.end(&key.namespace, &key.name);
    }
}

/// Signals the process group a container's process leads.
pub(super) fn signal(pid: Option<u32>, signal: nix::sys::signal::Signal) {
    if let Some(pid) = pid.and_then(|pid| i32::try_from(pid).ok()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
    }
}

async fn keep(output: impl AsyncRead + Unpin, logs: Logs, key: Key) {
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                logs.append(&key.namespace, &key.name, line.clone());
            }
        }
    }
}
