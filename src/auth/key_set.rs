//! A JSON Web Key Set (RFC 7517) read key by key, and the choice of the key that verifies a token.
//!
//! Providers publish more than signing keys: Keycloak lists its encryption keys (`use: enc`) beside
//! them, some list `oct` keys or keys of types this service cannot use. Each key is read on its
//! own; what cannot verify a token here is skipped with the reason, and the rest serve.

use std::collections::BTreeSet;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde_json::Value;

/// The kind of public key an algorithm needs: an `alg` of one family never verifies with a key of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Family {
    /// The family of a signature algorithm; HMAC has none here (a key set never holds secrets we accept).
    pub fn of(algorithm: Algorithm) -> Option<Family> {
        use Algorithm::*;
        match algorithm {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Some(Family::Rsa),
            ES256 => Some(Family::P256),
            ES384 => Some(Family::P384),
            EdDSA => Some(Family::Ed25519),
            HS256 | HS384 | HS512 => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Family::Rsa => "an RSA key",
            Family::P256 => "a P-256 key",
            Family::P384 => "a P-384 key",
            Family::Ed25519 => "an Ed25519 key",
        }
    }
}

/// One key that can verify tokens.
pub struct VerifyingKey {
    pub kid: Option<String>,
    family: Family,
    /// The key's own `alg`, when the key set states one: then only that algorithm.
    algorithm: Option<Algorithm>,
    pub key: DecodingKey,
}

/// The keys of a set that can verify tokens under the allowed algorithms.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
}

/// What a token's header finds in a key set.
pub enum Selection<'a> {
    Key(&'a VerifyingKey),
    /// No key of that `kid` (or, without a `kid`, none of its family): a newer key set may have it.
    Unknown,
    /// A key is there, but it may not verify this token (or the header itself is not acceptable).
    Refused(String),
}

