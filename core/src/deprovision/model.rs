//! The engine's records: leavers (who left, why, from which signal, and how fast every door
//! closed) and outbox deliveries (one row per downstream notification).

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, DeliveryId, LeaverId, OrgId, UserId};
use crate::orgs::model::string_enum;
use crate::users::model::UserStatus;

string_enum!(
    /// What a delivery tells the application.
    DeliveryKind {
        BackchannelLogout => "backchannel_logout",
        Scim => "scim",
        Webhook => "webhook"
    }
);
string_enum!(
    /// `pending` until delivered; `dead` after the last attempt failed (an admin may retry it);
    /// `skipped` when there was nothing left to tell (the application lost its endpoint).
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Dead => "dead",
        Skipped => "skipped"
    }
);
string_enum!(
    /// Where the leaver signal came from.
    LeaverSource {
        Scim => "scim",
        Ldap => "ldap",
        Admin => "admin",
        Organization => "organization"
    }
);

/// One downstream notification, delivered at least once; the receiver deduplicates by
/// `idempotency_key` (the logout token's `jti`, the webhook's `webhook-id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub org_id: OrgId,
    pub app_id: AppId,
    pub user_id: UserId,
    pub leaver_id: Option<LeaverId>,
    pub idempotency_key: String,
    pub payload: Payload,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

impl Delivery {
    /// What the delivery tells the application.
    pub fn kind(&self) -> DeliveryKind {
        self.payload.kind()
    }
}

/// What a delivery tells the application, by kind; stored as JSON beside the kind. Written by
/// the engine and by spaces, read back by the delivery worker: one type, so the two cannot
/// disagree on a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// An OIDC back-channel logout token for `sub` (the person's subject at that application),
    /// with the session's `sid` when a session ended.
    BackchannelLogout(LogoutPayload),
    /// A change at the application's SCIM service.
    Scim(ScimChange),
    /// A signed webhook event.
    Webhook(WebhookEvent),
}

impl Payload {
    pub fn kind(&self) -> DeliveryKind {
        match self {
            Self::BackchannelLogout(_) => DeliveryKind::BackchannelLogout,
            Self::Scim(_) => DeliveryKind::Scim,
            Self::Webhook(_) => DeliveryKind::Webhook,
        }
    }

    /// The stored JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Self::BackchannelLogout(p) => serde_json::to_value(p),
            Self::Scim(p) => serde_json::to_value(p),
            Self::Webhook(p) => serde_json::to_value(p),
        };
        value.unwrap_or_default()
    }

    /// Reads the stored JSON of a delivery of `kind`.
    pub fn from_json(kind: DeliveryKind, json: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            DeliveryKind::BackchannelLogout => Self::BackchannelLogout(serde_json::from_str(json)?),
            DeliveryKind::Scim => Self::Scim(serde_json::from_str(json)?),
            DeliveryKind::Webhook => Self::Webhook(serde_json::from_str(json)?),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutPayload {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// What the application's SCIM service is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScimAction {
    Deactivate,
    Delete,
    Reactivate,
    /// Add the person to the group named `group` (a space), making it if needed.
    GroupAdd,
    /// Remove the person from the group named `group`.
    GroupRemove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimChange {
    pub action: ScimAction,
    /// The group, for the group actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub user: Person,
}

/// The person a SCIM change or a webhook is about, as the receiving application may know
/// them: its `sub` for the person, and only the attributes released to it (an organization's
/// own application: its claim policy; another organization's: the space grants' release).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The person's `sub` at the application (also the `externalId` outbound SCIM looks for).
    /// Empty only in deliveries queued before subjects were per application.
    #[serde(default)]
    pub sub: String,
    #[serde(rename = "userName", default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A webhook event: its `type`, and its `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum WebhookEvent {
    #[serde(rename = "user.deprovisioned")]
    UserDeprovisioned(LeaverEvent),
    #[serde(rename = "user.suspended")]
    UserSuspended(LeaverEvent),
    #[serde(rename = "user.reactivated")]
    UserReactivated(ReturnEvent),
    #[serde(rename = "space.access_withdrawn")]
    SpaceAccessWithdrawn(WithdrawnEvent),
}

/// A leaver, as an application is told. The leaver's id, signal and reason are the person's
/// organization's business: only its own applications get them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaverEvent {
    pub user: Person,
    pub organization: OrgId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaver: Option<LeaverId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<LeaverSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub status: UserStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnEvent {
    pub user: Person,
    pub organization: OrgId,
    pub status: UserStatus,
}

/// A person's access to an application ended (a grant withdrawn, expired or not
/// recertified, a space deleted or no longer served by the application).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawnEvent {
    pub user: Person,
    pub organization: OrgId,
}

/// A person leaving. `signal_at` is when the hub heard of it (the SCIM request arrived, the
/// directory read ended, the admin asked), `revoked_at` when sessions and tokens had ended (in
/// the same transaction as the status change), `completed_at` when the last delivery finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaver {
    pub id: LeaverId,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub source: LeaverSource,
    pub reason: String,
    /// The user's status afterwards: suspended (reversible) or deprovisioned.
    pub outcome: UserStatus,
    pub signal_at: i64,
    pub revoked_at: i64,
    pub deliveries: i64,
    pub completed_at: Option<i64>,
}
