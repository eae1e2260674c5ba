//! A deterministic synthetic Japanese population and its medical records,
//! used by tests, benchmarks and `renkei demo`.
//!
//! **Owns:** name and address frequency tables, the population generator
//! (persons, providers, encounters, conditions, labs, prescriptions), the
//! realistic disagreements between providers about the same person, and the
//! ground truth of who is who, written apart from the records.
//!
//! **Never:** is a dependency of a production code path; never writes the
//! ground truth into the records it generates.
//!
//! **Status:** filled by the collection issue; this crate holds only its
//! contract until then.
#![warn(missing_docs)]
