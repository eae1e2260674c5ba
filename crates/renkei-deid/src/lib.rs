//! Processing (加工): turning the lake into exactly what one permit allows.
//!
//! **Owns:** the permit extract builder (opt-out exclusion, projection,
//! per-permit pseudonyms, date shifting), extract manifests, generalization
//! hierarchies and the privacy models (k-anonymity, l-diversity, t-closeness),
//! and DICOM and genomic de-identification. Only this crate makes a
//! `Pseudonym`.
//!
//! **Never:** writes a person_key into an extract, or makes an extract
//! visible before it is complete.
//!
//! **Status:** filled by the processing issue; this crate holds only its
//! contract until then.
#![warn(missing_docs)]
pub mod anonymize;
