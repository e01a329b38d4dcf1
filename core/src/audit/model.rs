//! Audit event types and their canonical, hashable encoding.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids::{ApiKeyId, OrgId};

/// `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The hub operator, through an operator API key.
    Operator { key_id: ApiKeyId, key_name: String },
    /// An organization's admin, through that organization's API key.
    OrgKey {
        org_id: OrgId,
        key_id: ApiKeyId,
        key_name: String,
    },
    /// A person, acting for themselves (signing in or out) or, through the console, for their
    /// organization.
    User {
        org_id: OrgId,
        user_id: crate::ids::UserId,
        /// For a change that needs a recent sign-in: when the person last signed in afresh at
        /// their IdP (milliseconds; the `session.reauthenticated` or `session.started` event of
        /// that sign-in has the same time).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reauthenticated_at: Option<i64>,
    },
    /// The hub's command line, run by whoever has access to the host and the database.
    Cli { command: String },
    /// The hub itself (schedulers, engines).
    System { component: String },
    /// An organization's directory, pushing changes (SCIM) or read by the hub (LDAP).
    Directory {
        org_id: OrgId,
        directory_id: crate::ids::DirectoryId,
        name: String,
    },
    /// An application, authenticated as itself (its evidence).
    Application {
        org_id: OrgId,
        app_id: crate::ids::AppId,
        client_id: String,
    },
}

/// What happened. The string forms are stable: they are hashed and exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    OrganizationCreated,
    OrganizationUpdated,
    DomainAdded,
    DomainVerified,
    DomainRemoved,
    ApplicationCreated,
    ApplicationUpdated,
    ApplicationSecretRotated,
    ApplicationDeleted,
    ApiKeyCreated,
    ApiKeyRevoked,
    SigningKeyCreated,
    UserCreated,
    UserUpdated,
    UserSuspended,
    UserReactivated,
    SessionStarted,
    SessionEnded,
    SessionReauthenticated,
    TokensRevoked,
    CodeReplayed,
    RefreshTokenReused,
    ConsentGranted,
    ConnectionCreated,
    ConnectionUpdated,
    ConnectionDeleted,
    ConnectionApproved,
    IdentityLinked,
    LoginRefused,
    LoginFailuresSummarized,
    DirectoryCreated,
    ScimTokenCreated,
    ScimTokenRevoked,
    UserDeprovisioned,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    DirectorySynced,
    DirectorySyncHeld,
    DirectorySyncConfirmed,
    DirectoryUpdated,
    DeliveryDelivered,
    DeliveryDead,
    DeliveryRetried,
    DeprovisioningCompleted,
    SpaceCreated,
    SpaceUpdated,
    SpaceDeleted,
    SpaceGrantProposed,
    SpaceGrantAccepted,
    SpaceGrantDeclined,
    SpaceGrantWithdrawn,
    SpaceGrantChanged,
    SpaceGrantReviewed,
    SpaceGrantExpired,
    RolesUpdated,
    OperatorRead,
    OperatorRequested,
    OperatorRequestApproved,
    OperatorRequestRejected,
    BreakGlassOpened,
    BreakGlassReviewed,
    WitnessAdded,
    WitnessRemoved,
    EvidenceRecorded,
    AccessGranted,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrganizationCreated => "organization.created",
            Self::OrganizationUpdated => "organization.updated",
            Self::DomainAdded => "domain.added",
            Self::DomainVerified => "domain.verified",
            Self::DomainRemoved => "domain.removed",
            Self::ApplicationCreated => "application.created",
            Self::ApplicationUpdated => "application.updated",
            Self::ApplicationSecretRotated => "application.secret_rotated",
            Self::ApplicationDeleted => "application.deleted",
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::SigningKeyCreated => "signing_key.created",
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserSuspended => "user.suspended",
            Self::UserReactivated => "user.reactivated",
            Self::SessionStarted => "session.started",
            Self::SessionEnded => "session.ended",
            Self::SessionReauthenticated => "session.reauthenticated",
            Self::TokensRevoked => "tokens.revoked",
            Self::CodeReplayed => "oauth.code_replayed",
            Self::RefreshTokenReused => "oauth.refresh_token_reused",
            Self::ConsentGranted => "oauth.consent_granted",
            Self::ConnectionCreated => "connection.created",
            Self::ConnectionUpdated => "connection.updated",
            Self::ConnectionDeleted => "connection.deleted",
            Self::ConnectionApproved => "connection.approved",
            Self::IdentityLinked => "identity.linked",
            Self::LoginRefused => "login.refused",
            Self::LoginFailuresSummarized => "login.failures_summarized",
            Self::DirectoryCreated => "directory.created",
            Self::ScimTokenCreated => "scim_token.created",
            Self::ScimTokenRevoked => "scim_token.revoked",
            Self::UserDeprovisioned => "user.deprovisioned",
            Self::GroupCreated => "group.created",
            Self::GroupUpdated => "group.updated",
            Self::GroupDeleted => "group.deleted",
            Self::DirectorySynced => "directory.synced",
            Self::DirectorySyncHeld => "directory.sync_held",
            Self::DirectorySyncConfirmed => "directory.sync_confirmed",
            Self::DirectoryUpdated => "directory.updated",
            Self::DeliveryDelivered => "delivery.delivered",
            Self::DeliveryDead => "delivery.dead",
            Self::DeliveryRetried => "delivery.retried",
            Self::DeprovisioningCompleted => "deprovisioning.completed",
            Self::SpaceCreated => "space.created",
            Self::SpaceUpdated => "space.updated",
            Self::SpaceDeleted => "space.deleted",
            Self::SpaceGrantProposed => "space_grant.proposed",
            Self::SpaceGrantAccepted => "space_grant.accepted",
            Self::SpaceGrantDeclined => "space_grant.declined",
            Self::SpaceGrantWithdrawn => "space_grant.withdrawn",
            Self::SpaceGrantChanged => "space_grant.changed",
            Self::SpaceGrantReviewed => "space_grant.reviewed",
            Self::SpaceGrantExpired => "space_grant.expired",
            Self::RolesUpdated => "roles.updated",
            Self::OperatorRead => "operator.read",
            Self::OperatorRequested => "operator.requested",
            Self::OperatorRequestApproved => "operator.request_approved",
            Self::OperatorRequestRejected => "operator.request_rejected",
            Self::BreakGlassOpened => "operator.break_glass_opened",
            Self::BreakGlassReviewed => "operator.break_glass_reviewed",
            Self::WitnessAdded => "audit.witness_added",
            Self::WitnessRemoved => "audit.witness_removed",
            Self::EvidenceRecorded => "evidence.recorded",
            Self::AccessGranted => "access.granted",
        }
    }
}

