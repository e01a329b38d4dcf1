//! RFC 4533 content synchronization ("syncrepl"): a full read that yields a cookie, a one-shot
//! refresh from a cookie (changes and deletions), and a persistent search (refreshAndPersist)
//! that hears every change as the directory commits it. Users and groups are two searches with a
//! cookie each.
//!
//! The sync controls and intermediate messages come from a server the organization chose; they
//! are decoded by [`super::decode`], which never panics and bounds the work.

use std::collections::BTreeSet;
use std::time::Duration;

use ldap3::controls::{RawControl, RefreshMode, SyncRequest};
use ldap3::{Ldap, ResultEntry, Scope, SearchEntry, SearchStream};
use tokio::sync::mpsc;

use super::changes::{Changes, Cursor};
use super::decode::{SyncInfo, intermediate_info, parse_done, parse_state, search_entry};
use super::{
    DirectoryEntry, LdapConfig, ReadResult, Session, entry, flatten, raw_group, read_groups,
    upstream, user_attrs, uuid_string,
};
use crate::error::ConnectorError;

const SYNC_STATE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.2";
const SYNC_DONE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.3";
/// e-syncRefreshRequired (RFC 4533 §2.6): the cookie is too old; start over with a full read.
const SYNC_REFRESH_REQUIRED: u32 = 4096;
/// Live changes arriving this close together are applied as one batch.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// At most this many live changes per batch.
const MAX_BATCH: usize = 1000;

/// What one sync search said, accumulated message by message.
#[derive(Default)]
struct Collector {
    entries: Vec<SearchEntry>,
    deleted: Vec<String>,
    present: BTreeSet<String>,
    present_phase: bool,
    cookie: Option<Vec<u8>>,
    refresh_done: bool,
    malformed: usize,
}

impl Collector {
    fn new(cookie: Option<Vec<u8>>) -> Self {
        Self {
            cookie,
            ..Default::default()
        }
    }

    fn take(&mut self, re: ResultEntry) {
        if re.is_intermediate() {
            match intermediate_info(&re) {
                Some(SyncInfo::NewCookie(c)) => self.cookie = Some(c),
                Some(SyncInfo::Refresh {
                    present,
                    cookie,
                    done,
                }) => {
                    self.present_phase |= present;
                    self.refresh_done |= done;
                    if cookie.is_some() {
                        self.cookie = cookie;
                    }
                }
                Some(SyncInfo::IdSet {
                    cookie,
                    deletes,
                    uuids,
                }) => {
                    let ids = uuids.iter().filter_map(|u| uuid_string(u));
                    if deletes {
                        self.deleted.extend(ids);
                    } else {
                        self.present_phase = true;
                        self.present.extend(ids);
                    }
                    if cookie.is_some() {
                        self.cookie = cookie;
                    }
                }
                None => self.malformed += 1,
            }
            return;
        }
        if re.is_ref() {
            return;
        }
        let state =
            re.1.iter()
                .find(|c| c.1.ctype == SYNC_STATE_OID)
                .and_then(|c| c.1.val.as_deref())
                .and_then(parse_state);
        let Some(state) = state else {
            match search_entry(&re) {
                Some(e) => self.entries.push(e),
                None => self.malformed += 1,
            }
            return;
        };
        if state.cookie.is_some() {
            self.cookie = state.cookie;
        }
        match (state.state, uuid_string(&state.uuid)) {
            (0, Some(id)) => {
                self.present_phase = true;
                self.present.insert(id);
            }
            (3, Some(id)) => self.deleted.push(id),
            (1 | 2, _) => match search_entry(&re) {
                Some(e) => self.entries.push(e),
                None => self.malformed += 1,
            },
            _ => self.malformed += 1,
        }
    }

