//! Leaf types of the directories area: a directory and its LDAP settings and schedule, a group
//! as the directory pushes it, a SCIM bearer token (its hash).

use serde::{Deserialize, Serialize};

use crate::ids::{DirectoryId, OrgId, ScimTokenId};
use crate::orgs::model::string_enum;

string_enum!(
    /// How the directory reaches the hub.
    DirectoryKind { Scim => "scim", Ldap => "ldap" }
);
string_enum!(
    /// Only an active directory's tokens are accepted.
    DirectoryStatus { Active => "active", Disabled => "disabled" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub id: DirectoryId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: DirectoryKind,
    pub status: DirectoryStatus,
    pub ldap: Option<LdapSettings>,
    /// The sealed LDAP bind password.
    pub secret_sealed: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Where the next incremental read starts (opaque, from the connector).
    pub cursor: Option<String>,
    /// When the last successful full sync, and the last incremental read, finished.
    pub last_full_at: Option<i64>,
    pub last_incremental_at: Option<i64>,
}

/// Which LDAP attribute carries each field of a hub user. Left empty, a field takes the
/// default of the directory's flavour (OpenLDAP: `entryUUID`, `uid`, `mail`, `cn`; Active
/// Directory: `objectGUID`, `sAMAccountName`, `mail`, `displayName`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LdapAttributeNames {
    pub id: String,
    pub username: String,
    pub email: String,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
}

/// An LDAP or Active Directory the hub reads (a full, paged read per sync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapSettings {
    /// `ldap://host:port` (with `start_tls`) or `ldaps://host:port`.
    pub url: String,
    #[serde(default)]
    pub start_tls: bool,
    /// Accept any server certificate: only for test directories with self-signed certificates.
    #[serde(default)]
    pub tls_insecure: bool,
    pub bind_dn: String,
    pub base_dn: String,
    #[serde(default)]
    pub user_filter: Option<String>,
    /// Groups to read (default `(objectClass=groupOfNames)`, on AD `(objectClass=group)`);
    /// `""` reads no groups. Nested groups are expanded.
    #[serde(default)]
    pub group_filter: Option<String>,
    /// Active Directory: `objectGUID` ids and the `userAccountControl` disabled bit.
    #[serde(default)]
    pub active_directory: bool,
    #[serde(default)]
    pub attributes: LdapAttributeNames,
    /// A sync that would deprovision more than this share of the directory's users (and more
    /// than 5) is held for an admin to confirm.
    #[serde(default = "default_threshold")]
    pub deprovision_threshold_percent: u32,
    /// An attribute whose presence disables a user (any value but `false` or `0`). Default on
    /// OpenLDAP: `pwdAccountLockedTime` (ppolicy); `""` for none. Active Directory uses the
    /// `userAccountControl` disabled bit.
    #[serde(default)]
    pub disabled_attribute: Option<String>,
    /// How changes are picked up between full syncs.
    #[serde(default)]
    pub mode: SyncMode,
    /// When the hub syncs on its own.
    #[serde(default)]
    pub schedule: Schedule,
}

fn default_threshold() -> u32 {
    10
}

/// How an LDAP directory's changes reach the hub between full syncs (which find deletions in
/// every mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Full syncs only.
    Full,
    /// Full syncs, and between them incremental reads of what changed (`modifyTimestamp`; on
    /// Active Directory `uSNChanged`). Deletions wait for the next full sync.
    #[default]
    Incremental,
    /// RFC 4533 syncrepl (OpenLDAP syncprov, 389-ds content sync): a persistent search hears
    /// every change, deletions included, within moments. Needs `entryUUID` ids.
    Syncrepl,
}

/// The sync schedule of an LDAP directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Schedule {
    /// Sync without being asked (the admin API and `hub sync` work either way).
    pub enabled: bool,
    /// Seconds between full syncs (at least 5; default one hour).
    pub full_interval_secs: u64,
    /// Seconds between incremental reads in `incremental` mode, and before a `syncrepl` watch
    /// reconnects (at least 1; default 60).
    pub incremental_interval_secs: u64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            enabled: true,
            full_interval_secs: 3600,
            incremental_interval_secs: 60,
        }
    }
}

