//! Incremental reads: what changed since a cursor. The cursor is opaque to the hub (a string it
//! stores per directory) and says how the directory tracks changes: a syncrepl cookie per search
//! (users, groups), the newest `modifyTimestamp` seen, or AD's `highestCommittedUSN` at the last
//! read. Only syncrepl reports deletions; the other two leave them to the next full read.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ldap3::{Ldap, Scope};

use super::{
    ChangeTracking, DirectoryEntry, DirectoryGroup, LdapConfig, Session, entry, first,
    newer_timestamp, paged_search, read_groups, syncrepl, upstream, user_attrs,
};
use crate::error::ConnectorError;

/// The `modifyTimestamp` cursor of an empty directory.
pub(crate) const EPOCH_TIMESTAMP: &str = "19700101000000Z";

/// How an empty syncrepl cookie is written in a cursor.
const EMPTY_COOKIE: &str = "=";

/// Where an incremental read starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// The syncrepl cookies of the user search and of the group search.
    Syncrepl {
        users: Option<Vec<u8>>,
        groups: Option<Vec<u8>>,
    },
    /// The newest `modifyTimestamp` seen (GeneralizedTime).
    Timestamp(String),
    /// The domain controller's `highestCommittedUSN` when the last read began.
    Usn(u64),
}

impl Cursor {
    /// A syncrepl cookie is its base64url, empty without a cookie, and `=` (which base64url
    /// without padding never writes) for an empty one, so that it reads back as it was.
    pub fn encode(&self) -> String {
        let b64 = |c: &Option<Vec<u8>>| {
            c.as_deref().map(|c| match c {
                [] => EMPTY_COOKIE.to_string(),
                c => URL_SAFE_NO_PAD.encode(c),
            })
        };
        match self {
            Self::Syncrepl { users, groups } => format!(
                "syncrepl:{}:{}",
                b64(users).unwrap_or_default(),
                b64(groups).unwrap_or_default()
            ),
            Self::Timestamp(ts) => format!("ts:{ts}"),
            Self::Usn(n) => format!("usn:{n}"),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        let cookie = |c: &str| -> Option<Option<Vec<u8>>> {
            if c.is_empty() {
                Some(None)
            } else if c == EMPTY_COOKIE {
                Some(Some(Vec::new()))
            } else {
                URL_SAFE_NO_PAD.decode(c).ok().map(Some)
            }
        };
        let (kind, rest) = s.split_once(':')?;
        match kind {
            "syncrepl" => {
                let (u, g) = rest.split_once(':')?;
                Some(Self::Syncrepl {
                    users: cookie(u)?,
                    groups: cookie(g)?,
                })
            }
            "ts" if valid_timestamp(rest) => Some(Self::Timestamp(rest.to_string())),
            "usn" => rest.parse().ok().map(Self::Usn),
            _ => None,
        }
    }

    fn tracking(&self) -> ChangeTracking {
        match self {
            Self::Syncrepl { .. } => ChangeTracking::Syncrepl,
            Self::Timestamp(_) => ChangeTracking::ModifyTimestamp,
            Self::Usn(_) => ChangeTracking::Usn,
        }
    }
}

/// GeneralizedTime as directories write it: 14 digits, optional fraction, then `Z`. Anything
/// else would be spliced into a filter, so it is refused.
fn valid_timestamp(ts: &str) -> bool {
    let Some(body) = ts.strip_suffix('Z') else {
        return false;
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, "0"));
    whole.len() == 14
        && whole.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.len() <= 9
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// A sort key for GeneralizedTime values (fraction padded, so they compare as text).
pub(crate) fn ts_key(ts: &str) -> String {
    let body = ts.trim_end_matches('Z');
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    format!("{whole:0<14}.{frac:0<9}")
}

/// What changed since a cursor.
#[derive(Debug, Default)]
pub struct Changes {
    /// Users added or changed (their whole entry).
    pub entries: Vec<DirectoryEntry>,
    /// Entries without a stable id.
    pub skipped: Vec<String>,
    /// Stable ids of users (or groups) the directory deleted.
    pub deleted: Vec<String>,
    /// When the directory answered with the set of entries still present (syncrepl's present
    /// phase): every known user that is neither in it nor in `entries` is gone.
    pub present: Option<BTreeSet<String>>,
    /// Every group, nested groups expanded, when any group changed; `None` if none did.
    pub groups: Option<Vec<DirectoryGroup>>,
    /// Where the next incremental read starts.
    pub cursor: String,
}

impl Changes {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.deleted.is_empty()
            && self.present.is_none()
            && self.groups.is_none()
    }
}

