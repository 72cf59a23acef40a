//! Where the database is: a `postgres://` URL, with a password from it or from the caller
//! (`PGPASSWORD`), described to people without the password.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bellwether_store::StoreError;
use tokio_postgres::config::Host;

/// How long a connection may take to open before the call fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database to keep the store in.
#[derive(Clone)]
pub struct Target {
    pub(crate) config: tokio_postgres::Config,
}

impl Target {
    /// Reads `url` (`postgres://user[:password]@host[:port]/database[?options]`, or the
    /// `key=value` form). The error never repeats the text, which may hold a password.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let mut config =
            tokio_postgres::Config::from_str(url).map_err(|_| StoreError::Unreachable {
                at: "the given PostgreSQL URL".to_owned(),
                source: "it is not a PostgreSQL URL (postgres://user@host:port/database)".into(),
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("bellwether");
        }
        Ok(Self { config })
    }

    /// `password` unless the URL gave one: how `PGPASSWORD` reaches the connection.
    pub fn with_password_unless_given(mut self, password: Option<&str>) -> Self {
        if let (None, Some(password)) = (self.config.get_password(), password) {
            self.config.password(password);
        }
        self
    }

    /// The same server and user, another database.
    pub fn with_database(mut self, database: &str) -> Self {
        self.config.dbname(database);
        self
    }
}

/// `postgres://user@host:port/database`: where, for people and logs, without the password.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.write_str("postgres://")?;
        if let Some(user) = c.get_user() {
            write!(f, "{user}@")?;
        }
        for (i, host) in c.get_hosts().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match host {
                Host::Tcp(name) => f.write_str(name)?,
                Host::Unix(dir) => write!(f, "[{}]", dir.display())?,
            }
            if let Some(port) = c.get_ports().get(i).or(c.get_ports().first()) {
                write!(f, ":{port}")?;
            }
        }
        write!(f, "/{}", c.get_dbname().unwrap_or(""))
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_described_without_its_password() {
        let target = Target::parse("postgres://bw:s3cret@db.example:6543/state").unwrap();
        assert_eq!(target.to_string(), "postgres://bw@db.example:6543/state");
        assert_eq!(
            format!("{target:?}"),
            "Target(postgres://bw@db.example:6543/state)"
        );
        let refused =
            Target::parse("postgres://bw:s3cret@db.example:notaport/state").expect_err("refused");
        let chain = format!("{refused}: {:?}", std::error::Error::source(&refused));
        assert!(!chain.contains("s3cret"), "{chain}");
    }

    #[test]
    fn a_password_from_the_environment_does_not_replace_the_urls() {
        let given = Target::parse("postgres://bw:fromurl@h/db").unwrap();
        let given = given.with_password_unless_given(Some("fromenv"));
        assert_eq!(given.config.get_password(), Some(&b"fromurl"[..]));
        let missing = Target::parse("postgres://bw@h/db").unwrap();
        let missing = missing.with_password_unless_given(Some("fromenv"));
        assert_eq!(missing.config.get_password(), Some(&b"fromenv"[..]));
    }
}
