//! Branch, tag and path filters in GitHub Actions' glob syntax: `*` stays within one path
//! segment, `**` crosses them, `?` is one character, `[a-z]` a class, and a leading `!`
//! excludes what the patterns before it included.

use globset::{GlobBuilder, GlobMatcher};

/// One pattern of a filter.
#[derive(Clone, Debug)]
pub struct Pattern {
    source: String,
    negated: bool,
    matcher: GlobMatcher,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let (negated, glob) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if glob.trim().is_empty() {
            return Err(format!(
                "`{text}` is an empty pattern (expected a name or glob, e.g. `main` or `release/*`)"
            ));
        }
        let matcher = GlobBuilder::new(glob)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("`{text}` is not a valid glob: {}", e.kind()))?
            .compile_matcher();
        Ok(Pattern {
            source: text.to_owned(),
            negated,
            matcher,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// Whether the glob matches, ignoring the `!`.
    pub fn matches(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }
}

/// `branches: [...]` (include) or `branches-ignore: [...]` (ignore).
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub patterns: Vec<Pattern>,
    /// An `-ignore` list: what matches is left out.
    pub ignore: bool,
}

impl Filter {
    /// Whether `name` passes. In an include list the last pattern that matches decides (a
    /// `!pattern` excludes, a later plain one brings back); in an ignore list any match
    /// leaves the name out.
    pub fn accepts(&self, name: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            if p.matches(name) {
                matched = !p.negated;
            }
        }
        matched != self.ignore
    }

    /// The patterns as written, for messages.
    pub fn describe(&self) -> String {
        let list: Vec<&str> = self.patterns.iter().map(|p| p.source.as_str()).collect();
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(patterns: &[&str], ignore: bool) -> Filter {
        Filter {
            patterns: patterns
                .iter()
                .map(|p| Pattern::parse(p).expect("valid"))
                .collect(),
            ignore,
        }
    }

    #[test]
    fn github_glob_semantics() {
        let cases: &[(&[&str], bool, &str, bool)] = &[
            (&["main"], false, "main", true),
            (&["main"], false, "mainline", false),
            (&["release/*"], false, "release/1.2", true),
            (&["release/*"], false, "release/1.2/hotfix", false),
            (&["release/**"], false, "release/1.2/hotfix", true),
            (
                &["feature/*", "!feature/wip-*"],
                false,
                "feature/wip-x",
                false,
            ),
            (
                &["feature/*", "!feature/wip-*", "feature/wip-keep"],
                false,
                "feature/wip-keep",
                true,
            ),
            (&["v[0-9]*"], false, "v1.2.3", true),
            (&["v?.*"], false, "v1.0", true),
            (&["**"], false, "any/thing/at/all", true),
            (&["src/**/*.rs"], false, "src/a/b/c.rs", true),
            (&["src/**/*.rs"], false, "src/c.rs", true),
            (&["docs/**"], true, "docs/index.md", false),
            (&["docs/**"], true, "src/main.rs", true),
        ];
        for (patterns, ignore, name, want) in cases {
            assert_eq!(
                filter(patterns, *ignore).accepts(name),
                *want,
                "{patterns:?} ignore={ignore} {name}"
            );
        }
    }

    #[test]
    fn bad_patterns_say_why() {
        assert_eq!(
            Pattern::parse("release/[a").err(),
            Some("`release/[a` is not a valid glob: unclosed character class; missing ']'".into())
        );
        assert_eq!(
            Pattern::parse("!").err(),
            Some(
                "`!` is an empty pattern (expected a name or glob, e.g. `main` or `release/*`)"
                    .into()
            )
        );
    }
}
