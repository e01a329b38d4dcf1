//! Property tests of the decoders against what a hostile directory server could send: any
//! bytes, the RFC 4533 values well-formed and then mutated, BER nested far deeper than any
//! real value, and arbitrary search result trees. Each case must finish without panicking
//! within [`BUDGET`]; well-formed values must decode to what was encoded. Inputs are capped
//! (at most 256 KiB). The generators are shared with `syncrepl`'s tests.

use std::time::{Duration, Instant};

use ldap3::asn1::{PL, StructureTag, TagClass, Types};
use ldap3::{ResultEntry, SearchEntry};
use proptest::prelude::*;

use super::{
    MAX_BER_DEPTH, SyncInfo, SyncState, intermediate_info, nests_at_most, parse_done, parse_info,
    parse_state, search_entry,
};

/// The time one case may take (a real decode takes microseconds).
pub(in crate::ldap) const BUDGET: Duration = Duration::from_secs(1);

/// Runs `f`, failing if it takes longer than [`BUDGET`].
pub(in crate::ldap) fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(took < BUDGET, "{what} took {took:?}");
    out
}

fn class_bits(c: TagClass) -> u8 {
    match c {
        TagClass::Universal => 0,
        TagClass::Application => 1,
        TagClass::Context => 2,
        TagClass::Private => 3,
    }
}

/// A BER length (short form, or long form with the fewest bytes).
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// BER of `t` (definite lengths; tag numbers below 31).
pub(in crate::ldap) fn encode(t: &StructureTag) -> Vec<u8> {
    let constructed = matches!(t.payload, PL::C(_));
    let mut out = vec![class_bits(t.class) << 6 | u8::from(constructed) << 5 | (t.id as u8 & 0x1f)];
    let content: Vec<u8> = match &t.payload {
        PL::P(v) => v.clone(),
        PL::C(children) => children.iter().flat_map(encode).collect(),
    };
    push_len(&mut out, content.len());
    out.extend(content);
    out
}

fn universal(ty: Types, payload: PL) -> StructureTag {
    StructureTag {
        class: TagClass::Universal,
        id: ty as u64,
        payload,
    }
}

fn octets(v: &[u8]) -> StructureTag {
    universal(Types::OctetString, PL::P(v.to_vec()))
}

fn boolean(b: bool) -> StructureTag {
    universal(Types::Boolean, PL::P(vec![if b { 0xff } else { 0 }]))
}

/// `inner` inside `depth` SEQUENCEs, built in linear time.
pub(in crate::ldap) fn nested(inner: &[u8], depth: usize) -> Vec<u8> {
    let mut lens = Vec::with_capacity(depth);
    let mut len = inner.len();
    for _ in 0..depth {
        lens.push(len);
        let mut header = Vec::new();
        push_len(&mut header, len);
        len += 1 + header.len();
    }
    let mut out = Vec::with_capacity(len);
    for l in lens.iter().rev() {
        out.push(0x30);
        push_len(&mut out, *l);
    }
    out.extend_from_slice(inner);
    out
}

pub(in crate::ldap) fn cookie() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..48))
}

pub(in crate::ldap) fn uuid() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 16)
}

/// A syncStateValue (RFC 4533 §2.3): (state, entryUUID, cookie).
pub(in crate::ldap) fn state_value(state: u8, uuid: &[u8], cookie: Option<&[u8]>) -> Vec<u8> {
    let mut parts = vec![
        universal(Types::Enumerated, PL::P(vec![state])),
        octets(uuid),
    ];
    parts.extend(cookie.map(octets));
    encode(&universal(Types::Sequence, PL::C(parts)))
}