/// An event to append: what the caller knows before it is chained.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: Actor,
    /// The organizations the event concerns; each sees it in its audit view.
    pub orgs: Vec<OrgId>,
    pub action: AuditAction,
    /// `kind:id`, e.g. `organization:0190...`.
    pub target: String,
    pub details: Value,
}

impl AuditEvent {
    pub fn new(actor: &Actor, action: AuditAction, target: String) -> Self {
        Self {
            actor: actor.clone(),
            orgs: Vec::new(),
            action,
            target,
            details: Value::Null,
        }
    }

    pub fn org(mut self, org: crate::ids::OrgId) -> Self {
        if !self.orgs.contains(&org) {
            self.orgs.push(org);
        }
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// An event as stored and exported. JSON columns are kept as values so that verification
/// recomputes the hash from exactly what is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub id: String,
    pub at_ms: i64,
    pub actor: Value,
    pub orgs: Vec<OrgId>,
    /// The stored `orgs` text, hashed as stored so an edit of it is caught.
    #[serde(skip)]
    pub orgs_raw: String,
    pub action: String,
    pub target: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
    /// In an organization's export, an event of another organization is a stub: only its
    /// sequence number and hashes, enough to check the chain's links across it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl AuditRecord {
    /// The canonical encoding the hash covers: RFC 8785 JSON of every field but `hash`.
    pub fn canonical(&self) -> Vec<u8> {
        let orgs: Value = serde_json::from_str(&self.orgs_raw)
            .unwrap_or_else(|_| Value::String(self.orgs_raw.clone()));
        let body = json!({
            "v": 1,
            "seq": self.seq,
            "id": self.id,
            "at_ms": self.at_ms,
            "actor": self.actor,
            "orgs": orgs,
            "action": self.action,
            "target": self.target,
            "details": self.details,
            "prev_hash": self.prev_hash,
        });
        // Serializing a `Value` cannot fail; an empty encoding would only fail verification.
        serde_jcs::to_vec(&body).unwrap_or_default()
    }

    /// Reads one line of a JSON Lines export (`GET /api/v1/audit/export`), full or redacted.
    pub fn from_export_line(line: &str) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Stub {
            seq: i64,
            redacted: bool,
            prev_hash: String,
            hash: String,
        }
        if let Ok(stub) = serde_json::from_str::<Stub>(line)
            && stub.redacted
        {
            return Ok(Self {
                seq: stub.seq,
                id: String::new(),
                at_ms: 0,
                actor: Value::Null,
                orgs: Vec::new(),
                orgs_raw: String::new(),
                action: String::new(),
                target: String::new(),
                details: Value::Null,
                prev_hash: stub.prev_hash,
                hash: stub.hash,
                redacted: true,
            });
        }
        #[derive(Deserialize)]
        struct Line {
            seq: i64,
            id: String,
            at_ms: i64,
            actor: Value,
            orgs: Vec<String>,
            action: String,
            target: String,
            details: Value,
            prev_hash: String,
            hash: String,
        }
        let l: Line = serde_json::from_str(line)?;
        Ok(Self {
            seq: l.seq,
            id: l.id,
            at_ms: l.at_ms,
            actor: l.actor,
            orgs: l.orgs.iter().filter_map(|o| o.parse().ok()).collect(),
            orgs_raw: Value::from(l.orgs).to_string(),
            action: l.action,
            target: l.target,
            details: l.details,
            prev_hash: l.prev_hash,
            hash: l.hash,
            redacted: false,
        })
    }

