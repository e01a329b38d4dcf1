//! The strict pre-screen of a SAML response, before libxml2 (through samael) sees it: no DTD,
//! one assertion as a direct child of the response, unique IDs, each signature over its own
//! parent by `#ID` with only the enveloped and exclusive-c14n transforms and SHA-2 algorithms,
//! no comments or processing instructions. What it refuses could otherwise smuggle unsigned
//! content past the signature check (signature wrapping) or make the parser expand entities.
//! It reads at most [`MAX_RESPONSE_BYTES`](super::MAX_RESPONSE_BYTES) (the caller's limit) into
//! at most `MAX_NODES` nodes, in time linear in the input.

use super::{ALLOWED_ALGORITHMS, is, rejected, strict_parse};
use crate::error::ConnectorError;

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Refuses a response whose shape could smuggle unsigned content past the signature check
/// (signature wrapping), before any signature is verified.
pub fn prescreen_response(xml: &str) -> Result<(), ConnectorError> {
    let doc = strict_parse(xml).map_err(|e| rejected(format!("the SAML response {e}")))?;
    let root = doc.root_element();
    if !is(root, PROTOCOL_NS, "Response") {
        return Err(rejected("the document is not a samlp:Response"));
    }
    let mut ids = std::collections::HashSet::new();
    for n in doc.descendants() {
        if n.is_comment() || n.is_pi() {
            return Err(rejected(
                "the SAML response contains comments or processing instructions",
            ));
        }
        if let Some(id) = n.attribute("ID")
            && !ids.insert(id)
        {
            return Err(rejected(format!(
                "signature wrapping: the ID {id:?} appears twice"
            )));
        }
        if is(n, ASSERTION_NS, "EncryptedAssertion") {
            return Err(rejected(
                "the IdP encrypted the assertion; the hub does not accept encrypted assertions \
                 (turn encryption off for the hub)",
            ));
        }
    }
    let assertions: Vec<_> = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "Assertion")
        .collect();
    let [assertion] = assertions.as_slice() else {
        return Err(rejected(format!(
            "signature wrapping: the response holds {} assertions, not one",
            assertions.len()
        )));
    };
    if !is(*assertion, ASSERTION_NS, "Assertion") || assertion.parent() != Some(root) {
        return Err(rejected(
            "signature wrapping: the assertion is not a direct child of the response",
        ));
    }
    let signatures: Vec<_> = doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "Signature")
        .collect();
    if signatures.is_empty() {
        return Err(rejected("the SAML response is not signed"));
    }
    for sig in signatures {
        let parent = sig
            .parent()
            .filter(|p| *p == root || p == assertion)
            .filter(|_| is(sig, DSIG_NS, "Signature"))
            .ok_or_else(|| {
                rejected("signature wrapping: a signature outside the response or assertion")
            })?;
        let parent_id = parent
            .attribute("ID")
            .ok_or_else(|| rejected("a signed element has no ID"))?;
        let references: Vec<_> = sig
            .descendants()
            .filter(|n| is(*n, DSIG_NS, "Reference"))
            .collect();
        let [reference] = references.as_slice() else {
            return Err(rejected(
                "signature wrapping: a signature must have exactly one reference",
            ));
        };
        if reference.attribute("URI") != Some(&format!("#{parent_id}")) {
            return Err(rejected(
                "signature wrapping: a signature does not cover the element that holds it",
            ));
        }
        for m in sig
            .descendants()
            .filter(|n| is(*n, DSIG_NS, "SignatureMethod") || is(*n, DSIG_NS, "DigestMethod"))
        {
            let alg = m.attribute("Algorithm").unwrap_or_default();
            let allowed = ALLOWED_ALGORITHMS
                .iter()
                .any(|a| a.signature_uri() == alg || a.digest_uri() == alg);
            if !allowed {
                let weak = if alg.ends_with("sha1") {
                    " (SHA-1)"
                } else {
                    ""
                };
                return Err(rejected(format!(
                    "the IdP signed with {alg}{weak}, which the hub refuses; only SHA-2 \
                     signatures are accepted"
                )));
            }
        }
        for t in sig.descendants().filter(|n| is(*n, DSIG_NS, "Transform")) {
            let alg = t.attribute("Algorithm").unwrap_or_default();
            if alg != ENVELOPED && alg != EXC_C14N {
                return Err(rejected(format!(
                    "a signature uses the transform {alg:?}; only enveloped-signature and \
                     exclusive c14n are accepted"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    const RESP: &str = r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_r"><saml:Assertion ID="_a"><ds:Signature><ds:SignedInfo><ds:Reference URI="#_a"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms></ds:Reference></ds:SignedInfo></ds:Signature></saml:Assertion></samlp:Response>"##;

    fn reason(xml: &str) -> String {
        match prescreen_response(xml) {
            Ok(()) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_plain_signed_shape_passes() {
        assert_eq!(reason(RESP), "accepted");
    }

    #[test]
    fn wrapping_shapes_are_refused() {
        let two = RESP.replace(
            "</samlp:Response>",
            r#"<saml:Assertion ID="_b"/></samlp:Response>"#,
        );
        assert!(reason(&two).contains("2 assertions"), "{}", reason(&two));
        let dup = RESP.replace(r#"ID="_r""#, r#"ID="_a""#);
        assert!(reason(&dup).contains("appears twice"));
        let other_ref = RESP.replace(r##"URI="#_a""##, r##"URI="#_r""##);
        assert!(reason(&other_ref).contains("does not cover"));
        let nested = RESP
            .replace("<saml:Assertion", "<samlp:Extensions><saml:Assertion")
            .replace("</saml:Assertion>", "</saml:Assertion></samlp:Extensions>");
        assert!(reason(&nested).contains("direct child"));
    }

    #[test]
    fn dtds_comments_unsigned_and_odd_transforms_are_refused() {
        let dtd = format!("<!DOCTYPE x [<!ENTITY e \"x\">]>{RESP}");
        assert!(reason(&dtd).contains("DTD"));
        let comment = RESP.replace("<ds:Signature>", "<!-- c --><ds:Signature>");
        assert!(reason(&comment).contains("comments"));
        let start = RESP.find("<ds:Signature>").unwrap_or(0);
        let end = RESP.find("</ds:Signature>").unwrap_or(0) + "</ds:Signature>".len();
        let unsigned = format!("{}{}", &RESP[..start], &RESP[end..]);
        assert!(reason(&unsigned).contains("not signed"));
        let xslt = RESP.replace(ENVELOPED, "http://www.w3.org/TR/1999/REC-xslt-19991116");
        assert!(reason(&xslt).contains("transform"));
        assert!(reason("<a/>").contains("not a samlp:Response"));
        assert!(reason("<<<").contains("well-formed"));
    }
}
