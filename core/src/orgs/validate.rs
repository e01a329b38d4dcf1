//! Input rules for names, slugs, domains and URIs. Each returns the normalized value or a
//! `FieldError` that says what is accepted.

use crate::error::FieldError;

/// `acme`, `acme-corp`: 2-63 lowercase letters, digits and inner hyphens.
pub fn slug(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = (2..=63).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--");
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldError::new(
            field,
            "use 2 to 63 lowercase letters, digits and single hyphens, not at either end (e.g. acme-corp)",
        ))
    }
}

/// A display name: trimmed, 1-200 characters, no control characters.
pub fn name(field: &str, value: &str) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(FieldError::new(field, "must be 1 to 200 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_string())
}

/// A claim release: known claim names, at most 50 groups by display name, `groups` named
/// exactly when groups are; `*` (all groups) only where `all_groups` allows it.
pub fn release(
    field: &str,
    mut r: crate::orgs::model::Release,
    all_groups: bool,
) -> Result<crate::orgs::model::Release, FieldError> {
    use crate::orgs::model::RELEASABLE_CLAIMS;
    if let Some(c) = r
        .claims
        .iter()
        .find(|c| !RELEASABLE_CLAIMS.contains(&c.as_str()))
    {
        return Err(FieldError::new(
            &format!("{field}.claims"),
            format!(
                "{c:?} is not a claim the hub releases; use some of {}",
                RELEASABLE_CLAIMS.join(", ")
            ),
        ));
    }
    if r.groups.len() > 50 {
        return Err(FieldError::new(
            &format!("{field}.groups"),
            "name at most 50 groups",
        ));
    }
    let mut groups = Vec::new();
    for g in &r.groups {
        if g == "*" && !all_groups {
            return Err(FieldError::new(
                &format!("{field}.groups"),
                "name each group released; `*` is for an organization's own applications",
            ));
        }
        groups.push(name(&format!("{field}.groups"), g)?);
    }
    r.groups = groups;
    r.normalize();
    if r.has("groups") == r.groups.is_empty() {
        return Err(FieldError::new(
            &format!("{field}.groups"),
            "name the groups released exactly when the claims include `groups`",
        ));
    }
    Ok(r)
}

/// What two display names are compared by: NFKC, case-folded and look-alike-folded (the
/// userName key), with whitespace, punctuation and symbols left out.
pub fn display_name_key(name: &str) -> String {
    let key = crate::users::names::username_key(name);
    key.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// A DNS domain an organization can prove it controls: lower-cased, IDNs as punycode, at least
/// two labels, no IP addresses, no wildcards.
pub fn domain(field: &str, value: &str) -> Result<String, FieldError> {
    let bad = |why: &str| FieldError::new(field, format!("{why} (e.g. example.com)"));
    let value = value.trim().trim_end_matches('.');
    if value.is_empty() || value.len() > 253 {
        return Err(bad("must be a domain name of at most 253 characters"));
    }
    if value.contains('*') {
        return Err(bad("wildcards are not domains"));
    }
    let ascii = match url::Host::parse(value) {
        Ok(url::Host::Domain(d)) => d,
        Ok(_) => return Err(bad("IP addresses cannot be verified as domains")),
        Err(_) => return Err(bad("is not a valid domain name")),
    };
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    // Room for the `_hub-challenge.` label the verification record needs.
    if ascii.len() > 238 {
        return Err(bad("must be at most 238 characters (as punycode)"));
    }
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(bad(
            "needs at least two labels of letters, digits and hyphens",
        ));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("the last label cannot be numeric"));
    }
    Ok(ascii.to_ascii_lowercase())
}

fn is_loopback_host(host: Option<url::Host<&str>>) -> bool {
    match host {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A redirect URI, compared later by exact string match (RFC 9700 §4.1.3): absolute, no
/// fragment, no wildcard; https, http only on loopback (RFC 8252 §7.3), or a private-use scheme
/// with a dot in it for native apps (RFC 8252 §7.1).
pub fn redirect_uri(field: &str, value: &str) -> Result<String, FieldError> {
    let bad = |why: &str| FieldError::new(field, format!("{value:?}: {why}"));
    let url = absolute_uri(field, value)?;
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if is_loopback_host(url.host()) => {}
        "http" => return Err(bad("http is only allowed for loopback hosts; use https")),
        scheme if scheme.contains('.') => {}
        _ => {
            return Err(bad(
                "use https, http on loopback, or a reverse-domain scheme such as com.example.app",
            ));
        }
    }
    Ok(value.to_string())
}

/// An absolute URI of at most 2000 characters, without wildcards, spaces, control characters
/// or a fragment.
fn absolute_uri(field: &str, value: &str) -> Result<url::Url, FieldError> {
    let bad = |why: &str| FieldError::new(field, format!("{value:?}: {why}"));
    if value.len() > 2000 {
        return Err(bad("longer than 2000 characters"));
    }
    if value.contains('*') {
        return Err(bad("wildcards are not allowed; register each URI exactly"));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("must not contain spaces or control characters"));
    }
    let url = url::Url::parse(value).map_err(|_| bad("not an absolute URI"))?;
    if url.fragment().is_some() || value.contains('#') {
        return Err(bad("must not contain a fragment"));
    }
    Ok(url)
}

