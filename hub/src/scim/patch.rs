//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON document: `add`, `replace` and
//! `remove`, with or without a path, paths with value filters (`emails[type eq "work"].value`,
//! `members[value eq "id"]`) and schema URNs, in the forms Okta and Entra ID actually send
//! (`"op": "Replace"`, `"value": "False"`, a path-less value object, members removed by value
//! list). The resource is then re-read from the patched document like a PUT, so one set of
//! validation rules holds.
//!
//! A path is `[URN ":"] attr ["." sub]` or `[URN ":"] attr "[" filter "]" ["." sub]`, or a
//! schema URN alone (the whole extension object). The URN must be one of the resource type's
//! schemas (or an extension object the resource already holds): an unknown one is
//! `invalidPath`, never split at a colon into a made-up key. A value filter that matches nothing
//! is `noTarget` (RFC 7644 §3.5.2.3, §3.12), except Entra's `replace` of
//! `emails[type eq "work"].value` on a user without one, which adds it. Setting `primary` on one
//! value of a multi-valued attribute clears it on the others (RFC 7644 §3.5.2).
//!
//! Bounded: at most [`MAX_OPERATIONS`] operations, paths of at most 1 KiB with the filter
//! parser's limits, and appends deduplicated through a hash set (no quadratic member lists).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, Filter, get_ci};
use super::schema::ResourceType;

/// The most operations one PATCH may carry.
pub const MAX_OPERATIONS: usize = 1000;
/// The longest path accepted, in bytes.
pub const MAX_PATH: usize = 1024;
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Multi-valued attributes (RFC 7643 §4.1.2) whose `primary` is kept unique by PATCH.
const WITH_PRIMARY: [&str; 8] = [
    "emails",
    "phonenumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509certificates",
];

#[derive(Debug, Deserialize)]
pub struct PatchRequest {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<PatchOp>,
}

#[derive(Debug, Deserialize)]
pub struct PatchOp {
    pub op: String,
    #[serde(default)]
    pub path: Option<String>,
    /// `None` when absent; an explicit `null` is `Some(Null)` (RFC 7643 §2.5: unassigned).
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A parsed PATCH path: where in the document an operation applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The key of the extension object holding the attribute (its schema URN as the resource
    /// spells it), or `None` for the core schema's attributes.
    pub extension: Option<String>,
    /// The attribute; `None` with an extension: the whole extension object.
    pub name: Option<String>,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_path(detail)
}

/// An attribute name (RFC 7644 §3.4.2.2 ATTRNAME, with `$` for `$ref`).
fn attr_name(n: &str) -> bool {
    n.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

/// The schema URNs a path may start with, for `rt` and the document `doc`: the core schema
/// (`None`: attributes at the top level), its extensions, and any URN-named object the
/// document already holds (an extension the directory sent that the hub does not model).
fn schemas_of(rt: &ResourceType, doc: &Value) -> Vec<(String, Option<String>)> {
    let mut out = vec![(rt.schema.to_string(), None)];
    for e in rt.extensions {
        let key = doc
            .as_object()
            .and_then(|o| o.keys().find(|k| k.eq_ignore_ascii_case(e)).cloned())
            .unwrap_or_else(|| e.to_string());
        out.push((e.to_string(), Some(key)));
    }
    if let Some(obj) = doc.as_object() {
        for (k, v) in obj {
            if k.contains(':')
                && v.is_object()
                && !out.iter().any(|(u, _)| u.eq_ignore_ascii_case(k))
            {
                out.push((k.clone(), Some(k.clone())));
            }
        }
    }
    // Longest first, so an extension whose URN extends another's wins.
    out.sort_by_key(|(u, _)| std::cmp::Reverse(u.len()));
    out
}

/// Parses a PATCH path against the schemas of `rt` and the current document.
pub fn parse_path(path: &str, rt: &ResourceType, doc: &Value) -> Result<Target, ScimError> {
    if path.len() > MAX_PATH || path.trim().is_empty() {
        return Err(invalid_path("empty or overlong path"));
    }
    if path.chars().any(crate::users::names::is_control) {
        return Err(invalid_path("a path has no control characters"));
    }
    let path = path.trim();
    let head_end = path.find('[').unwrap_or(path.len());
    let (head, tail) = path.split_at(head_end);
    let (extension, attr) = if head.contains(':') {
        let lower = head.to_ascii_lowercase();
        let found = schemas_of(rt, doc).into_iter().find_map(|(urn, key)| {
            let u = urn.to_ascii_lowercase();
            if lower == u {
                Some((key, None))
            } else {
                lower
                    .strip_prefix(&u)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(|_| (key, Some(&head[u.len() + 1..])))
            }
        });
        let Some((key, attr)) = found else {
            return Err(invalid_path(format!(
                "{head:?} does not name one of this resource's schemas"
            )));
        };
        match (key, attr) {
            (None, None) => {
                return Err(invalid_path(
                    "the core schema's URN alone is not an attribute path",
                ));
            }
            (Some(key), None) => {
                if !tail.is_empty() {
                    return Err(invalid_path("a schema URN takes no value filter"));
                }
                return Ok(Target {
                    extension: Some(key),
                    name: None,
                    filter: None,
                    sub: None,
                });
            }
            (key, Some(attr)) => (key, attr),
        }
    } else {
        (None, head)
    };
    let (name, mut sub) = match attr.split_once('.') {
        Some((n, s)) => (n, Some(s.to_string())),
        None => (attr, None),
    };
    let mut filter = None;
    if !tail.is_empty() {
        if sub.is_some() {
            return Err(invalid_path(format!(
                "a value filter follows the attribute, not a sub-attribute, in {path:?}"
            )));
        }
        let close = tail
            .rfind(']')
            .ok_or_else(|| invalid_path(format!("unclosed [ in {path:?}")))?;
        let inner = &tail[1..close];
        filter = Some(
            filter::parse(inner)
                .map_err(|e| invalid_path(format!("bad value filter in {path:?}: {e}")))?,
        );
        let rest = &tail[close + 1..];
        if let Some(s) = rest.strip_prefix('.') {
            sub = Some(s.to_string());
        } else if !rest.is_empty() {
            return Err(invalid_path(format!("unexpected text after ] in {path:?}")));
        }
    }
    if !attr_name(name) || sub.as_deref().is_some_and(|s| !attr_name(s)) {
        return Err(invalid_path(format!("bad attribute in path {path:?}")));
    }
    Ok(Target {
        extension,
        name: Some(name.to_string()),
        filter,
        sub,
    })
}

/// The key of `name` in `obj` (case-insensitive), or `name` itself when absent.
fn key_of(obj: &Map<String, Value>, name: &str) -> String {
    obj.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

fn object_mut<'a>(v: &'a mut Value, what: &str) -> Result<&'a mut Map<String, Value>, ScimError> {
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
        .ok_or_else(|| invalid_path(format!("{what} is not a complex attribute")))
}

/// The container (the document, or an extension's object) the target's attribute lives in.
fn container<'a>(doc: &'a mut Value, t: &Target) -> Result<&'a mut Map<String, Value>, ScimError> {
    let root = object_mut(doc, "the resource")?;
    match &t.extension {
        None => Ok(root),
        Some(ext) => {
            let k = key_of(root, ext);
            object_mut(root.entry(k).or_insert(Value::Null), ext)
        }
    }
}

