//! LDAP and Active Directory as a directory the hub reads (`ldap3`, rustls with ring): a paged
//! subtree search of the users, each yielded with a stable id that survives renames and moves
//! (`entryUUID`, or AD's binary `objectGUID` rendered as a GUID string) and whether the
//! directory disables them (AD's `userAccountControl` bit 2).
//!
//! A read either returns every entry or fails: the caller never sees a partial read, so a
//! server going away mid-sync cannot make anyone look deleted.

use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

use crate::error::ConnectorError;
use crate::secret::SecretString;

/// Which LDAP attribute carries each field of a hub user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapAttributes {
    /// The stable id (`entryUUID`; `objectGUID` on Active Directory).
    pub id: String,
    /// The username.
    pub username: String,
    /// The email.
    pub email: String,
    /// The name.
    pub name: String,
    /// The given name.
    pub given_name: String,
    /// The family name.
    pub family_name: String,
}

/// How to reach and read one directory.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// Upgrade `ldap://` with StartTLS.
    pub start_tls: bool,
    /// Accept any server certificate (test directories with self-signed certificates only).
    pub tls_insecure: bool,
    /// The bind dn.
    pub bind_dn: String,
    /// The bind password.
    pub bind_password: SecretString,
    /// The base dn.
    pub base_dn: String,
    /// The user filter.
    pub user_filter: String,
    /// The group filter (`None`: groups are not read).
    pub group_filter: Option<String>,
    /// The attributes.
    pub attributes: LdapAttributes,
    /// Read `userAccountControl` and treat its ACCOUNTDISABLE bit as disabled.
    pub active_directory: bool,
    /// The page size.
    pub page_size: i32,
    /// The timeout.
    pub timeout: Duration,
}

/// One user as the directory holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// Stable across renames and moves.
    pub id: String,
    /// The dn.
    pub dn: String,
    /// The username.
    pub username: Option<String>,
    /// The email.
    pub email: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// The given name.
    pub given_name: Option<String>,
    /// The family name.
    pub family_name: Option<String>,
    /// The disabled.
    pub disabled: bool,
}

/// Renders AD's `objectGUID` (little-endian first three fields) as the usual GUID string.
pub fn guid_string(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

fn upstream(e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Upstream(e.to_string())
}

fn first(e: &SearchEntry, name: &str) -> Option<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn entry(cfg: &LdapConfig, e: &SearchEntry) -> Option<DirectoryEntry> {
    let a = &cfg.attributes;
    let id = first(e, &a.id).or_else(|| {
        e.bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&a.id))
            .and_then(|(_, v)| v.first())
            .and_then(|b| guid_string(b))
    })?;
    let disabled = cfg.active_directory
        && first(e, "userAccountControl")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|uac| uac & 0x2 != 0);
    Some(DirectoryEntry {
        id: id.to_ascii_lowercase(),
        dn: e.dn.clone(),
        username: first(e, &a.username),
        email: first(e, &a.email).map(|m| m.to_ascii_lowercase()),
        name: first(e, &a.name),
        given_name: first(e, &a.given_name),
        family_name: first(e, &a.family_name),
        disabled,
    })
}

/// A group as the directory holds it, its members flattened: nested groups' users count as
/// members of every group that contains them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// Stable across renames and moves.
    pub id: String,
    /// The group's DN.
    pub dn: String,
    /// Its name (`cn`).
    pub name: String,
    /// The DNs of its users, nested groups expanded (lower-cased).
    pub member_dns: Vec<String>,
}

/// What a full read found: the users, the groups, and entries skipped for lack of a stable id.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// The entries.
    pub entries: Vec<DirectoryEntry>,
    /// The groups.
    pub groups: Vec<DirectoryGroup>,
    /// The skipped.
    pub skipped: Vec<String>,
}

/// Expands nested groups: each group's members become the users reachable through it
/// (cycles are harmless).
fn flatten(groups: Vec<(String, String, String, Vec<String>)>) -> Vec<DirectoryGroup> {
    use std::collections::{BTreeMap, BTreeSet};
    let by_dn: BTreeMap<String, &Vec<String>> = groups
        .iter()
        .map(|(_, dn, _, m)| (dn.to_ascii_lowercase(), m))
        .collect();
    groups
        .iter()
        .map(|(id, dn, name, _)| {
            let mut users = BTreeSet::new();
            let mut seen = BTreeSet::new();
            let mut todo = vec![dn.to_ascii_lowercase()];
            while let Some(g) = todo.pop() {
                if !seen.insert(g.clone()) {
                    continue;
                }
                for m in by_dn.get(&g).into_iter().flat_map(|v| v.iter()) {
                    let m = m.to_ascii_lowercase();
                    if by_dn.contains_key(&m) {
                        todo.push(m);
                    } else {
                        users.insert(m);
                    }
                }
            }
            DirectoryGroup {
                id: id.clone(),
                dn: dn.clone(),
                name: name.clone(),
                member_dns: users.into_iter().collect(),
            }
        })
        .collect()
}