    /// The users among the entries, and the changes in the form the hub applies.
    fn user_changes(&mut self, cfg: &LdapConfig) -> Changes {
        let mut out = Changes::default();
        for e in self.entries.drain(..) {
            match entry(cfg, &e) {
                Some(d) => out.entries.push(d),
                None => out.skipped.push(e.dn.clone()),
            }
        }
        out.deleted = std::mem::take(&mut self.deleted);
        if std::mem::take(&mut self.present_phase) {
            let mut present = std::mem::take(&mut self.present);
            present.extend(out.entries.iter().map(|e: &DirectoryEntry| e.id.clone()));
            out.present = Some(present);
        }
        out
    }

    /// Whether anything happened to the groups.
    fn touched(&self) -> bool {
        !self.entries.is_empty()
            || !self.deleted.is_empty()
            || self.present_phase
            || !self.present.is_empty()
    }

    fn reset(&mut self) {
        let cookie = self.cookie.take();
        *self = Self::new(cookie);
    }
}

fn request(cookie: Option<Vec<u8>>, persist: bool) -> RawControl {
    SyncRequest {
        mode: if persist {
            RefreshMode::RefreshAndPersist
        } else {
            RefreshMode::RefreshOnly
        },
        cookie,
        reload_hint: false,
    }
    .into()
}

async fn start<'a>(
    cfg: &LdapConfig,
    ldap: &mut Ldap,
    filter: &str,
    attrs: Vec<String>,
    cookie: Option<Vec<u8>>,
    persist: bool,
) -> Result<SearchStream<'a, String, Vec<String>>, ConnectorError> {
    let ldap = ldap.with_controls(request(cookie, persist));
    if !persist {
        ldap.with_timeout(cfg.timeout);
    }
    ldap.streaming_search(&cfg.base_dn, Scope::Subtree, filter, attrs)
        .await
        .map_err(upstream)
}

/// One refreshOnly search; `None` if the server needs a full read (e-syncRefreshRequired).
async fn refresh_once(
    cfg: &LdapConfig,
    ldap: &mut Ldap,
    filter: &str,
    attrs: Vec<String>,
    cookie: Option<Vec<u8>>,
    progress: &mut (impl FnMut(usize) + Send),
) -> Result<Option<Collector>, ConnectorError> {
    let mut c = Collector::new(cookie.clone());
    let mut stream = start(cfg, ldap, filter, attrs, cookie, false).await?;
    let page = cfg.page_size.max(1) as usize;
    let mut reported = 0;
    while let Some(re) = stream.next().await.map_err(upstream)? {
        c.take(re);
        if c.entries.len() >= reported + page {
            reported = c.entries.len();
            progress(reported);
        }
    }
    let res = stream.finish().await;
    if res.rc == SYNC_REFRESH_REQUIRED {
        return Ok(None);
    }
    if let Some((cookie, deletes)) = res
        .ctrls
        .iter()
        .find(|x| x.1.ctype == SYNC_DONE_OID)
        .and_then(|x| x.1.val.as_deref())
        .and_then(parse_done)
    {
        if cookie.is_some() {
            c.cookie = cookie;
        }
        // RFC 4533 §3.3.1: without refreshDeletes, unchanged entries not named present are gone.
        if !deletes {
            c.present_phase = true;
        }
    }
    res.success()
        .map_err(|e| upstream(format!("the sync search {filter} did not complete: {e}")))?;
    if c.malformed > 0 {
        return Err(upstream(format!(
            "the directory sent {} sync messages the hub could not read",
            c.malformed
        )));
    }
    Ok(Some(c))
}

