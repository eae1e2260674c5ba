//! FHIR R4 and JP Core: parsing, validation and flattening of the resources
//! that providers send.
//!
//! **Owns:** the FHIR data model the platform reads, the validator that
//! reports problems as OperationOutcome issues with an expression locating
//! each one (`Patient.identifier[1].system`), the metadata of the Japanese
//! code systems (ICD-10 MHLW edition, MEDIS 標準病名, JLAC10/11, YJ, HOT), and
//! the flattening of resources into the canonical lake rows of `renkei-core`.
//!
//! **Never:** stores anything, talks to the network, or decides who a patient
//! is (that is `renkei-identity`).
//!
//! **Status:** filled by the collection issue; this crate holds only its
//! contract until then.
#![warn(missing_docs)]
