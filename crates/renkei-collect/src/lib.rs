//! Collection (データ収集): how records enter the platform.
//!
//! **Owns:** push intake (FHIR Bundle and NDJSON), pull (FHIR Bulk Data
//! `$export`), SS-MIX2 import, submissions and their receipts, the pending
//! area for resources whose references have not arrived, and the per-provider
//! quality and submission-compliance reports.
//!
//! **Never:** stores a direct identifier in the lake (identifying attributes
//! go to identity, which answers with a person_key), or commits part of a
//! submission.
//!
//! **Status:** filled by the collection issue; this crate holds only its
//! contract until then.
#![warn(missing_docs)]
