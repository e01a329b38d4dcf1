//! LDAP and Active Directory as a directory the hub reads (`ldap3`, rustls with ring): a full
//! read of the users (and groups), each yielded with a stable id that survives renames and moves
//! (`entryUUID`, or AD's binary `objectGUID` rendered as a GUID string) and whether the
//! directory disables them (AD's `userAccountControl` bit 2, or a configured attribute such as
//! OpenLDAP ppolicy's `pwdAccountLockedTime`); and incremental reads from a cursor (RFC 4533
//! syncrepl, `modifyTimestamp`, or AD's `uSNChanged`), one-shot or persistent.
//!
//! A read either returns every entry it was asked for or fails: the caller never sees a partial
//! read, so a server going away mid-sync cannot make anyone look deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

use crate::error::ConnectorError;
use crate::secret::SecretString;

mod changes;
mod decode;
mod syncrepl;

pub use changes::{Changes, read_changes};
pub use syncrepl::{WatchEvent, watch};

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

/// How the directory tells what changed since the last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeTracking {
    /// RFC 4533 content synchronization (OpenLDAP syncprov, 389-ds content sync): changes and
    /// deletions, from a cookie; also persistent (refreshAndPersist).
    Syncrepl,
    /// Entries whose `modifyTimestamp` is at or after the last one seen (no deletions).
    ModifyTimestamp,
    /// Active Directory: entries whose `uSNChanged` is above the domain controller's
    /// `highestCommittedUSN` at the last read (no deletions).
    Usn,
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
    /// An attribute whose presence disables the user (any value but `false`/`0`), such as
    /// `pwdAccountLockedTime` (OpenLDAP ppolicy) or `nsAccountLock` (389-ds).
    pub disabled_attribute: Option<String>,
    /// How incremental reads find changes.
    pub tracking: ChangeTracking,
    /// The page size.
    pub page_size: i32,
    /// The timeout of each operation (and of each reply within a search).
    pub timeout: Duration,
    /// Where the connection may go: the server's address is resolved and checked before the
    /// connection, and the connected peer again before a bind is sent.
    pub policy: std::sync::Arc<crate::net::AddressPolicy>,
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

/// What a full read found: the users, the groups, entries skipped for lack of a stable id, and
/// the cursor that later incremental reads start from.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// The entries.
    pub entries: Vec<DirectoryEntry>,
    /// The groups.
    pub groups: Vec<DirectoryGroup>,
    /// The skipped.
    pub skipped: Vec<String>,
    /// Where an incremental read continues from (opaque; `None` if the directory gave none).
    pub cursor: Option<String>,
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

/// Renders a 16-byte syncrepl `entryUUID` the way OpenLDAP prints the attribute.
pub fn uuid_string(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
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

/// The entry's stable id: a text attribute, or a binary one (AD's `objectGUID`).
fn stable_id(e: &SearchEntry, attr: &str) -> Option<String> {
    first(e, attr)
        .or_else(|| {
            e.bin_attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(attr))
                .and_then(|(_, v)| v.first())
                .and_then(|b| guid_string(b))
        })
        .map(|id| id.to_ascii_lowercase())
}

fn entry(cfg: &LdapConfig, e: &SearchEntry) -> Option<DirectoryEntry> {
    let a = &cfg.attributes;
    let id = stable_id(e, &a.id)?;
    let uac_disabled = cfg.active_directory
        && first(e, "userAccountControl")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|uac| uac & 0x2 != 0);
    let attr_disabled = cfg.disabled_attribute.as_deref().is_some_and(|attr| {
        first(e, attr).is_some_and(|v| !v.eq_ignore_ascii_case("false") && v != "0")
    });
    Some(DirectoryEntry {
        id,
        dn: e.dn.clone(),
        username: first(e, &a.username),
        email: first(e, &a.email).map(|m| m.to_ascii_lowercase()),
        name: first(e, &a.name),
        given_name: first(e, &a.given_name),
        family_name: first(e, &a.family_name),
        disabled: uac_disabled || attr_disabled,
    })
}

/// The attributes a user search asks for.
fn user_attrs(cfg: &LdapConfig) -> Vec<String> {
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
    if let Some(d) = &cfg.disabled_attribute {
        attrs.push(d.clone());
    }
    match cfg.tracking {
        ChangeTracking::ModifyTimestamp => attrs.push("modifyTimestamp".into()),
        ChangeTracking::Usn | ChangeTracking::Syncrepl => {}
    }
    attrs
}

