//! Property tests of the pre-screen against what an attacker posts to the ACS: any text (at
//! most 64 KiB, the real limit being 256 KiB), well-formed responses shaped like an IdP's, and
//! those responses mutated (characters inserted, deleted or repeated, and fragments that wrap,
//! declare entities or add assertions). Each case must finish without panicking within one
//! second; whatever is accepted holds the pre-screen's invariants, checked independently; and a
//! DOCTYPE or a second assertion is never accepted, wherever it is put.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::super::ALLOWED_ALGORITHMS;
use super::{ASSERTION_NS, ENVELOPED, EXC_C14N, prescreen_response};

/// Runs the pre-screen, failing if it takes a second or more.
fn screen(xml: &str) -> bool {
    let start = Instant::now();
    let accepted = prescreen_response(xml).is_ok();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the pre-screen took {took:?} on {} bytes",
        xml.len()
    );
    accepted
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An enveloped signature over the element with `id`, as IdPs write it.
fn signature(id: &str, alg: usize) -> String {
    let a = &ALLOWED_ALGORITHMS[alg % ALLOWED_ALGORITHMS.len()];
    format!(
        r##"<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="{}"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
        a.signature_uri(),
        a.digest_uri(),
    )
}

/// A response the pre-screen accepts: signed on the response, the assertion or both, with
/// attributes of any text.
fn response() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just((true, false)), Just((false, true)), Just((true, true))],
        0..ALLOWED_ALGORITHMS.len(),
        "_[a-zA-Z0-9]{1,16}",
        proptest::collection::vec(("[a-zA-Z][a-zA-Z0-9:.]{0,16}", "\\PC{0,24}"), 0..4),
        proptest::option::of(CDATA),
    )
        .prop_map(|((on_response, on_assertion), alg, aid, attrs, cdata)| {
            let rid = format!("{aid}r");
            let attrs: String = attrs
                .iter()
                .map(|(name, value)| {
                    format!(
                        r#"<saml:Attribute Name="{}"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute>"#,
                        escape(name),
                        escape(value)
                    )
                })
                .collect();
            let cdata = cdata.map(|c| format!("<![CDATA[{c}]]>")).unwrap_or_default();
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="{ASSERTION_NS}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="{rid}" Version="2.0" InResponseTo="_req" Destination="https://hub.example/saml/c/acs"><saml:Issuer>https://idp.example/md</saml:Issuer>{}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="{aid}" Version="2.0"><saml:Issuer>https://idp.example/md</saml:Issuer>{}<saml:Subject><saml:NameID>{}</saml:NameID></saml:Subject><saml:Conditions><saml:AudienceRestriction><saml:Audience>https://hub.example/saml/c/metadata</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion></samlp:Response>"#,
                if on_response { signature(&rid, alg) } else { String::new() },
                if on_assertion { signature(&aid, alg) } else { String::new() },
                cdata,
            )
        })
}

/// CDATA text that may spell markup (it is text, not markup).
const CDATA: &str = "(<!DOCTYPE x>|<saml:Assertion/>|[a-z ]){0,6}";

/// Fragments an attacker splices in.
const FRAGMENTS: [&str; 16] = [
    "<!DOCTYPE r [<!ENTITY e \"x\">]>",
    "<!DOCTYPE samlp:Response SYSTEM \"file:///etc/passwd\">",
    "&e;",
    "<!-- c -->",
    "<?pi x?>",
    "<![CDATA[x]]>",
    "<saml:Assertion ID=\"_m\"/>",
    "<Assertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
    " ID=\"_r\"",
    " xmlns:saml=\"urn:evil\"",
    "<ds:Signature/>",
    "</saml:Assertion>",
    "<samlp:Extensions>",
    "</samlp:Extensions>",
    "<",
    "\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    Insert(prop::sample::Index, String),
    Delete(prop::sample::Index, usize),
    Repeat(prop::sample::Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    use prop::sample::Index;
    prop_oneof![
        (
            any::<Index>(),
            prop_oneof![
                prop::sample::select(&FRAGMENTS[..]).prop_map(String::from),
                "\\PC{1,8}"
            ]
        )
            .prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1..600usize).prop_map(|(i, n)| Mutation::Repeat(i, n)),
    ]
}

fn mutate(xml: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = xml.chars().collect();
    let at = |i: &prop::sample::Index, len: usize| if len == 0 { 0 } else { i.index(len) };
    match m {
        Mutation::Insert(i, s) => {
            let i = at(i, chars.len() + 1);
            chars.splice(i..i, s.chars());
        }
        Mutation::Delete(i, n) => {
            let i = at(i, chars.len());
            chars.drain(i..(i + n).min(chars.len()));
        }
        Mutation::Repeat(i, n) => {
            let i = at(i, chars.len());
            let part: Vec<char> = chars[i..(i + n).min(chars.len())].to_vec();
            chars.splice(i..i, part);
        }
    }
    chars.into_iter().collect()
}

/// Where the CDATA sections are (their text may spell markup).
fn cdata_ranges(xml: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = xml[from..].find("<![CDATA[").map(|i| from + i) {
        let end = xml[start..]
            .find("]]>")
            .map_or(xml.len(), |e| start + e + 3);
        out.push(start..end);
        from = end;
    }
    out
}

