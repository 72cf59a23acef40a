//! Header routes: an exact value, a prefix or a regular expression on one request header.

use http::{HeaderMap, HeaderName};
use regex::bytes::Regex;

use crate::error::RouterError;
use crate::spec::{HeaderRouteSpec, Matcher};

#[derive(Debug)]
pub(super) struct HeaderRoute {
    name: HeaderName,
    matcher: Compiled,
    /// Index of the target in the table's revisions.
    pub(super) revision: usize,
}

#[derive(Debug)]
enum Compiled {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Regex(Regex),
}

impl HeaderRoute {
    pub(super) fn compile(spec: &HeaderRouteSpec, revision: usize) -> Result<Self, RouterError> {
        let name = HeaderName::from_bytes(spec.header.as_bytes())
            .map_err(|_| RouterError::BadHeaderName(spec.header.clone()))?;
        let matcher = match &spec.matcher {
            Matcher::Exact(v) => Compiled::Exact(v.as_bytes().to_vec()),
            Matcher::Prefix(v) => Compiled::Prefix(v.as_bytes().to_vec()),
            Matcher::Regex(p) => {
                Compiled::Regex(Regex::new(p).map_err(|e| RouterError::BadRegex {
                    pattern: p.clone(),
                    reason: e.to_string(),
                })?)
            }
        };
        Ok(Self {
            name,
            matcher,
            revision,
        })
    }

    /// Whether any value of the header matches; a regex matches anywhere unless anchored.
    pub(super) fn matches(&self, headers: &HeaderMap) -> bool {
        headers.get_all(&self.name).iter().any(|value| {
            let value = value.as_bytes();
            match &self.matcher {
                Compiled::Exact(v) => value == v.as_slice(),
                Compiled::Prefix(v) => value.starts_with(v),
                Compiled::Regex(r) => r.is_match(value),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(header: &str, matcher: Matcher) -> Result<HeaderRoute, RouterError> {
        let spec = HeaderRouteSpec {
            revision: "canary".into(),
            header: header.into(),
            matcher,
        };
        HeaderRoute::compile(&spec, 1)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn each_matcher_on_each_value() {
        let cases = [
            (Matcher::Exact("1".into()), "1", true),
            (Matcher::Exact("1".into()), "10", false),
            (Matcher::Prefix("beta".into()), "beta-7", true),
            (Matcher::Prefix("beta".into()), "alpha", false),
            (Matcher::Regex("^user-[0-9]+$".into()), "user-42", true),
            (Matcher::Regex("^user-[0-9]+$".into()), "user-x", false),
        ];
        for (matcher, value, expected) in cases {
            let r = route("X-Canary", matcher.clone()).unwrap();
            let h = headers(&[("x-canary", "other"), ("x-canary", value)]);
            assert_eq!(r.matches(&h), expected, "{matcher:?} on {value}");
            assert!(!r.matches(&headers(&[("x-other", value)])));
        }
    }

    #[test]
    fn bad_names_and_patterns_are_refused() {
        let e = route("bad header", Matcher::Exact("1".into())).unwrap_err();
        assert_eq!(e.to_string(), "`bad header` is not a valid header name");
        let e = route("x", Matcher::Regex("(".into())).unwrap_err();
        assert!(
            e.to_string().starts_with("regex `(` does not compile"),
            "{e}"
        );
    }
}
