//! Compact JWS (RFC 7515) with an explicit algorithm allowlist: ES256 and RS256 only, signed and
//! verified with `ring`. `alg: none`, HMAC algorithms and unknown headers are refused before any
//! key is looked at (RFC 8725 §3.1), and a key is only ever used with the algorithm it was made for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RsaKeyPair, UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The algorithms this hub signs and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Alg {
    ES256,
    RS256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(Alg::ES256),
            "RS256" => Some(Alg::RS256),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoseError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(String),
    #[error("no key {0:?}")]
    UnknownKey(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("signing failed")]
    Sign,
    #[error("key material is invalid")]
    BadKey,
}

/// A private signing key of either kind.
pub enum PrivateKey {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl PrivateKey {
    /// Loads a PKCS#8 document for `alg`.
    pub fn from_pkcs8(alg: Alg, pkcs8: &[u8]) -> Result<Self, JoseError> {
        match alg {
            Alg::ES256 => EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                pkcs8,
                &SystemRandom::new(),
            )
            .map(PrivateKey::Ec)
            .map_err(|_| JoseError::BadKey),
            Alg::RS256 => RsaKeyPair::from_pkcs8(pkcs8)
                .map(PrivateKey::Rsa)
                .map_err(|_| JoseError::BadKey),
        }
    }

    pub fn alg(&self) -> Alg {
        match self {
            PrivateKey::Ec(_) => Alg::ES256,
            PrivateKey::Rsa(_) => Alg::RS256,
        }
    }

    /// The public half as stored and verified: the uncompressed P-256 point, or the DER
    /// RSAPublicKey.
    pub fn public_bytes(&self) -> Vec<u8> {
        match self {
            PrivateKey::Ec(k) => k.public_key().as_ref().to_vec(),
            PrivateKey::Rsa(k) => k.public_key().as_ref().to_vec(),
        }
    }

    /// The public JWK (RFC 7517) for a JWKS document.
    pub fn public_jwk(&self, kid: &str) -> Value {
        match self {
            PrivateKey::Ec(k) => {
                let point = k.public_key().as_ref();
                // Uncompressed point: 0x04 || X (32) || Y (32).
                let (x, y) = point
                    .get(1..)
                    .unwrap_or_default()
                    .split_at(32.min(point.len().saturating_sub(1)));
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y),
                       "kid": kid, "use": "sig", "alg": "ES256"})
            }
            PrivateKey::Rsa(k) => {
                let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(k.public());
                json!({"kty": "RSA",
                       "n": b64(&parts.n),
                       "e": b64(&parts.e),
                       "kid": kid, "use": "sig", "alg": "RS256"})
            }
        }
    }

    pub fn sign_input(&self, input: &[u8]) -> Result<Vec<u8>, JoseError> {
        let rng = SystemRandom::new();
        match self {
            PrivateKey::Ec(k) => k
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| JoseError::Sign),
            PrivateKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, input, &mut sig)
                    .map_err(|_| JoseError::Sign)?;
                Ok(sig)
            }
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `claims` as a compact JWS with header `{alg, kid, typ}`.
pub fn sign(key: &PrivateKey, kid: &str, typ: &str, claims: &Value) -> Result<String, JoseError> {
    let header = json!({"alg": key.alg().as_str(), "kid": kid, "typ": typ});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = key.sign_input(input.as_bytes())?;
    Ok(format!("{input}.{}", b64(&sig)))
}

/// A verification key: algorithm and public key bytes (as `PrivateKey::public_bytes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub alg: Alg,
    pub bytes: Vec<u8>,
}

impl PublicKey {
    /// From a JWK (a client's registered key for `private_key_jwt`). Only EC P-256 and RSA.
    pub fn from_jwk(jwk: &Value) -> Result<Self, JoseError> {
        let field = |name: &str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .ok_or(JoseError::BadKey)
        };
        let kid = jwk
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match (
            jwk.get("kty").and_then(Value::as_str),
            jwk.get("crv").and_then(Value::as_str),
        ) {
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (field("x")?, field("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::BadKey);
                }
                let mut bytes = vec![4u8];
                bytes.extend_from_slice(&x);
                bytes.extend_from_slice(&y);
                Ok(Self {
                    kid,
                    alg: Alg::ES256,
                    bytes,
                })
            }
            (Some("RSA"), _) => {
                let (n, e) = (field("n")?, field("e")?);
                if n.len() < 256 {
                    return Err(JoseError::BadKey);
                }
                Ok(Self {
                    kid,
                    alg: Alg::RS256,
                    bytes: rsa_public_der(&n, &e),
                })
            }
            _ => Err(JoseError::BadKey),
        }
    }

    fn verify(&self, input: &[u8], sig: &[u8]) -> bool {
        match self.alg {
            Alg::ES256 => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.bytes)
                .verify(input, sig)
                .is_ok(),
            Alg::RS256 => {
                UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.bytes)
                    .verify(input, sig)
                    .is_ok()
            }
        }
    }
}