impl KeySet {
    /// Reads a key set document; each key that cannot serve is skipped, its reason returned.
    /// Only a document that is not a key set at all fails.
    pub fn parse(text: &[u8], allowed: &[Algorithm]) -> Result<(KeySet, Vec<String>), String> {
        let document: Value =
            serde_json::from_slice(text).map_err(|error| format!("the key set is not JSON: {error}"))?;
        let Some(entries) = document.get("keys").and_then(Value::as_array) else {
            return Err("the key set has no `keys` array".into());
        };
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let name = match entry.get("kid").and_then(Value::as_str) {
                Some(kid) => format!("key {index} (kid {kid:?})"),
                None => format!("key {index}"),
            };
            match Self::key_of(entry, allowed) {
                Ok(key) => keys.push(key),
                Err(reason) => skipped.push(format!("{name}: {reason}")),
            }
        }
        Ok((KeySet { keys }, skipped))
    }

    fn key_of(entry: &Value, allowed: &[Algorithm]) -> Result<VerifyingKey, String> {
        let jwk: Jwk =
            serde_json::from_value(entry.clone()).map_err(|error| format!("not a key this service reads ({error})"))?;
        match &jwk.common.public_key_use {
            None | Some(PublicKeyUse::Signature) => {}
            Some(PublicKeyUse::Encryption) => return Err("an encryption key (use: enc)".into()),
            Some(PublicKeyUse::Other(other)) => return Err(format!("use {other:?} is not signing")),
        }
        let family = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Family::Rsa,
            AlgorithmParameters::EllipticCurve(parameters) => match parameters.curve {
                EllipticCurve::P256 => Family::P256,
                EllipticCurve::P384 => Family::P384,
                ref other => return Err(format!("curve {other:?} is not supported")),
            },
            AlgorithmParameters::OctetKeyPair(parameters) => match parameters.curve {
                EllipticCurve::Ed25519 => Family::Ed25519,
                ref other => return Err(format!("curve {other:?} is not supported")),
            },
            AlgorithmParameters::OctetKey(_) => {
                return Err("a symmetric (oct) key, never accepted from a key set".into())
            }
        };
        let algorithm = match jwk.common.key_algorithm {
            None => None,
            Some(stated) => {
                let algorithm = signing_algorithm(stated)
                    .ok_or_else(|| format!("alg {stated:?} is not a signature algorithm this service verifies"))?;
                if Family::of(algorithm) != Some(family) {
                    return Err(format!("alg {algorithm:?} does not fit {}", family.describe()));
                }
                if !allowed.contains(&algorithm) {
                    return Err(format!("alg {algorithm:?} is not in JWT_ALGORITHMS"));
                }
                Some(algorithm)
            }
        };
        if !allowed.iter().any(|allowed| Family::of(*allowed) == Some(family)) {
            return Err(format!("no algorithm of JWT_ALGORITHMS uses {}", family.describe()));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|error| format!("the key's parameters do not read: {error}"))?;
        Ok(VerifyingKey {
            kid: jwk.common.key_id.clone(),
            family,
            algorithm,
            key,
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids, for logging what a refresh added and removed.
    pub fn kids(&self) -> BTreeSet<String> {
        self.keys.iter().filter_map(|key| key.kid.clone()).collect()
    }

    /// The key that may verify a token with this header.
    pub fn select(&self, header: &Header, allowed: &[Algorithm]) -> Selection<'_> {
        let algorithm = header.alg;
        if !allowed.contains(&algorithm) {
            return Selection::Refused(format!("alg {algorithm:?} is not accepted"));
        }
        let Some(family) = Family::of(algorithm) else {
            return Selection::Refused(format!(
                "alg {algorithm:?} is never accepted from the identity provider"
            ));
        };
        let candidates: Vec<&VerifyingKey> = match &header.kid {
            Some(kid) => {
                let named: Vec<&VerifyingKey> =
                    self.keys.iter().filter(|key| key.kid.as_deref() == Some(kid)).collect();
                if named.is_empty() {
                    return Selection::Unknown;
                }
                let fitting: Vec<&VerifyingKey> = named.iter().copied().filter(|key| key.family == family).collect();
                if fitting.is_empty() {
                    return Selection::Refused(format!(
                        "key {kid:?} is {}; alg {algorithm:?} does not fit it",
                        named[0].family.describe()
                    ));
                }
                fitting
            }
            None => {
                let of_family: Vec<&VerifyingKey> = self.keys.iter().filter(|key| key.family == family).collect();
                match of_family.len() {
                    0 => return Selection::Unknown,
                    1 => of_family,
                    n => {
                        return Selection::Refused(format!(
                            "the token names no kid and the key set has {n} keys for alg {algorithm:?}"
                        ))
                    }
                }
            }
        };
        match candidates
            .iter()
            .find(|key| key.algorithm.is_none_or(|own| own == algorithm))
        {
            Some(key) => Selection::Key(key),
            None => Selection::Refused(format!(
                "the key is for alg {:?}, not {algorithm:?}",
                candidates[0].algorithm.unwrap_or(algorithm)
            )),
        }
    }
}

