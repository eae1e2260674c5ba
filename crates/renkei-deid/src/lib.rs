//! Processing (加工): turning the lake into exactly what one permit allows.
//!
//! **Owns:** the permit extract builder (`Processing::build`: projection,
//! period and cohort, opt-out exclusion, per-permit pseudonyms, date
//! shifting; atomic and restartable), extract manifests with the bitmap of
//! included persons, permit keys (sealed at rest, destroyed when a permit
//! ends), and anonymization (generalization hierarchies, k-anonymity,
//! l-diversity, t-closeness, lattice search, risk report). Only this crate
//! makes a [`Pseudonym`].
//!
//! **Never:** writes a person_key into an extract, makes an extract visible
//! before it is complete and audited, or builds one for a permit review
//! says is not in force. It learns of permits and opt-outs only through
//! the contracts of `renkei-core` ([`renkei_core::PermitAuthority`],
//! [`renkei_core::OptOutRegistry`]), handed to it as [`Peers`].
#![warn(missing_docs)]

pub mod anonymize;
mod contract;
mod error;
pub mod extract;
mod keys;
mod processing;
pub mod pseudonym;
pub mod spec;
mod statistics;

pub use error::{Error, Result};
pub use extract::{ExtractTable, Manifest, RareValue};
pub use processing::{EXTRACTS_URL, ExtractSummary, Options, Peers, PermitEnded, Processing};
pub use pseudonym::{PermitKey, Pseudonym, Pseudonymizer};
pub use spec::{Delivery, Exclusion, Grant, PrivacyTerms, TableSelection};
pub use statistics::{LakeFigures, QUASI_IDENTIFIERS};