/// Appends `items` to an array, skipping elements whose `value` (or whole self) is already
/// there; one pass with a set, so adding n members to a group of m costs n + m.
fn append(arr: &mut Vec<Value>, items: Vec<Value>) {
    let id = |v: &Value| match get_ci(v, "value") {
        Some(x) => format!("v{x}"),
        None => format!("e{v}"),
    };
    let mut seen: HashSet<String> = arr.iter().map(id).collect();
    for item in items {
        if seen.insert(id(&item)) {
            arr.push(item);
        }
    }
}

/// Sets (replace) or adds to (add) one attribute of an object.
fn put(obj: &mut Map<String, Value>, name: &str, value: Value, add: bool) {
    let k = key_of(obj, name);
    match (obj.get_mut(&k), value) {
        (Some(Value::Array(existing)), Value::Array(items)) if add => append(existing, items),
        (Some(Value::Object(existing)), Value::Object(fields)) => {
            for (fk, fv) in fields {
                put(existing, &fk, fv, add);
            }
        }
        (_, value) => {
            obj.insert(k, value);
        }
    }
}

/// The equality terms of a value filter (`type eq "work"`), to build a new element from;
/// `false` when the filter is anything but a conjunction of equalities.
fn seed(f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::Compare(p, filter::Op::Eq, v) if p.sub.is_none() && p.schema.is_none() => {
            out.insert(p.name.clone(), v.clone());
            true
        }
        Filter::And(a, b) => seed(a, out) && seed(b, out),
        _ => false,
    }
}