    pub fn compute_hash(&self) -> String {
        hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            &self.canonical(),
        ))
    }
}

/// A signed checkpoint of the audit log's Merkle tree: its size, root (base64) and the C2SP
/// signed note that commits to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeCheckpoint {
    pub size: i64,
    pub root: String,
    /// The signed note: `origin`, size and root lines, a blank line, the signatures.
    pub note: String,
    pub key_id: String,
    pub at_ms: i64,
}

/// A key an organization trusts to cosign the log's checkpoints (its witness, run on its own
/// machine with `hub witness run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Witness {
    pub id: String,
    pub org_id: OrgId,
    /// The key's name (the signature lines' name).
    pub name: String,
    /// The C2SP verifier key, `name+id+base64(0x01 || public key)`.
    pub vkey: String,
    pub created_at: i64,
}

/// The audit log's Ed25519 signing key: its C2SP verifier key (public) and the signer key,
/// sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    /// The key id, 8 hex digits.
    pub id: String,
    pub name: String,
    /// The verifier key: `name+id+base64(0x01 || public key)`.
    pub public_key: String,
    pub seed_sealed: String,
    pub created_at: i64,
}

/// An organization's copy of an audit event that changed who can sign in or who belongs, for
/// its admins to see (`audit::notices`). `seq` is the audit event's.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityNotice {
    pub org_id: OrgId,
    pub seq: i64,
    pub at_ms: i64,
    pub actor: Value,
    pub action: String,
    pub target: String,
    pub details: Value,
}

/// A signed statement "the chain had this hash at this sequence number".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at_ms: i64,
    pub key_id: String,
    pub signature: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            seq: 1,
            id: "e1".into(),
            at_ms: 1_700_000_000_000,
            actor: json!({"kind": "cli", "command": "test"}),
            orgs: vec![],
            orgs_raw: "[]".into(),
            action: "organization.created".into(),
            target: "organization:x".into(),
            details: json!({"b": 1, "a": "é"}),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
            redacted: false,
        }
    }

    #[test]
    fn canonical_encoding_is_key_order_independent_and_covers_every_field() {
        let a = record();
        let mut b = record();
        b.details = serde_json::from_str(r#"{"a":"é","b":1}"#).unwrap();
        assert_eq!(a.compute_hash(), b.compute_hash());
        let text = String::from_utf8(a.canonical()).unwrap();
        assert!(
            text.starts_with(r#"{"action":"organization.created","actor":"#),
            "{text}"
        );
        for edit in [
            |r: &mut AuditRecord| r.seq = 2,
            |r: &mut AuditRecord| r.at_ms += 1,
            |r: &mut AuditRecord| r.orgs_raw = "[\"x\"]".into(),
            |r: &mut AuditRecord| r.target.push('!'),
            |r: &mut AuditRecord| r.details = json!(null),
            |r: &mut AuditRecord| r.prev_hash = "1".repeat(64),
        ] {
            let mut c = record();
            edit(&mut c);
            assert_ne!(c.compute_hash(), a.compute_hash());
        }
    }
}
