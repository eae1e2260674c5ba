//! Signed tree heads: the log's Ed25519 signature over its size and root at
//! an instant, which is what anyone outside the platform keeps and checks
//! the log against.
//!
//! # The signed message
//!
//! Modelled on RFC 6962 §3.5 (`TreeHeadSignature`), the signature covers
//! exactly these 50 bytes, all integers big-endian:
//!
//! ```text
//! struct {
//!     uint8  version;          // 0: renkei audit v1
//!     uint8  signature_type;   // 1: tree_hash (RFC 6962 SignatureType)
//!     int64  timestamp;        // microseconds since 1970-01-01T00:00:00Z
//!     uint64 tree_size;        // number of entries the head covers
//!     opaque root_hash[32];    // RFC 9162 §2.1.1 MTH of those entries
//! } TreeHeadSignature;
//! ```
//!
//! Unlike RFC 6962 the timestamp is in microseconds (the unit every renkei
//! store uses), and the signature is a pure Ed25519 signature (RFC 8032)
//! over the message, not over a hash of it. The key is named by its id, the
//! SHA-256 of the 32-byte public key (as RFC 6962 §3.2 names a log).

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use renkei_core::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::HeadOrigin;
use crate::merkle::Hash;
use crate::{Error, Result};

/// `version` of the signed message.
const VERSION_V1: u8 = 0;
/// `signature_type` of the signed message (RFC 6962 `SignatureType.tree_hash`).
const SIGNATURE_TYPE_TREE_HASH: u8 = 1;
/// The length of the signed message.
pub const SIGNED_MESSAGE_LEN: usize = 50;

/// The audit log's Ed25519 public key. Prints as hex (`{}`); also available
/// as base64 ([`PublicKey::to_base64`]). Parses from either.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The key with these 32 bytes, if they are a valid Ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|e| Error::InvalidPublicKey {
                value: hex::encode(bytes),
                reason: e.to_string(),
            })
    }

    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// The key as standard base64 (44 characters).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.to_bytes())
    }

    /// The key's id: SHA-256 of its bytes.
    pub fn key_id(&self) -> KeyId {
        KeyId(Hash::from_bytes(Sha256::digest(self.to_bytes()).into()))
    }
}

impl FromStr for PublicKey {
    type Err = Error;

    /// Reads 64 hex digits or standard base64 of the 32 key bytes.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let invalid = |reason: &str| Error::InvalidPublicKey {
            value: text.to_owned(),
            reason: reason.to_owned(),
        };
        let bytes = if text.len() == 64 {
            hex::decode(text).map_err(|_| invalid("64 characters but not hex"))?
        } else {
            BASE64
                .decode(text)
                .map_err(|_| invalid("neither 64 hex digits nor base64"))?
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| invalid(&format!("expected 32 bytes, found {}", b.len())))?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey(hex {}, base64 {})",
            self.to_hex(),
            self.to_base64()
        )
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Names a signing key: SHA-256 of its public key. Prints as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(Hash);

impl KeyId {
    pub(crate) fn from_hex(text: &str) -> Option<Self> {
        Hash::from_hex(text).map(Self)
    }

    /// The id as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0.to_hex())
    }
}

/// The log's signed statement that its first `tree_size` entries have the
/// root `root_hash`. As JSON (hex for hashes and the signature) it is also
/// the file `renkei audit verify --head FILE` reads:
///
/// ```json
/// {"tree_size":3,"timestamp":"2026-11-25T00:00:00Z","root_hash":"…64 hex…",
///  "signature":"…128 hex…","key_id":"…64 hex…"}
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeHead {
    /// How many entries the head covers.
    pub tree_size: u64,
    /// When the head was signed.
    pub timestamp: Timestamp,
    /// RFC 9162 §2.1.1 MTH of the first `tree_size` entries.
    pub root_hash: Hash,
    /// Ed25519 signature over [`SignedTreeHead::signed_message`].
    #[serde(with = "signature_hex")]
    pub signature: [u8; 64],
    /// Which key signed it.
    pub key_id: KeyId,
}

