//! The OpenAPI 3.1 document of the admin API, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    api_keys, applications, audit, connections, deprovisioning, directories, domains, evidence,
    operator, orgs, spaces, users,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Federation hub admin API", version = "1",
        description = "Organizations, verified domains, applications, API keys, users, connections, \
            directories, deprovisioning (leavers, deliveries), spaces shared across organizations by \
            mutual consent, and the audit log. \
            Authenticate with `Authorization: Bearer <api key>`. Errors are RFC 9457 problem JSON."),
    paths(
        orgs::list_orgs, orgs::create_org, orgs::get_org, orgs::update_org, orgs::get_roles,
        orgs::put_roles,
        domains::list_domains, domains::add_domain, domains::get_domain, domains::verify_domain,
        domains::attest_domain, domains::remove_domain,
        applications::list_apps, applications::create_app, applications::get_app,
        applications::update_app, applications::rotate_app_secret, applications::delete_app,
        api_keys::list_keys, api_keys::create_key, api_keys::get_key, api_keys::revoke_key,
        users::list_users, users::create_user, users::get_user, users::update_user,
        connections::list_connections, connections::create_connection, connections::get_connection,
        connections::update_connection, connections::delete_connection, connections::test_connection,
        connections::approve_connection,
        directories::list_directories, directories::create_directory, directories::get_directory,
        directories::list_tokens, directories::create_token, directories::revoke_token,
        directories::sync_directory, directories::list_syncs, directories::confirm_sync,
        directories::update_directory,
        deprovisioning::list_leavers, deprovisioning::get_leaver, deprovisioning::list_deliveries,
        deprovisioning::retry_delivery, deprovisioning::get_summary, deprovisioning::deprovision_user,
        spaces::list_spaces, spaces::create_space, spaces::get_space, spaces::update_space,
        spaces::delete_space, spaces::list_grants, spaces::propose_grant, spaces::withdraw_grant,
        spaces::list_invitations, spaces::accept_invitation, spaces::decline_invitation,
        spaces::withdraw_invitation, spaces::access_review, spaces::update_grant,
        spaces::review_grant, spaces::review_invitation, spaces::recertification,
        operator::list_requests, operator::approve_request, operator::reject_request,
        operator::list_break_glass, operator::open_break_glass, operator::review_break_glass,
        audit::list_audit, audit::list_org_audit, audit::export_audit, audit::list_checkpoints,
        evidence::get_checkpoint, evidence::get_key, evidence::get_consistency,
        evidence::get_proofs, evidence::post_cosignature, evidence::list_witnesses,
        evidence::add_witness, evidence::remove_witness, evidence::list_evidence,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn get_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
