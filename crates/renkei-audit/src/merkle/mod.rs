//! The Merkle tree of RFC 9162 §2.1, with no I/O: hashing, an in-memory tree
//! that answers proofs in O(log n), a compact frontier that recomputes roots
//! from a stream of leaves, and the verification of inclusion and
//! consistency proofs.
//!
//! RFC 9162 (Certificate Transparency 2.0) keeps RFC 6962's tree: leaves and
//! interior nodes are hashed with different one-byte prefixes so that a leaf
//! can never be passed off as a node (a second-preimage attack), and a tree of
//! `n` leaves splits at the largest power of two smaller than `n`, so that the
//! left side is always a complete subtree that never changes as the log grows.

mod frontier;
mod proof;
#[cfg(test)]
mod tests;
mod tree;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

pub use frontier::Frontier;
pub use proof::{ConsistencyProof, InclusionProof, verify_consistency, verify_inclusion};
pub use tree::Tree;

/// A SHA-256 hash: of a leaf, an interior node or a whole tree. Prints and
/// serializes as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The hash with these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads 32 bytes, as stored in a database column.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// Reads 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// The hash as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Hash::from_hex(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("expected 64 hex digits, found {text:?}"))
        })
    }
}

/// The hash of an empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// The hash of a leaf: SHA-256(0x00 || data) (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// The hash of an interior node: SHA-256(0x01 || left || right)
/// (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The largest power of two smaller than `n` (`n >= 2`): where RFC 9162
/// §2.1.1 splits a tree of `n` leaves.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2, "only a tree of two or more leaves is split");
    1 << (63 - (n - 1).leading_zeros())
}
