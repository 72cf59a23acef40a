//! Secret masking: every form in which a secret can leak out of a step, found in each log
//! line and replaced by `***`.
//!
//! The forms are the value itself; each line of a multi-line value (a PEM key printed line
//! by line); its base64 encodings, including the three alignments it takes when encoded
//! inside a longer text (`echo "user:$TOKEN" | base64`); and its URL encodings. These are
//! the leaks GitHub Actions is known for.

use std::borrow::Cow;
use std::sync::{Arc, PoisonError, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

pub const MASK: &str = "***";

/// Derived forms shorter than this would mask ordinary words all over the logs; the value
/// itself is masked whatever its length.
const MIN_DERIVED: usize = 4;

/// The secrets of a run, in every form, for its logs. Shared by the run's steps: a value a step
/// masks at run time (`::add-mask::`) is masked in every line printed after it.
#[derive(Debug, Default)]
pub struct Masker {
    current: RwLock<Arc<Patterns>>,
}

/// The matchers of one set of secrets; replaced as a whole when a secret is added.
#[derive(Debug, Default)]
struct Patterns {
    forms: Vec<Vec<u8>>,
    /// Leftmost-longest, for replacing; `None` when there is nothing to mask.
    replace: Option<AhoCorasick>,
    /// Every occurrence, for finding where a long line may be cut without splitting one.
    overlapping: Option<AhoCorasick>,
    longest: usize,
}

impl Patterns {
    fn of(forms: Vec<Vec<u8>>) -> Patterns {
        if forms.is_empty() {
            return Patterns::default();
        }
        let build = |kind| AhoCorasick::builder().match_kind(kind).build(&forms).ok();
        Patterns {
            replace: build(MatchKind::LeftmostLongest),
            overlapping: build(MatchKind::Standard),
            longest: forms.iter().map(Vec::len).max().unwrap_or(0),
            forms,
        }
    }
}

impl Masker {
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Masker {
        let mut forms_of_all: Vec<Vec<u8>> = Vec::new();
        for secret in secrets {
            for form in forms(secret.as_ref()) {
                if !forms_of_all.contains(&form) {
                    forms_of_all.push(form);
                }
            }
        }
        Masker {
            current: RwLock::new(Arc::new(Patterns::of(forms_of_all))),
        }
    }

    /// Masks `secret` too from now on, in every form.
    pub fn add(&self, secret: &str) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let mut forms_of_all = current.forms.clone();
        let before = forms_of_all.len();
        for form in forms(secret) {
            if !forms_of_all.contains(&form) {
                forms_of_all.push(form);
            }
        }
        if forms_of_all.len() > before {
            *current = Arc::new(Patterns::of(forms_of_all));
        }
    }

    fn patterns(&self) -> Arc<Patterns> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The length of the longest form, so that readers can keep that much context.
    pub fn longest(&self) -> usize {
        self.patterns().longest
    }

    pub fn mask<'a>(&self, line: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.patterns().replace {
            Some(ac) if ac.is_match(line) => {
                let mut out = Vec::with_capacity(line.len());
                ac.replace_all_with_bytes(line, &mut out, |_, _, out| {
                    out.extend_from_slice(MASK.as_bytes());
                    true
                });
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(line),
        }
    }

    pub fn mask_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.mask(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// A position at or before `at` that cuts through no occurrence of a secret, so that a
    /// line too long to keep whole can be split there and each piece masked on its own.
    pub fn safe_split(&self, buf: &[u8], at: usize) -> usize {
        let patterns = self.patterns();
        let Some(ac) = &patterns.overlapping else {
            return at;
        };
        let mut at = at.min(buf.len());
        loop {
            let straddling = ac
                .find_overlapping_iter(buf)
                .filter(|m| m.start() < at && at < m.end())
                .map(|m| m.start())
                .min();
            match straddling {
                Some(start) => at = start,
                None => return at,
            }
        }
    }
}

