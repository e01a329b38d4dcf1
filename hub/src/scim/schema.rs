//! Discovery (RFC 7643 §5-7, RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes[/{id}]`,
//! `/Schemas[/{uri}]`. The schemas are defined once here, as data: the same definitions are
//! published and decide what `attributes` / `excludedAttributes` return (`returned`).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ScimCtx, ScimError, respond};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Default,
    Request,
    Never,
}

impl Returned {
    fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Default => "default",
            Self::Request => "request",
            Self::Never => "never",
        }
    }
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub kind: &'static str,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: &'static str,
    pub returned: Returned,
    pub uniqueness: &'static str,
    pub sub: &'static [Attr],
    pub canonical: &'static [&'static str],
    pub reference_types: &'static [&'static str],
}

/// A single-valued, optional, read-write string returned by default.
const fn text(name: &'static str) -> Attr {
    Attr {
        name,
        kind: "string",
        multi: false,
        required: false,
        case_exact: false,
        mutability: "readWrite",
        returned: Returned::Default,
        uniqueness: "none",
        sub: &[],
        canonical: &[],
        reference_types: &[],
    }
}

const fn complex(name: &'static str, multi: bool, sub: &'static [Attr]) -> Attr {
    Attr {
        kind: "complex",
        multi,
        sub,
        ..text(name)
    }
}

const MULTI_SUB: [Attr; 4] = [
    text("value"),
    text("display"),
    Attr {
        canonical: &["work", "home", "other"],
        ..text("type")
    },
    Attr {
        kind: "boolean",
        ..text("primary")
    },
];

const PHONE_SUB: [Attr; 4] = [
    MULTI_SUB[0],
    MULTI_SUB[1],
    Attr {
        canonical: &["work", "home", "mobile", "fax", "pager", "other"],
        ..text("type")
    },
    MULTI_SUB[3],
];

const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        uniqueness: "server",
        ..text("userName")
    },
    Attr {
        case_exact: true,
        ..text("externalId")
    },
    complex(
        "name",
        false,
        &[text("formatted"), text("familyName"), text("givenName")],
    ),
    text("displayName"),
    complex("emails", true, &MULTI_SUB),
    complex("phoneNumbers", true, &PHONE_SUB),
    Attr {
        kind: "boolean",
        ..text("active")
    },
    Attr {
        mutability: "writeOnly",
        returned: Returned::Never,
        ..text("password")
    },
];

const ENTERPRISE_ATTRS: &[Attr] = &[
    text("employeeNumber"),
    text("costCenter"),
    text("organization"),
    text("division"),
    text("department"),
    complex(
        "manager",
        false,
        &[
            text("value"),
            Attr {
                kind: "reference",
                reference_types: &["User"],
                ..text("$ref")
            },
            Attr {
                mutability: "readOnly",
                ..text("displayName")
            },
        ],
    ),
];

const GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        ..text("displayName")
    },
    Attr {
        case_exact: true,
        ..text("externalId")
    },
    complex(
        "members",
        true,
        &[
            Attr {
                case_exact: true,
                mutability: "immutable",
                ..text("value")
            },
            Attr {
                mutability: "readOnly",
                ..text("display")
            },
            Attr {
                kind: "reference",
                case_exact: true,
                mutability: "immutable",
                reference_types: &["User", "Group"],
                ..text("$ref")
            },
            Attr {
                mutability: "immutable",
                canonical: &["User", "Group"],
                ..text("type")
            },
        ],
    ),
];

/// A schema the hub publishes.
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attrs: &'static [Attr],
}

pub const SCHEMAS: [Schema; 3] = [
    Schema {
        id: USER,
        name: "User",
        description: "A person of the organization",
        attrs: USER_ATTRS,
    },
    Schema {
        id: ENTERPRISE,
        name: "EnterpriseUser",
        description: "Enterprise attributes, kept as the directory sends them",
        attrs: ENTERPRISE_ATTRS,
    },
    Schema {
        id: GROUP,
        name: "Group",
        description: "A group of the organization's people",
        attrs: GROUP_ATTRS,
    },
];

/// A resource type: its core schema and extensions.
#[derive(Debug, Clone, Copy)]
pub struct ResourceType {
    pub id: &'static str,
    pub endpoint: &'static str,
    pub schema: &'static str,
    pub extensions: &'static [&'static str],
}

pub const USERS: ResourceType = ResourceType {
    id: "User",
    endpoint: "/Users",
    schema: USER,
    extensions: &[ENTERPRISE],
};
pub const GROUPS: ResourceType = ResourceType {
    id: "Group",
    endpoint: "/Groups",
    schema: GROUP,
    extensions: &[],
};
const RESOURCE_TYPES: [ResourceType; 2] = [USERS, GROUPS];