/// The domain controller's `highestCommittedUSN` (rootDSE).
pub(crate) async fn highest_usn(cfg: &LdapConfig, ldap: &mut Ldap) -> Result<u64, ConnectorError> {
    let (entries, _) = ldap
        .with_timeout(cfg.timeout)
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["highestCommittedUSN"],
        )
        .await
        .map_err(upstream)?
        .success()
        .map_err(|e| upstream(format!("cannot read the rootDSE: {e}")))?;
    entries
        .into_iter()
        .next()
        .and_then(|re| super::decode::search_entry(&re))
        .and_then(|e| first(&e, "highestCommittedUSN"))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| upstream("the directory's rootDSE has no highestCommittedUSN"))
}

/// Reads what changed since `cursor`. `Ok(None)` means the directory cannot continue from it (a
/// cursor of another kind, or syncrepl's e-syncRefreshRequired): run a full read instead.
pub async fn read_changes(
    cfg: &LdapConfig,
    cursor: &str,
    mut progress: impl FnMut(usize) + Send,
) -> Result<Option<Changes>, ConnectorError> {
    let Some(cursor) = Cursor::decode(cursor).filter(|c| c.tracking() == cfg.tracking) else {
        return Ok(None);
    };
    let mut session = Session::open(cfg).await?;
    let result = async {
        match cursor {
            Cursor::Syncrepl { users, groups } => {
                syncrepl::refresh_changes(cfg, &mut session.ldap, users, groups).await
            }
            Cursor::Timestamp(ts) => {
                let clause = format!("(modifyTimestamp>={ts})");
                let mut max = Some(ts.clone());
                let changes =
                    since(cfg, &mut session.ldap, &clause, &mut max, &mut progress).await?;
                Ok(Some(Changes {
                    cursor: Cursor::Timestamp(max.unwrap_or(ts)).encode(),
                    ..changes
                }))
            }
            Cursor::Usn(n) => {
                // Read the high-water mark first, so nothing committed during the search is
                // skipped next time (at worst it is read twice).
                let high = highest_usn(cfg, &mut session.ldap).await?;
                let clause = format!("(uSNChanged>={})", n.saturating_add(1));
                let mut unused = None;
                let changes =
                    since(cfg, &mut session.ldap, &clause, &mut unused, &mut progress).await?;
                Ok(Some(Changes {
                    cursor: Cursor::Usn(high.max(n)).encode(),
                    ..changes
                }))
            }
        }
    }
    .await;
    session.close().await;
    result
}

