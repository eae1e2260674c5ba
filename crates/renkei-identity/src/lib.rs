//! Patient identifier (患者の識別子): linking each person's records across
//! sources under one person_key.
//!
//! **Owns:** the identifying attributes (encrypted at rest, [`vault`]),
//! normalization of Japanese identifiers ([`normalize`]), keyed match tokens
//! ([`token`]), and the person index ([`PersonIndex`]) with its `identity`
//! database. Today it links deterministically on the insurance number with
//! 枝番 and on the provider's own patient id; normalization of names, dates
//! and addresses, probabilistic (Fellegi–Sunter) and Bloom-filter (PPRL)
//! linkage, merges, splits and the clerical-review queue arrive with the
//! identity issue.
//!
//! **Never:** hands raw attributes for a person_key to anyone but an
//! operator stating a reason (audited); never writes to the lake; never logs
//! an attribute value; never stores an attribute unencrypted or a match
//! token unkeyed.
//!
//! **Start at:** [`PersonIndex::resolve`].
#![warn(missing_docs)]

pub mod curation;
mod error;
mod identify;
mod index;
pub mod linkage;
pub mod normalize;
pub mod pprl;
pub mod relink;
pub mod staging;
pub mod token;
pub mod vault;

pub use error::{Error, Result};
pub use index::PersonIndex;
