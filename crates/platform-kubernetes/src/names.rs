//! The names and labels of what the platform writes. Kubernetes names are DNS labels
//! (lowercase letters, digits and `-`, at most 63 characters) and label values a similar
//! alphabet; a service name or version outside them is mapped to one, with a hash of the
//! original so that two never meet.

use bellwether_core::rollout::RevisionNumber;

pub(crate) const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub(crate) const MANAGER: &str = "bellwether";
pub(crate) const SERVICE: &str = "bellwether.dev/service";
pub(crate) const REVISION: &str = "bellwether.dev/revision";
pub(crate) const VERSION: &str = "bellwether.dev/version";
/// The exact service name and version, which the labels may only approximate.
pub(crate) const SERVICE_NAME: &str = "bellwether.dev/service-name";
pub(crate) const VERSION_NAME: &str = "bellwether.dev/version-name";

/// The label selector of every object bellwether manages.
pub(crate) fn managed() -> String {
    format!("{MANAGED_BY}={MANAGER}")
}

/// The ReplicaSet (and Secret) of a revision: `<service>-r<revision>`.
pub(crate) fn revision_object(service: &str, revision: RevisionNumber) -> String {
    let suffix = format!("-r{revision}");
    format!("{}{suffix}", dns_label(service, 63 - suffix.len()))
}

/// `text` as a DNS label of at most `max` characters: itself when it is one, else its
/// letters and digits lowercased, the rest as `-`, and a hash of the original.
pub(crate) fn dns_label(text: &str, max: usize) -> String {
    let valid = !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if valid {
        return text.to_owned();
    }
    let hash = format!("{:08x}", fnv(text) as u32);
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let keep = max.saturating_sub(hash.len() + 1);
    let stem = mapped
        .get(..keep.min(mapped.len()))
        .unwrap_or_default()
        .trim_matches('-');
    if stem.is_empty() {
        format!("x{hash}")
    } else {
        format!("{stem}-{hash}")
    }
}

/// `text` as a label value: itself when it is one, else mapped as [`dns_label`] does.
pub(crate) fn label_value(text: &str) -> String {
    let valid = text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && text
            .bytes()
            .next()
            .is_none_or(|b| b.is_ascii_alphanumeric())
        && text
            .bytes()
            .last()
            .is_none_or(|b| b.is_ascii_alphanumeric());
    if valid {
        text.to_owned()
    } else {
        dns_label(text, 63)
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_and_distinct() {
        assert_eq!(revision_object("web", 3), "web-r3");
        let odd = revision_object("Web_API", 3);
        assert!(odd.starts_with("web-api-") && odd.ends_with("-r3"), "{odd}");
        assert_ne!(dns_label("Web_API", 63), dns_label("web-api_", 63));
        let long = revision_object(&"a".repeat(100), 12);
        assert_eq!(long.len(), 63);
        assert_eq!(label_value("v1.2.3"), "v1.2.3");
        assert!(label_value("v1+build").starts_with("v1-build-"));
        assert_eq!(dns_label("---", 63).len(), 9);
    }
}
