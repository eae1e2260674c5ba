//! Privacy-preserving record linkage (PPRL) with Bloom-filter encodings:
//! the provider encodes its records, the platform links the encodings and
//! never sees a name.
//!
//! The encoding is a cryptographic long-term key (CLK), in the line of
//! Schnell, Bachteler and Reiher (2009) and of anonlink/clkhash: every
//! compared field is normalized as the probabilistic linkage normalizes it
//! ([`crate::linkage::Kind`]), cut into tokens (padded bigrams for names,
//! text and codes; position-tagged digits for dates; the whole value for
//! categories), and each token sets `k` bits of one shared filter of
//! [`ClkSchema::bits`] bits. Similar values share most tokens, so the Dice
//! coefficient of two filters tracks the similarity of the records.
//!
//! **Keys.** Bit positions come from HMAC-SHA-256 under a secret that the
//! providers share and the platform never holds ([`ClkKey`]), one derived
//! key per field so that a bigram of the surname and the same bigram of
//! the given name set different bits. Each token's positions are read
//! straight from its HMAC output (the "random hashing" of clkhash's
//! BLAKE2b scheme) rather than by double hashing, whose structure Kroll
//! and Steinmetzer showed to be attackable.
//!
//! **Schema.** Which columns, their kinds and `k` per field form a
//! [`ClkSchema`]; both sides of a linkage must encode with the same one, so
//! each encoded record carries the schema's fingerprint and the matcher
//! refuses to compare encodings of different schemas. Without a schema,
//! one is inferred from the columns (as `renkei link` does) with `k`
//! chosen so that a typical filter is about half full.
//!
//! **Matching** ([`matching`]): Dice coefficients, every pair for small
//! inputs (with the popcount bound that skips pairs that cannot reach the
//! threshold) and, for large ones, the pairs sharing a keyed blocking
//! token the provider encoded (`--block-on`); pairs at or above the
//! threshold are links, a band below goes to clerical review, and links
//! become entities as in the probabilistic mode.

mod encode;
mod error;
pub mod matching;
mod schema;

pub use encode::{Clk, ClkKey, EncodedTable, encode};
pub use error::{Error, Result};
pub use matching::{ClkLinker, ClkOutcome, ClkPair, MatchSettings};
pub use schema::{ClkField, ClkSchema, DEFAULT_BITS};
