//! Tokens and the audit trail: `bellwether login`, `token create|list|revoke`, `audit` and
//! `audit verify`.

use std::io::BufRead;
use std::time::Duration;

use anyhow::Context;
use bellwether_access::{Role, Sealed, TokenInfo, verify};
use bellwether_api::{CreatedToken, ServiceSummary, TokenRequest, paths};
use bellwether_store::SqliteStore;
use clap::{Args, Subcommand};

use crate::commands::client::Client;
use crate::commands::credentials;
use crate::commands::parse_duration;
use crate::exit::{self, Code};
use crate::output::{Format, print_data, print_records};

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token; it is printed once, and only its digest is kept.
    Create(CreateArgs),
    /// Every token: name, role, when it was made, expires or was revoked.
    List,
    /// Refuse a token from now on.
    Revoke { name: String },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Who holds it: it names them in the audit trail and as a reviewer.
    name: String,
    /// viewer (read), deployer (deploy, steer rollouts, dispatch), approver (review gates) or admin (everything).
    #[arg(long, value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<Role>()))]
    role: Role,
    /// How long it works, e.g. 90d [default: until revoked].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    expires: Option<Duration>,
    /// An environment it may act in; may be repeated [default: every one].
    #[arg(long = "env", value_name = "ENVIRONMENT")]
    environments: Vec<String>,
    /// A group it belongs to, which an environment's `reviewers: [group:NAME]` may name; may be repeated.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    verify: Option<AuditCommand>,
    /// Only what was done to this service (or pipeline, run, token).
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Only what was done in this environment (deploys into it).
    #[arg(long = "env", value_name = "ENVIRONMENT")]
    environment: Option<String>,
    /// Only the last DURATION, e.g. 7d.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    since: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check that no entry was edited, deleted or moved: from the control plane, or straight from a data directory's store, trusting no server.
    Verify {
        /// Read the store in this data directory instead of asking the control plane.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<std::path::PathBuf>,
    },
}

/// Reads a token from standard input, checks that the control plane takes it, and saves it
/// for that server.
pub(crate) async fn login(server: &str) -> anyhow::Result<Code> {
    eprintln!("paste the token for {server} and press Enter:");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the token from standard input")?;
    let token = line.trim();
    if token.is_empty() {
        anyhow::bail!("no token given");
    }
    let client = Client::with_token(
        server,
        Some(token.to_owned()),
        Some("standard input".to_owned()),
    )?;
    let _: Vec<ServiceSummary> = client.get(paths::SERVICES).await?;
    let file = credentials::save(server, token)?;
    println!(
        "logged in to {server}; the token is saved in {}",
        file.display()
    );
    Ok(exit::SUCCESS)
}

/// The dashboard's address with the token found for `server` in its fragment, which the
/// browser never sends: the page keeps it for the tab and takes it out of the address bar.
pub(crate) async fn dashboard(server: &str) -> anyhow::Result<Code> {
    let server = server.trim_end_matches('/');
    let Some((token, source)) = credentials::token_for(server) else {
        anyhow::bail!(
            "no token for {server}: set $BELLWETHER_TOKEN, run `bellwether login`, or run this beside the `bellwether up` whose .bellwether/admin.token it reads"
        );
    };
    let client = Client::with_token(server, Some(token.clone()), Some(source))?;
    let me: Whoami = client.get(paths::WHOAMI).await?;
    println!("{server}/#token={token}");
    eprintln!(
        "opens the dashboard as `{}` ({}); the link holds the token: share it with nobody",
        me.name, me.role
    );
    Ok(exit::SUCCESS)
}

#[derive(serde::Deserialize)]
struct Whoami {
    name: String,
    role: Role,
}