impl fmt::Debug for SignedTreeHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedTreeHead")
            .field("tree_size", &self.tree_size)
            .field("timestamp", &self.timestamp)
            .field("root_hash", &self.root_hash)
            .field("signature", &hex::encode(self.signature))
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl SignedTreeHead {
    /// The bytes a head signs (layout in the [module docs](self)).
    pub fn signed_message(
        tree_size: u64,
        timestamp: Timestamp,
        root_hash: &Hash,
    ) -> [u8; SIGNED_MESSAGE_LEN] {
        let mut m = [0u8; SIGNED_MESSAGE_LEN];
        m[0] = VERSION_V1;
        m[1] = SIGNATURE_TYPE_TREE_HASH;
        m[2..10].copy_from_slice(&timestamp.unix_micros().to_be_bytes());
        m[10..18].copy_from_slice(&tree_size.to_be_bytes());
        m[18..50].copy_from_slice(root_hash.as_bytes());
        m
    }

    /// Checks that `key` made this head and that the head is unchanged.
    /// Says nothing about entries: use [`crate::verify`] for that.
    pub fn verify(&self, key: &PublicKey) -> Result<()> {
        self.check_signature(key, HeadOrigin::Given, 0)
    }

    pub(crate) fn check_signature(
        &self,
        key: &PublicKey,
        origin: HeadOrigin,
        since: u64,
    ) -> Result<()> {
        let expected = key.key_id();
        if self.key_id != expected {
            return Err(Error::HeadKeyMismatch {
                origin,
                tree_size: self.tree_size,
                found: self.key_id.to_hex(),
                expected: expected.to_hex(),
            });
        }
        let message = Self::signed_message(self.tree_size, self.timestamp, &self.root_hash);
        // verify_strict refuses the malleable and small-order cases that
        // plain RFC 8032 verification lets through.
        key.0
            .verify_strict(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| Error::HeadSignatureInvalid {
                origin,
                tree_size: self.tree_size,
                since,
            })
    }

    /// Reads a head from its JSON form.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(Error::InvalidHead)
    }

    /// The head as indented JSON, the form written to a head file.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a head always serializes")
    }
}

/// The log's private signing key. Its `Debug` shows only the public key.
pub(crate) struct LogKey {
    signing: SigningKey,
    public: PublicKey,
}

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl LogKey {
    pub(crate) fn from_secret(secret: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(secret);
        let public = PublicKey(signing.verifying_key());
        Self { signing, public }
    }

    pub(crate) fn public(&self) -> PublicKey {
        self.public
    }

    pub(crate) fn sign(
        &self,
        tree_size: u64,
        timestamp: Timestamp,
        root_hash: Hash,
    ) -> SignedTreeHead {
        let message = SignedTreeHead::signed_message(tree_size, timestamp, &root_hash);
        SignedTreeHead {
            tree_size,
            timestamp,
            root_hash,
            signature: self.signing.sign(&message).to_bytes(),
            key_id: self.public.key_id(),
        }
    }
}

/// Serde for the 64-byte signature as 128 hex digits.
mod signature_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let text = String::deserialize(d)?;
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(&text, &mut bytes).map_err(|_| {
            serde::de::Error::custom(format!("expected 128 hex digits, found {text:?}"))
        })?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn key() -> LogKey {
        LogKey::from_secret(&[7u8; 32])
    }

    #[test]
    fn signed_message_has_the_documented_layout() {
        let root = leaf_hash(b"r");
        let m = SignedTreeHead::signed_message(0x0102, Timestamp::from_unix_micros(0x0a0b), &root);
        assert_eq!(m[0], 0);
        assert_eq!(m[1], 1);
        assert_eq!(&m[2..10], &[0, 0, 0, 0, 0, 0, 0x0a, 0x0b]);
        assert_eq!(&m[10..18], &[0, 0, 0, 0, 0, 0, 0x01, 0x02]);
        assert_eq!(&m[18..], root.as_bytes());
    }

    #[test]
    fn head_round_trips_through_json_and_verifies() {
        let k = key();
        let head = k.sign(
            5,
            Timestamp::from_unix_micros(1_700_000_000_123_456),
            leaf_hash(b"x"),
        );
        let json = head.to_json_pretty();
        let back = SignedTreeHead::from_json(&json).expect("own output parses");
        assert_eq!(back, head);
        back.verify(&k.public()).expect("signature verifies");
    }

    #[test]
    fn altered_head_fails_naming_its_size() {
        let k = key();
        let mut head = k.sign(5, Timestamp::from_unix_micros(0), leaf_hash(b"x"));
        head.tree_size = 6;
        match head.verify(&k.public()) {
            Err(Error::HeadSignatureInvalid { tree_size: 6, .. }) => {}
            other => panic!("expected an invalid signature, got {other:?}"),
        }
        let other = LogKey::from_secret(&[8u8; 32]);
        let head = other.sign(5, Timestamp::from_unix_micros(0), leaf_hash(b"x"));
        match head.verify(&k.public()) {
            Err(Error::HeadKeyMismatch { tree_size: 5, .. }) => {}
            other => panic!("expected a key mismatch, got {other:?}"),
        }
    }

    #[test]
    fn public_key_reads_back_from_hex_and_base64() {
        let public = key().public();
        assert_eq!(public.to_hex().parse::<PublicKey>().expect("hex"), public);
        assert_eq!(
            public.to_base64().parse::<PublicKey>().expect("base64"),
            public
        );
        assert_eq!(public.to_string(), public.to_hex());
        assert!("abcd".parse::<PublicKey>().is_err());
    }
}