/// The text outside CDATA sections.
fn outside_cdata(xml: &str) -> String {
    let ranges = cdata_ranges(xml);
    let mut out = String::new();
    let mut from = 0;
    for r in ranges {
        out.push_str(&xml[from..r.start]);
        from = r.end;
    }
    out.push_str(&xml[from..]);
    out
}

/// What an accepted response must be, checked without the pre-screen's code: well-formed with
/// no DTD, a samlp:Response root, exactly one element named Assertion (in any namespace) and
/// it a direct child of the root, no comments or processing instructions, at least one
/// signature, and no DOCTYPE or ENTITY declaration outside CDATA text.
fn invariants(xml: &str) -> Result<(), String> {
    let outside = outside_cdata(xml);
    if outside.contains("<!DOCTYPE") || outside.contains("<!ENTITY") {
        return Err("a DOCTYPE or ENTITY declaration".into());
    }
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not well-formed: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Response" {
        return Err("the root is not a Response".into());
    }
    let assertions: Vec<_> = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "Assertion")
        .collect();
    match assertions.as_slice() {
        [a] if a.parent() == Some(root) && a.tag_name().namespace() == Some(ASSERTION_NS) => {}
        other => return Err(format!("{} assertions, or one out of place", other.len())),
    }
    if doc.descendants().any(|n| n.is_comment() || n.is_pi()) {
        return Err("a comment or processing instruction".into());
    }
    if !doc
        .descendants()
        .any(|n| n.is_element() && n.tag_name().name() == "Signature")
    {
        return Err("no signature".into());
    }
    Ok(())
}

proptest! {
    #[test]
    fn any_text_is_screened_quickly_without_panicking(
        text in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..65536)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            "[<>/=\"' a-zA-Z:!\\[\\]&;#?-]{0,4096}",
        ],
    ) {
        if screen(&text) {
            prop_assert_eq!(invariants(&text), Ok(()));
        }
    }

    #[test]
    fn well_formed_responses_pass(xml in response()) {
        prop_assert!(screen(&xml), "{}", xml);
        prop_assert_eq!(invariants(&xml), Ok(()));
    }

    #[test]
    fn mutated_responses_are_screened_quickly_and_only_sound_ones_pass(
        xml in response(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let xml = mutations.iter().fold(xml, |x, m| mutate(&x, m));
        if screen(&xml) {
            prop_assert_eq!(invariants(&xml), Ok(()), "{}", xml);
        }
    }

    #[test]
    fn a_doctype_is_never_accepted_wherever_it_is(
        xml in response(),
        doctype in prop_oneof![
            Just("<!DOCTYPE samlp:Response>".to_string()),
            "<!DOCTYPE [a-z:]{1,12}( SYSTEM \"[a-z:/.]{0,20}\")?( \\[<!ENTITY [a-z]{1,4} \"[a-z]{0,8}\">\\])?>",
        ],
        at in any::<prop::sample::Index>(),
    ) {
        // In the prolog, where a DTD belongs, and anywhere else.
        let prolog = xml.replacen("?><samlp:Response", &format!("?>{doctype}<samlp:Response"), 1);
        prop_assert!(!screen(&prolog), "{}", prolog);
        // Anywhere at all: refused, unless it landed in CDATA text (then it is no DOCTYPE).
        let anywhere = mutate(&xml, &Mutation::Insert(at, doctype));
        prop_assert!(
            !screen(&anywhere) || !outside_cdata(&anywhere).contains("<!DOCTYPE"),
            "{}",
            anywhere
        );
    }

    #[test]
    fn a_second_assertion_is_never_accepted_wherever_it_is(
        xml in response(),
        second in prop_oneof![
            Just(r#"<saml:Assertion ID="_second"/>"#.to_string()),
            Just(format!(r#"<Assertion xmlns="{ASSERTION_NS}" ID="_second"><Subject/></Assertion>"#)),
            Just(format!(r#"<a:Assertion xmlns:a="{ASSERTION_NS}"/>"#)),
            Just(r#"<x:Assertion xmlns:x="urn:evil"/>"#.to_string()),
            "_[a-z]{1,8}".prop_map(|id| format!(r#"<saml:Assertion ID="{id}">{}</saml:Assertion>"#, signature(&id, 0))),
        ],
        at in any::<prop::sample::Index>(),
    ) {
        // After any tag, so the document stays well-formed wherever that is possible.
        let cdata = cdata_ranges(&xml);
        let ends: Vec<usize> = xml
            .match_indices('>')
            .map(|(i, _)| i + 1)
            .filter(|i| !cdata.iter().any(|r| r.start < *i && *i < r.end))
            .collect();
        let i = ends[at.index(ends.len())];
        let two = format!("{}{second}{}", &xml[..i], &xml[i..]);
        prop_assert!(!screen(&two), "{}", two);
        // Or a copy of the signed assertion itself (signature wrapping's favourite).
        if let (Some(start), Some(end)) = (xml.find("<saml:Assertion"), xml.find("</saml:Assertion>")) {
            let copy = &xml[start..end + "</saml:Assertion>".len()];
            let wrapped = format!("{}{copy}{}", &xml[..i], &xml[i..]);
            prop_assert!(!screen(&wrapped), "{}", wrapped);
        }
    }
}
