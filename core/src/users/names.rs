//! What a person may be called, checked before anything is stored: userNames and email
//! addresses are refused with control characters or line breaks, an email has exactly one `@`,
//! and every userName has a comparison key under which look-alikes are one name (the key is
//! what uniqueness is checked on; the name is kept as given, for display).
//!
//! The key follows PRECIS UsernameCaseMapped (RFC 8265: NFKC width and compatibility mapping,
//! Unicode `toLowerCase`) and then UTS #39's confusable skeleton (which also drops
//! default-ignorable characters such as U+200B ZERO WIDTH SPACE and U+00AD SOFT HYPHEN), so
//! `alice@acme.com`, `ALICE@acme.com`, `alice\u{200B}@acme.com` and `аlice@acme.com` (Cyrillic
//! `а`) share one key. The skeleton is a one-way fold: keys are compared, never shown.

use unicode_normalization::UnicodeNormalization;

/// Longest userName accepted, in bytes.
pub const MAX_USERNAME: usize = 255;
/// Longest email address accepted, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

/// A line break or other control character: refused in names and addresses.
pub fn is_control(c: char) -> bool {
    // `char::is_control` is general category Cc (C0, DEL, C1 with U+0085 NEL); the line and
    // paragraph separators are Zl and Zp.
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Why a userName or email was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The comparison key of a userName: equal keys are the same name.
pub fn username_key(name: &str) -> String {
    // NFKC then lower case (PRECIS UsernameCaseMapped), then the confusable skeleton (NFD,
    // default-ignorables dropped, prototypes), then lower case again (a prototype may be a
    // capital) and NFC so the key is stable text. Folded until it no longer changes (the
    // skeleton of a skeleton is itself; two rounds settle every input the tests know).
    let mut key: String = name.nfkc().collect::<String>().to_lowercase();
    for _ in 0..3 {
        let next: String = unicode_security::skeleton(&key)
            .collect::<String>()
            .to_lowercase()
            .nfc()
            .collect();
        if next == key {
            break;
        }
        key = next;
    }
    key
}

/// A userName as given, checked: not empty, at most [`MAX_USERNAME`] bytes, no control
/// characters (leading or trailing whitespace is refused rather than trimmed away, so what is
/// stored is what was sent).
pub fn check_username(name: &str) -> Result<(), NameError> {
    if name.trim().is_empty() {
        return Err(NameError("userName must not be empty".into()));
    }
    if name.len() > MAX_USERNAME {
        return Err(NameError(format!(
            "userName must be at most {MAX_USERNAME} bytes"
        )));
    }
    if name.chars().any(is_control) {
        return Err(NameError(
            "userName must not contain control characters or line breaks".into(),
        ));
    }
    if name.trim() != name {
        return Err(NameError(
            "userName must not start or end with whitespace".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_share_a_key() {
        let alice = username_key("alice@acme.com");
        for same in [
            "ALICE@acme.com",
            "Alice@ACME.COM",
            "alice\u{200B}@acme.com",
            "\u{FEFF}alice@acme.com",
            "ali\u{00AD}ce@acme.com",
            "\u{0430}lice@acme.com",
            "\u{FF41}lice@acme.com",
            "a\u{200D}lice@acme.com",
        ] {
            assert_eq!(username_key(same), alice, "{same:?}");
        }
        for other in ["alicia@acme.com", "alice@acme.org", "bob@acme.com"] {
            assert_ne!(username_key(other), alice, "{other:?}");
        }
        assert_eq!(username_key("J.Doe"), username_key("j.d\u{043E}e"));
    }
}