/// DER of RSAPublicKey { modulus, publicExponent } (what ring verifies against).
fn rsa_public_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn integer(v: &[u8]) -> Vec<u8> {
        let v = {
            let start = v
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(v.len().saturating_sub(1));
            &v[start..]
        };
        let mut body = Vec::new();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            body.push(0);
        }
        body.extend_from_slice(v);
        let mut out = vec![0x02];
        out.extend(length(body.len()));
        out.extend(body);
        out
    }
    fn length(len: usize) -> Vec<u8> {
        if len < 0x80 {
            vec![len as u8]
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            let mut out = vec![0x80 | bytes.len() as u8];
            out.extend(bytes);
            out
        }
    }
    let mut body = integer(n);
    body.extend(integer(e));
    let mut out = vec![0x30];
    out.extend(length(body.len()));
    out.extend(body);
    out
}

/// A verified token's header and claims.
#[derive(Debug, Clone)]
pub struct Verified {
    pub kid: String,
    pub alg: Alg,
    pub claims: Value,
}

/// Splits a compact JWS and reads its header without trusting it.
pub fn peek_header(token: &str) -> Result<Value, JoseError> {
    let header = token.split('.').next().ok_or(JoseError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JoseError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JoseError::Malformed)
}

/// Verifies a compact JWS against the key `find(kid)` returns. The header's `alg` must be in
/// the allowlist and equal to the key's own algorithm; `crit` is refused.
pub fn verify(
    token: &str,
    find: impl Fn(&str) -> Option<PublicKey>,
) -> Result<Verified, JoseError> {
    if token.len() > 16 * 1024 {
        return Err(JoseError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed);
    };
    let header = peek_header(token)?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let alg = Alg::parse(alg_name).ok_or_else(|| JoseError::Algorithm(alg_name.to_string()))?;
    if header.get("crit").is_some() {
        return Err(JoseError::Malformed);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let key = find(&kid).ok_or_else(|| JoseError::UnknownKey(kid.clone()))?;
    if key.alg != alg {
        return Err(JoseError::Algorithm(alg_name.to_string()));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JoseError::Malformed)?;
    if !key.verify(format!("{h}.{p}").as_bytes(), &sig) {
        return Err(JoseError::BadSignature);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| JoseError::Malformed)?;
    let claims: Value = serde_json::from_slice(&payload).map_err(|_| JoseError::Malformed)?;
    if !claims.is_object() {
        return Err(JoseError::Malformed);
    }
    Ok(Verified { kid, alg, claims })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ec_key() -> PrivateKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        PrivateKey::from_pkcs8(Alg::ES256, pkcs8.as_ref()).unwrap()
    }

    fn public(key: &PrivateKey, kid: &str) -> PublicKey {
        PublicKey {
            kid: kid.into(),
            alg: key.alg(),
            bytes: key.public_bytes(),
        }
    }

    #[test]
    fn sign_verify_and_refuse_none_wrong_alg_wrong_key() {
        let key = ec_key();
        let token = sign(&key, "k1", "JWT", &json!({"sub": "u"})).unwrap();
        let ok = verify(&token, |kid| (kid == "k1").then(|| public(&key, "k1"))).unwrap();
        assert_eq!(ok.claims["sub"], "u");

        let other = ec_key();
        assert_eq!(
            verify(&token, |_| Some(public(&other, "k1"))).unwrap_err(),
            JoseError::BadSignature
        );
        let parts: Vec<&str> = token.split('.').collect();
        let none = format!("{}.{}.", b64(br#"{"alg":"none","kid":"k1"}"#), parts[1]);
        assert!(matches!(
            verify(&none, |_| Some(public(&key, "k1"))),
            Err(JoseError::Algorithm(_))
        ));
        let hs = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"HS256","kid":"k1"}"#),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            verify(&hs, |_| Some(public(&key, "k1"))),
            Err(JoseError::Algorithm(_))
        ));
        let rs = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"RS256","kid":"k1"}"#),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            verify(&rs, |_| Some(public(&key, "k1"))),
            Err(JoseError::Algorithm(_))
        ));
        assert_eq!(verify("a.b", |_| None).unwrap_err(), JoseError::Malformed);
        assert!(matches!(
            verify(&token, |_| None),
            Err(JoseError::UnknownKey(_))
        ));
    }

    #[test]
    fn ec_jwk_roundtrips_to_a_verifying_key() {
        let key = ec_key();
        let jwk = key.public_jwk("k");
        let from = PublicKey::from_jwk(&jwk).unwrap();
        assert_eq!(from.bytes, key.public_bytes());
        let token = sign(&key, "k", "JWT", &json!({"a": 1})).unwrap();
        assert!(verify(&token, |_| Some(from.clone())).is_ok());
    }
}
