//! The engine's records: leavers (who left, why, from which signal, and how fast every door
//! closed) and outbox deliveries (one row per downstream notification).

use serde_json::Value;

use crate::ids::{AppId, DeliveryId, LeaverId, OrgId, UserId};
use crate::orgs::model::string_enum;
use crate::users::UserStatus;

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
    pub kind: DeliveryKind,
    pub idempotency_key: String,
    pub payload: Value,
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
