//! `actions/setup-node`, `-python`, `-go` and `-java` as a question about the host: is its
//! toolchain a version the step asks for? The executor runs the program; this module says
//! which program, reads the version it prints, and matches it against the request.

use std::fmt;

/// A toolchain a `setup-*` action asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toolchain {
    Node,
    Python,
    Go,
    Java,
}

impl Toolchain {
    /// The action's name after `actions/`, e.g. `setup-node`.
    pub fn from_action(action: &str) -> Option<Toolchain> {
        match action {
            "setup-node" => Some(Toolchain::Node),
            "setup-python" => Some(Toolchain::Python),
            "setup-go" => Some(Toolchain::Go),
            "setup-java" => Some(Toolchain::Java),
            _ => None,
        }
    }

    /// The `with:` input naming the version, e.g. `node-version`.
    pub fn version_input(self) -> &'static str {
        match self {
            Toolchain::Node => "node-version",
            Toolchain::Python => "python-version",
            Toolchain::Go => "go-version",
            Toolchain::Java => "java-version",
        }
    }

    /// The command that prints the host's version.
    pub fn command(self) -> &'static [&'static str] {
        match self {
            Toolchain::Node => &["node", "--version"],
            Toolchain::Python => &["python3", "--version"],
            Toolchain::Go => &["go", "version"],
            Toolchain::Java => &["java", "-version"],
        }
    }

    /// What a person installs to get it, for the error when it is missing or too old.
    pub fn package(self) -> &'static str {
        match self {
            Toolchain::Node => "Node.js (`node`)",
            Toolchain::Python => "Python 3 (`python3`)",
            Toolchain::Go => "Go (`go`)",
            Toolchain::Java => "a JDK (`java`)",
        }
    }

    /// The version in what [`command`](Self::command) printed (stdout and stderr together):
    /// `v18.19.0`, `Python 3.11.4`, `go version go1.22.1 linux/amd64`,
    /// `openjdk version "17.0.9" 2023-10-17`; Java's `1.8.0_392` is read as `8.0.392`.
    pub fn parse_version(self, printed: &str) -> Option<Version> {
        let first = printed.lines().find(|l| !l.trim().is_empty())?;
        let word = match self {
            Toolchain::Go => first
                .split_whitespace()
                .filter_map(|w| w.strip_prefix("go"))
                .find(|v| v.starts_with(|c: char| c.is_ascii_digit()))?,
            Toolchain::Java => first.split('"').nth(1)?,
            Toolchain::Node | Toolchain::Python => first.split_whitespace().last()?,
        };
        let mut version = Version::parse(word.trim_start_matches('v'))?;
        if self == Toolchain::Java && version.0.len() > 1 && version.0[0] == 1 {
            // Java before 9 calls itself 1.8.
            version.0.remove(0);
        }
        Some(version)
    }
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Toolchain::Node => "node",
            Toolchain::Python => "python",
            Toolchain::Go => "go",
            Toolchain::Java => "java",
        })
    }
}

/// A version as numbers, `18.19.0`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub Vec<u64>);

impl Version {
    /// Leading numeric parts separated by `.` (or `_`); stops at the first other character.
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = Vec::new();
        for part in text.split(['.', '_']) {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                break;
            }
            parts.push(digits.parse().ok()?);
            if digits.len() < part.len() {
                break;
            }
        }
        (!parts.is_empty()).then_some(Version(parts))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// Whether `have` satisfies `want`, as the setup actions read a version: a prefix (`18`,
/// `18.x`, `3.11`, `1.22.1`), a comparison (`>=18`, `>3.8`, `<=21`, `<2`), several of those
/// separated by spaces (all must hold) or `||` (any), or `*`, `latest`, `lts/*`, `stable`,
/// `node`: whatever the host has. `Err` when `want` is none of these.
pub fn satisfies(have: &Version, want: &str) -> Result<bool, String> {
    let want = want.trim();
    if want.is_empty() {
        return Err("an empty version (expected e.g. `18`, `3.11` or `>=1.21`)".to_owned());
    }
    let mut any = false;
    for alternative in want.split("||") {
        let mut all = true;
        for clause in alternative.split_whitespace() {
            all &= clause_holds(have, clause)?;
        }
        any |= all;
    }
    Ok(any)
}

