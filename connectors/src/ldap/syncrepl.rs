//! RFC 4533 content synchronization ("syncrepl"): a full read that yields a cookie, a one-shot
//! refresh from a cookie (changes and deletions), and a persistent search (refreshAndPersist)
//! that hears every change as the directory commits it. Users and groups are two searches with a
//! cookie each.
//!
//! The sync controls and intermediate messages come from a server the organization chose, so
//! they are decoded here without panicking (ldap3's own decoders `expect` well-formed input).

use std::collections::BTreeSet;
use std::time::Duration;

use ldap3::asn1::{PL, StructureTag, TagClass, Types, parse_tag};
use ldap3::controls::{RawControl, RefreshMode, SyncRequest};
use ldap3::{Ldap, ResultEntry, Scope, SearchEntry, SearchStream};
use tokio::sync::mpsc;

use super::changes::{Changes, Cursor};
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

fn ber(bytes: &[u8]) -> Option<StructureTag> {
    parse_tag(bytes).ok().map(|(_, t)| t)
}

fn children(t: StructureTag) -> Option<Vec<StructureTag>> {
    match t.payload {
        PL::C(v) => Some(v),
        PL::P(_) => None,
    }
}

fn primitive(t: StructureTag) -> Option<Vec<u8>> {
    match t.payload {
        PL::P(v) => Some(v),
        PL::C(_) => None,
    }
}

fn is_universal(t: &StructureTag, ty: Types) -> bool {
    t.class == TagClass::Universal && t.id == ty as u64
}

/// syncStateValue (RFC 4533 §2.3).
#[derive(Debug, PartialEq, Eq)]
struct SyncState {
    /// present (0), add (1), modify (2), delete (3).
    state: u8,
    uuid: Vec<u8>,
    cookie: Option<Vec<u8>>,
}

fn parse_state(val: &[u8]) -> Option<SyncState> {
    let mut it = children(ber(val)?)?.into_iter();
    let st = it.next().filter(|t| is_universal(t, Types::Enumerated))?;
    let state = match primitive(st)?.as_slice() {
        [s] if *s <= 3 => *s,
        _ => return None,
    };
    let uuid = primitive(it.next().filter(|t| is_universal(t, Types::OctetString))?)?;
    let cookie = it
        .next()
        .filter(|t| is_universal(t, Types::OctetString))
        .and_then(primitive);
    Some(SyncState {
        state,
        uuid,
        cookie,
    })
}

/// syncDoneValue (RFC 4533 §2.4): the cookie and refreshDeletes (default FALSE).
fn parse_done(val: &[u8]) -> Option<(Option<Vec<u8>>, bool)> {
    let mut cookie = None;
    let mut deletes = false;
    for t in children(ber(val)?)? {
        if is_universal(&t, Types::OctetString) {
            cookie = primitive(t);
        } else if is_universal(&t, Types::Boolean) {
            deletes = primitive(t)?.first().is_some_and(|b| *b != 0);
        }
    }
    Some((cookie, deletes))
}

/// syncInfoValue (RFC 4533 §2.5).
#[derive(Debug, PartialEq, Eq)]
enum SyncInfo {
    NewCookie(Vec<u8>),
    /// End (or step) of the refresh stage; `present` tells the present phase from the delete one.
    Refresh {
        present: bool,
        cookie: Option<Vec<u8>>,
        done: bool,
    },
    IdSet {
        cookie: Option<Vec<u8>>,
        deletes: bool,
        uuids: Vec<Vec<u8>>,
    },
}

fn parse_info(val: &[u8]) -> Option<SyncInfo> {
    let t = ber(val)?;
    if t.class != TagClass::Context {
        return None;
    }
    let id = t.id;
    if id == 0 {
        return primitive(t).map(SyncInfo::NewCookie);
    }
    if !(1..=3).contains(&id) {
        return None;
    }
    let mut cookie = None;
    // refreshDone defaults to TRUE, refreshDeletes to FALSE.
    let mut flag = id != 3;
    let mut uuids = Vec::new();
    for c in children(t)? {
        if is_universal(&c, Types::OctetString) {
            cookie = primitive(c);
        } else if is_universal(&c, Types::Boolean) {
            flag = primitive(c)?.first().is_some_and(|b| *b != 0);
        } else if is_universal(&c, Types::Set) {
            uuids = children(c)?
                .into_iter()
                .filter_map(primitive)
                .collect::<Vec<_>>();
        }
    }
    Some(match id {
        3 => SyncInfo::IdSet {
            cookie,
            deletes: flag,
            uuids,
        },
        _ => SyncInfo::Refresh {
            present: id == 2,
            cookie,
            done: flag,
        },
    })
}