pub(crate) async fn token(
    client: &Client,
    command: TokenCommand,
    format: Format,
) -> anyhow::Result<Code> {
    match command {
        TokenCommand::Create(args) => {
            let request = TokenRequest {
                name: args.name,
                role: args.role,
                expires_in_secs: args.expires.map(|d| d.as_secs().max(1)),
                environments: args.environments,
                groups: args.groups,
            };
            let created: CreatedToken = client.post(paths::TOKENS, &request).await?;
            if !print_records(format, &created)? {
                println!("{}", created.token);
                eprintln!(
                    "token `{}` ({}) made; it is shown this once",
                    created.info.name, created.info.role
                );
            }
        }
        TokenCommand::List => {
            let tokens: Vec<TokenInfo> = client.get(paths::TOKENS).await?;
            if !print_records(format, &tokens)? {
                for t in &tokens {
                    let state = match (t.revoked_at_ms, t.expires_at_ms) {
                        (Some(at), _) => format!("revoked {}", time(at)),
                        (None, Some(at)) => format!("expires {}", time(at)),
                        (None, None) => "no expiry".to_owned(),
                    };
                    let mut scope = String::new();
                    if !t.environments.is_empty() {
                        scope.push_str(&format!("\tin {}", t.environments.join(", ")));
                    }
                    if !t.groups.is_empty() {
                        scope.push_str(&format!("\tgroups {}", t.groups.join(", ")));
                    }
                    println!(
                        "{}\t{}\tmade {}\t{state}{scope}",
                        t.name,
                        t.role,
                        time(t.created_at_ms)
                    );
                }
            }
        }
        TokenCommand::Revoke { name } => {
            let revoked: TokenInfo = client
                .post(&paths::revoke_token(&name), &serde_json::json!({}))
                .await?;
            if !print_records(format, &revoked)? {
                println!("token `{}` revoked", revoked.name);
            }
        }
    }
    Ok(exit::SUCCESS)
}

pub(crate) async fn audit(
    client: &Client,
    args: AuditArgs,
    format: Format,
) -> anyhow::Result<Code> {
    if let Some(AuditCommand::Verify {
        data_dir: Some(dir),
    }) = &args.verify
    {
        let path = dir.join("bellwether.db");
        if !path.exists() {
            anyhow::bail!(
                "{} holds no store (expected {})",
                dir.display(),
                path.display()
            );
        }
        let store = SqliteStore::open(&path)?;
        let entries = bellwether_access::audit::read(&store, 0)?;
        return Ok(verified(&entries));
    }
    let entries: Vec<Sealed> = client.get(paths::AUDIT).await?;
    if args.verify.is_some() {
        return Ok(verified(&entries));
    }
    let since = args.since.map(|d| {
        bellwether_runner::now_ms().saturating_sub(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    });
    let shown: Vec<&Sealed> = entries
        .iter()
        .filter(|e| {
            args.service
                .as_ref()
                .is_none_or(|s| e.entry.target.as_ref() == Some(s))
        })
        .filter(|e| since.is_none_or(|t| e.entry.at_ms >= t))
        .filter(|e| {
            args.environment
                .as_ref()
                .is_none_or(|env| e.entry.environment.as_ref() == Some(env))
        })
        .collect();
    match format {
        // JSON lines, one sealed entry each: what a SIEM ingests, and `verify` can recheck.
        Format::Json => {
            for e in &shown {
                println!("{}", serde_json::to_string(e)?);
            }
        }
        // As sealed, like the JSON lines.
        Format::Yaml => {
            print_data(format, &shown)?;
        }
        Format::Table => {
            for e in &shown {
                let x = &e.entry;
                let role = x.role.map_or_else(String::new, |r| format!(" ({r})"));
                let target = x
                    .target
                    .as_deref()
                    .map_or_else(String::new, |t| format!(" {t}"));
                let status = x.status.map_or_else(String::new, |s| format!(" {s}"));
                let reason = x
                    .reason
                    .as_deref()
                    .map_or_else(String::new, |r| format!(": {r}"));
                let source = x
                    .source
                    .as_deref()
                    .map_or_else(String::new, |s| format!(" from {s}"));
                println!(
                    "{:>5} {} {}{role} {}{target} {:?}{status}{source}{reason}",
                    e.seq,
                    time(x.at_ms),
                    x.actor,
                    x.action,
                    x.outcome,
                );
            }
        }
    }
    Ok(exit::SUCCESS)
}

/// Prints whether the chain holds; exit 1 and the first bad entry when not.
fn verified(entries: &[Sealed]) -> Code {
    match verify(entries) {
        Ok((count, head)) => {
            println!("audit trail intact: {count} entries, head {head}");
            exit::SUCCESS
        }
        Err(broken) => {
            println!("audit trail broken at {broken}");
            exit::FAILURE
        }
    }
}

/// Milliseconds since the epoch as UTC time.
fn time(ms: u64) -> String {
    super::format::date_time(bellwether_core::time::Timestamp::from_millis(ms))
}