fn add_or_replace(doc: &mut Value, t: &Target, value: Value, add: bool) -> Result<(), ScimError> {
    let obj = container(doc, t)?;
    let Some(name) = &t.name else {
        // The whole extension object: its attributes are set one by one.
        let Value::Object(fields) = value else {
            return Err(ScimError::invalid_value(
                "a schema URN path needs an object value",
            ));
        };
        for (k, v) in fields {
            put(obj, &k, v, add);
        }
        return Ok(());
    };
    let k = key_of(obj, name);
    match (&t.filter, &t.sub) {
        (None, None) => put(obj, name, value, add),
        (None, Some(sub)) => {
            let inner = object_mut(obj.entry(k).or_insert(Value::Null), name)?;
            put(inner, sub, value, add);
        }
        (Some(f), sub) => {
            let slot = obj.entry(k).or_insert(Value::Array(Vec::new()));
            if slot.is_null() {
                *slot = Value::Array(Vec::new());
            }
            let arr = slot
                .as_array_mut()
                .ok_or_else(|| invalid_path(format!("{name} is not multi-valued")))?;
            let mut hit = false;
            for el in arr.iter_mut().filter(|el| filter::matches(f, el)) {
                hit = true;
                match sub {
                    Some(s) => put(object_mut(el, name)?, s, value.clone(), false),
                    None => *el = value.clone(),
                }
            }
            if !hit {
                // Entra replaces emails[type eq "work"].value on a user without one: the
                // equality terms and the value make the new element.
                let mut fresh = Map::new();
                let seedable = seed(f, &mut fresh);
                match (seedable, sub, value) {
                    (true, Some(s), v) => {
                        fresh.insert(s.clone(), v);
                    }
                    (true, None, Value::Object(m)) => fresh.extend(m),
                    _ => {
                        return Err(ScimError::no_target(format!(
                            "no value of {name} matches the filter"
                        )));
                    }
                }
                arr.push(Value::Object(fresh));
            }
        }
    }
    Ok(())
}

fn remove(doc: &mut Value, t: &Target, value: Option<Value>) -> Result<(), ScimError> {
    let Some(name) = &t.name else {
        // The whole extension object.
        let root = object_mut(doc, "the resource")?;
        if let Some(ext) = &t.extension {
            let k = key_of(root, ext);
            root.remove(&k);
        }
        return Ok(());
    };
    let obj = container(doc, t)?;
    let k = key_of(obj, name);
    let no_target = || ScimError::no_target(format!("no value of {name} matches the filter"));
    match (&t.filter, &t.sub) {
        (None, None) => match (obj.get_mut(&k), value) {
            // Entra removes members by listing them: {"path":"members","value":[{"value":id}]}.
            (Some(Value::Array(arr)), Some(Value::Array(gone))) => {
                let gone: HashSet<String> = gone
                    .iter()
                    .filter_map(|g| get_ci(g, "value"))
                    .map(Value::to_string)
                    .collect();
                arr.retain(|el| {
                    !get_ci(el, "value").is_some_and(|v| gone.contains(&v.to_string()))
                });
            }
            _ => {
                obj.remove(&k);
            }
        },
        (None, Some(sub)) => {
            if let Some(Value::Object(inner)) = obj.get_mut(&k) {
                let sk = key_of(inner, sub);
                inner.remove(&sk);
            }
        }
        (Some(f), None) => {
            let Some(Value::Array(arr)) = obj.get_mut(&k) else {
                return Err(no_target());
            };
            let before = arr.len();
            arr.retain(|el| !filter::matches(f, el));
            if arr.len() == before {
                return Err(no_target());
            }
        }
        (Some(f), Some(sub)) => {
            let Some(Value::Array(arr)) = obj.get_mut(&k) else {
                return Err(no_target());
            };
            let mut hit = false;
            for el in arr.iter_mut().filter(|el| filter::matches(f, el)) {
                hit = true;
                if let Some(m) = el.as_object_mut() {
                    let sk = key_of(m, sub);
                    m.remove(&sk);
                }
            }
            if !hit {
                return Err(no_target());
            }
        }
    }
    Ok(())
}

fn is_primary(v: &Value) -> bool {
    matches!(get_ci(v, "primary"), Some(Value::Bool(true)))
        || get_ci(v, "primary")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

/// What identifies a value of a multi-valued attribute across an operation: its `value`.
fn identity(v: &Value) -> String {
    get_ci(v, "value").map_or_else(|| v.to_string(), Value::to_string)
}

/// For each multi-valued attribute with `primary` (top level), the values that are primary.
fn primaries(doc: &Value) -> Vec<(String, HashSet<String>)> {
    let Some(obj) = doc.as_object() else {
        return Vec::new();
    };
    obj.iter()
        .filter(|(k, _)| WITH_PRIMARY.contains(&k.to_ascii_lowercase().as_str()))
        .filter_map(|(k, v)| {
            let arr = v.as_array()?;
            Some((
                k.clone(),
                arr.iter().filter(|e| is_primary(e)).map(identity).collect(),
            ))
        })
        .collect()
}

/// How many values an operation's `value` makes primary.
fn primaries_in(path: Option<&str>, v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().filter(|i| is_primary(i)).count(),
        Value::Object(m) => {
            usize::from(is_primary(v))
                + m.values()
                    .filter(|x| x.is_array())
                    .map(|x| primaries_in(None, x))
                    .sum::<usize>()
        }
        Value::Bool(true) => {
            usize::from(path.is_some_and(|p| p.to_ascii_lowercase().ends_with(".primary")))
        }
        _ => 0,
    }
}