/// A URI the hub itself will call (back-channel logout, SCIM target, webhook, IdP issuer or
/// metadata): absolute, no fragment, and permitted by the outbound address policy (https; an
/// internal address or plain http only where the operator allowed it). Names that resolve to
/// refused addresses are refused again when called.
pub fn notify_uri(
    field: &str,
    value: &str,
    policy: &connectors::net::AddressPolicy,
) -> Result<String, FieldError> {
    let parsed = absolute_uri(field, value)?;
    let uri = value.to_string();
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(FieldError::new(field, "must be an https URL"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FieldError::new(field, "must not carry credentials"));
    }
    match policy.check_url(&parsed) {
        Ok(()) => Ok(uri),
        Err(connectors::net::NetError::Refused(_)) => Err(FieldError::new(
            field,
            "must not point at loopback, private, link-local or other internal addresses",
        )),
        Err(_) => Err(FieldError::new(field, "must be an https URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_display_names_share_a_key() {
        let acme = display_name_key("Acme Corp");
        for same in [
            "ACME CORP",
            "Acme  Corp.",
            "Acme-Corp",
            "\u{410}cme Corp",
            "Acme\u{200B} Corp",
        ] {
            assert_eq!(display_name_key(same), acme, "{same:?}");
        }
        assert_ne!(display_name_key("Acme Group"), acme);
    }

    #[test]
    fn slugs() {
        for ok in ["acme", "acme-corp", "a1"] {
            assert!(slug("slug", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Acme",
            "-acme",
            "acme-",
            "ac--me",
            "acme corp",
            "acmé",
            &"a".repeat(64),
        ] {
            assert!(slug("slug", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains() {
        assert_eq!(
            domain("d", "Example.COM.").ok().as_deref(),
            Some("example.com")
        );
        assert_eq!(
            domain("d", "bücher.de").ok().as_deref(),
            Some("xn--bcher-kva.de")
        );
        for bad in [
            "",
            "com",
            "*.example.com",
            "127.0.0.1",
            "[::1]",
            "ex ample.com",
            "-a.com",
            "a.123",
            "a..com",
            "a_b.com",
        ] {
            assert!(domain("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1:3000/cb",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(redirect_uri("r", ok).is_ok(), "{ok}");
        }
        for bad in [
            "/relative",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "http://app.example.com/cb",
            "javascript:alert(1)",
            "https://app.example.com/cb\u{0}",
            "https://app.example.com/c b",
            "ftp://x.example.com",
        ] {
            assert!(redirect_uri("r", bad).is_err(), "{bad}");
        }
        let strict = connectors::net::AddressPolicy::new(false, Vec::new());
        let open = connectors::net::AddressPolicy::new(true, Vec::new());
        assert!(notify_uri("b", "com.example.app:/x", &strict).is_err());
        assert!(notify_uri("b", "https://app.example.com/bcl", &strict).is_ok());
        assert!(notify_uri("b", "http://app.example.com/bcl", &strict).is_err());
        assert!(notify_uri("b", "https://user:pw@app.example.com/bcl", &strict).is_err());
        for internal in [
            "http://127.0.0.1:9/bcl",
            "https://127.0.0.1/bcl",
            "https://10.1.2.3/bcl",
            "https://169.254.169.254/latest",
            "https://[::1]/bcl",
            "https://[fd00::1]/bcl",
            "https://[::ffff:192.168.0.1]/bcl",
            "https://localhost/bcl",
            "https://localhost./bcl",
            "https://[::127.0.0.1]/bcl",
            "https://[64:ff9b::a9fe:a9fe]/bcl",
            "https://2130706433/bcl",
        ] {
            assert!(notify_uri("b", internal, &strict).is_err(), "{internal}");
        }
        assert!(notify_uri("b", "http://127.0.0.1:9/bcl", &open).is_ok());
    }
}
