//! Kubernetes resource quantities (`250m`, `12345n`, `128Mi`, `1e3`, `1.5G`) as numbers:
//! cores for CPU, bytes for memory. The grammar is Kubernetes' own: an optionally signed
//! decimal number, then a binary suffix (`Ki` … `Ei`), a decimal one (`n`, `u`, `m`, none, `k`,
//! `M` … `E`) or a decimal exponent (`e3`, `E-2`). Anything else is refused with why; nothing
//! panics, whatever the text.

/// Why a text is not a quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a Kubernetes quantity: {why}")]
pub(crate) struct QuantityError {
    /// The text, cut to its first 40 characters.
    text: String,
    why: &'static str,
}

/// The longest text read: a quantity is a handful of characters, this is generous.
const LONGEST: usize = 64;
/// Decimal exponents beyond this are refused rather than computed (`1e999` is no quantity).
const LARGEST_EXPONENT: i32 = 30;

/// The value of `text`.
pub(crate) fn parse(text: &str) -> Result<f64, QuantityError> {
    let fail = |why| QuantityError {
        text: text.chars().take(40).collect(),
        why,
    };
    if text.len() > LONGEST {
        return Err(fail("longer than any quantity"));
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(digits);
    if !number.bytes().any(|b| b.is_ascii_digit()) {
        return Err(fail("expected a number first"));
    }
    if number.matches('.').count() > 1 {
        return Err(fail("a number has at most one decimal point"));
    }
    let magnitude: f64 = number
        .parse()
        .map_err(|_| fail("expected a decimal number"))?;
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let power = exponent
                .strip_prefix(['e', 'E'])
                .filter(|p| {
                    let p = p.strip_prefix(['+', '-']).unwrap_or(p);
                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
                })
                .ok_or_else(|| {
                    fail("expected a suffix: n, u, m, k, M, G, T, P, E, Ki … Ei, or an exponent")
                })?;
            let power: i32 = power
                .parse()
                .ok()
                .filter(|p: &i32| p.abs() <= LARGEST_EXPONENT)
                .ok_or_else(|| fail("the exponent is out of range"))?;
            10f64.powi(power)
        }
    };
    let value = magnitude * multiplier;
    if !value.is_finite() {
        return Err(fail("out of range"));
    }
    Ok(if text.starts_with('-') { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form_kubernetes_writes() {
        let cases = [
            ("250m", 0.25),
            ("12345n", 12345e-9),
            ("1u", 1e-6),
            ("2", 2.0),
            ("0.5", 0.5),
            (".5", 0.5),
            ("1.", 1.0),
            ("+3", 3.0),
            ("-1", -1.0),
            ("1k", 1e3),
            ("1M", 1e6),
            ("1.5G", 1.5e9),
            ("1T", 1e12),
            ("1P", 1e15),
            ("1E", 1e18),
            ("128Mi", 128.0 * 1024.0 * 1024.0),
            ("1Gi", 1024.0 * 1024.0 * 1024.0),
            ("1Ki", 1024.0),
            ("1Ei", 1024f64.powi(6)),
            ("1e3", 1e3),
            ("1E3", 1e3),
            ("5e-3", 5e-3),
            ("2e+2", 200.0),
            ("0", 0.0),
        ];
        for (text, expected) in cases {
            let value = parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                (value - expected).abs() <= expected.abs() * 1e-12,
                "{text}: {value} != {expected}"
            );
        }
    }

    #[test]
    fn refuses_hostile_text_with_why() {
        let cases = [
            ("", "expected a number first"),
            ("m", "expected a number first"),
            ("-", "expected a number first"),
            (".", "expected a number first"),
            ("1.2.3", "a number has at most one decimal point"),
            (
                "1Mb",
                "expected a suffix: n, u, m, k, M, G, T, P, E, Ki … Ei, or an exponent",
            ),
            (
                "1 Mi",
                "expected a suffix: n, u, m, k, M, G, T, P, E, Ki … Ei, or an exponent",
            ),
            (" 1", "expected a number first"),
            (
                "1e",
                "expected a suffix: n, u, m, k, M, G, T, P, E, Ki … Ei, or an exponent",
            ),
            (
                "1e+",
                "expected a suffix: n, u, m, k, M, G, T, P, E, Ki … Ei, or an exponent",
            ),
            (
                "1e3.5",
                "expected a suffix: n, u, m, k, M, G, T, P, E, Ki … Ei, or an exponent",
            ),
            ("1e999", "the exponent is out of range"),
            ("1e99999999999999999999", "the exponent is out of range"),
            ("NaN", "expected a number first"),
            ("inf", "expected a number first"),
            ("--1", "expected a number first"),
            (
                "1ü",
                "expected a suffix: n, u, m, k, M, G, T, P, E, Ki … Ei, or an exponent",
            ),
            ("ü", "expected a number first"),
        ];
        for (text, why) in cases {
            assert_eq!(parse(text).map_err(|e| e.why), Err(why), "{text:?}");
        }
        let long = "9".repeat(400);
        assert_eq!(
            parse(&long).unwrap_err().to_string(),
            format!(
                "{:?} is not a Kubernetes quantity: longer than any quantity",
                "9".repeat(40)
            )
        );
        assert_eq!(
            parse(&"9".repeat(60)).map(f64::is_finite),
            Ok(true),
            "a long number stays finite"
        );
    }
}