/// A full read by a refresh without cookie: every entry, and the cookies to continue from.
pub(crate) async fn full_read(
    cfg: &LdapConfig,
    ldap: &mut Ldap,
    progress: &mut (impl FnMut(usize) + Send),
) -> Result<ReadResult, ConnectorError> {
    let mut users = refresh_once(cfg, ldap, &cfg.user_filter, user_attrs(cfg), None, progress)
        .await?
        .ok_or_else(|| upstream("the directory refused a sync refresh without a cookie"))?;
    let mut out = ReadResult::default();
    let changes = users.user_changes(cfg);
    out.entries = changes.entries;
    out.skipped = changes.skipped;
    progress(out.entries.len());
    let mut groups_cookie = None;
    if let Some(filter) = &cfg.group_filter {
        let attrs = vec![
            cfg.attributes.id.clone(),
            "cn".to_string(),
            "member".to_string(),
        ];
        let mut g = refresh_once(cfg, ldap, filter, attrs, None, &mut |_| {})
            .await?
            .ok_or_else(|| upstream("the directory refused a sync refresh without a cookie"))?;
        let mut raw = Vec::new();
        for e in g.entries.drain(..) {
            match raw_group(cfg, &e) {
                Some(x) => raw.push(x),
                None => out.skipped.push(e.dn.clone()),
            }
        }
        out.groups = flatten(raw);
        groups_cookie = g.cookie;
    }
    out.cursor = Some(
        Cursor::Syncrepl {
            users: users.cookie,
            groups: groups_cookie,
        }
        .encode(),
    );
    Ok(out)
}

/// What changed since the cookies (one refreshOnly per search).
pub(crate) async fn refresh_changes(
    cfg: &LdapConfig,
    ldap: &mut Ldap,
    users_cookie: Option<Vec<u8>>,
    groups_cookie: Option<Vec<u8>>,
) -> Result<Option<Changes>, ConnectorError> {
    let Some(mut users) = refresh_once(
        cfg,
        ldap,
        &cfg.user_filter,
        user_attrs(cfg),
        users_cookie,
        &mut |_| {},
    )
    .await?
    else {
        return Ok(None);
    };
    let mut out = users.user_changes(cfg);
    let mut groups_cookie_out = None;
    if let Some(filter) = &cfg.group_filter {
        let Some(g) = refresh_once(
            cfg,
            ldap,
            filter,
            vec!["1.1".to_string()],
            groups_cookie,
            &mut |_| {},
        )
        .await?
        else {
            return Ok(None);
        };
        // A present phase that names every group is no change; anything else re-reads them.
        if !g.entries.is_empty() || !g.deleted.is_empty() || g.present_phase {
            let (groups, skipped) = read_groups(cfg, ldap, filter).await?;
            out.groups = Some(groups);
            out.skipped.extend(skipped);
        }
        groups_cookie_out = g.cookie;
    }
    out.cursor = Cursor::Syncrepl {
        users: users.cookie,
        groups: groups_cookie_out,
    }
    .encode();
    Ok(Some(out))
}

/// What a persistent search reports.
#[derive(Debug)]
pub enum WatchEvent {
    /// The refresh stage (everything since the cursor), or a batch of live changes.
    Changes(Changes),
    /// The cursor is too old for the directory: run a full read, then watch from its cursor.
    RefreshRequired,
}

