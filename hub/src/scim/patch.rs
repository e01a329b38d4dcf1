//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON document: `add`, `replace` and
//! `remove`, with or without a path, paths with value filters (`emails[type eq "work"].value`,
//! `members[value eq "id"]`) and extension URNs, in the forms Okta and Entra ID actually send
//! (`"op": "Replace"`, `"value": "False"`, a path-less value object, members removed by value
//! list). The resource is then re-read from the patched document like a PUT, so one set of
//! validation rules holds.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, Filter, get_ci};

/// The most operations one PATCH may carry.
pub const MAX_OPERATIONS: usize = 1000;
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Schemas whose attributes live at the top level of the document.
const CORE: [&str; 2] = [
    "urn:ietf:params:scim:schemas:core:2.0:user",
    "urn:ietf:params:scim:schemas:core:2.0:group",
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
    #[serde(default)]
    pub value: Option<Value>,
}

/// A PATCH path: where in the document an operation applies.
#[derive(Debug)]
struct Target {
    /// The extension schema URN holding the attribute, if not a core attribute.
    extension: Option<String>,
    name: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request("invalidPath", detail)
}

fn parse_path(path: &str) -> Result<Target, ScimError> {
    let path = path.trim();
    if path.is_empty() || path.len() > 1024 {
        return Err(invalid_path("empty or overlong path"));
    }
    let head_end = path.find('[').unwrap_or(path.len());
    let (head, tail) = path.split_at(head_end);
    let (extension, attr) = if head.to_ascii_lowercase().starts_with("urn:") {
        let (schema, attr) = head
            .rsplit_once(':')
            .ok_or_else(|| invalid_path(format!("bad path {path:?}")))?;
        let lower = schema.to_ascii_lowercase();
        if CORE.contains(&lower.as_str()) {
            (None, attr)
        } else {
            (Some(schema.to_string()), attr)
        }
    } else {
        (None, head)
    };
    let (name, mut sub) = match attr.split_once('.') {
        Some((n, s)) => (n.to_string(), Some(s.to_string())),
        None => (attr.to_string(), None),
    };
    let mut filter = None;
    if !tail.is_empty() {
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
    let ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !ok(&name) || sub.as_deref().is_some_and(|s| !ok(s)) {
        return Err(invalid_path(format!("bad attribute in path {path:?}")));
    }
    Ok(Target {
        extension,
        name,
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

/// Appends `items` to an array, skipping elements whose `value` is already there.
fn append(arr: &mut Vec<Value>, items: Vec<Value>) {
    for item in items {
        let dup = match get_ci(&item, "value") {
            Some(v) => arr.iter().any(|a| get_ci(a, "value") == Some(v)),
            None => arr.contains(&item),
        };
        if !dup {
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

/// The equality terms of a value filter (`type eq "work"`), to build a new element from.
fn seed(f: &Filter, out: &mut Map<String, Value>) {
    match f {
        Filter::Compare(p, filter::Op::Eq, v) if p.sub.is_none() => {
            out.insert(p.name.clone(), v.clone());
        }
        Filter::And(a, b) => {
            seed(a, out);
            seed(b, out);
        }
        _ => {}
    }
}

fn add_or_replace(doc: &mut Value, t: &Target, value: Value, add: bool) -> Result<(), ScimError> {
    let obj = container(doc, t)?;
    let k = key_of(obj, &t.name);
    match (&t.filter, &t.sub) {
        (None, None) => put(obj, &t.name, value, add),
        (None, Some(sub)) => {
            let inner = object_mut(obj.entry(k).or_insert(Value::Null), &t.name)?;
            put(inner, sub, value, add);
        }
        (Some(f), sub) => {
            let slot = obj.entry(k).or_insert(Value::Array(Vec::new()));
            if slot.is_null() {
                *slot = Value::Array(Vec::new());
            }
            let arr = slot
                .as_array_mut()
                .ok_or_else(|| invalid_path(format!("{} is not multi-valued", t.name)))?;
            let mut hit = false;
            for el in arr.iter_mut().filter(|el| filter::matches(f, el)) {
                hit = true;
                match sub {
                    Some(s) => put(object_mut(el, &t.name)?, s, value.clone(), false),
                    None => *el = value.clone(),
                }
            }
            if !hit {
                // Entra replaces emails[type eq "work"].value on a user without one: add it.
                let mut fresh = Map::new();
                seed(f, &mut fresh);
                match (sub, value) {
                    (Some(s), v) => {
                        fresh.insert(s.clone(), v);
                    }
                    (None, Value::Object(m)) => fresh.extend(m),
                    (None, _) => {
                        return Err(ScimError::bad_request(
                            "noTarget",
                            format!("no element of {} matches the filter", t.name),
                        ));
                    }
                }
                arr.push(Value::Object(fresh));
            }
        }
    }
    Ok(())
}

fn remove(doc: &mut Value, t: &Target, value: Option<Value>) -> Result<(), ScimError> {
    let obj = container(doc, t)?;
    let k = key_of(obj, &t.name);
    match (&t.filter, &t.sub) {
        (None, None) => match (obj.get_mut(&k), value) {
            // Entra removes members by listing them: {"path":"members","value":[{"value":id}]}.
            (Some(Value::Array(arr)), Some(Value::Array(gone))) => {
                let gone: Vec<&Value> = gone.iter().filter_map(|g| get_ci(g, "value")).collect();
                arr.retain(|el| !get_ci(el, "value").is_some_and(|v| gone.contains(&v)));
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
            if let Some(Value::Array(arr)) = obj.get_mut(&k) {
                arr.retain(|el| !filter::matches(f, el));
            }
        }
        (Some(f), Some(sub)) => {
            if let Some(Value::Array(arr)) = obj.get_mut(&k) {
                for el in arr.iter_mut().filter(|el| filter::matches(f, el)) {
                    if let Some(m) = el.as_object_mut() {
                        let sk = key_of(m, sub);
                        m.remove(&sk);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Applies the operations to `doc` in order; any failure leaves the caller's resource
/// unchanged (the caller writes only a fully patched document).
pub fn apply(doc: &mut Value, req: PatchRequest) -> Result<(), ScimError> {
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
        match (kind.as_str(), op.path.as_deref()) {
            ("add" | "replace", None) => {
                let Some(Value::Object(fields)) = op.value else {
                    return Err(ScimError::bad_request(
                        "invalidValue",
                        "an operation without a path needs an object value",
                    ));
                };
                for (k, v) in fields {
                    let lower = k.to_ascii_lowercase();
                    if CORE.contains(&lower.as_str()) {
                        // The core schema's attributes, wrapped in their URN.
                        let Value::Object(inner) = v else {
                            return Err(invalid_path(format!("{k} must be an object")));
                        };
                        let root = object_mut(doc, "the resource")?;
                        for (ik, iv) in inner {
                            put(root, &ik, iv, kind == "add");
                        }
                    } else if (lower.starts_with("urn:") && !v.is_object())
                        || (!lower.starts_with("urn:") && k.contains('.'))
                    {
                        // "urn:...:User:manager" or "name.givenName": a path as a key (Entra).
                        add_or_replace(doc, &parse_path(&k)?, v, kind == "add")?;
                    } else {
                        let root = object_mut(doc, "the resource")?;
                        put(root, &k, v, kind == "add");
                    }
                }
            }
            ("add" | "replace", Some(path)) => {
                let t = parse_path(path)?;
                let value = op.value.ok_or_else(|| {
                    ScimError::bad_request("invalidValue", format!("{} needs a value", op.op))
                })?;
                add_or_replace(doc, &t, value, kind == "add")?;
            }
            ("remove", Some(path)) => remove(doc, &parse_path(path)?, op.value)?,
            ("remove", None) => {
                return Err(ScimError::bad_request(
                    "noTarget",
                    "a remove operation needs a path",
                ));
            }
            _ => {
                return Err(ScimError::bad_request(
                    "invalidSyntax",
                    format!("unknown PATCH operation {:?}", op.op),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(doc: &mut Value, ops: Value) -> Result<(), ScimError> {
        let req: PatchRequest = serde_json::from_value(json!({
            "schemas": [PATCH_SCHEMA], "Operations": ops
        }))
        .unwrap();
        apply(doc, req)
    }

    #[test]
    fn entra_and_okta_forms() {
        let mut d = json!({"userName": "a", "active": true, "name": {"givenName": "A"},
            "emails": [{"value": "a@x.test", "type": "work", "primary": true}]});
        patch(
            &mut d,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .unwrap();
        assert_eq!(d["active"], "False");
        patch(
            &mut d,
            json!([{"op": "replace", "value": {"active": true, "name": {"familyName": "B"}}}]),
        )
        .unwrap();
        assert_eq!(d["active"], true);
        assert_eq!(d["name"], json!({"givenName": "A", "familyName": "B"}));
        patch(&mut d, json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x.test"}])).unwrap();
        assert_eq!(d["emails"][0]["value"], "b@x.test");
        patch(&mut d, json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}])).unwrap();
        assert_eq!(
            d["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Sales"
        );
        patch(
            &mut d,
            json!([{"op": "Replace", "path": "name.givenName", "value": "Z"}]),
        )
        .unwrap();
        assert_eq!(d["name"]["givenName"], "Z");
        patch(
            &mut d,
            json!([{"op": "replace", "value": {"name.givenName": "Y",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"}}]),
        )
        .unwrap();
        assert_eq!(d["name"]["givenName"], "Y");
        assert_eq!(
            d["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            "7"
        );
    }

    #[test]
    fn members_are_added_and_removed_both_ways() {
        let mut g = json!({"displayName": "G", "members": []});
        patch(&mut g, json!([{"op": "Add", "path": "members", "value": [{"value": "1"}, {"value": "2"}, {"value": "3"}]}])).unwrap();
        patch(
            &mut g,
            json!([{"op": "add", "path": "members", "value": [{"value": "2"}]}]),
        )
        .unwrap();
        assert_eq!(g["members"].as_array().unwrap().len(), 3);
        // Okta: by filter. Entra: by value list.
        patch(
            &mut g,
            json!([{"op": "remove", "path": "members[value eq \"1\"]"}]),
        )
        .unwrap();
        patch(
            &mut g,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "3"}]}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value": "2"}]));
        patch(
            &mut g,
            json!([{"op": "replace", "path": "members", "value": []}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([]));
    }

    #[test]
    fn bad_operations_are_scim_errors() {
        let mut d = json!({"userName": "a"});
        for ops in [
            json!([{"op": "move", "path": "userName", "value": "b"}]),
            json!([{"op": "remove"}]),
            json!([{"op": "replace", "value": "x"}]),
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
            json!([{"op": "replace", "path": "a b", "value": "x"}]),
            json!([{"op": "replace", "path": "userName"}]),
        ] {
            assert!(patch(&mut d, ops.clone()).is_err(), "{ops}");
        }
    }
}