fn clause_holds(have: &Version, clause: &str) -> Result<bool, String> {
    if matches!(clause, "*" | "x" | "latest" | "lts/*" | "stable" | "node") {
        return Ok(true);
    }
    let (op, rest) = [">=", "<=", ">", "<", "=", "^", "~"]
        .iter()
        .find_map(|op| clause.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("", clause));
    let rest = rest.trim_start_matches('v');
    let mut parts = Vec::new();
    for part in rest.split('.') {
        match part {
            "x" | "X" | "*" => break,
            p => match p.parse::<u64>() {
                Ok(n) => parts.push(n),
                Err(_) => {
                    return Err(format!(
                        "`{clause}` is not a version (expected e.g. `18`, `18.x`, `3.11`, `>=1.21`)"
                    ));
                }
            },
        }
    }
    if parts.is_empty() {
        return Ok(op.is_empty());
    }
    let prefix = have.0.iter().take(parts.len()).copied().collect::<Vec<_>>();
    let padded = |v: &[u64]| {
        let mut v = v.to_vec();
        v.resize(parts.len().max(have.0.len()), 0);
        v
    };
    Ok(match op {
        "" | "=" => prefix == parts,
        // `^18.2` keeps the major version, `~18.2` the minor one; both from at least there.
        "^" => have.0.first() == parts.first() && padded(&have.0) >= padded(&parts),
        "~" => have.0.iter().take(2).eq(parts.iter().take(2)) && padded(&have.0) >= padded(&parts),
        ">=" => padded(&have.0) >= padded(&parts),
        ">" => prefix > parts,
        "<=" => prefix <= parts,
        _ => padded(&have.0) < padded(&parts),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_toolchains_version() {
        let cases = [
            (Toolchain::Node, "v18.19.0\n", "18.19.0"),
            (Toolchain::Python, "Python 3.11.4\n", "3.11.4"),
            (Toolchain::Go, "go version go1.22.1 linux/amd64\n", "1.22.1"),
            (
                Toolchain::Java,
                "openjdk version \"17.0.9\" 2023-10-17\nOpenJDK Runtime\n",
                "17.0.9",
            ),
            (Toolchain::Java, "java version \"1.8.0_392\"\n", "8.0.392"),
        ];
        for (tool, printed, expected) in cases {
            let got = tool.parse_version(printed).map(|v| v.to_string());
            assert_eq!(got.as_deref(), Some(expected), "{tool}: {printed:?}");
        }
        assert_eq!(Toolchain::Node.parse_version("command not found"), None);
    }

    #[test]
    fn matches_versions_as_the_setup_actions_do() {
        let have = Version::parse("18.19.0").unwrap();
        let table = [
            ("18", true),
            ("18.x", true),
            ("18.19", true),
            ("18.19.0", true),
            ("v18", true),
            ("18.2", false),
            ("20", false),
            (">=18", true),
            (">=18.20", false),
            (">16", true),
            ("<18", false),
            ("<=18", true),
            ("<19", true),
            ("^18.1", true),
            ("^17", false),
            ("~18.19.0", true),
            ("~18.18", false),
            ("~18.20", false),
            (">=16 <19", true),
            (">=16 <18", false),
            ("16 || 18", true),
            ("lts/*", true),
            ("*", true),
        ];
        for (want, expected) in table {
            assert_eq!(
                satisfies(&have, want),
                Ok(expected),
                "18.19.0 against {want}"
            );
        }
        assert!(satisfies(&have, "lts/hydrogen").is_err());
        assert!(satisfies(&have, " ").is_err());
    }
}