/// The signature algorithm a key's `alg` names (encryption algorithms have none).
fn signing_algorithm(stated: KeyAlgorithm) -> Option<Algorithm> {
    use KeyAlgorithm::*;
    Some(match stated {
        RS256 => Algorithm::RS256,
        RS384 => Algorithm::RS384,
        RS512 => Algorithm::RS512,
        PS256 => Algorithm::PS256,
        PS384 => Algorithm::PS384,
        PS512 => Algorithm::PS512,
        ES256 => Algorithm::ES256,
        ES384 => Algorithm::ES384,
        EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// `JWT_ALGORITHMS`: a comma list of asymmetric signature algorithms.
pub fn parse_algorithms(text: &str) -> Result<Vec<Algorithm>, String> {
    let mut algorithms = Vec::new();
    for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
        let algorithm: Algorithm = name
            .parse()
            .map_err(|_| format!("JWT_ALGORITHMS: {name:?} is not an algorithm (RS256, PS256, ES256, EdDSA …)"))?;
        if Family::of(algorithm).is_none() {
            return Err(format!("JWT_ALGORITHMS: {name} is never accepted from a key set"));
        }
        algorithms.push(algorithm);
    }
    if algorithms.is_empty() {
        return Err("JWT_ALGORITHMS names no algorithm".into());
    }
    Ok(algorithms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALLOWED: [Algorithm; 4] = [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];

    fn ed25519(kid: &str) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
    }

    fn header(alg: Algorithm, kid: Option<&str>) -> Header {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        header
    }

    #[test]
    fn every_key_is_read_on_its_own() {
        let set = json!({"keys": [
            ed25519("sig-1"),
            {"kty": "RSA", "use": "enc", "kid": "enc-1", "alg": "RSA-OAEP", "n": "sXch", "e": "AQAB"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AQ", "y": "AQ"},
            {"kty": "XYZ", "kid": "odd"},
            "not an object",
            {"kty": "OKP", "crv": "Ed25519", "kid": "hs", "alg": "HS256", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]});
        let (keys, skipped) = KeySet::parse(set.to_string().as_bytes(), &ALLOWED).unwrap();
        assert_eq!(keys.kids(), BTreeSet::from(["sig-1".to_string()]));
        assert_eq!(skipped.len(), 6, "{skipped:#?}");
        assert!(
            skipped[0].contains("enc-1") && skipped[0].contains("encryption"),
            "{skipped:#?}"
        );
        assert!(skipped[1].contains("oct"), "{skipped:#?}");
    }

    #[test]
    fn a_document_that_is_no_key_set_fails() {
        assert!(KeySet::parse(b"<html>", &ALLOWED).is_err());
        assert!(KeySet::parse(br#"{"keys": 3}"#, &ALLOWED).is_err());
    }

    #[test]
    fn the_header_must_fit_the_key() {
        let set = json!({"keys": [ed25519("a"), ed25519("b")]});
        let (keys, _) = KeySet::parse(set.to_string().as_bytes(), &ALLOWED).unwrap();
        assert!(matches!(
            keys.select(&header(Algorithm::EdDSA, Some("a")), &ALLOWED),
            Selection::Key(_)
        ));
        assert!(matches!(
            keys.select(&header(Algorithm::EdDSA, Some("c")), &ALLOWED),
            Selection::Unknown
        ));
        assert!(matches!(
            keys.select(&header(Algorithm::ES256, Some("a")), &ALLOWED),
            Selection::Refused(_)
        ));
        assert!(matches!(
            keys.select(&header(Algorithm::HS256, Some("a")), &ALLOWED),
            Selection::Refused(_)
        ));
        assert!(matches!(
            keys.select(&header(Algorithm::RS384, Some("a")), &ALLOWED),
            Selection::Refused(_)
        ));
        // Without a kid, only a single key of the family is unambiguous.
        assert!(matches!(
            keys.select(&header(Algorithm::EdDSA, None), &ALLOWED),
            Selection::Refused(_)
        ));
        let one = json!({"keys": [ed25519("a")]});
        let (one, _) = KeySet::parse(one.to_string().as_bytes(), &ALLOWED).unwrap();
        assert!(matches!(
            one.select(&header(Algorithm::EdDSA, None), &ALLOWED),
            Selection::Key(_)
        ));
    }

    #[test]
    fn algorithms_are_asymmetric() {
        assert_eq!(
            parse_algorithms("RS256, EdDSA").unwrap(),
            vec![Algorithm::RS256, Algorithm::EdDSA]
        );
        assert!(parse_algorithms("HS256").is_err());
        assert!(parse_algorithms("none").is_err());
        assert!(parse_algorithms("").is_err());
    }
}
