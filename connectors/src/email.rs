//! One reading of an email address for everything that carries one (an IdP's claim, a SAML
//! attribute, an LDAP `mail`, a SCIM `emails` value, an admin's form): `local@domain`, exactly
//! one `@`, no quoted local parts, no whitespace, control or invisible characters anywhere (so
//! no header or log injection, and no look-alike hidden in a zero-width space), a local part of
//! at most 64 characters, a DNS domain (internationalized names as lower-case punycode).

use std::fmt;

/// Why a string is not an email address the hub accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// No `@`, or more than one.
    #[error("must contain exactly one @")]
    At,
    /// The part before the `@` is empty, too long or has characters the hub refuses.
    #[error(
        "the part before the @ must be 1 to 64 characters without spaces, quotes, control or invisible characters"
    )]
    Local,
    /// The part after the `@` is not a domain name.
    #[error("the part after the @ must be a domain name such as example.com")]
    Domain,
    /// Longer than 254 characters.
    #[error("must be at most 254 characters")]
    Length,
}

/// A checked email address: the local part as given, the domain lower-cased (punycode).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email {
    local: String,
    domain: String,
}

impl Email {
    /// Reads `s` exactly (callers trim what a person typed: spaces only).
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        if s.chars().count() > 254 {
            return Err(EmailError::Length);
        }
        let (local, domain) = match s.split_once('@') {
            Some((l, d)) if !d.contains('@') => (l, d),
            _ => return Err(EmailError::At),
        };
        let local_ok = (1..=64).contains(&local.chars().count())
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(local_char);
        if !local_ok {
            return Err(EmailError::Local);
        }
        Ok(Self {
            local: local.to_string(),
            domain: domain_name(domain).ok_or(EmailError::Domain)?,
        })
    }

    /// The part before the `@`, as given.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, lower-cased punycode.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// The domain of an email address, or of a bare `@domain` (a domain hint standing for an
/// address there); `None` if either is malformed.
pub fn domain_of(address_or_hint: &str) -> Option<String> {
    match address_or_hint.strip_prefix('@') {
        Some(d) => domain_name(d),
        None => Email::parse(address_or_hint)
            .ok()
            .map(|e| e.domain().to_string()),
    }
}

/// RFC 5322 dot-atom text (and, for internationalized addresses, letters and digits of any
/// script); never whitespace, control, format (zero-width) or quoting characters.
fn local_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
    } else {
        c.is_alphanumeric()
    }
}

/// A DNS name of at least two labels, lower-cased, internationalized labels as punycode.
fn domain_name(d: &str) -> Option<String> {
    let d = d.strip_suffix('.').unwrap_or(d);
    let domain_char = |c: char| {
        c.is_ascii_alphanumeric() || c == '-' || c == '.' || (!c.is_ascii() && c.is_alphanumeric())
    };
    if d.is_empty() || d.len() > 253 || !d.chars().all(domain_char) {
        return None;
    }
    let ascii = match url::Host::parse(d) {
        Ok(url::Host::Domain(a)) => a.to_ascii_lowercase(),
        _ => return None,
    };
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let numeric_tld = labels
        .last()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()));
    (labels.len() >= 2 && labels.iter().all(label_ok) && !numeric_tld).then_some(ascii)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_read_with_a_lower_case_domain() {
        let e = Email::parse("Alice.Liddell+x@Acme.COM").unwrap();
        assert_eq!(e.to_string(), "Alice.Liddell+x@acme.com");
        assert_eq!(e.domain(), "acme.com");
        assert_eq!(
            Email::parse("jörg@bücher.de").unwrap().to_string(),
            "jörg@xn--bcher-kva.de"
        );
    }

    #[test]
    fn smuggled_and_malformed_addresses_are_refused() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@acme.com",
            "alice@evil.com@acme.com",
            "\"alice@evil.com\"@acme.com",
            "alice\n@acme.com",
            "alice@acme.com\n",
            " alice@acme.com",
            "alice@acme.com\r\nBcc: x@evil.com",
            "ali ce@acme.com",
            "alice\u{200B}@acme.com",
            "alice\u{0}@acme.com",
            "alice@acme\u{200B}.com",
            "alice@localhost",
            "alice@127.0.0.1",
            "alice@[127.0.0.1]",
            "alice@acme..com",
            "alice@-acme.com",
            ".alice@acme.com",
            "al..ice@acme.com",
            "alice@acme.123",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Email::parse(&format!("{}@acme.com", "a".repeat(65))),
            Err(EmailError::Local)
        );
        assert_eq!(
            Email::parse(&format!("a@{}.com", "b".repeat(250))),
            Err(EmailError::Length)
        );
    }
}
