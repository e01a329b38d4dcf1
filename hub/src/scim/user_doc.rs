//! A User's SCIM document both ways: the hub's user as SCIM (`to_scim`) and a SCIM document
//! read into checked [`Fields`] (`fields`), syntax only. What needs the database (verified
//! domains, uniqueness) is checked by the caller in its transaction.
//!
//! `userName` is kept as given; `name.formatted` apart from `displayName`; every email with its
//! `type` and `primary` (at most one primary), each a syntactically valid address with one `@`;
//! `phoneNumbers` likewise. A user may have no email: the sign-in email is then the userName if
//! that is an email address, or none (and email matches nobody).

use serde_json::{Map, Value, json};

use super::filter::get_ci;
use super::schema::{ENTERPRISE, USER};
use super::{ScimError, etag, text_attr as text};
use crate::clock::ms_to_rfc3339;
use crate::users::names::{self, NameError};
use crate::users::{Email, User, UserStatus};

/// The largest block of unmodelled attributes kept per user.
const MAX_EXTRA_BYTES: usize = 16 * 1024;
/// The most values of a multi-valued attribute.
const MAX_VALUES: usize = 20;
/// Keys the hub models (or refuses to keep: `password`, read-only `groups`).
const MODELLED: [&str; 11] = [
    "schemas",
    "id",
    "meta",
    "externalid",
    "username",
    "name",
    "displayname",
    "emails",
    "active",
    "password",
    "groups",
];

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail)
}

impl From<NameError> for ScimError {
    fn from(e: NameError) -> Self {
        invalid(e.0)
    }
}

/// The SCIM representation of a user.
pub fn to_scim(u: &User, base: &str) -> Value {
    let mut doc = Map::new();
    // Unmodelled attributes first, so modelled ones always win.
    for (k, v) in &u.attributes {
        doc.insert(k.clone(), v.clone());
    }
    let mut schemas = vec![json!(USER)];
    if u.attributes
        .keys()
        .any(|k| k.eq_ignore_ascii_case(ENTERPRISE))
    {
        schemas.push(json!(ENTERPRISE));
    }
    let mut name = Map::new();
    if let Some(f) = &u.name_formatted {
        name.insert("formatted".into(), json!(f));
    }
    if let Some(g) = &u.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &u.family_name {
        name.insert("familyName".into(), json!(f));
    }
    doc.insert("schemas".into(), json!(schemas));
    doc.insert("id".into(), json!(u.id.to_string()));
    if let Some(e) = &u.external_id {
        doc.insert("externalId".into(), json!(e));
    }
    doc.insert("userName".into(), json!(u.username));
    if !name.is_empty() {
        doc.insert("name".into(), Value::Object(name));
    }
    doc.insert("displayName".into(), json!(u.name));
    if !u.emails.is_empty() {
        doc.insert("emails".into(), json!(u.emails));
    } else if !u.email.is_empty() && !u.email.eq_ignore_ascii_case(&u.username) {
        // A user from the admin API or LDAP: their one email, as the primary.
        doc.insert(
            "emails".into(),
            json!([{"value": u.email, "primary": true}]),
        );
    }
    doc.insert("active".into(), json!(u.status == UserStatus::Active));
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": ms_to_rfc3339(u.created_at),
            "lastModified": ms_to_rfc3339(u.updated_at),
            "location": format!("{base}/Users/{}", u.id),
            "version": etag(u.version),
        }),
    );
    Value::Object(doc)
}

/// What a SCIM document says about a user, checked for syntax.
pub struct Fields {
    pub user_name: String,
    pub external_id: Option<String>,
    /// As sent, domains lower-cased.
    pub emails: Vec<Email>,
    /// The sign-in email: the primary email, else the first `work` one, else the first, else
    /// the userName if it is an address; lower-cased; empty when none.
    pub email: String,
    /// Every domain that must be one of the organization's verified domains, with the
    /// attribute it came from.
    pub domains: Vec<(String, &'static str)>,
    pub name: String,
    pub name_formatted: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// `None`: not said (a PUT or PATCH keeps the status; a create makes the user active).
    pub active: Option<bool>,
    pub extras: Map<String, Value>,
}

/// `true`/`false`, or the strings Entra ID sends ("True", "False").
pub fn boolean(v: Option<&Value>, field: &str) -> Result<Option<bool>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid(format!("{field} must be a boolean"))),
    }
}

/// An email address checked and with its domain normalized (lower case, IDNA); the domain is
/// returned apart for the verified-domain check.
fn address(raw: &str, field: &str) -> Result<(String, String), ScimError> {
    let address = connectors::email::Email::parse(raw)
        .map_err(|e| invalid(format!("{field}: {raw:?} is not an email address: {e}")))?;
    Ok((address.to_string(), address.domain().to_string()))
}

