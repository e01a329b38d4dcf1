//! Discovery: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7643 §5-7).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{ScimCtx, respond};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn list(items: Vec<Value>) -> Value {
    super::list_response(items.len() as u64, 1, items)
}

pub async fn service_provider_config(ctx: ScimCtx) -> Response {
    respond(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": format!("{}/ServiceProviderConfig", ctx.base),
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": super::users::MAX_COUNT},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "Bearer token", "primary": true,
                "description": "A token issued for the directory through the hub's admin API",
            }],
            "meta": {"resourceType": "ServiceProviderConfig",
                     "location": format!("{}/ServiceProviderConfig", ctx.base)},
        }),
    )
}

pub async fn resource_types(ctx: ScimCtx) -> Response {
    respond(
        StatusCode::OK,
        &list(vec![
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": "User", "name": "User", "endpoint": "/Users", "schema": USER,
                "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
                "meta": {"resourceType": "ResourceType", "location": format!("{}/ResourceTypes/User", ctx.base)},
            }),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": "Group", "name": "Group", "endpoint": "/Groups", "schema": GROUP,
                "meta": {"resourceType": "ResourceType", "location": format!("{}/ResourceTypes/Group", ctx.base)},
            }),
        ]),
    )
}

fn attr(
    name: &str,
    kind: &str,
    multi: bool,
    required: bool,
    case_exact: bool,
    uniqueness: &str,
) -> Value {
    json!({"name": name, "type": kind, "multiValued": multi, "required": required,
           "caseExact": case_exact, "mutability": "readWrite", "returned": "default",
           "uniqueness": uniqueness})
}

pub async fn schemas(ctx: ScimCtx) -> Response {
    let user = json!({
        "id": USER, "name": "User", "description": "A person of the organization",
        "attributes": [
            attr("userName", "string", false, true, false, "server"),
            attr("externalId", "string", false, false, true, "none"),
            {"name": "name", "type": "complex", "multiValued": false, "required": false,
             "subAttributes": [attr("givenName", "string", false, false, false, "none"),
                               attr("familyName", "string", false, false, false, "none"),
                               attr("formatted", "string", false, false, false, "none")]},
            attr("displayName", "string", false, false, false, "none"),
            {"name": "emails", "type": "complex", "multiValued": true, "required": false,
             "subAttributes": [attr("value", "string", false, false, false, "server"),
                               attr("type", "string", false, false, false, "none"),
                               attr("primary", "boolean", false, false, false, "none")]},
            attr("active", "boolean", false, false, false, "none"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{}/Schemas/{USER}", ctx.base)},
    });
    let enterprise = json!({
        "id": ENTERPRISE, "name": "EnterpriseUser",
        "description": "Kept as the directory sends it",
        "attributes": [
            attr("employeeNumber", "string", false, false, false, "none"),
            attr("department", "string", false, false, false, "none"),
            attr("organization", "string", false, false, false, "none"),
            attr("costCenter", "string", false, false, false, "none"),
            attr("division", "string", false, false, false, "none"),
            {"name": "manager", "type": "complex", "multiValued": false, "required": false,
             "subAttributes": [attr("value", "string", false, false, false, "none")]},
        ],
        "meta": {"resourceType": "Schema", "location": format!("{}/Schemas/{ENTERPRISE}", ctx.base)},
    });
    let group = json!({
        "id": GROUP, "name": "Group", "description": "A group of the organization's people",
        "attributes": [
            attr("displayName", "string", false, true, false, "none"),
            attr("externalId", "string", false, false, true, "none"),
            {"name": "members", "type": "complex", "multiValued": true, "required": false,
             "subAttributes": [attr("value", "string", false, false, true, "none"),
                               attr("display", "string", false, false, false, "none")]},
        ],
        "meta": {"resourceType": "Schema", "location": format!("{}/Schemas/{GROUP}", ctx.base)},
    });
    respond(StatusCode::OK, &list(vec![user, enterprise, group]))
}
