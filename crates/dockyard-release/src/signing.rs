//! Signing the provenance: an Ed25519 key the maintainer provides (PKCS#8 PEM, in the environment variable
//! `[release] signing_key_env` names) signs each statement as a DSSE envelope, which `openssl pkeyutl -verify` checks
//! with the public key (README: "Verifying a signed provenance"). The key never reaches a log, an error or a file.

use std::fmt;

use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePublicKey};
use ed25519_dalek::Signer;
use serde_json::{json, Value};

use crate::ReleaseError;

/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The key that signs the provenance, and its id.
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    /// The lowercase hex sha256 of the raw 32-byte public key.
    pub id: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SigningKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key in the environment variable `variable`: missing, empty or not an Ed25519 PKCS#8 PEM key each fail
    /// naming the variable, never showing its value.
    pub fn from_env(variable: &str) -> Result<SigningKey, ReleaseError> {
        let pem = std::env::var(variable)
            .ok()
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| ReleaseError::SigningKeyMissing {
                variable: variable.to_owned(),
            })?;
        SigningKey::from_pem(&pem).map_err(|reason| ReleaseError::SigningKeyInvalid {
            variable: variable.to_owned(),
            reason,
        })
    }

    /// The key of a PKCS#8 PEM text; the parser's reason when it is not an Ed25519 key.
    pub fn from_pem(pem: &str) -> Result<SigningKey, String> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|error| error.to_string().to_lowercase())?;
        let id = dockyard_context::sha256_hex(key.verifying_key().as_bytes());
        Ok(SigningKey { key, id })
    }

    /// The public key as a SubjectPublicKeyInfo PEM (what `openssl pkeyutl -pubin` reads).
    pub fn public_key_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The DSSE envelope of `payload` (an in-toto statement's bytes), signed over its pre-authentication encoding.
    pub fn envelope(&self, payload: &[u8]) -> Value {
        let signature = self.key.sign(&pae(PAYLOAD_TYPE, payload));
        let base64 = base64::engine::general_purpose::STANDARD;
        json!({
            "payloadType": PAYLOAD_TYPE,
            "payload": base64.encode(payload),
            "signatures": [{ "keyid": self.id, "sig": base64.encode(signature.to_bytes()) }],
        })
    }
}

/// DSSE's pre-authentication encoding: `DSSEv1 <len(type)> <type> <len(body)> <body>`, lengths in decimal bytes.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut encoded = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        body.len()
    )
    .into_bytes();
    encoded.extend_from_slice(body);
    encoded
}