/// A syncInfoValue (RFC 4533 §2.5) and what it should decode to.
pub(in crate::ldap) fn info_value() -> impl Strategy<Value = (Vec<u8>, SyncInfo)> {
    let context = |id: u64, payload: PL| StructureTag {
        class: TagClass::Context,
        id,
        payload,
    };
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48).prop_map(move |c| {
            (
                encode(&context(0, PL::P(c.clone()))),
                SyncInfo::NewCookie(c),
            )
        }),
        (any::<bool>(), cookie(), proptest::option::of(any::<bool>())).prop_map(
            move |(present, cookie, done)| {
                let mut parts: Vec<StructureTag> = cookie.iter().map(|c| octets(c)).collect();
                parts.extend(done.map(boolean));
                let id = if present { 2 } else { 1 };
                let info = SyncInfo::Refresh {
                    present,
                    cookie,
                    done: done.unwrap_or(true),
                };
                (encode(&context(id, PL::C(parts))), info)
            }
        ),
        (
            cookie(),
            proptest::option::of(any::<bool>()),
            proptest::collection::vec(uuid(), 0..8)
        )
            .prop_map(move |(cookie, deletes, uuids)| {
                let mut parts: Vec<StructureTag> = cookie.iter().map(|c| octets(c)).collect();
                parts.extend(deletes.map(boolean));
                let set = uuids.iter().map(|u| octets(u)).collect();
                parts.push(universal(Types::Set, PL::C(set)));
                let info = SyncInfo::IdSet {
                    cookie,
                    deletes: deletes.unwrap_or(false),
                    uuids,
                };
                (encode(&context(3, PL::C(parts))), info)
            }),
    ]
}

/// A syncDoneValue (RFC 4533 §2.4) and what it should decode to.
fn done_value() -> impl Strategy<Value = (Vec<u8>, (Option<Vec<u8>>, bool))> {
    (cookie(), proptest::option::of(any::<bool>())).prop_map(|(cookie, deletes)| {
        let mut parts: Vec<StructureTag> = cookie.iter().map(|c| octets(c)).collect();
        parts.extend(deletes.map(boolean));
        (
            encode(&universal(Types::Sequence, PL::C(parts))),
            (cookie, deletes.unwrap_or(false)),
        )
    })
}

