//! Patient identifier (患者の識別子): linking each person's records across
//! sources under one person_key.
//!
//! **Owns:** the identifying attributes (encrypted at rest, [`vault`]),
//! normalization of Japanese identifiers ([`normalize`]), keyed match tokens
//! ([`token`]), and the person index ([`PersonIndex`]) with its `identity`
//! database: deterministic links on the insurance number with 枝番, the
//! provider's own patient id and kana name + birth date + sex; which links
//! are trusted (a record whose number names a person while its name, birth
//! date or sex disagree, or that is linked by name alone while carrying a
//! new number, waits in the clerical-review queue, binding no token and
//! proving nothing at identification until a reviewer accepts it);
//! batches staged for a submission and committed or discarded with it
//! ([`staging`]); curation ([`curation`]: merges, splits, review,
//! attribute reads for a reason); probabilistic ([`linkage`], [`relink`])
//! and Bloom-filter ([`pprl`]) linkage.
//!
//! **Never:** hands raw attributes for a person_key to anyone but an
//! operator stating a reason (audited); never writes to the lake; never logs
//! an attribute value; never stores an attribute unencrypted or a match
//! token unkeyed; never lets a record awaiting review bind a token or
//! identify a patient; never shows a batch's writes before it commits.
//!
//! **Start at:** [`PersonIndex::resolve`], then
//! [`PersonIndex::resolve_staged`] and [`PersonIndex::identify`].
#![warn(missing_docs)]

mod contract;
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
pub use identify::IdentifyWork;
pub use index::PersonIndex;