/// The byte strings that reveal `secret`.
fn forms(secret: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if secret.is_empty() {
        return out;
    }
    out.push(secret.as_bytes().to_vec());
    let derived = |out: &mut Vec<Vec<u8>>, form: String| {
        if form.len() >= MIN_DERIVED {
            out.push(form.into_bytes());
        }
    };
    if secret.contains('\n') {
        for line in secret.lines() {
            derived(&mut out, line.trim().to_owned());
        }
    }
    let bytes = secret.as_bytes();
    let padded = base64(bytes, STANDARD);
    derived(&mut out, padded.trim_end_matches('=').to_owned());
    derived(&mut out, padded);
    derived(
        &mut out,
        base64(bytes, URL_SAFE).trim_end_matches('=').to_owned(),
    );
    for shift in 1..3 {
        derived(&mut out, shifted_base64(bytes, shift));
    }
    derived(&mut out, url_encode(bytes, false, false));
    derived(&mut out, url_encode(bytes, true, false));
    derived(&mut out, url_encode(bytes, false, true));
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The characters of the base64 of `…secret…` that depend on the secret alone, when the
/// secret starts `shift` bytes into a 3-byte group.
fn shifted_base64(bytes: &[u8], shift: usize) -> String {
    let mut padded = vec![0u8; shift];
    padded.extend_from_slice(bytes);
    let encoded = base64(&padded, STANDARD);
    // The first group's leading characters mix in the unknown bytes before the secret, and
    // the last partial group the unknown bytes after it.
    let skip = if shift == 1 { 2 } else { 3 };
    let full = padded.len() / 3 * 4;
    encoded.get(skip..full).unwrap_or_default().to_owned()
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn url_encode(bytes: &[u8], lowercase: bool, plus_for_space: bool) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if plus_for_space => out.push('+'),
            _ if lowercase => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(secrets: &[&str], line: &str) -> String {
        Masker::new(secrets).mask_str(line).into_owned()
    }

    #[test]
    fn the_value_itself() {
        assert_eq!(masked(&["hunter2"], "password=hunter2;"), "password=***;");
        assert_eq!(masked(&["x"], "a x b"), "a *** b");
        assert_eq!(masked(&[""], "nothing to hide"), "nothing to hide");
    }

    #[test]
    fn each_line_of_a_multi_line_secret() {
        let key = "-----BEGIN KEY-----\nMIIEvQIBADANBg\nkqhkiG9w0BAQEF\n-----END KEY-----";
        assert_eq!(masked(&[key], "  kqhkiG9w0BAQEF"), "  ***");
        assert_eq!(masked(&[key], "MIIEvQIBADANBg"), "***");
        assert_eq!(
            masked(&["ab\ncd"], "ab cd"),
            "ab cd",
            "short lines are not masked on their own"
        );
    }

    #[test]
    fn base64_forms() {
        let secret = "s3cr3t-t0ken";
        let b64 = base64(secret.as_bytes(), STANDARD);
        assert_eq!(b64, "czNjcjN0LXQwa2Vu");
        assert_eq!(masked(&[secret], &format!("auth: {b64}")), "auth: ***");
        let odd = "pa$$w0rd!";
        let padded = base64(odd.as_bytes(), STANDARD);
        assert!(masked(&[odd], &padded).starts_with(MASK), "{padded}");
        let tricky = "??>>??>>";
        let url_safe = base64(tricky.as_bytes(), URL_SAFE);
        assert!(
            url_safe.contains('-') || url_safe.contains('_'),
            "{url_safe}"
        );
        assert_eq!(
            masked(&[tricky], &format!("t={}", url_safe.trim_end_matches('='))),
            "t=***"
        );
        // Inside a longer encoded text, at each of the three alignments.
        for prefix in ["", "u:", "user:"] {
            let text = base64(format!("{prefix}{secret}@host").as_bytes(), STANDARD);
            let out = masked(&[secret], &text);
            assert!(out.contains(MASK), "{prefix:?}: {text} -> {out}");
        }
    }

    #[test]
    fn url_encoded_forms() {
        let secret = "p@ss w/rd&more";
        assert_eq!(masked(&[secret], "q=p%40ss%20w%2Frd%26more"), "q=***");
        assert_eq!(masked(&[secret], "q=p%40ss+w%2Frd%26more"), "q=***");
        assert_eq!(masked(&[secret], "q=p%40ss%20w%2frd%26more"), "q=***");
    }

    #[test]
    fn splits_never_cut_a_secret() {
        let m = Masker::new(["abcdef"]);
        let buf = b"0123abcdef89";
        assert_eq!(m.safe_split(buf, 6), 4);
        assert_eq!(m.safe_split(buf, 4), 4);
        assert_eq!(m.safe_split(buf, 10), 10);
        assert_eq!(Masker::default().safe_split(buf, 7), 7);
    }
}
