//! The control plane's HTTP client: JSON requests, the event stream and streamed text, with
//! errors that say what to do (start `bellwether up`, or point `--server` elsewhere).

use std::time::Duration;

use anyhow::{Context, anyhow};
use bellwether_api::{ApiError, EventView, paths};
use bellwether_core::error::chain;
use reqwest::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A control plane on this machine answers at once; past this it is not one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// For JSON requests; streams have no limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A kept-alive connection idle this long is not reused: the control plane closes one idle
/// for 10 s (its `header_timeout`), and a request sent as it closes would be lost.
const IDLE_REUSE: Duration = Duration::from_secs(4);

pub(crate) struct Client {
    base: String,
    http: reqwest::Client,
    /// Where the token presented came from, to say so when the server refuses it.
    token_source: Option<String>,
}

impl Client {
    /// A client presenting the token the CLI finds for `server` ([`super::credentials`]).
    pub(crate) fn new(server: &str) -> anyhow::Result<Self> {
        let found = super::credentials::token_for(server.trim_end_matches('/'));
        let (token, source) = found.map_or((None, None), |(t, s)| (Some(t), Some(s)));
        Self::with_token(server, token, source)
    }

    /// A client presenting `token`.
    pub(crate) fn with_token(
        server: &str,
        token: Option<String>,
        token_source: Option<String>,
    ) -> anyhow::Result<Self> {
        let base = server.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            anyhow::bail!(
                "--server {server}: expected an http:// URL such as http://127.0.0.1:7070 (the control plane serves plain HTTP on loopback)"
            );
        }
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .context("the token holds characters no HTTP header may carry")?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(IDLE_REUSE)
            .default_headers(headers)
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self {
            base,
            http,
            token_source,
        })
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let request = self.http.get(self.url(path)).timeout(REQUEST_TIMEOUT);
        self.json(request.send().await).await
    }

    /// [`Client::get`] with a query string.
    pub(crate) async fn get_query<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> anyhow::Result<T> {
        let request = self
            .http
            .get(self.url(path))
            .query(query)
            .timeout(REQUEST_TIMEOUT);
        self.json(request.send().await).await
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self
            .http
            .post(self.url(path))
            .json(body)
            .timeout(REQUEST_TIMEOUT);
        self.json(request.send().await).await
    }

    /// A response whose body is read as it comes (logs).
    pub(crate) async fn stream<Q: Serialize>(
        &self,
        path: &str,
        query: &Q,
    ) -> anyhow::Result<Response> {
        let response = self.http.get(self.url(path)).query(query).send().await;
        self.checked(response).await
    }

    /// The stored events, of one service or all, from now on.
    pub(crate) async fn events(&self, service: Option<&str>) -> anyhow::Result<Events> {
        let query: Vec<(&str, &str)> = service.map(|s| ("service", s)).into_iter().collect();
        let response = self.stream(paths::EVENTS, &query).await?;
        Ok(Events {
            response,
            buffer: Vec::new(),
            pending: Pending::default(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        response: reqwest::Result<Response>,
    ) -> anyhow::Result<T> {
        let response = self.checked(response).await?;
        let text = response
            .text()
            .await
            .with_context(|| format!("the control plane at {} broke off its answer", self.base))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "the control plane at {} answered something this bellwether does not understand (is it the same version?)",
                self.base
            )
        })
    }

    /// The response if it is a success; otherwise the API's own error message.
    async fn checked(&self, response: reqwest::Result<Response>) -> anyhow::Result<Response> {
        let response = response.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<ApiError>(&text) {
            Ok(api) if status == reqwest::StatusCode::UNAUTHORIZED => Err(anyhow!(
                "{} ({})",
                api.error,
                match &self.token_source {
                    Some(source) => format!("the token came from {source}"),
                    None => "set $BELLWETHER_TOKEN, run `bellwether login`, or run this beside the `bellwether up` whose .bellwether/admin.token it reads".to_owned(),
                }
            )),
            Ok(api) => Err(anyhow!(api.error)),
            Err(_) => Err(anyhow!(
                "{} answered {status}{}; is it a bellwether control plane?",
                self.base,
                excerpt(&text)
            )),
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> anyhow::Error {
        if error.is_connect() {
            anyhow!(
                "cannot reach the control plane at {}: is `bellwether up` running? (use --server or BELLWETHER_SERVER for another address)",
                self.base
            )
        } else if error.is_timeout() {
            anyhow!("the control plane at {} did not answer in time", self.base)
        } else {
            anyhow!(
                "cannot talk to the control plane at {}: {}",
                self.base,
                chain(error)
            )
        }
    }
}

fn excerpt(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let short: String = text.chars().take(200).collect();
    format!(": {short}")
}

/// What the event stream delivers.
#[derive(Debug)]
pub(crate) enum Watched {
    Event(Box<EventView>),
    /// The stream fell behind and skipped events: fetch the state again.
    Lagged,
}

/// The server-sent events of `GET /v1/events`, parsed as they arrive.
pub(crate) struct Events {
    response: Response,
    /// Bytes received and not yet read as lines (a chunk may end inside a character).
    buffer: Vec<u8>,
    pending: Pending,
}

/// The fields of the message being read.
#[derive(Default)]
struct Pending {
    event: Option<String>,
    data: String,
}

impl Events {
    /// The next event; `None` when the control plane ends the stream.
    pub(crate) async fn next(&mut self) -> anyhow::Result<Option<Watched>> {
        loop {
            while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let bytes: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&bytes);
                if let Some(watched) = self.line(line.trim_end_matches(['\n', '\r']))? {
                    return Ok(Some(watched));
                }
            }
            let chunk = self
                .response
                .chunk()
                .await
                .context("the control plane broke off the event stream")?;
            let Some(chunk) = chunk else {
                return Ok(None);
            };
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// One line of the SSE format; a blank line ends a message.
    fn line(&mut self, line: &str) -> anyhow::Result<Option<Watched>> {
        if line.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            return Ok(match pending.event.as_deref() {
                Some("lagged") => Some(Watched::Lagged),
                Some(_) => None,
                None if pending.data.is_empty() => None,
                None => {
                    let event: EventView = serde_json::from_str(&pending.data).context(
                        "the control plane sent an event this bellwether does not understand",
                    )?;
                    Some(Watched::Event(Box::new(event)))
                }
            });
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => {
                if !self.pending.data.is_empty() {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(value);
            }
            "event" => self.pending.event = Some(value.to_owned()),
            _ => {}
        }
        Ok(None)
    }
}