/// One change to a byte string, as a server bug or an attacker would make it.
#[derive(Debug, Clone)]
pub(in crate::ldap) enum Mutation {
    Set(prop::sample::Index, u8),
    Flip(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Duplicate(prop::sample::Index, usize),
    /// Wrapped in this many SEQUENCEs.
    Nest(usize),
}

pub(in crate::ldap) fn mutation() -> impl Strategy<Value = Mutation> {
    use prop::sample::Index;
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (
            any::<Index>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..8),
                // Lengths that claim too much, or a long form with too many digits.
                Just(vec![0x84, 0xff, 0xff, 0xff, 0xff]),
                Just(vec![0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
                Just(vec![0x30, 0x80]),
                Just(vec![0xa3, 0x00]),
            ]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1..16usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (1..40usize).prop_map(Mutation::Nest),
    ]
}

pub(in crate::ldap) fn mutate(mut v: Vec<u8>, m: &Mutation) -> Vec<u8> {
    const CAP: usize = 256 * 1024;
    let at = |i: &prop::sample::Index, len: usize| if len == 0 { 0 } else { i.index(len) };
    match m {
        Mutation::Set(i, b) if !v.is_empty() => {
            let i = at(i, v.len());
            v[i] = *b;
        }
        Mutation::Flip(i, b) if !v.is_empty() => {
            let i = at(i, v.len());
            v[i] ^= *b;
        }
        Mutation::Truncate(i) => v.truncate(at(i, v.len())),
        Mutation::Insert(i, b) => {
            let i = at(i, v.len() + 1);
            v.splice(i..i, b.iter().copied());
        }
        Mutation::Delete(i, n) if !v.is_empty() => {
            let i = at(i, v.len());
            v.drain(i..(i + n).min(v.len()));
        }
        Mutation::Duplicate(i, n) if !v.is_empty() => {
            let i = at(i, v.len());
            let part: Vec<u8> = v[i..(i + n).min(v.len())].to_vec();
            v.splice(i..i, part);
        }
        Mutation::Nest(depth) => v = nested(&v, *depth),
        _ => {}
    }
    v.truncate(CAP);
    v
}

/// An arbitrary BER tree (any class, tag number and shape), at most 64 nodes.
pub(in crate::ldap) fn tree() -> impl Strategy<Value = StructureTag> {
    let class = prop_oneof![
        Just(TagClass::Universal),
        Just(TagClass::Application),
        Just(TagClass::Context),
        Just(TagClass::Private),
    ];
    let leaf = (
        class.clone(),
        0..31u64,
        proptest::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(class, id, v)| StructureTag {
            class,
            id,
            payload: PL::P(v),
        });
    leaf.prop_recursive(5, 64, 6, move |inner| {
        (
            class.clone(),
            0..31u64,
            proptest::collection::vec(inner, 0..6),
        )
            .prop_map(|(class, id, children)| StructureTag {
                class,
                id,
                payload: PL::C(children),
            })
    })
}

/// A SearchResultEntry (RFC 4511 §4.5.2): `[APPLICATION 4] { dn, SEQUENCE OF { type, SET OF
/// value } }`.
pub(in crate::ldap) fn entry_tag(dn: &str, attrs: &[(String, Vec<Vec<u8>>)]) -> StructureTag {
    let attrs = attrs
        .iter()
        .map(|(name, values)| {
            let values = values.iter().map(|v| octets(v)).collect();
            universal(
                Types::Sequence,
                PL::C(vec![
                    octets(name.as_bytes()),
                    universal(Types::Set, PL::C(values)),
                ]),
            )
        })
        .collect();
    StructureTag {
        class: TagClass::Application,
        id: 4,
        payload: PL::C(vec![
            octets(dn.as_bytes()),
            universal(Types::Sequence, PL::C(attrs)),
        ]),
    }
}

pub(in crate::ldap) fn attrs() -> impl Strategy<Value = Vec<(String, Vec<Vec<u8>>)>> {
    proptest::collection::vec(
        (
            "[a-zA-Z][a-zA-Z0-9-]{0,12}",
            proptest::collection::vec(
                prop_oneof![
                    "[ -~é]{0,16}".prop_map(String::into_bytes),
                    proptest::collection::vec(any::<u8>(), 0..20),
                ],
                0..4,
            ),
        ),
        0..6,
    )
}

proptest! {
    #[test]
    fn any_bytes_decode_quickly_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        timed("decoding", || {
            let _ = parse_state(&bytes);
            let _ = parse_done(&bytes);
            let _ = parse_info(&bytes);
        });
    }

    #[test]
    fn well_formed_sync_values_decode_to_what_was_encoded(
        state in 0..=3u8,
        id in uuid(),
        c in cookie(),
        (info, expected_info) in info_value(),
        (done, expected_done) in done_value(),
    ) {
        let value = state_value(state, &id, c.as_deref());
        prop_assert_eq!(
            parse_state(&value),
            Some(SyncState { state, uuid: id, cookie: c })
        );
        prop_assert_eq!(parse_info(&info), Some(expected_info));
        prop_assert_eq!(parse_done(&done), Some(expected_done));
    }