/// The syncInfoValue of an IntermediateResponse ([APPLICATION 25] { [0] name, [1] value }).
fn intermediate_info(re: &ResultEntry) -> Option<SyncInfo> {
    let parts = children(re.0.clone())?;
    let value = parts
        .into_iter()
        .find(|t| t.class == TagClass::Context && t.id == 1)?;
    parse_info(&primitive(value)?)
}

/// A SearchResultEntry decoded without panicking; `None` if malformed.
pub(crate) fn search_entry(re: &ResultEntry) -> Option<SearchEntry> {
    if re.0.id != 4 {
        return None;
    }
    let mut parts = children(re.0.clone())?.into_iter();
    let dn = String::from_utf8(primitive(parts.next()?)?).ok()?;
    let mut e = SearchEntry {
        dn,
        attrs: Default::default(),
        bin_attrs: Default::default(),
    };
    for attr in children(parts.next()?)? {
        let mut av = children(attr)?.into_iter();
        let name = String::from_utf8(primitive(av.next()?)?).ok()?;
        for v in children(av.next()?)? {
            let v = primitive(v)?;
            match String::from_utf8(v) {
                Ok(s) => e.attrs.entry(name.clone()).or_default().push(s),
                Err(b) => e
                    .bin_attrs
                    .entry(name.clone())
                    .or_default()
                    .push(b.into_bytes()),
            }
        }
    }
    Some(e)
}

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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
            .collect()
    }

    #[test]
    fn sync_state_decodes_and_garbage_is_refused_without_panicking() {
        // SEQUENCE { ENUMERATED 3, OCTET STRING (16 bytes), OCTET STRING "ck" }
        let v = hex("30190a0103041000112233445566778899aabbccddeeff0402636b");
        let s = parse_state(&v).unwrap();
        assert_eq!(s.state, 3);
        assert_eq!(
            uuid_string(&s.uuid).as_deref(),
            Some("00112233-4455-6677-8899-aabbccddeeff")
        );
        assert_eq!(s.cookie.as_deref(), Some(&b"ck"[..]));
        for junk in [
            &b""[..],
            &[0x30][..],
            &[0x30, 0x03, 0x0a, 0x01, 0x09][..],
            &[0x04, 0x00][..],
            &[0x30, 0x80][..],
            &[0xff; 40][..],
        ] {
            assert_eq!(parse_state(junk), None);
        }
    }

    #[test]
    fn sync_info_decodes_each_choice() {
        // [0] newcookie "ab"
        assert_eq!(
            parse_info(&hex("80026162")),
            Some(SyncInfo::NewCookie(b"ab".to_vec()))
        );
        // [1] refreshDelete { cookie "x" } (refreshDone defaults to TRUE)
        assert_eq!(
            parse_info(&hex("a103040178")),
            Some(SyncInfo::Refresh {
                present: false,
                cookie: Some(b"x".to_vec()),
                done: true
            })
        );
        // [2] refreshPresent { refreshDone FALSE }
        assert_eq!(
            parse_info(&hex("a2030101ff")),
            Some(SyncInfo::Refresh {
                present: true,
                cookie: None,
                done: true
            })
        );
        assert_eq!(
            parse_info(&hex("a203010100")),
            Some(SyncInfo::Refresh {
                present: true,
                cookie: None,
                done: false
            })
        );
        // [3] syncIdSet { refreshDeletes TRUE, SET { uuid } }
        let uuid = "00112233445566778899aabbccddeeff";
        let set = format!("3112{}{}", "0410", uuid);
        let body = format!("0101ff{set}");
        let v = hex(&format!("a3{:02x}{body}", body.len() / 2));
        assert_eq!(
            parse_info(&v),
            Some(SyncInfo::IdSet {
                cookie: None,
                deletes: true,
                uuids: vec![hex(uuid)]
            })
        );
        assert_eq!(parse_info(&hex("a4020500")), None);
        assert_eq!(parse_info(&hex("0401ff")), None);
        assert_eq!(parse_info(&[]), None);
    }

    #[test]
    fn sync_done_defaults_refresh_deletes_to_false() {
        assert_eq!(
            parse_done(&hex("3004040263ff")),
            Some((Some(vec![0x63, 0xff]), false))
        );
        assert_eq!(parse_done(&hex("30030101ff")), Some((None, true)));
        assert_eq!(parse_done(&hex("3000")), Some((None, false)));
        assert_eq!(parse_done(&hex("04")), None);
    }
}
