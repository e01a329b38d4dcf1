//! Newtype identifiers: no bare `String` or `Uuid` id crosses a module boundary.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organization (tenant).
    OrgId
);
id_type!(
    /// A claimed domain of an organization.
    DomainId
);
id_type!(
    /// A downstream application (OIDC client).
    AppId
);
id_type!(
    /// An admin API key.
    ApiKeyId
);
id_type!(
    /// A person in an organization.
    UserId
);
id_type!(
    /// An organization's directory (SCIM or LDAP), its source of truth for who belongs.
    DirectoryId
);
id_type!(
    /// A group of an organization's directory.
    GroupId
);
id_type!(
    /// A bearer token a directory pushes SCIM requests with.
    ScimTokenId
);
id_type!(
    /// An organization's connection to its upstream identity provider.
    ConnectionId
);
id_type!(
    /// One downstream notification in the outbox.
    DeliveryId
);
id_type!(
    /// One person leaving: the signal, the local revocation and the deliveries it caused.
    LeaverId
);
id_type!(
    /// A shared workspace owned by one organization.
    SpaceId
);
id_type!(
    /// A grant admitting people of an organization to a space, once that organization accepts.
    GrantId
);
id_type!(
    /// An operator's request to change an organization, or a break-glass window.
    RequestId
);
