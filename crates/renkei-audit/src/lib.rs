//! The tamper-evident audit log of renkei (不適切な利活用の防止): every data
//! access and decision is appended to an RFC 9162 Merkle tree whose heads are
//! signed with Ed25519, so that anyone holding a signed tree head can check
//! that an entry is in the log and that the log was only ever appended to
//! (DESIGN.md invariant 5).
//!
//! **Owns:** the `audit` database (tables `entries` and `signed_heads`), the
//! signing key file `keys/audit-ed25519.key` under the data directory,
//! [`AuditLog`] (the in-process [`renkei_core::AuditSink`]),
//! [`SignedTreeHead`] and its file format, the pure [`merkle`] module,
//! [`verify()`], and the [`Witness`] file of heads published outside the
//! data directory.
//!
//! **Never:** updates or deletes an entry or a head; answers an append before
//! the entry and a head covering it are committed; depends on another
//! function crate; stores names, addresses or clinical values (events hold
//! ids and counts only).
//!
//! **Start at:** [`AuditLog::open`], [`AuditLog::append`], [`verify()`],
//! [`merkle::Tree`].
//!
//! # How it fits together
//!
//! A single writer task takes appends from a queue and commits everything
//! waiting (up to [`MAX_BATCH`]) in one transaction together with a new
//! signed tree head, then answers every waiter: group commit gives one flush
//! and one signature per batch, and a head at every batch boundary. The
//! writer keeps every complete-subtree hash in memory ([`merkle::Tree`]), so
//! roots and proofs at any size are O(log n). [`verify()`] ignores all of
//! that and recomputes the tree from the stored bytes.
//!
//! # What a copy of the data directory can and cannot do
//!
//! The signing key lives in the data directory, so whoever holds a copy can
//! cut the log back or rewrite it and re-sign every stored head: the stored
//! heads prove only that the log is internally consistent. What they cannot
//! rewrite is kept elsewhere: a public key the operator pinned
//! ([`Trust::key`], `renkei audit verify --key`), a head saved earlier
//! (`--head FILE`), and the heads the platform publishes to a [`Witness`]
//! on a schedule. [`AuditLog::open_trusting`] refuses to start over a log
//! that is not consistent with the last witnessed head, and every open
//! recomputes each leaf hash from its entry's bytes, so the server never
//! signs a new head over an altered entry.
//!
//! # Example: checking that an entry is in the log
//!
//! ```
//! use renkei_audit::merkle::{Tree, leaf_hash, verify_inclusion};
//!
//! let entries: [&[u8]; 5] = [b"a", b"b", b"c", b"d", b"e"];
//! let mut tree = Tree::new();
//! for data in entries {
//!     tree.push(leaf_hash(data));
//! }
//! // What the log hands out: the root (in a signed head) and a proof.
//! let root = tree.root(5);
//! let path = tree.inclusion_path(2, 5);
//! // What anyone can check with the entry's bytes alone.
//! verify_inclusion(&leaf_hash(b"c"), 2, 5, &path, &root).expect("entry 2 is in the log");
//! assert!(verify_inclusion(&leaf_hash(b"x"), 2, 5, &path, &root).is_err());
//! ```
#![warn(missing_docs)]

mod error;
mod head;
mod lock;
mod log;
pub mod merkle;
mod store;
mod verify;
mod witness;

pub use error::{Error, HeadOrigin, Result};
pub use head::{KeyId, PublicKey, SIGNED_MESSAGE_LEN, SignedTreeHead};
pub use log::{AuditLog, MAX_BATCH, MAX_ENTRIES_PER_READ, StoredEntry, Trust, canonical_bytes};
pub use merkle::{ConsistencyProof, InclusionProof};
pub use verify::{VerifyReport, latest_stored_head, stored_public_key, verify, verify_with_key};
pub use witness::Witness;