/// Users matching the user filter and `clause`; every group if any group matches `clause`.
async fn since(
    cfg: &LdapConfig,
    ldap: &mut Ldap,
    clause: &str,
    max_ts: &mut Option<String>,
    progress: &mut (impl FnMut(usize) + Send),
) -> Result<Changes, ConnectorError> {
    let mut out = Changes::default();
    let cursor_ts = max_ts.clone();
    paged_search(
        cfg,
        ldap,
        &format!("(&{}{clause})", cfg.user_filter),
        user_attrs(cfg),
        |e| {
            newer_timestamp(max_ts, &e);
            match entry(cfg, &e) {
                Some(d) => out.entries.push(d),
                None => out.skipped.push(e.dn.clone()),
            }
        },
    )
    .await?;
    progress(out.entries.len());
    if let Some(filter) = &cfg.group_filter {
        // Users are read from the cursor's second on (re-reading one is harmless); a group
        // counts as changed only if it is newer than the cursor, since a change re-reads every
        // group. (A group changed in the very second of the newest change seen waits for the
        // next full sync.) With USNs the clause is exact already.
        let since = cursor_ts;
        let mut changed = false;
        let attrs = vec!["modifyTimestamp".to_string()];
        paged_search(cfg, ldap, &format!("(&{filter}{clause})"), attrs, |e| {
            let newer = match (&since, first(&e, "modifyTimestamp")) {
                (Some(s), Some(ts)) => ts_key(&ts) > ts_key(s),
                _ => true,
            };
            newer_timestamp(max_ts, &e);
            changed |= newer;
        })
        .await?;
        if changed {
            let (groups, skipped) = read_groups(cfg, ldap, filter).await?;
            out.groups = Some(groups);
            out.skipped.extend(skipped);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_what_could_inject_a_filter() {
        for c in [
            Cursor::Syncrepl {
                users: Some(b"rid=000,csn=20261201".to_vec()),
                groups: None,
            },
            Cursor::Syncrepl {
                users: None,
                groups: Some(vec![0, 255, 7]),
            },
            Cursor::Timestamp("20261201221500Z".into()),
            Cursor::Timestamp("20261201221500.123456Z".into()),
            Cursor::Usn(123_456),
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(Cursor::decode("ts:20261201221500Z)(uid=*"), None);
        assert_eq!(Cursor::decode("ts:2026120122150Z"), None);
        assert_eq!(Cursor::decode("usn:-1"), None);
        assert_eq!(Cursor::decode("syncrepl:!!:"), None);
        assert_eq!(Cursor::decode("other:1"), None);
        assert_eq!(Cursor::decode(""), None);
    }

    mod props {
        //! Cursors are stored by the hub and come back from its database: any text decodes
        //! quickly without panicking, whatever decodes re-encodes to itself and holds nothing
        //! but a timestamp's characters where it is spliced into a filter, and every cursor a
        //! read makes decodes to itself.
        use proptest::prelude::*;

        use super::super::super::decode::props::timed;
        use super::*;

        fn timestamp() -> impl Strategy<Value = String> {
            ("[0-9]{14}", proptest::option::of("[0-9]{1,9}")).prop_map(|(whole, frac)| match frac {
                Some(f) => format!("{whole}.{f}Z"),
                None => format!("{whole}Z"),
            })
        }

        fn cursor() -> impl Strategy<Value = Cursor> {
            let cookie = || {
                proptest::option::of(prop_oneof![
                    1 => Just(Vec::new()),
                    4 => proptest::collection::vec(any::<u8>(), 1..256),
                ])
            };
            prop_oneof![
                (cookie(), cookie()).prop_map(|(users, groups)| Cursor::Syncrepl { users, groups }),
                timestamp().prop_map(Cursor::Timestamp),
                any::<u64>().prop_map(Cursor::Usn),
            ]
        }

        proptest! {
            #[test]
            fn every_cursor_decodes_to_itself(c in cursor()) {
                prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
            }

            #[test]
            fn any_text_decodes_quickly_to_a_canonical_cursor_or_none(
                s in prop_oneof![
                    ".{0,512}",
                    "(syncrepl|ts|usn|x)(:[A-Za-z0-9_=+/.Z-]{0,40}){0,3}",
                    cursor().prop_map(|c| c.encode()),
                ],
                cut in any::<prop::sample::Index>(),
                junk in ".{0,8}",
            ) {
                let mut s = s;
                if let Some(i) = (0..=s.len()).filter(|i| s.is_char_boundary(*i)).nth(cut.index(s.len() + 1)) {
                    s.insert_str(i, &junk);
                }
                let Some(c) = timed("decoding a cursor", || Cursor::decode(&s)) else {
                    return Ok(());
                };
                prop_assert_eq!(Cursor::decode(&c.encode()), Some(c.clone()));
                if let Cursor::Timestamp(ts) = &c {
                    prop_assert!(ts.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'Z'), "{}", ts);
                }
            }
        }
    }

    /// Found by `every_cursor_decodes_to_itself`: an empty cookie (a zero-length syncCookie
    /// from the server) was written like no cookie, so the next read started over without one.
    #[test]
    fn an_empty_cookie_is_kept_apart_from_none() {
        let c = Cursor::Syncrepl {
            users: Some(Vec::new()),
            groups: None,
        };
        assert_eq!(c.encode(), "syncrepl:=:");
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(
            Cursor::decode("syncrepl::"),
            Some(Cursor::Syncrepl {
                users: None,
                groups: None
            }),
            "cursors stored before keep their meaning"
        );
        assert_eq!(Cursor::decode("syncrepl:==:"), None);
    }

    #[test]
    fn timestamps_compare_with_and_without_fractions() {
        assert!(ts_key("20261201221500.5Z") > ts_key("20261201221500Z"));
        assert!(ts_key("20261201221501Z") > ts_key("20261201221500.999999Z"));
        assert_eq!(ts_key("20261201221500Z"), ts_key("20261201221500.0Z"));
    }
}