impl LdapSettings {
    /// The connector's view, flavour defaults filled in.
    pub fn connector_config(
        &self,
        password: String,
        policy: std::sync::Arc<connectors::net::AddressPolicy>,
    ) -> connectors::ldap::LdapConfig {
        let ad = self.active_directory;
        let pick = |v: &str, plain: &str, adv: &str| {
            if !v.is_empty() {
                v.to_string()
            } else if ad {
                adv.to_string()
            } else {
                plain.to_string()
            }
        };
        let a = &self.attributes;
        connectors::ldap::LdapConfig {
            url: self.url.clone(),
            start_tls: self.start_tls,
            tls_insecure: self.tls_insecure,
            bind_dn: self.bind_dn.clone(),
            bind_password: connectors::SecretString::new(password),
            base_dn: self.base_dn.clone(),
            user_filter: self.user_filter.clone().unwrap_or_else(|| {
                if ad {
                    "(&(objectCategory=person)(objectClass=user))".into()
                } else {
                    "(objectClass=inetOrgPerson)".into()
                }
            }),
            group_filter: match self.group_filter.as_deref() {
                Some("") => None,
                Some(f) => Some(f.to_string()),
                None if ad => Some("(objectClass=group)".into()),
                None => Some("(objectClass=groupOfNames)".into()),
            },
            attributes: connectors::ldap::LdapAttributes {
                id: pick(&a.id, "entryUUID", "objectGUID"),
                username: pick(&a.username, "uid", "sAMAccountName"),
                email: pick(&a.email, "mail", "mail"),
                name: pick(&a.name, "cn", "displayName"),
                given_name: pick(&a.given_name, "givenName", "givenName"),
                family_name: pick(&a.family_name, "sn", "sn"),
            },
            active_directory: ad,
            disabled_attribute: match self.disabled_attribute.as_deref() {
                Some("") => None,
                Some(a) => Some(a.to_string()),
                None if ad => None,
                None => Some("pwdAccountLockedTime".into()),
            },
            tracking: match self.mode {
                SyncMode::Syncrepl => connectors::ldap::ChangeTracking::Syncrepl,
                _ if ad => connectors::ldap::ChangeTracking::Usn,
                _ => connectors::ldap::ChangeTracking::ModifyTimestamp,
            },
            page_size: 500,
            timeout: std::time::Duration::from_secs(30),
            policy,
        }
    }
}

/// A group as the directory pushes it; its members are users of the same organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: crate::ids::GroupId,
    pub org_id: OrgId,
    pub directory_id: Option<DirectoryId>,
    pub display_name: String,
    pub external_id: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A SCIM bearer token (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimToken {
    pub id: ScimTokenId,
    pub org_id: OrgId,
    pub directory_id: DirectoryId,
    pub name: String,
    pub token_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A query over an organization's people or groups, in the domain's own attributes: what a
/// surface (the SCIM service's filters) asks of storage, which turns it into SQL conditions.
/// No protocol's names reach storage.
#[derive(Debug, Clone, PartialEq)]
pub enum Query<A> {
    And(Box<Query<A>>, Box<Query<A>>),
    Or(Box<Query<A>>, Box<Query<A>>),
    Not(Box<Query<A>>),
    /// The attribute has a (non-empty) value.
    Present(A),
    /// A text attribute compared with a string.
    Text(A, Cmp, String),
    /// A time attribute (milliseconds) compared with a time.
    Time(A, Cmp, i64),
    /// People who are active (`true`), or who are not (`false`).
    Active(bool),
    /// Always true or always false (a condition on something the hub does not keep apart).
    Const(bool),
}

/// How a value is compared: text comparisons are case-insensitive except on identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Contains,
    StartsWith,
    EndsWith,
    Gt,
    Ge,
    Lt,
    Le,
}

/// What people are queried by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAttr {
    Id,
    /// Equality compares the look-alike-folded key (the uniqueness rule).
    UserName,
    ExternalId,
    DisplayName,
    NameFormatted,
    GivenName,
    FamilyName,
    /// Equality matches the sign-in email or any listed email; other comparisons the sign-in
    /// email.
    Email,
    Created,
    Modified,
}

/// What groups are queried by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAttr {
    Id,
    DisplayName,
    ExternalId,
}
