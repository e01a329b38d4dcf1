//! sea-orm entities. Private to `storage`: repositories convert them to domain types.
//! Ids are stored as hyphenated UUID text and timestamps as Unix milliseconds, identically on
//! SQLite and PostgreSQL, so hashed audit records read back byte-for-byte on both.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod organization {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub slug: String,
        pub name: String,
        pub status: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod org_domain {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_domains")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub domain: String,
        pub status: String,
        pub method: Option<String>,
        pub challenge: String,
        pub verified_at: Option<i64>,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod application {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "applications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub client_id: String,
        pub name: String,
        pub client_type: String,
        pub secret_hash: Option<String>,
        pub redirect_uris: String,
        pub backchannel_logout_uri: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub token_endpoint_auth_method: String,
        pub id_token_signed_response_alg: String,
        pub jwks: Option<String>,
        pub post_logout_redirect_uris: String,
        pub allow_client_credentials: bool,
        pub spaces_required: bool,
        pub scim_target: Option<String>,
        pub webhook: Option<String>,
        pub require_pkce: bool,
        pub subject_type: String,
        pub release: String,
    }
    no_relations!();
}

pub mod api_key {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: Option<String>,
        pub name: String,
        pub role: String,
        pub key_hash: String,
        pub prefix: String,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
        pub expires_at: Option<i64>,
        pub orgs: Option<String>,
    }
    no_relations!();
}

pub mod operator_request {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "operator_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub kind: String,
        pub payload: String,
        pub requested_by: String,
        pub status: String,
        pub created_at: i64,
        pub decided_at: Option<i64>,
        pub decided_by: Option<String>,
    }
    no_relations!();
}

pub mod break_glass {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "break_glass")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub reason: String,
        pub opened_by: String,
        pub opened_at: i64,
        pub ends_at: i64,
        pub reviewed_at: Option<i64>,
        pub reviewed_by: Option<String>,
        pub review_note: Option<String>,
    }
    no_relations!();
}

pub mod audit_event {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub id: String,
        pub at_ms: i64,
        pub actor: String,
        pub orgs: String,
        pub action: String,
        pub target: String,
        pub details: String,
        pub prev_hash: String,
        pub hash: String,
    }
    no_relations!();
}

pub mod audit_event_org {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_event_orgs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
    }
    no_relations!();
}

pub mod audit_head {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_head")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub seq: i64,
        pub hash: String,
    }
    no_relations!();
}

pub mod audit_checkpoint {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_checkpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub hash: String,
        pub at_ms: i64,
        pub key_id: String,
        pub signature: String,
    }
    no_relations!();
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        pub purpose: String,
        pub alg: String,
        pub generation: i64,
        pub public_key: String,
        pub private_key_sealed: String,
        pub created_at: i64,
        pub not_before: i64,
        pub retired_at: Option<i64>,
    }
    no_relations!();
}

pub mod user {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub external_id: Option<String>,
        pub username: String,
        pub email: String,
        pub email_verified: bool,
        pub name: String,
        pub given_name: Option<String>,
        pub family_name: Option<String>,
        pub groups: String,
        pub status: String,
        pub status_reason: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub directory_id: Option<String>,
        pub version: i64,
        pub attributes: String,
        pub source_hash: Option<String>,
        pub source_version: Option<i64>,
        /// `users::names::username_key(username)`: uniqueness is checked on it.
        pub username_key: String,
        pub name_formatted: Option<String>,
        /// JSON array of `users::Email`.
        pub emails: String,
    }
    no_relations!();
}

pub mod directory {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directories")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub name: String,
        pub kind: String,
        pub status: String,
        pub settings: String,
        pub secret_sealed: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub sync_cursor: Option<String>,
        pub last_full_at: Option<i64>,
        pub last_incremental_at: Option<i64>,
    }
    no_relations!();
}

pub mod directory_sync {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "directory_syncs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub directory_id: String,
        pub status: String,
        pub started_at: i64,
        pub finished_at: Option<i64>,
        pub counts: String,
        pub held: String,
        pub error: Option<String>,
        pub mode: String,
        pub triggered_by: String,
        pub progress: i64,
    }
    no_relations!();
}

pub mod group {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub directory_id: Option<String>,
        pub display_name: String,
        pub external_id: Option<String>,
        pub version: i64,
        pub created_at: i64,
        pub updated_at: i64,
        pub source_hash: Option<String>,
    }
    no_relations!();
}

pub mod group_member {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "group_members")]
    pub struct Model {
        pub org_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
    }
    no_relations!();
}

pub mod scim_token {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scim_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub directory_id: String,
        pub name: String,
        pub token_hash: String,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }
    no_relations!();
}

pub mod oidc_session {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oidc_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub user_id: String,
        pub token_hash: String,
        pub auth_time: i64,
        pub created_at: i64,
        pub expires_at: i64,
        pub ended_at: Option<i64>,
        pub end_reason: Option<String>,
    }
    no_relations!();
}

pub mod oidc_session_app {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oidc_session_apps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub app_id: String,
        pub org_id: String,
        pub first_at: i64,
    }
    no_relations!();
}

pub mod oidc_auth_request {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oidc_auth_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub app_id: String,
        pub browser_hash: String,
        pub params: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub source_hash: Option<String>,
    }
    no_relations!();
}

pub mod oidc_code {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oidc_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub org_id: String,
        pub app_id: String,
        pub grant_id: String,
        pub user_id: String,
        pub session_id: String,
        pub redirect_uri: String,
        pub scope: String,
        pub nonce: Option<String>,
        pub code_challenge: Option<String>,
        pub auth_time: i64,
        pub created_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
    }
    no_relations!();
}

