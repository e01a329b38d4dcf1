//! Decoding what a directory server sends, which the organization chose and so may be hostile:
//! the RFC 4533 sync controls and intermediate messages (`syncStateValue`, `syncDoneValue`,
//! `syncInfoValue`) and search result entries. Nothing here panics (ldap3's own decoders
//! `expect` well-formed input), and a value nesting deeper than any of these structures does is
//! refused before `parse_tag`, which recurses once per level and would otherwise let a server
//! overflow the stack, an abort rather than a panic.

use ldap3::asn1::{PL, StructureTag, TagClass, Types, parse_tag};
use ldap3::{ResultEntry, SearchEntry};

/// The deepest nesting of constructed values read from a control or message value: the sync
/// structures nest two deep (syncIdSet's SET inside the [3] choice).
const MAX_BER_DEPTH: usize = 8;

fn ber(bytes: &[u8]) -> Option<StructureTag> {
    if !nests_at_most(bytes, MAX_BER_DEPTH) {
        return None;
    }
    parse_tag(bytes).ok().map(|(_, t)| t)
}

/// Whether the first BER value in `bytes` is well-framed and nests constructed values at most
/// `max` deep, read without recursion. Headers are read as `parse_tag` reads them (one
/// identifier byte, short or long definite length), so what passes here, `parse_tag` reads no
/// deeper; anything it could not frame is refused.
fn nests_at_most(bytes: &[u8], max: usize) -> bool {
    // The end offsets of the constructed values being read, outermost first.
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    loop {
        while open.last().is_some_and(|&end| i >= end) {
            open.pop();
        }
        if i > 0 && open.is_empty() {
            return true;
        }
        let (Some(&ident), Some(&first)) = (bytes.get(i), bytes.get(i + 1)) else {
            return false;
        };
        i += 2;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            let Some(digits) = bytes.get(i..i + n) else {
                return false;
            };
            i += n;
            // As lber folds them: only the low 64 bits count.
            let value = digits
                .iter()
                .fold(0u64, |acc, &d| (acc << 8) | u64::from(d));
            let Ok(len) = usize::try_from(value) else {
                return false;
            };
            len
        };
        let limit = open.last().copied().unwrap_or(bytes.len());
        let Some(end) = i.checked_add(len).filter(|&end| end <= limit) else {
            return false;
        };
        if ident & 0x20 == 0 {
            i = end;
        } else if open.len() >= max {
            return false;
        } else {
            open.push(end);
        }
    }
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
pub(super) struct SyncState {
    /// present (0), add (1), modify (2), delete (3).
    pub state: u8,
    pub uuid: Vec<u8>,
    pub cookie: Option<Vec<u8>>,
}

pub(super) fn parse_state(val: &[u8]) -> Option<SyncState> {
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
pub(super) fn parse_done(val: &[u8]) -> Option<(Option<Vec<u8>>, bool)> {
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
pub(super) enum SyncInfo {
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

pub(super) fn parse_info(val: &[u8]) -> Option<SyncInfo> {
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
pub(super) fn intermediate_info(re: &ResultEntry) -> Option<SyncInfo> {
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

#[cfg(test)]
pub(super) mod props;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ldap::uuid_string;

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

    /// Paged reads and the rootDSE read used ldap3's `SearchEntry::construct`, which panics on
    /// an entry a server sends without its attribute list: they decode with `search_entry` now.
    #[test]
    fn an_entry_ldap3_would_panic_on_is_refused() {
        let truncated = StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![StructureTag {
                class: TagClass::Universal,
                id: Types::OctetString as u64,
                payload: PL::P(b"uid=x".to_vec()),
            }]),
        };
        let re = ResultEntry::new(truncated);
        assert!(search_entry(&re).is_none());
        let ldap3 = re.clone();
        assert!(std::panic::catch_unwind(move || SearchEntry::construct(ldap3)).is_err());
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
