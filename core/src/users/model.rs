//! Leaf types of the users area: a person of an organization, their lifecycle status, and what
//! a directory says about them beyond the hub's own identifiers.

use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, UserId};

/// One of a person's email addresses as their directory lists it (SCIM `emails`, RFC 7643
/// §4.1.2): the address, its label (`work`, `home`, `other` or the directory's own) and
/// whether it is the primary one (at most one is). The hub's sign-in email is the primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub value: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

crate::orgs::model::string_enum!(
    /// Lifecycle of a user: only `active` users can sign in or hold tokens.
    UserStatus { Active => "active", Suspended => "suspended", Deprovisioned => "deprovisioned" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub external_id: Option<String>,
    pub username: String,
    /// The sign-in email (the primary of `emails`), or empty: a person without an email is
    /// never matched by email.
    pub email: String,
    pub email_verified: bool,
    /// The display name (SCIM `displayName`, the `name` claim).
    pub name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// SCIM `name.formatted`, kept apart from the display name.
    pub name_formatted: Option<String>,
    /// Every email the directory lists, with its type and primary flag (empty when the
    /// directory sent none or the user did not come from SCIM).
    pub emails: Vec<Email>,
    pub groups: Vec<String>,
    pub status: UserStatus,
    pub status_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The directory that manages the user, if any (then it is the source of truth).
    pub directory_id: Option<crate::ids::DirectoryId>,
    /// Bumped at every change: the SCIM `meta.version` (ETag).
    pub version: i64,
    /// SCIM attributes the hub keeps but does not model (enterprise extension, phone numbers,
    /// title...), as the directory sent them.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}