/// RFC 7644 §3.5.2: a value this operation made primary takes `primary` from the values that
/// were primary before it. An operation that itself names two primaries is left as it is (the
/// document is then refused).
fn demote(doc: &mut Value, before: &[(String, HashSet<String>)]) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    for (k, arr) in obj.iter_mut() {
        let Some(arr) = arr.as_array_mut() else {
            continue;
        };
        if !WITH_PRIMARY.contains(&k.to_ascii_lowercase().as_str()) {
            continue;
        }
        let old = before.iter().find(|(bk, _)| bk == k).map(|(_, v)| v);
        let was = |e: &Value| old.is_some_and(|o| o.contains(&identity(e)));
        let now: Vec<usize> = (0..arr.len()).filter(|i| is_primary(&arr[*i])).collect();
        let fresh = now.iter().filter(|i| !was(&arr[**i])).count();
        if now.len() > 1 && fresh == 1 {
            for i in now {
                if was(&arr[i])
                    && let Some(m) = arr[i].as_object_mut()
                {
                    let pk = key_of(m, "primary");
                    m.insert(pk, Value::Bool(false));
                }
            }
        }
    }
}

/// Applies one path-less `add`/`replace` value: each key is an attribute, a schema URN (the
/// core schema's attributes or an extension object), or a path (Entra: `name.givenName`,
/// `urn:...:User:manager`).
fn apply_pathless(
    doc: &mut Value,
    rt: &ResourceType,
    fields: Map<String, Value>,
    add: bool,
) -> Result<(), ScimError> {
    for (k, v) in fields {
        if k.eq_ignore_ascii_case(rt.schema) {
            let Value::Object(inner) = v else {
                return Err(invalid_path(format!("{k} must be an object")));
            };
            let root = object_mut(doc, "the resource")?;
            for (ik, iv) in inner {
                put(root, &ik, iv, add);
            }
        } else if k.contains(':') {
            match parse_path(&k, rt, doc) {
                Ok(t) => add_or_replace(doc, &t, v, add)?,
                // An extension object the hub does not know yet, sent whole: kept as sent.
                Err(_) if v.is_object() && k.to_ascii_lowercase().starts_with("urn:") => {
                    let root = object_mut(doc, "the resource")?;
                    put(root, &k, v, add);
                }
                Err(e) => return Err(e),
            }
        } else if k.contains('.') {
            add_or_replace(doc, &parse_path(&k, rt, doc)?, v, add)?;
        } else {
            let root = object_mut(doc, "the resource")?;
            put(root, &k, v, add);
        }
    }
    Ok(())
}

/// Applies the operations to `doc` (a resource of type `rt`) in order; any failure leaves the
/// caller's resource unchanged (the caller writes only a fully patched document).
pub fn apply(doc: &mut Value, req: PatchRequest, rt: &ResourceType) -> Result<(), ScimError> {
    if !req.schemas.is_empty() && !req.schemas.iter().any(|s| s == PATCH_SCHEMA) {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            format!("a PATCH body's schemas must include {PATCH_SCHEMA}"),
        ));
    }
    if req.operations.len() > MAX_OPERATIONS {
        return Err(ScimError::bad_request(
            "tooMany",
            format!("at most {MAX_OPERATIONS} operations per PATCH"),
        ));
    }
    for op in req.operations {
        let kind = op.op.to_ascii_lowercase();
        let before = primaries(doc);
        let named = op
            .value
            .as_ref()
            .map_or(0, |v| primaries_in(op.path.as_deref(), v));
        match (kind.as_str(), op.path.as_deref()) {
            ("add" | "replace", None) => {
                let Some(Value::Object(fields)) = op.value else {
                    return Err(ScimError::bad_request(
                        "invalidValue",
                        "an operation without a path needs an object value",
                    ));
                };
                apply_pathless(doc, rt, fields, kind == "add")?;
            }
            ("add" | "replace", Some(path)) => {
                let t = parse_path(path, rt, doc)?;
                let value = op.value.ok_or_else(|| {
                    ScimError::bad_request("invalidValue", format!("{} needs a value", op.op))
                })?;
                add_or_replace(doc, &t, value, kind == "add")?;
            }
            ("remove", Some(path)) => {
                let t = parse_path(path, rt, doc)?;
                remove(doc, &t, op.value)?;
            }
            ("remove", None) => {
                return Err(ScimError::no_target("a remove operation needs a path"));
            }
            _ => {
                return Err(ScimError::bad_request(
                    "invalidSyntax",
                    format!("unknown PATCH operation {:?}", op.op),
                ));
            }
        }
        if named == 1 {
            demote(doc, &before);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;
