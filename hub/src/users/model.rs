//! Leaf types of the users area: what a directory says about a person beyond the hub's own
//! identifiers.

use serde::{Deserialize, Serialize};

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
