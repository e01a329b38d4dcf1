//! Response bodies of the admin API. Secrets appear only in the `*Created` bodies, once.

use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::AuditRecord;
use crate::clock::ms_to_rfc3339;
use crate::orgs::domains::{record_name, record_value};
use crate::orgs::model::{
    ApiKey, Application, ClientType, DomainStatus, OrgDomain, OrgStatus, Organization, Role,
    TokenAuthMethod, VerificationMethod,
};

#[derive(Serialize, ToSchema)]
pub struct OrgView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub status: OrgStatus,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Organization> for OrgView {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id.to_string(),
            slug: o.slug,
            name: o.name,
            status: o.status,
            created_at: ms_to_rfc3339(o.created_at),
            updated_at: ms_to_rfc3339(o.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DnsRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct DomainView {
    pub domain: String,
    pub status: DomainStatus,
    pub method: Option<VerificationMethod>,
    pub verified_at: Option<String>,
    pub created_at: String,
    /// Publish this record, then call `POST .../verify`.
    pub dns_record: DnsRecord,
}

impl From<OrgDomain> for DomainView {
    fn from(d: OrgDomain) -> Self {
        Self {
            dns_record: DnsRecord {
                kind: "TXT",
                name: record_name(&d.domain),
                value: record_value(&d),
            },
            domain: d.domain,
            status: d.status,
            method: d.method,
            verified_at: d.verified_at.map(ms_to_rfc3339),
            created_at: ms_to_rfc3339(d.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AppView {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub client_type: ClientType,
    pub redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub token_endpoint_auth_method: TokenAuthMethod,
    pub id_token_signed_response_alg: crate::jose::Alg,
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    pub post_logout_redirect_uris: Vec<String>,
    pub allow_client_credentials: bool,
    /// Only people admitted to one of its spaces may sign in.
    pub spaces_required: bool,
    /// Authorization requests must use PKCE (S256); always true for public clients.
    pub require_pkce: bool,
    /// Where leavers are deactivated over SCIM (the token is never shown).
    pub scim_target: Option<ScimTargetView>,
    /// Where signed leaver events are posted.
    pub webhook: Option<WebhookView>,
    /// `public` or `pairwise`: the `sub` it sees for the organization's own people.
    pub subject_type: crate::orgs::model::SubjectType,
    /// What it learns about the organization's own people.
    pub release: crate::orgs::model::Release,
    /// A new webhook's signing secret (`whsec_...`), in the answer that made it only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ScimTargetView {
    pub url: String,
    pub on_leave: crate::orgs::model::ScimOnLeave,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    pub url: String,
}

impl AppView {
    pub fn with_webhook_secret(mut self, secret: Option<String>) -> Self {
        self.webhook_secret = secret;
        self
    }
}

impl From<Application> for AppView {
    fn from(a: Application) -> Self {
        Self {
            id: a.id.to_string(),
            client_id: a.client_id,
            name: a.name,
            client_type: a.client_type,
            redirect_uris: a.redirect_uris,
            backchannel_logout_uri: a.backchannel_logout_uri,
            token_endpoint_auth_method: a.token_endpoint_auth_method,
            id_token_signed_response_alg: a.id_token_alg,
            jwks: a.jwks,
            post_logout_redirect_uris: a.post_logout_redirect_uris,
            allow_client_credentials: a.allow_client_credentials,
            spaces_required: a.spaces_required,
            require_pkce: a.require_pkce,
            scim_target: a.scim_target.map(|t| ScimTargetView {
                url: t.url,
                on_leave: t.on_leave,
            }),
            webhook: a.webhook.map(|w| WebhookView { url: w.url }),
            subject_type: a.subject_type,
            release: a.release,
            webhook_secret: None,
            created_at: ms_to_rfc3339(a.created_at),
            updated_at: ms_to_rfc3339(a.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AppCreated {
    pub application: AppView,
    /// Shown once; the hub keeps only its hash. Absent for public clients.
    pub client_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name,
            role: k.role,
            prefix: k.prefix,
            created_at: ms_to_rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(ms_to_rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyCreated {
    pub key: KeyView,
    /// Shown once; the hub keeps only its hash.
    pub secret: String,
}

/// An audit event as exported: enough to recompute its hash and check its link.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub at_ms: i64,
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    pub orgs: Vec<String>,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRecord> for AuditEventView {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            id: r.id,
            at: ms_to_rfc3339(r.at_ms),
            at_ms: r.at_ms,
            actor: r.actor,
            orgs: r.orgs.iter().map(|o| o.to_string()).collect(),
            action: r.action,
            target: r.target,
            details: r.details,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// Another organization's event in an organization's export: position and hashes only.
#[derive(Serialize, ToSchema)]
pub struct RedactedView {
    pub seq: i64,
    pub redacted: bool,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRecord> for RedactedView {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            redacted: true,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PublicKeyView {
    pub kid: String,
    pub alg: String,
    /// Base64url of the uncompressed P-256 point.
    pub public_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckpointsView {
    pub checkpoints: Vec<crate::audit::Checkpoint>,
    pub keys: Vec<PublicKeyView>,
}
