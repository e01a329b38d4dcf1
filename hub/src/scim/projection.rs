//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes an answer
//! carries, on every read and write that returns a resource and on `.search`. `returned` from
//! the published schemas decides: `always` (`id`, `schemas`) cannot be left out, `never`
//! (`password`) is never returned, `request` only when named; `default` is returned unless
//! `attributes` names others or `excludedAttributes` names it. Names are case-insensitive and
//! may carry a schema URN (`urn:...:enterprise:2.0:User:department`) or be a URN alone (the
//! whole extension). `schemas` lists only the extensions the answer still holds.

use serde_json::{Map, Value};

use super::schema::{ResourceType, Returned, returned};

/// The most names one parameter may list.
const MAX_NAMES: usize = 100;

/// One name of `attributes` / `excludedAttributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Name {
    /// The extension URN (as published), or `None` for the core schema.
    schema: Option<String>,
    /// Empty: the whole extension.
    attr: String,
    sub: Option<String>,
}

impl Name {
    fn parse(raw: &str, rt: &ResourceType) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let lower = raw.to_ascii_lowercase();
        let mut schemas: Vec<&str> = vec![rt.schema];
        schemas.extend(rt.extensions);
        for urn in schemas {
            let u = urn.to_ascii_lowercase();
            let schema = (urn != rt.schema).then(|| urn.to_string());
            if lower == u {
                return schema.map(|schema| Self {
                    schema: Some(schema),
                    attr: String::new(),
                    sub: None,
                });
            }
            if let Some(rest) = lower.strip_prefix(&u).and_then(|r| r.strip_prefix(':')) {
                let (attr, sub) = split(rest);
                return Some(Self { schema, attr, sub });
            }
        }
        if raw.contains(':') {
            // An extension object the hub keeps without modelling it: by its key, whole.
            return Some(Self {
                schema: None,
                attr: lower,
                sub: None,
            });
        }
        let (attr, sub) = split(&lower);
        Some(Self {
            schema: None,
            attr,
            sub,
        })
    }

    /// Whether this names attribute `attr` of `schema` (or its whole extension).
    fn addresses(&self, schema: Option<&str>, attr: &str) -> bool {
        let same_schema = match (&self.schema, schema) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        same_schema && (self.attr.is_empty() || self.attr.eq_ignore_ascii_case(attr))
    }
}

fn split(s: &str) -> (String, Option<String>) {
    match s.split_once('.') {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (s.to_string(), None),
    }
}

/// What an answer carries, from the request's `attributes` and `excludedAttributes`.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    attributes: Vec<String>,
    excluded: Vec<String>,
}

