//! `httpGet` probes, as the kubelet runs them: a GET of the path on the pod's IP and the
//! port, success for a status from 200 to 399 within the timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One probe of a container, read from its spec.
#[derive(Clone, Debug)]
pub(super) struct Probe {
    path: String,
    port: u16,
    pub period: Duration,
    timeout: Duration,
    pub initial_delay: Duration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
}

impl Probe {
    /// The probe at `spec` (`readinessProbe`, `livenessProbe`), if it is an `httpGet` with a
    /// numeric port; the container's named ports are looked up.
    pub(super) fn of(spec: &Value, container: &Value) -> Option<Self> {
        let get = &spec["httpGet"];
        let port = match &get["port"] {
            Value::Number(n) => u16::try_from(n.as_u64()?).ok()?,
            Value::String(name) => container["ports"]
                .as_array()?
                .iter()
                .find(|p| p["name"] == name.as_str())
                .and_then(|p| p["containerPort"].as_u64())
                .and_then(|p| u16::try_from(p).ok())?,
            _ => return None,
        };
        let seconds = |field: &str, default: u64| {
            Duration::from_secs(spec[field].as_u64().unwrap_or(default))
        };
        Some(Self {
            path: get["path"].as_str().unwrap_or("/").to_owned(),
            port,
            period: seconds("periodSeconds", 10).max(Duration::from_secs(1)),
            timeout: seconds("timeoutSeconds", 1).max(Duration::from_secs(1)),
            initial_delay: seconds("initialDelaySeconds", 0),
            failure_threshold: spec["failureThreshold"].as_u64().unwrap_or(3).max(1) as u32,
            success_threshold: spec["successThreshold"].as_u64().unwrap_or(1).max(1) as u32,
        })
    }

    /// Probes `ip` once: `Ok` on success, else why not.
    pub(super) async fn check(&self, ip: IpAddr) -> Result<(), String> {
        let address = SocketAddr::new(ip, self.port);
        let attempt = async {
            let mut stream = TcpStream::connect(address)
                .await
                .map_err(|e| e.to_string())?;
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: kube-probe/1.33\r\nConnection: close\r\n\r\n",
                self.path
            );
            stream
                .write_all(request.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut head = [0u8; 32];
            let mut read = 0;
            while read < 12 {
                let n = stream
                    .read(&mut head[read..])
                    .await
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("connection closed before a status".to_owned());
                }
                read += n;
            }
            let status: u16 = std::str::from_utf8(&head[9..12])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("not an HTTP response")?;
            if (200..400).contains(&status) {
                Ok(())
            } else {
                Err(format!("HTTP probe failed with statuscode: {status}"))
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "Get \"http://{address}{}\": context deadline exceeded",
                self.path
            )),
        }
    }
}