pub mod oidc_refresh_token {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oidc_refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub org_id: String,
        pub app_id: String,
        pub grant_id: String,
        pub user_id: String,
        pub session_id: Option<String>,
        pub scope: String,
        pub auth_time: i64,
        pub created_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }
    no_relations!();
}

pub mod oidc_revocation {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oidc_revocations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub kind: String,
        pub revoked_at: i64,
        pub expires_at: i64,
    }
    no_relations!();
}

pub mod oidc_client_assertion {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oidc_client_assertions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub jti: String,
        pub client_id: String,
        pub expires_at: i64,
    }
    no_relations!();
}

pub mod connection {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "connections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub name: String,
        pub kind: String,
        pub status: String,
        pub settings: String,
        pub domains: String,
        pub secret_sealed: Option<String>,
        pub jit_provisioning: bool,
        pub require_email_verified: bool,
        pub created_at: i64,
        pub updated_at: i64,
        pub links_approved_at: Option<i64>,
    }
    no_relations!();
}

pub mod identity_link {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub connection_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub issuer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        pub org_id: String,
        pub user_id: String,
        pub created_at: i64,
        pub last_login_at: i64,
    }
    no_relations!();
}

pub mod upstream_login {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upstream_logins")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub state_hash: String,
        pub org_id: String,
        pub connection_id: String,
        pub auth_request_id: String,
        pub browser_hash: String,
        pub connector_state: String,
        pub created_at: i64,
        pub expires_at: i64,
    }
    no_relations!();
}

pub mod saml_assertion {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "saml_assertions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub connection_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub assertion_id: String,
        pub expires_at: i64,
    }
    no_relations!();
}

pub mod lease {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "leases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub holder: String,
        pub acquired_at: i64,
        pub expires_at: i64,
    }
    no_relations!();
}

pub mod leaver {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "leavers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub user_id: String,
        pub source: String,
        pub reason: String,
        pub outcome: String,
        pub signal_at: i64,
        pub revoked_at: i64,
        pub deliveries: i64,
        pub completed_at: Option<i64>,
    }
    no_relations!();
}

pub mod outbox {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub app_id: String,
        pub user_id: String,
        pub leaver_id: Option<String>,
        pub kind: String,
        pub idempotency_key: String,
        pub payload: String,
        pub status: String,
        pub attempts: i64,
        pub next_attempt_at: i64,
        pub claimed_by: Option<String>,
        pub claimed_until: Option<i64>,
        pub last_error: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub delivered_at: Option<i64>,
    }
    no_relations!();
}

pub mod space {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "spaces")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub slug: String,
        pub name: String,
        pub description: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod space_app {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "space_apps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub space_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub app_id: String,
        pub org_id: String,
    }
    no_relations!();
}

pub mod space_grant {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "space_grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub space_id: String,
        pub org_id: String,
        pub partner_org_id: String,
        pub subject_kind: String,
        pub subject: String,
        pub status: String,
        pub proposed_at: i64,
        pub decided_at: Option<i64>,
        pub withdrawn_at: Option<i64>,
        pub withdrawn_by: Option<String>,
        pub requested: String,
        pub consented: Option<String>,
        pub valid_days: Option<i64>,
        pub expires_at: Option<i64>,
        pub reviews: String,
    }
    no_relations!();
}

pub mod space_grant_app {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "space_grant_apps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub grant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub app_id: String,
        pub org_id: String,
    }
    no_relations!();
}

pub mod pairwise_subject {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pairwise_subjects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sector: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        pub org_id: String,
        pub user_id: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod org_role_group {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_role_groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_name: String,
    }
    no_relations!();
}

pub mod outbound_scim_link {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbound_scim_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub app_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        pub remote_id: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod session_step_up {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "session_step_ups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        pub org_id: String,
        pub user_id: String,
        pub at_ms: i64,
        pub upstream_auth_ms: Option<i64>,
        pub method: String,
    }
    no_relations!();
}

pub mod console_pending_change {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "console_pending_changes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        pub org_id: String,
        pub user_id: String,
        pub path: String,
        pub form_sealed: String,
        pub created_at: i64,
        pub expires_at: i64,
    }
    no_relations!();
}

pub mod security_notice {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_notices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub at_ms: i64,
        pub actor: String,
        pub actor_user_id: Option<String>,
        pub action: String,
        pub target: String,
        pub details: String,
    }
    no_relations!();
}

pub mod security_notice_read {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_notice_reads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        pub read_seq: i64,
        pub at_ms: i64,
    }
    no_relations!();
}

pub mod audit_tree_hash {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_tree_hashes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i64,
        pub hash: String,
    }
    no_relations!();
}

pub mod audit_tree {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_tree")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub size: i64,
        pub root: String,
    }
    no_relations!();
}

pub mod audit_tree_checkpoint {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_tree_checkpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub size: i64,
        pub root: String,
        pub note: String,
        pub key_id: String,
        pub at_ms: i64,
    }
    no_relations!();
}

pub mod audit_log_key {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub public_key: String,
        pub seed_sealed: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod audit_witness {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_witnesses")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub org_id: String,
        pub name: String,
        pub vkey: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod audit_tree_cosignature {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_tree_cosignatures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub size: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub witness_id: String,
        pub line: String,
        pub at_ms: i64,
    }
    no_relations!();
}