fn group_attrs(cfg: &LdapConfig) -> Vec<String> {
    let mut attrs = vec![
        cfg.attributes.id.clone(),
        "cn".to_string(),
        "member".to_string(),
    ];
    if cfg.tracking == ChangeTracking::ModifyTimestamp {
        attrs.push("modifyTimestamp".into());
    }
    attrs
}

/// A group entry as read, before nested groups are expanded: (id, dn, name, member DNs).
type RawGroup = (String, String, String, Vec<String>);

fn raw_group(cfg: &LdapConfig, e: &SearchEntry) -> Option<RawGroup> {
    let id = stable_id(e, &cfg.attributes.id)?;
    let name = first(e, "cn")?;
    let members = e
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("member"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Some((id, e.dn.clone(), name, members))
}

/// Expands nested groups: each group's members become the users reachable through it
/// (cycles are harmless).
fn flatten(groups: Vec<RawGroup>) -> Vec<DirectoryGroup> {
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

/// Whatever fails before a bind answer (no connection, TLS, a server that is not LDAP, a reset)
/// is this one error, so it never tells an open port from a closed one.
fn no_session(host: &str, port: u16) -> ConnectorError {
    upstream(format!(
        "could not open an LDAP session with {host}:{port} (no connection, no TLS, or not an \
         LDAP server)"
    ))
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "ldaps" { 636 } else { 389 }
}

/// A bound connection; its driver task stops when the handle is dropped or [`Session::close`]d.
pub(crate) struct Session {
    pub ldap: Ldap,
    driver: tokio::task::JoinHandle<()>,
}

impl Session {
    pub async fn open(cfg: &LdapConfig) -> Result<Self, ConnectorError> {
        let url = url::Url::parse(&cfg.url)
            .map_err(|_| ConnectorError::InvalidConfig(format!("{:?} is not a URL", cfg.url)))?;
        cfg.policy
            .check_url(&url)
            .map_err(|e| upstream(e.to_string()))?;
        let (host, port) = match (url.host(), url.scheme()) {
            (Some(url::Host::Ipv6(ip)), s) => {
                (ip.to_string(), url.port().unwrap_or(default_port(s)))
            }
            (Some(h), s) => (h.to_string(), url.port().unwrap_or(default_port(s))),
            (None, _) => {
                return Err(ConnectorError::InvalidConfig(format!(
                    "{:?} has no host",
                    cfg.url
                )));
            }
        };
        // The hub connects, through the address policy; ldap3 only speaks LDAP (and TLS) over
        // the checked stream.
        let stream = cfg
            .policy
            .connect_tcp(&host, port, cfg.timeout)
            .await
            .map_err(|e| match e {
                crate::net::NetError::Unreachable(_) => no_session(&host, port),
                refused => upstream(refused.to_string()),
            })?
            .into_std()
            .map_err(|_| no_session(&host, port))?;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(cfg.timeout)
            .set_starttls(cfg.start_tls)
            .set_no_tls_verify(cfg.tls_insecure)
            .set_std_stream(ldap3::StdStream::Tcp(stream));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
            .await
            .map_err(|_| no_session(&host, port))?;
        // The connection's errors surface in the operations.
        let driver = tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        let bound = ldap
            .with_timeout(cfg.timeout)
            .simple_bind(&cfg.bind_dn, cfg.bind_password.expose())
            .await
            .map_err(|_| no_session(&host, port))
            .and_then(|r| {
                r.success()
                    .map_err(|e| upstream(format!("bind as {} refused: {e}", cfg.bind_dn)))
            });
        let session = Self { ldap, driver };
        bound?;
        Ok(session)
    }

    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A paged subtree search under the base DN; `each` sees every entry. Fails as a whole if any
/// page fails.
async fn paged_search(
    cfg: &LdapConfig,
    ldap: &mut Ldap,
    filter: &str,
    attrs: Vec<String>,
    mut each: impl FnMut(SearchEntry),
) -> Result<(), ConnectorError> {
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(cfg.page_size)),
    ];
    let mut stream = ldap
        .with_timeout(cfg.timeout)
        .streaming_search_with(adapters, &cfg.base_dn, Scope::Subtree, filter, attrs)
        .await
        .map_err(upstream)?;
    while let Some(e) = stream.next().await.map_err(upstream)? {
        // Not ldap3's `SearchEntry::construct`, which panics on a malformed entry.
        let e = decode::search_entry(&e)
            .ok_or_else(|| upstream("the directory sent a search entry the hub could not read"))?;
        each(e);
    }
    stream
        .finish()
        .await
        .success()
        .map_err(|e| upstream(format!("the search {filter} did not complete: {e}")))?;
    Ok(())
}

/// The newest `modifyTimestamp` of `e`, if later than `max`.
fn newer_timestamp(max: &mut Option<String>, e: &SearchEntry) {
    if let Some(ts) = first(e, "modifyTimestamp")
        && max
            .as_ref()
            .is_none_or(|m| changes::ts_key(&ts) > changes::ts_key(m))
    {
        *max = Some(ts);
    }
}

/// Reads every user under `base_dn` matching `user_filter` (and every group), in pages;
/// `progress` is told the count so far after each page. Fails as a whole if any part fails.
/// On a syncrepl directory the read is a refresh without a cookie, which yields the cookie.
pub async fn read_users(
    cfg: &LdapConfig,
    mut progress: impl FnMut(usize) + Send,
) -> Result<ReadResult, ConnectorError> {
    let mut session = Session::open(cfg).await?;
    let result = async {
        if cfg.tracking == ChangeTracking::Syncrepl {
            return syncrepl::full_read(cfg, &mut session.ldap, &mut progress).await;
        }
        let usn = match cfg.tracking {
            ChangeTracking::Usn => Some(changes::highest_usn(cfg, &mut session.ldap).await?),
            _ => None,
        };
        let mut out = ReadResult::default();
        let mut max_ts = None;
        let mut since = 0usize;
        let page = cfg.page_size.max(1) as usize;
        paged_search(
            cfg,
            &mut session.ldap,
            &cfg.user_filter,
            user_attrs(cfg),
            |e| {
                newer_timestamp(&mut max_ts, &e);
                match entry(cfg, &e) {
                    Some(d) => out.entries.push(d),
                    None => out.skipped.push(e.dn.clone()),
                }
                since += 1;
                if since >= page {
                    since = 0;
                    progress(out.entries.len());
                }
            },
        )
        .await?;
        progress(out.entries.len());
        if let Some(filter) = &cfg.group_filter {
            let mut raw = Vec::new();
            paged_search(cfg, &mut session.ldap, filter, group_attrs(cfg), |e| {
                newer_timestamp(&mut max_ts, &e);
                match raw_group(cfg, &e) {
                    Some(g) => raw.push(g),
                    None => out.skipped.push(e.dn.clone()),
                }
            })
            .await?;
            out.groups = flatten(raw);
        }
        out.cursor = match cfg.tracking {
            ChangeTracking::Usn => usn.map(|n| changes::Cursor::Usn(n).encode()),
            _ => Some(
                changes::Cursor::Timestamp(
                    max_ts.unwrap_or_else(|| changes::EPOCH_TIMESTAMP.into()),
                )
                .encode(),
            ),
        };
        Ok(out)
    }
    .await;
    session.close().await;
    result
}

/// Reads every group (paged) and expands nested ones.
pub(crate) async fn read_groups(
    cfg: &LdapConfig,
    ldap: &mut Ldap,
    filter: &str,
) -> Result<(Vec<DirectoryGroup>, Vec<String>), ConnectorError> {
    let mut raw = Vec::new();
    let mut skipped = Vec::new();
    let attrs = vec![
        cfg.attributes.id.clone(),
        "cn".to_string(),
        "member".to_string(),
    ];
    paged_search(cfg, ldap, filter, attrs, |e| match raw_group(cfg, &e) {
        Some(g) => raw.push(g),
        None => skipped.push(e.dn.clone()),
    })
    .await?;
    Ok((flatten(raw), skipped))
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
    fn object_guid_renders_like_windows_and_entry_uuid_like_openldap() {
        let b = [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        assert_eq!(
            guid_string(&b).as_deref(),
            Some("00112233-4455-6677-8899-aabbccddeeff")
        );
        assert_eq!(guid_string(&b[..3]), None);
        assert_eq!(
            uuid_string(&b).as_deref(),
            Some("33221100-5544-7766-8899-aabbccddeeff")
        );
        assert_eq!(uuid_string(&b[..15]), None);
    }
}