impl Projection {
    /// From comma-separated lists (query parameters) or JSON arrays (a SearchRequest), each
    /// entry possibly itself comma-separated.
    pub fn new<'a>(
        attributes: impl IntoIterator<Item = &'a str>,
        excluded: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let names = |it: &mut dyn Iterator<Item = &'a str>| -> Vec<String> {
            it.flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .take(MAX_NAMES)
                .map(str::to_string)
                .collect()
        };
        Self {
            attributes: names(&mut attributes.into_iter()),
            excluded: names(&mut excluded.into_iter()),
        }
    }

    /// From a request's query string.
    pub fn from_query(query: &Option<String>) -> Self {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let of = |name: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect()
        };
        Self::new(of("attributes"), of("excludedAttributes"))
    }

    fn names(list: &[String], rt: &ResourceType) -> Vec<Name> {
        list.iter().filter_map(|s| Name::parse(s, rt)).collect()
    }

    /// Whether the answer will hold core attribute `attr` (to skip loading what is left out,
    /// such as a large group's members).
    pub fn includes(&self, rt: &ResourceType, attr: &str) -> bool {
        self.project_attr(
            rt,
            &Self::names(&self.attributes, rt),
            &Self::names(&self.excluded, rt),
            None,
            attr,
            Value::Array(Vec::new()),
        )
        .is_some()
    }

    /// The resource `doc` (of type `rt`) as the request asked for it.
    pub fn apply(&self, rt: &ResourceType, doc: Value) -> Value {
        let Value::Object(obj) = doc else {
            return doc;
        };
        let wanted = Self::names(&self.attributes, rt);
        let excluded = Self::names(&self.excluded, rt);
        let mut out = Map::new();
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let extension = rt.extensions.iter().find(|e| e.eq_ignore_ascii_case(&k));
            match (extension, v) {
                (Some(urn), Value::Object(fields)) => {
                    let mut kept = Map::new();
                    for (fk, fv) in fields {
                        if let Some(fv) =
                            self.project_attr(rt, &wanted, &excluded, Some(urn), &fk, fv)
                        {
                            kept.insert(fk, fv);
                        }
                    }
                    if !kept.is_empty() {
                        out.insert(k, Value::Object(kept));
                    }
                }
                (_, v) => {
                    if let Some(v) = self.project_attr(rt, &wanted, &excluded, None, &k, v) {
                        out.insert(k, v);
                    }
                }
            }
        }
        let mut schemas = vec![Value::String(rt.schema.to_string())];
        for e in rt.extensions {
            if out.keys().any(|k| k.eq_ignore_ascii_case(e)) {
                schemas.push(Value::String((*e).to_string()));
            }
        }
        let mut doc = Map::new();
        doc.insert("schemas".into(), Value::Array(schemas));
        doc.extend(out);
        Value::Object(doc)
    }

    /// One attribute's value as the answer carries it, or `None` when it is left out.
    fn project_attr(
        &self,
        rt: &ResourceType,
        wanted: &[Name],
        excluded: &[Name],
        schema: Option<&str>,
        attr: &str,
        value: Value,
    ) -> Option<Value> {
        match returned(rt, schema, attr, None) {
            Returned::Never => return None,
            Returned::Always => return Some(value),
            Returned::Request | Returned::Default => {}
        }
        let asked: Vec<&Name> = wanted
            .iter()
            .filter(|n| n.addresses(schema, attr))
            .collect();
        let mut value = if !wanted.is_empty() {
            if asked.is_empty() {
                return None;
            }
            if asked.iter().any(|n| n.attr.is_empty() || n.sub.is_none()) {
                value
            } else {
                let subs: Vec<&str> = asked.iter().filter_map(|n| n.sub.as_deref()).collect();
                keep_subs(value, &subs)
            }
        } else if returned(rt, schema, attr, None) == Returned::Request {
            return None;
        } else {
            value
        };
        let gone: Vec<&Name> = excluded
            .iter()
            .filter(|n| n.addresses(schema, attr))
            .collect();
        if gone.iter().any(|n| n.attr.is_empty() || n.sub.is_none()) {
            return None;
        }
        let subs: Vec<&str> = gone.iter().filter_map(|n| n.sub.as_deref()).collect();
        if !subs.is_empty() {
            value = drop_subs(value, &subs);
        }
        Some(value)
    }
}

fn filter_keys(v: Value, keep: &dyn Fn(&str) -> bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(k, _)| keep(k)).collect()),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| match i {
                    Value::Object(m) => {
                        Value::Object(m.into_iter().filter(|(k, _)| keep(k)).collect())
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

fn keep_subs(v: Value, subs: &[&str]) -> Value {
    filter_keys(v, &|k| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
}

fn drop_subs(v: Value, subs: &[&str]) -> Value {
    filter_keys(v, &|k| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::schema::{ENTERPRISE, GROUPS, USER, USERS};
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({"schemas": [USER, ENTERPRISE], "id": "1", "userName": "a",
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x.test", "type": "work"}], "password": "p",
            ENTERPRISE: {"department": "D", "costCenter": "C"}, "meta": {"version": "W/\"1\""}})
    }

    #[test]
    fn attributes_keep_only_what_is_named_and_what_is_always_returned() {
        let p = Projection::new(["userName,name.givenName"], []);
        assert_eq!(
            p.apply(&USERS, user()),
            json!({"schemas": [USER], "id": "1", "userName": "a", "name": {"givenName": "A"}})
        );
        let p = Projection::new([&*format!("{ENTERPRISE}:department"), "EMAILS.value"], []);
        assert_eq!(
            p.apply(&USERS, user()),
            json!({"schemas": [USER, ENTERPRISE], "id": "1",
                "emails": [{"value": "a@x.test"}], ENTERPRISE: {"department": "D"}})
        );
        let p = Projection::new([ENTERPRISE], []);
        assert_eq!(
            p.apply(&USERS, user())[ENTERPRISE],
            json!({"department": "D", "costCenter": "C"})
        );
    }

    #[test]
    fn excluded_attributes_never_drop_what_is_always_returned() {
        let p = Projection::new([], ["id,schemas,name.familyName,meta", ENTERPRISE]);
        let v = p.apply(&USERS, user());
        assert_eq!(v["id"], "1");
        assert_eq!(v["schemas"], json!([USER]));
        assert_eq!(v["name"], json!({"givenName": "A"}));
        assert!(v.get("meta").is_none() && v.get(ENTERPRISE).is_none());
        assert!(v.get("password").is_none(), "never returned");
        assert!(!Projection::new([], ["members"]).includes(&GROUPS, "members"));
        assert!(!Projection::new(["displayName"], []).includes(&GROUPS, "members"));
        assert!(Projection::new(["members.value"], []).includes(&GROUPS, "members"));
        assert!(Projection::default().includes(&GROUPS, "members"));
    }
}