/// Watches the directory with refreshAndPersist from `cursor` (a syncrepl cursor), sending the
/// refresh stage and then every live change to `tx`. Returns `Ok` when the receiver goes away;
/// an error when the connection or a search ends.
pub async fn watch(
    cfg: &LdapConfig,
    cursor: &str,
    tx: mpsc::Sender<WatchEvent>,
) -> Result<(), ConnectorError> {
    let Some(Cursor::Syncrepl {
        users: users_cookie,
        groups: groups_cookie,
    }) = Cursor::decode(cursor)
    else {
        let _ = tx.send(WatchEvent::RefreshRequired).await;
        return Ok(());
    };
    let mut session = Session::open(cfg).await?;
    let mut users = start(
        cfg,
        &mut session.ldap,
        &cfg.user_filter,
        user_attrs(cfg),
        users_cookie.clone(),
        true,
    )
    .await?;
    let mut uc = Collector::new(users_cookie);
    let mut groups = match &cfg.group_filter {
        Some(f) => Some(
            start(
                cfg,
                &mut session.ldap,
                f,
                vec!["1.1".to_string()],
                groups_cookie.clone(),
                true,
            )
            .await?,
        ),
        None => None,
    };
    let mut gc = Collector::new(groups_cookie);
    // The refresh stage ends with a syncInfo whose refreshDone is TRUE, on each search; it is
    // reported as one batch (even an empty one, so the caller knows the watch is live).
    let mut refreshed = (false, groups.is_none());
    let mut announced = false;
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let flush_at = due.unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            item = users.next() => {
                match item.map_err(upstream)? {
                    Some(re) => uc.take(re),
                    None => return ended(&mut users, "user").await,
                }
                refreshed.0 |= uc.refresh_done;
            }
            item = async {
                match groups.as_mut() {
                    Some(g) => g.next().await,
                    None => std::future::pending().await,
                }
            } => {
                match (item.map_err(upstream)?, groups.as_mut()) {
                    (Some(re), _) => gc.take(re),
                    (None, Some(g)) => return ended(g, "group").await,
                    (None, None) => return Ok(()),
                }
                refreshed.1 |= gc.refresh_done;
            }
            _ = tokio::time::sleep_until(flush_at), if due.is_some() => {}
            _ = tx.closed() => return Ok(()),
        }
        if uc.malformed + gc.malformed > 0 {
            return Err(upstream(
                "the directory sent sync messages the hub could not read",
            ));
        }
        if !(refreshed.0 && refreshed.1) {
            continue;
        }
        if announced {
            if !(uc.touched() || gc.touched()) {
                due = None;
                continue;
            }
            let now = tokio::time::Instant::now();
            let at = *due.get_or_insert(now + DEBOUNCE);
            if now < at && uc.entries.len() + uc.deleted.len() < MAX_BATCH {
                continue;
            }
        }
        announced = true;
        due = None;
        let mut changes = uc.user_changes(cfg);
        if gc.touched()
            && let Some(filter) = &cfg.group_filter
        {
            let mut ldap = session.ldap.clone();
            let (all, skipped) = read_groups(cfg, &mut ldap, filter).await?;
            changes.groups = Some(all);
            changes.skipped.extend(skipped);
        }
        gc.reset();
        uc.reset();
        changes.cursor = Cursor::Syncrepl {
            users: uc.cookie.clone(),
            groups: gc.cookie.clone(),
        }
        .encode();
        if tx.send(WatchEvent::Changes(changes)).await.is_err() {
            return Ok(());
        }
    }
}

/// A persistent search ended: the server's reason.
async fn ended(
    stream: &mut SearchStream<'_, String, Vec<String>>,
    what: &str,
) -> Result<(), ConnectorError> {
    let res = stream.finish().await;
    if res.rc == SYNC_REFRESH_REQUIRED {
        return Err(ConnectorError::Upstream(format!(
            "the directory needs a full read (e-syncRefreshRequired on the {what} search)"
        )));
    }
    Err(upstream(format!(
        "the directory ended the persistent {what} search: rc={} {}",
        res.rc, res.text
    )))
}

#[cfg(test)]
mod tests {
    //! What a sync search accumulates from a hostile or buggy server's messages: never a panic,
    //! bounded time; from well-formed ones, exactly what they said.
    use ldap3::asn1::{PL, StructureTag, TagClass};
    use ldap3::controls::{Control, RawControl};
    use proptest::prelude::*;

    use super::super::decode::props::{
        attrs, cookie, entry_tag, info_value, mutate, mutation, state_value, timed, tree, uuid,
    };
    use super::*;
    use crate::ldap::{LdapAttributes, uuid_string};
    use crate::secret::SecretString;

    fn config() -> LdapConfig {
        LdapConfig {
            url: "ldap://127.0.0.1:389".into(),
            start_tls: false,
            tls_insecure: false,
            bind_dn: "cn=hub".into(),
            bind_password: SecretString::new("x"),
            base_dn: "dc=example".into(),
            user_filter: "(objectClass=person)".into(),
            group_filter: None,
            attributes: LdapAttributes {
                id: "entryUUID".into(),
                username: "uid".into(),
                email: "mail".into(),
                name: "cn".into(),
                given_name: "givenName".into(),
                family_name: "sn".into(),
            },
            active_directory: false,
            disabled_attribute: Some("pwdAccountLockedTime".into()),
            tracking: crate::ldap::ChangeTracking::Syncrepl,
            page_size: 100,
            timeout: Duration::from_secs(5),
            policy: std::sync::Arc::new(crate::net::AddressPolicy::new(false, vec![])),
        }
    }