/// Reads every user under `base_dn` matching `user_filter`, in pages; `progress` is told the
/// count so far after each page. Fails as a whole if any part fails.
pub async fn read_users(
    cfg: &LdapConfig,
    mut progress: impl FnMut(usize) + Send,
) -> Result<ReadResult, ConnectorError> {
    let settings = LdapConnSettings::new()
        .set_conn_timeout(cfg.timeout)
        .set_starttls(cfg.start_tls)
        .set_no_tls_verify(cfg.tls_insecure);
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
        .await
        .map_err(|e| upstream(format!("cannot connect to {}: {e}", cfg.url)))?;
    // The connection's errors surface in the operations below.
    let driver = tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    let result = async {
        ldap.with_timeout(cfg.timeout)
            .simple_bind(&cfg.bind_dn, cfg.bind_password.expose())
            .await
            .map_err(upstream)?
            .success()
            .map_err(|e| upstream(format!("bind as {} refused: {e}", cfg.bind_dn)))?;
        let a = &cfg.attributes;
        let mut attrs = vec![
            a.id.clone(),
            a.username.clone(),
            a.email.clone(),
            a.name.clone(),
            a.given_name.clone(),
            a.family_name.clone(),
        ];
        if cfg.active_directory {
            attrs.push("userAccountControl".into());
        }
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(cfg.page_size)),
        ];
        let mut stream = ldap
            .with_timeout(cfg.timeout)
            .streaming_search_with(
                adapters,
                &cfg.base_dn,
                Scope::Subtree,
                &cfg.user_filter,
                attrs,
            )
            .await
            .map_err(upstream)?;
        let mut out = ReadResult::default();
        let mut since = 0usize;
        while let Some(e) = stream.next().await.map_err(upstream)? {
            let e = SearchEntry::construct(e);
            match entry(cfg, &e) {
                Some(d) => out.entries.push(d),
                None => out.skipped.push(e.dn.clone()),
            }
            since += 1;
            if since >= cfg.page_size.max(1) as usize {
                since = 0;
                progress(out.entries.len());
            }
        }
        stream
            .finish()
            .await
            .success()
            .map_err(|e| upstream(format!("the search did not complete: {e}")))?;
        progress(out.entries.len());
        if let Some(filter) = &cfg.group_filter {
            let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
                Box::new(EntriesOnly::new()),
                Box::new(PagedResults::new(cfg.page_size)),
            ];
            let attrs = vec![a.id.clone(), "cn".to_string(), "member".to_string()];
            let mut stream = ldap
                .with_timeout(cfg.timeout)
                .streaming_search_with(adapters, &cfg.base_dn, Scope::Subtree, filter, attrs)
                .await
                .map_err(upstream)?;
            let mut raw_groups = Vec::new();
            while let Some(e) = stream.next().await.map_err(upstream)? {
                let e = SearchEntry::construct(e);
                let id = first(&e, &a.id).or_else(|| {
                    e.bin_attrs
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&a.id))
                        .and_then(|(_, v)| v.first())
                        .and_then(|b| guid_string(b))
                });
                let (Some(id), Some(name)) = (id, first(&e, "cn")) else {
                    out.skipped.push(e.dn.clone());
                    continue;
                };
                let members = e
                    .attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("member"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                raw_groups.push((id.to_ascii_lowercase(), e.dn.clone(), name, members));
            }
            stream
                .finish()
                .await
                .success()
                .map_err(|e| upstream(format!("the group search did not complete: {e}")))?;
            out.groups = flatten(raw_groups);
        }
        let _ = ldap.unbind().await;
        Ok(out)
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_groups_flatten_and_cycles_end() {
        let g = |id: &str, members: &[&str]| {
            (
                id.to_string(),
                format!("cn={id},ou=g"),
                id.to_string(),
                members.iter().map(|m| m.to_string()).collect(),
            )
        };
        let out = flatten(vec![
            g("eng", &["uid=alice,ou=p"]),
            g("staff", &["cn=eng,ou=g", "uid=bob,ou=p", "cn=staff,ou=g"]),
            g("loop", &["cn=loop2,ou=g"]),
            g("loop2", &["cn=loop,ou=g", "UID=Carol,ou=p"]),
        ]);
        let staff = out
            .iter()
            .find(|x| x.name == "staff")
            .map(|x| x.member_dns.clone());
        assert_eq!(
            staff,
            Some(vec![
                "uid=alice,ou=p".to_string(),
                "uid=bob,ou=p".to_string()
            ])
        );
        let lp = out
            .iter()
            .find(|x| x.name == "loop")
            .map(|x| x.member_dns.clone());
        assert_eq!(lp, Some(vec!["uid=carol,ou=p".to_string()]));
    }

    #[test]
    fn object_guid_renders_like_windows() {
        let b = [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        assert_eq!(
            guid_string(&b).as_deref(),
            Some("00112233-4455-6677-8899-aabbccddeeff")
        );
        assert_eq!(guid_string(&b[..3]), None);
    }
}
