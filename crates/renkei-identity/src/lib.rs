//! Patient identifier (患者の識別子): linking each person's records across
//! sources under one person_key.
//!
//! **Owns:** the identifying attributes (encrypted at rest), normalization of
//! Japanese names, dates and addresses, keyed match tokens, deterministic,
//! probabilistic (Fellegi–Sunter) and Bloom-filter (PPRL) linkage, the person
//! index with its merges and splits, and the clerical-review queue.
//!
//! **Never:** hands raw attributes for a person_key to anyone but an operator
//! stating a reason (audited); never writes to the lake directly.
//!
//! **Status:** filled by the identity issue; this crate holds only its
//! contract until then.
#![warn(missing_docs)]