/// The schema published under `urn` (case-insensitive, as SCIM URNs are).
pub fn schema(urn: &str) -> Option<&'static Schema> {
    SCHEMAS.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
}

/// How an attribute of a resource type is returned: `id` and `schemas` always, others as
/// their definition says; attributes the hub keeps without modelling them by default.
pub fn returned(
    rt: &ResourceType,
    schema_urn: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> Returned {
    if schema_urn.is_none()
        && (name.eq_ignore_ascii_case("id") || name.eq_ignore_ascii_case("schemas"))
    {
        return Returned::Always;
    }
    let urn = schema_urn.unwrap_or(rt.schema);
    let Some(attr) =
        schema(urn).and_then(|s| s.attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
    else {
        return Returned::Default;
    };
    match sub.and_then(|s| attr.sub.iter().find(|a| a.name.eq_ignore_ascii_case(s))) {
        Some(s) if attr.returned != Returned::Never => s.returned,
        _ => attr.returned,
    }
}

fn attr_json(a: &Attr) -> Value {
    let mut v = json!({
        "name": a.name, "type": a.kind, "multiValued": a.multi, "required": a.required,
        "caseExact": a.case_exact, "mutability": a.mutability,
        "returned": a.returned.as_str(), "uniqueness": a.uniqueness,
    });
    if !a.sub.is_empty() {
        v["subAttributes"] = a.sub.iter().map(attr_json).collect();
    }
    if !a.canonical.is_empty() {
        v["canonicalValues"] = json!(a.canonical);
    }
    if !a.reference_types.is_empty() {
        v["referenceTypes"] = json!(a.reference_types);
    }
    v
}

fn schema_json(s: &Schema, base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": s.id, "name": s.name, "description": s.description,
        "attributes": s.attrs.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id)},
    })
}

fn resource_type_json(rt: &ResourceType, base: &str) -> Value {
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": rt.id, "name": rt.id, "endpoint": rt.endpoint, "schema": rt.schema,
        "meta": {"resourceType": "ResourceType",
                 "location": format!("{base}/ResourceTypes/{}", rt.id)},
    });
    if !rt.extensions.is_empty() {
        v["schemaExtensions"] = rt
            .extensions
            .iter()
            .map(|e| json!({"schema": e, "required": false}))
            .collect();
    }
    v
}

fn list(items: Vec<Value>) -> Value {
    super::list_response(items.len() as u64, 1, items)
}

pub async fn service_provider_config(ctx: ScimCtx) -> Response {
    let mut doc = Map::new();
    doc.insert(
        "schemas".into(),
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]),
    );
    doc.insert(
        "documentationUri".into(),
        json!(format!("{}/ServiceProviderConfig", ctx.base)),
    );
    doc.insert("patch".into(), json!({"supported": true}));
    // `/Bulk` answers 501; `/Users/.search` and `/Groups/.search` are served (RFC 7644 §3.4.3).
    doc.insert(
        "bulk".into(),
        json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0}),
    );
    doc.insert(
        "filter".into(),
        json!({"supported": true, "maxResults": super::list::MAX_COUNT}),
    );
    doc.insert("changePassword".into(), json!({"supported": false}));
    doc.insert("sort".into(), json!({"supported": false}));
    doc.insert("etag".into(), json!({"supported": true}));
    doc.insert(
        "authenticationSchemes".into(),
        json!([{
            "type": "oauthbearertoken", "name": "Bearer token", "primary": true,
            "description": "A token issued for the directory through the hub's admin API",
        }]),
    );
    doc.insert(
        "meta".into(),
        json!({"resourceType": "ServiceProviderConfig",
               "location": format!("{}/ServiceProviderConfig", ctx.base)}),
    );
    respond(StatusCode::OK, &Value::Object(doc))
}

pub async fn resource_types(ctx: ScimCtx) -> Response {
    respond(
        StatusCode::OK,
        &list(
            RESOURCE_TYPES
                .iter()
                .map(|rt| resource_type_json(rt, &ctx.base))
                .collect(),
        ),
    )
}

pub async fn resource_type(
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let rt = RESOURCE_TYPES
        .iter()
        .find(|rt| rt.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::not_found("ResourceType"))?;
    Ok(respond(StatusCode::OK, &resource_type_json(rt, &ctx.base)))
}

pub async fn schemas(ctx: ScimCtx) -> Response {
    respond(
        StatusCode::OK,
        &list(SCHEMAS.iter().map(|s| schema_json(s, &ctx.base)).collect()),
    )
}

pub async fn get_schema(
    ctx: ScimCtx,
    Path((_, uri)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let s = schema(&uri).ok_or_else(|| ScimError::not_found("Schema"))?;
    Ok(respond(StatusCode::OK, &schema_json(s, &ctx.base)))
}