/// One value of a multi-valued attribute: `value` (required), `type`, `primary`, `display`.
struct MultiValue {
    value: String,
    kind: Option<String>,
    primary: Option<bool>,
    display: Option<String>,
}

fn multi_values(v: Option<&Value>, field: &str, max: usize) -> Result<Vec<MultiValue>, ScimError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid(format!("{field} must be an array"))),
    };
    if items.len() > MAX_VALUES {
        return Err(invalid(format!("at most {MAX_VALUES} {field}")));
    }
    let mut out: Vec<MultiValue> = Vec::with_capacity(items.len());
    for item in items {
        if !item.is_object() {
            return Err(invalid(format!("each of {field} must be an object")));
        }
        let value = text(get_ci(item, "value"), &format!("{field}.value"), max)?
            .ok_or_else(|| invalid(format!("each of {field} needs a value")))?;
        if get_ci(item, "value")
            .and_then(Value::as_str)
            .is_some_and(|s| s.chars().any(names::is_control))
        {
            return Err(invalid(format!(
                "{field}.value must not contain control characters or line breaks"
            )));
        }
        let kind = text(get_ci(item, "type"), &format!("{field}.type"), 64)?;
        let primary = boolean(get_ci(item, "primary"), &format!("{field}.primary"))?;
        let display = text(get_ci(item, "display"), &format!("{field}.display"), 200)?;
        if out.iter().any(|o| o.value.eq_ignore_ascii_case(&value)) {
            return Err(invalid(format!("{field} lists {value:?} twice")));
        }
        out.push(MultiValue {
            value,
            kind,
            primary,
            display,
        });
    }
    // RFC 7643 §2.4: the primary value appears at most once.
    if out.iter().filter(|m| m.primary == Some(true)).count() > 1 {
        return Err(invalid(format!("at most one of {field} may be primary")));
    }
    Ok(out)
}

/// Reads a SCIM User document.
pub fn fields(doc: &Value) -> Result<Fields, ScimError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "a User must be a JSON object"))?;
    let get = |k: &str| get_ci(doc, k);
    let user_name = match get("userName") {
        Some(Value::String(s)) => {
            names::check_username(s)?;
            s.clone()
        }
        None | Some(Value::Null) => return Err(invalid("userName is required")),
        Some(_) => return Err(invalid("userName must be a string")),
    };
    let mut domains = Vec::new();
    let mut email_from_user_name = None;
    if user_name.contains('@') {
        // An email-shaped userName names someone at that domain: it must be the
        // organization's, as an email's domain must.
        let (addr, domain) = address(&user_name, "userName")?;
        domains.push((domain, "userName"));
        email_from_user_name = Some(addr.to_lowercase());
    }
    let external_id = text(get("externalId"), "externalId", 255)?;
    let name_obj = get("name");
    if name_obj.is_some_and(|n| !n.is_object() && !n.is_null()) {
        return Err(invalid("name must be an object"));
    }
    let sub = |k: &str| name_obj.and_then(|n| get_ci(n, k));
    let given_name = text(sub("givenName"), "name.givenName", 200)?;
    let family_name = text(sub("familyName"), "name.familyName", 200)?;
    let name_formatted = text(sub("formatted"), "name.formatted", 200)?;
    let display = text(get("displayName"), "displayName", 200)?;
    let mut emails = Vec::new();
    for m in multi_values(get("emails"), "emails", names::MAX_EMAIL)? {
        let (value, domain) = address(&m.value, "emails.value")?;
        domains.push((domain, "emails"));
        emails.push(Email {
            value,
            kind: m.kind,
            primary: m.primary,
            display: m.display,
        });
    }
    let email = emails
        .iter()
        .find(|e| e.primary == Some(true))
        .or_else(|| {
            emails.iter().find(|e| {
                e.kind
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or(emails.first())
        .map(|e| e.value.to_lowercase())
        .or(email_from_user_name)
        .unwrap_or_default();
    // Phone numbers stay unmodelled (kept as sent) but are held to the same rules.
    multi_values(get("phoneNumbers"), "phoneNumbers", 64)?;
    let active = boolean(get("active"), "active")?;
    let name = display
        .or_else(|| name_formatted.clone())
        .or_else(|| match (&given_name, &family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(g), None) => Some(g.clone()),
            (None, Some(f)) => Some(f.clone()),
            (None, None) => None,
        })
        .unwrap_or_else(|| user_name.clone());
    let extras: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !MODELLED.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if serde_json::to_vec(&extras).map_or(0, |b| b.len()) > MAX_EXTRA_BYTES {
        return Err(invalid("the user's other attributes exceed 16 KiB"));
    }
    Ok(Fields {
        user_name,
        external_id,
        emails,
        email,
        domains,
        name,
        name_formatted,
        given_name,
        family_name,
        active,
        extras,
    })
}