    #[test]
    fn mutated_sync_values_decode_quickly_without_panicking(
        state in 0..=3u8,
        id in uuid(),
        c in cookie(),
        (info, _) in info_value(),
        (done, _) in done_value(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut values = [state_value(state, &id, c.as_deref()), info, done];
        for v in &mut values {
            for m in &mutations {
                *v = mutate(std::mem::take(v), m);
            }
        }
        let [s, i, d] = &values;
        timed("decoding mutated values", || {
            let _ = parse_state(s);
            let _ = parse_info(i);
            let _ = parse_done(d);
            let _ = (parse_state(i), parse_info(d), parse_done(s));
        });
    }
}

proptest! {
    // Each case builds up to a 256 KiB value: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Far deeper than any sync value, up to the 256 KiB cap: refused, without recursing.
    #[test]
    fn deeply_nested_values_are_refused_quickly(
        depth in 0..40_000usize,
        id in uuid(),
    ) {
        let value = nested(&state_value(1, &id, None), depth);
        let decoded = timed("a nested value", || parse_state(&value));
        if depth > 0 {
            // A SEQUENCE around the syncStateValue is not a syncStateValue.
            prop_assert_eq!(decoded, None);
        }
        prop_assert_eq!(nests_at_most(&value, MAX_BER_DEPTH), depth < MAX_BER_DEPTH);
        let info = nested(&[0xa3, 0x00], depth);
        prop_assert!(timed("a nested message", || parse_info(&info)).is_none() || depth == 0);
    }
}

proptest! {
    #[test]
    fn arbitrary_result_trees_decode_quickly_without_panicking(t in tree()) {
        let re = ResultEntry::new(t);
        timed("a result tree", || {
            let _ = search_entry(&re);
            let _ = intermediate_info(&re);
        });
    }

    #[test]
    fn well_formed_entries_decode_to_what_was_encoded(
        dn in "[ -~]{0,40}",
        attrs in attrs(),
        spoil in proptest::option::of(tree()),
        at in any::<prop::sample::Index>(),
    ) {
        let tag = entry_tag(&dn, &attrs);
        let mut expected = SearchEntry {
            dn: dn.clone(),
            attrs: Default::default(),
            bin_attrs: Default::default(),
        };
        for (name, values) in &attrs {
            for v in values {
                match String::from_utf8(v.clone()) {
                    Ok(s) => expected.attrs.entry(name.clone()).or_default().push(s),
                    Err(_) => expected.bin_attrs.entry(name.clone()).or_default().push(v.clone()),
                }
            }
        }
        let decoded = search_entry(&ResultEntry::new(tag.clone()));
        prop_assert_eq!(
            decoded.map(|e| (e.dn, e.attrs, e.bin_attrs)),
            Some((expected.dn, expected.attrs, expected.bin_attrs))
        );
        // The same entry with one part replaced by anything at all.
        if let (Some(junk), PL::C(mut parts)) = (spoil, tag.payload) {
            let i = at.index(parts.len());
            parts[i] = junk;
            let spoiled = ResultEntry::new(StructureTag { payload: PL::C(parts), ..tag });
            timed("a spoiled entry", || search_entry(&spoiled));
        }
    }
}

/// Found by `deeply_nested_values_are_refused_quickly`: `parse_tag` recursed once per level, so
/// a syncStateValue nested a few ten thousand SEQUENCEs deep overflowed the stack and aborted
/// the whole hub.
#[test]
fn a_value_nested_a_hundred_thousand_deep_is_refused() {
    let value = nested(&state_value(1, &[0; 16], None), 100_000);
    assert!(value.len() < 600_000);
    assert_eq!(timed("a nested value", || parse_state(&value)), None);
    assert_eq!(parse_info(&nested(&[0xa3, 0x00], 100_000)), None);
    assert_eq!(parse_done(&nested(&[0x30, 0x00], 100_000)), None);
}

#[test]
fn framing_is_read_as_parse_tag_reads_it() {
    assert!(nests_at_most(&[0x30, 0x00], 1));
    assert!(!nests_at_most(&[0x30, 0x00], 0));
    assert!(
        nests_at_most(&[0x04, 0x01, 0xff, 0x00], 0),
        "trailing bytes"
    );
    assert!(!nests_at_most(&[0x04, 0x02, 0xff], 8), "too short");
    assert!(
        !nests_at_most(&[0x30, 0x03, 0x04, 0x02, 0, 0, 0], 8),
        "child overruns parent"
    );
    assert!(!nests_at_most(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff], 8));
    assert!(!nests_at_most(&[], 8));
    assert!(nests_at_most(&[0x30, 0x81, 0x00], 1), "long form");
}
