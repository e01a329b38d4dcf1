//! PATCH engine tests: the forms Okta and Entra send, bad operations, and properties (no
//! input panics; paths print and parse back; replace then read gives the value back).
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn patch(doc: &mut Value, ops: Value) -> Result<(), ScimError> {
    let req: PatchRequest = serde_json::from_value(json!({
        "schemas": [PATCH_SCHEMA], "Operations": ops
    }))
    .unwrap();
    let rt = if get_ci(doc, "members").is_some() {
        &super::super::schema::GROUPS
    } else {
        &super::super::schema::USERS
    };
    apply(doc, req, rt)
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
    patch(
        &mut d,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x.test"}]),
    )
    .unwrap();
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

#[test]
fn extension_urn_paths_resolve_to_the_extension_object() {
    use super::super::schema::{ENTERPRISE, USERS};
    let doc = json!({"userName": "a", ENTERPRISE: {"department": "D"}});
    let t = parse_path(ENTERPRISE, &USERS, &doc).unwrap();
    assert_eq!((t.extension.as_deref(), t.name), (Some(ENTERPRISE), None));
    let t = parse_path(&format!("{ENTERPRISE}:manager.value"), &USERS, &doc).unwrap();
    assert_eq!(t.name.as_deref(), Some("manager"));
    assert_eq!(t.sub.as_deref(), Some("value"));
    let t = parse_path(&format!("{}:name.givenName", USERS.schema), &USERS, &doc).unwrap();
    assert_eq!((t.extension, t.name.as_deref()), (None, Some("name")));
    for bad in [
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0",
        "urn:ietf:params:scim:schemas:extension:nope:2.0:User:x",
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "name.givenName.x",
        "emails.value[type eq \"work\"]",
        "emails[type eq \"work\"]x",
        "a\nb",
    ] {
        let e = parse_path(bad, &USERS, &doc).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidPath"), "{bad}");
    }
}

mod props {
    use super::super::super::filter::tests::props::filter;
    use super::super::super::schema::{ENTERPRISE, GROUPS, USERS};
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i16>().prop_map(|n| json!(n)),
            "[a-z@.]{0,8}".prop_map(Value::String),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("value".to_string()),
                        Just("type".to_string()),
                        Just("primary".to_string()),
                        Just("display".to_string()),
                        Just("emails".to_string()),
                        Just(ENTERPRISE.to_string()),
                        "[a-zA-Z.:]{1,6}",
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A path near the grammar: an optional known URN, an attribute, a value filter, a sub.
    fn path_text() -> impl Strategy<Value = String> {
        (
            prop_oneof![
                Just(String::new()),
                Just(format!("{ENTERPRISE}:")),
                Just(format!("{}:", USERS.schema)),
            ],
            "[a-zA-Z][a-zA-Z0-9_]{0,6}",
            proptest::option::of(filter()),
            proptest::option::of("[a-zA-Z][a-zA-Z0-9]{0,5}"),
        )
            .prop_map(|(urn, name, f, sub)| {
                let mut s = format!("{urn}{name}");
                if let Some(f) = f {
                    s.push_str(&format!("[{f}]"));
                }
                if let Some(sub) = sub {
                    s.push_str(&format!(".{sub}"));
                }
                s
            })
            // A filter's string values may hold anything; a path never holds control or line
            // separator characters (refused as `invalidPath`, which another property covers).
            .prop_filter("a path has no control characters", |s| {
                !s.chars().any(crate::users::names::is_control)
            })
    }

    fn op() -> impl Strategy<Value = Value> {
        (
            prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("move"),],
            proptest::option::of(prop_oneof![
                path_text(),
                "\\PC{0,40}",
                Just("emails".to_string()),
                Just(ENTERPRISE.to_string()),
            ]),
            proptest::option::of(json_value()),
        )
            .prop_map(|(op, path, value)| {
                let mut o = json!({"op": op});
                if let Some(p) = path {
                    o["path"] = json!(p);
                }
                if let Some(v) = value {
                    o["value"] = v;
                }
                o
            })
    }

    fn user() -> Value {
        json!({"schemas": [USERS.schema], "userName": "a", "active": true,
            "name": {"givenName": "A"},
            "emails": [{"value": "a@x.test", "type": "work", "primary": true},
                       {"value": "b@x.test", "type": "home"}],
            ENTERPRISE: {"department": "D"}})
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_path_text_is_a_target_or_invalid_path(p in "\\PC{0,200}") {
            if let Err(e) = parse_path(&p, &USERS, &user()) {
                prop_assert_eq!(e.scim_type, Some("invalidPath"));
            }
        }

        #[test]
        fn paths_built_from_the_grammar_parse(p in path_text()) {
            let t = parse_path(&p, &USERS, &user());
            prop_assert!(t.is_ok(), "{} -> {:?}", p, t);
        }

        #[test]
        fn any_operations_apply_or_fail_cleanly(ops in proptest::collection::vec(op(), 0..12)) {
            for (mut doc, rt) in [(user(), &USERS), (json!({"displayName": "G", "members": []}), &GROUPS)] {
                let req = serde_json::from_value::<PatchRequest>(json!({"Operations": ops.clone()}));
                if let Ok(req) = req
                    && apply(&mut doc, req, rt).is_ok()
                {
                    prop_assert!(doc.is_object());
                }
            }
        }

        #[test]
        fn replace_then_read_gives_the_value_back(
            name in "[a-zA-Z][a-zA-Z0-9]{0,8}",
            sub in proptest::option::of("[a-zA-Z][a-zA-Z0-9]{0,8}"),
            v in "[ -~]{0,20}",
        ) {
            let mut doc = user();
            let path = match &sub { Some(s) => format!("{name}.{s}"), None => name.clone() };
            let req: PatchRequest = serde_json::from_value(json!({"Operations": [
                {"op": "replace", "path": path, "value": v}]})).unwrap();
            // A sub-attribute of an attribute that is not complex is refused; otherwise the
            // value reads back.
            if apply(&mut doc, req, &USERS).is_ok() {
                let top = get_ci(&doc, &name).unwrap();
                let got = match &sub { Some(s) => get_ci(top, s).unwrap(), None => top };
                prop_assert_eq!(got, &json!(v));
                let req: PatchRequest = serde_json::from_value(json!({"Operations": [
                    {"op": "remove", "path": path}]})).unwrap();
                apply(&mut doc, req, &USERS).unwrap();
                let gone = match &sub {
                    Some(s) => get_ci(&doc, &name).and_then(|t| get_ci(t, s)).is_none(),
                    None => get_ci(&doc, &name).is_none(),
                };
                prop_assert!(gone);
            }
        }

        #[test]
        fn one_new_primary_leaves_one_primary(v in "[a-z]{1,8}@x\\.test", kind in "[a-z]{0,6}") {
            let mut doc = user();
            let req: PatchRequest = serde_json::from_value(json!({"Operations": [
                {"op": "add", "path": "emails", "value": [{"value": v, "type": kind, "primary": true}]}]}))
                .unwrap();
            apply(&mut doc, req, &USERS).unwrap();
            let primaries = doc["emails"].as_array().unwrap().iter()
                .filter(|e| e["primary"] == json!(true)).count();
            prop_assert_eq!(primaries, 1);
        }
    }

    /// A group of 100,000 members taking 20,000 more in one operation, then losing them by
    /// value list: linear, not quadratic (a generous bound for a loaded debug build).
    #[test]
    fn large_member_lists_apply_in_linear_time() {
        let members: Vec<Value> = (0..100_000)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        let mut doc = json!({"displayName": "G", "members": members});
        let more: Vec<Value> = (90_000..110_000)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        let started = std::time::Instant::now();
        let req: PatchRequest = serde_json::from_value(json!({"Operations": [
            {"op": "add", "path": "members", "value": more.clone()},
            {"op": "remove", "path": "members", "value": more}]}))
        .unwrap();
        apply(&mut doc, req, &GROUPS).unwrap();
        assert_eq!(doc["members"].as_array().unwrap().len(), 90_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}
