//! Admin REST API under `/api/v1`: JSON in and out, RFC 9457 problem JSON on error, an OpenAPI
//! document at `/api/v1/openapi.json`. Every organization route resolves `{org}` through
//! `OrgCtx`, which answers 404 to a key of another organization.

use axum::Router;
use axum::routing::{get, patch, post};

use crate::state::AppState;

mod api_keys;
mod applications;
mod audit;
mod connections;
mod deprovisioning;
mod directories;
mod domains;
mod evidence;
mod openapi;
mod operator;
mod orgs;
mod spaces;
mod users;
mod views;

pub use openapi::ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::get_openapi))
        .route("/api/v1/orgs", get(orgs::list_orgs).post(orgs::create_org))
        .route(
            "/api/v1/orgs/{org}",
            get(orgs::get_org).patch(orgs::update_org),
        )
        .route(
            "/api/v1/orgs/{org}/roles",
            get(orgs::get_roles).put(orgs::put_roles),
        )
        .route(
            "/api/v1/orgs/{org}/domains",
            get(domains::list_domains).post(domains::add_domain),
        )
        .route(
            "/api/v1/orgs/{org}/domains/{domain}",
            get(domains::get_domain).delete(domains::remove_domain),
        )
        .route(
            "/api/v1/orgs/{org}/domains/{domain}/verify",
            post(domains::verify_domain),
        )
        .route(
            "/api/v1/orgs/{org}/domains/{domain}/attest",
            post(domains::attest_domain),
        )
        .route(
            "/api/v1/orgs/{org}/applications",
            get(applications::list_apps).post(applications::create_app),
        )
        .route(
            "/api/v1/orgs/{org}/applications/{app_id}",
            get(applications::get_app)
                .patch(applications::update_app)
                .delete(applications::delete_app),
        )
        .route(
            "/api/v1/orgs/{org}/applications/{app_id}/secret",
            post(applications::rotate_app_secret),
        )
        .route(
            "/api/v1/orgs/{org}/api-keys",
            get(api_keys::list_keys).post(api_keys::create_key),
        )
        .route(
            "/api/v1/orgs/{org}/api-keys/{key_id}",
            get(api_keys::get_key).delete(api_keys::revoke_key),
        )
        .route(
            "/api/v1/orgs/{org}/users",
            get(users::list_users).post(users::create_user),
        )
        .route(
            "/api/v1/orgs/{org}/users/{user_id}",
            get(users::get_user).patch(users::update_user),
        )
        .route(
            "/api/v1/orgs/{org}/users/{user_id}/deprovision",
            post(deprovisioning::deprovision_user),
        )
        .route(
            "/api/v1/orgs/{org}/leavers",
            get(deprovisioning::list_leavers),
        )
        .route(
            "/api/v1/orgs/{org}/leavers/{leaver_id}",
            get(deprovisioning::get_leaver),
        )
        .route(
            "/api/v1/orgs/{org}/deliveries",
            get(deprovisioning::list_deliveries),
        )
        .route(
            "/api/v1/orgs/{org}/deliveries/{delivery_id}/retry",
            post(deprovisioning::retry_delivery),
        )
        .route(
            "/api/v1/orgs/{org}/deprovisioning",
            get(deprovisioning::get_summary),
        )
        .route(
            "/api/v1/orgs/{org}/directories",
            get(directories::list_directories).post(directories::create_directory),
        )
        .route(
            "/api/v1/orgs/{org}/directories/{directory_id}",
            get(directories::get_directory).patch(directories::update_directory),
        )
        .route(
            "/api/v1/orgs/{org}/directories/{directory_id}/sync",
            post(directories::sync_directory),
        )
        .route(
            "/api/v1/orgs/{org}/directories/{directory_id}/syncs",
            get(directories::list_syncs),
        )
        .route(
            "/api/v1/orgs/{org}/directories/{directory_id}/syncs/{sync_id}/confirm",
            post(directories::confirm_sync),
        )
        .route(
            "/api/v1/orgs/{org}/directories/{directory_id}/scim-tokens",
            get(directories::list_tokens).post(directories::create_token),
        )
        .route(
            "/api/v1/orgs/{org}/directories/{directory_id}/scim-tokens/{token_id}",
            axum::routing::delete(directories::revoke_token),
        )
        .route(
            "/api/v1/orgs/{org}/connections",
            get(connections::list_connections).post(connections::create_connection),
        )
        .route(
            "/api/v1/orgs/{org}/connections/{connection_id}",
            get(connections::get_connection)
                .patch(connections::update_connection)
                .delete(connections::delete_connection),
        )
        .route(
            "/api/v1/orgs/{org}/connections/{connection_id}/test",
            post(connections::test_connection),
        )
        .route(
            "/api/v1/orgs/{org}/connections/{connection_id}/approve",
            post(connections::approve_connection),
        )
        .route(
            "/api/v1/orgs/{org}/spaces",
            get(spaces::list_spaces).post(spaces::create_space),
        )
        .route(
            "/api/v1/orgs/{org}/spaces/{space}",
            get(spaces::get_space)
                .patch(spaces::update_space)
                .delete(spaces::delete_space),
        )
        .route(
            "/api/v1/orgs/{org}/spaces/{space}/grants",
            get(spaces::list_grants).post(spaces::propose_grant),
        )
        .route(
            "/api/v1/orgs/{org}/spaces/{space}/grants/{grant_id}",
            patch(spaces::update_grant),
        )
        .route(
            "/api/v1/orgs/{org}/spaces/{space}/grants/{grant_id}/withdraw",
            post(spaces::withdraw_grant),
        )
        .route(
            "/api/v1/orgs/{org}/spaces/{space}/grants/{grant_id}/review",
            post(spaces::review_grant),
        )
        .route(
            "/api/v1/orgs/{org}/invitations/{grant_id}/review",
            post(spaces::review_invitation),
        )
        .route(
            "/api/v1/orgs/{org}/recertification",
            get(spaces::recertification),
        )
        .route(
            "/api/v1/orgs/{org}/operator-requests",
            get(operator::list_requests),
        )
        .route(
            "/api/v1/orgs/{org}/operator-requests/{request_id}/approve",
            post(operator::approve_request),
        )
        .route(
            "/api/v1/orgs/{org}/operator-requests/{request_id}/reject",
            post(operator::reject_request),
        )
        .route(
            "/api/v1/orgs/{org}/break-glass",
            get(operator::list_break_glass).post(operator::open_break_glass),
        )
        .route(
            "/api/v1/orgs/{org}/break-glass/{window_id}/review",
            post(operator::review_break_glass),
        )
        .route(
            "/api/v1/orgs/{org}/invitations",
            get(spaces::list_invitations),
        )
        .route(
            "/api/v1/orgs/{org}/invitations/{grant_id}/accept",
            post(spaces::accept_invitation),
        )
        .route(
            "/api/v1/orgs/{org}/invitations/{grant_id}/decline",
            post(spaces::decline_invitation),
        )
        .route(
            "/api/v1/orgs/{org}/invitations/{grant_id}/withdraw",
            post(spaces::withdraw_invitation),
        )
        .route(
            "/api/v1/orgs/{org}/access-review",
            get(spaces::access_review),
        )
        .route("/api/v1/orgs/{org}/audit", get(audit::list_org_audit))
        .route("/api/v1/audit", get(audit::list_audit))
        .route("/api/v1/audit/export", get(audit::export_audit))
        .route("/api/v1/audit/checkpoints", get(audit::list_checkpoints))
        .route(
            "/api/v1/audit/log/checkpoint",
            get(evidence::get_checkpoint),
        )
        .route("/api/v1/audit/log/key", get(evidence::get_key))
        .route(
            "/api/v1/audit/log/consistency",
            get(evidence::get_consistency),
        )
        .route("/api/v1/orgs/{org}/audit/proofs", get(evidence::get_proofs))
        .route("/api/v1/orgs/{org}/evidence", get(evidence::list_evidence))
        .route(
            "/api/v1/audit/log/cosignatures",
            post(evidence::post_cosignature),
        )
        .route(
            "/api/v1/orgs/{org}/witnesses",
            get(evidence::list_witnesses).post(evidence::add_witness),
        )
        .route(
            "/api/v1/orgs/{org}/witnesses/{witness_id}",
            axum::routing::delete(evidence::remove_witness),
        )
}