    fn with_state(tag: StructureTag, value: Option<Vec<u8>>) -> ResultEntry {
        let ctrl = RawControl {
            ctype: SYNC_STATE_OID.into(),
            crit: false,
            val: value,
        };
        let mut re = ResultEntry::new(tag);
        re.1 = vec![Control(None, ctrl)];
        re
    }

    fn intermediate(value: Vec<u8>) -> ResultEntry {
        let name = StructureTag {
            class: TagClass::Context,
            id: 0,
            payload: PL::P(b"1.3.6.1.4.1.4203.1.9.1.4".to_vec()),
        };
        let value = StructureTag {
            class: TagClass::Context,
            id: 1,
            payload: PL::P(value),
        };
        ResultEntry::new(StructureTag {
            class: TagClass::Application,
            id: 25,
            payload: PL::C(vec![name, value]),
        })
    }

    /// One message of a sync search: well-formed, mutated, or anything at all.
    fn message() -> impl Strategy<Value = ResultEntry> {
        let state = || (0..=3u8, uuid(), cookie(), attrs());
        prop_oneof![
            state().prop_map(|(s, id, c, a)| {
                with_state(
                    entry_tag("uid=x", &a),
                    Some(state_value(s, &id, c.as_deref())),
                )
            }),
            (state(), proptest::collection::vec(mutation(), 1..4)).prop_map(
                |((s, id, c, a), ms)| {
                    let value = ms.iter().fold(state_value(s, &id, c.as_deref()), mutate);
                    with_state(entry_tag("uid=x", &a), Some(value))
                }
            ),
            info_value().prop_map(|(v, _)| intermediate(v)),
            (info_value(), proptest::collection::vec(mutation(), 1..4))
                .prop_map(|((v, _), ms)| { intermediate(ms.iter().fold(v, mutate)) }),
            (
                tree(),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))
            )
                .prop_map(|(t, v)| with_state(t, v)),
            tree().prop_map(ResultEntry::new),
        ]
    }

    proptest! {
        #[test]
        fn any_messages_are_collected_quickly_without_panicking(
            start in cookie(),
            messages in proptest::collection::vec(message(), 0..48),
        ) {
            let cfg = config();
            timed("collecting", || {
                let mut c = Collector::new(start);
                for m in messages {
                    c.take(m);
                }
                let _ = c.touched();
                let _ = c.user_changes(&cfg);
                c.reset();
            });
        }

        #[test]
        fn well_formed_states_are_collected_as_they_say(
            start in cookie(),
            states in proptest::collection::vec((0..=3u8, uuid(), cookie()), 0..32),
        ) {
            let mut c = Collector::new(start.clone());
            for (s, id, ck) in &states {
                let attrs = vec![("entryUUID".to_string(), vec![uuid_string(id).unwrap_or_default().into_bytes()])];
                c.take(with_state(entry_tag("uid=x,dc=example", &attrs), Some(state_value(*s, id, ck.as_deref()))));
            }
            prop_assert_eq!(c.malformed, 0);
            let last_cookie = states.iter().rev().find_map(|(_, _, ck)| ck.clone()).or(start);
            prop_assert_eq!(&c.cookie, &last_cookie);
            let of = |want: &[u8]| -> Vec<String> {
                states.iter().filter(|(s, _, _)| want.contains(s)).filter_map(|(_, id, _)| uuid_string(id)).collect()
            };
            prop_assert_eq!(&c.deleted, &of(&[3]));
            prop_assert_eq!(c.entries.len(), of(&[1, 2]).len());
            prop_assert_eq!(c.present.iter().cloned().collect::<Vec<_>>(), {
                let mut p = of(&[0]);
                p.sort();
                p.dedup();
                p
            });
            let changes = c.user_changes(&config());
            prop_assert_eq!(changes.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), of(&[1, 2]));
        }
    }
}
