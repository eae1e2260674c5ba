//! Collection (データ収集): how records enter the platform.
//!
//! A provider submits FHIR R4 JSON — NDJSON as Bulk Data export writes it
//! (optionally gzip), a single resource, or a Bundle — and gets a
//! [`Receipt`]: per resource type what was accepted, refused (each with a
//! FHIR OperationOutcome), unchanged, superseded or held pending. Accepted
//! resources are split: identifying attributes go to identity (through
//! [`renkei_core::IdentityResolver`]), which answers with a `person_key`;
//! the lake receives canonical rows that carry the `person_key` and no
//! direct identifier.
//!
//! Guarantees, each tested under `tests/`:
//! - **All or nothing.** A submission's rows become visible in one lake
//!   commit over every table; a body that cannot be read to its end
//!   commits nothing. Identity's writes for the submission (persons,
//!   tokens, attribute records, review items) are staged under its id and
//!   committed or discarded with it — also when it is refused, its request
//!   is dropped, or the platform stops midway (settled at the next start).
//! - **Idempotent.** The same content (SHA-256 after gzip decoding) sent
//!   again by the same provider returns the first receipt and writes
//!   nothing; a resource sent again unchanged is counted as unchanged.
//! - **Supersession.** A resource re-sent with the same id and a newer
//!   `meta.lastUpdated` (or, without one, any changed content) supersedes
//!   the older version: the old rows stay in the lake and a row of the
//!   `superseded` table, committed with the new rows, says they no longer
//!   hold. An older version is ignored as stale.
//! - **Bounded.** Every part of a body is refused before it is held past
//!   its limit ([`Limits`]: a line, a resource or Bundle entry, a
//!   document, a Bundle's entries, gzip's inflated size and ratio), with
//!   an error naming where, which limit and its value; a string or an
//!   identifying attribute past its limit refuses its resource, before
//!   identity sees it. A Bundle is never parsed into one tree. Submissions
//!   being read share a memory budget.
//! - **Cancelled with its caller.** Dropping [`Intake::submit`]'s future
//!   before the body is read (a client that hangs up, a request timeout)
//!   stops the work and rolls the submission back.
//! - **Nothing pending is dropped.** A resource whose Patient has not
//!   arrived is held pending (with a notice on the receipt) and joins the
//!   lake in the submission that brings the Patient.
//!
//! **Owns:** push intake ([`Intake::submit`]), submissions and their
//! receipts, the registry of providers and their facility types, the
//! pending area, and the per-provider quality figures.
//!
//! **Never:** stores a direct identifier in the lake, commits part of a
//! submission (in the lake, its own tables or identity), refuses a valid resource for its type alone, or decides who
//! a patient is (identity does).
//!
//! **Start at:** [`Intake::submit`], then `intake` for the flow, `input`
//! and [`Limits`] for how a body is read, and `process` for what one
//! resource becomes.
#![warn(missing_docs)]

mod encoding;
mod error;
mod input;
mod intake;
mod limits;
mod person_map;
mod process;
mod provider;
mod quality;
mod report;
mod store;
mod submission;

pub use encoding::Encoding;
pub use error::{Error, Result};
pub use intake::{Intake, IntakeConfig};
pub use limits::{Limit, Limits};
pub use person_map::Propagated;
pub use provider::{FacilityKind, Provider};
pub use quality::LAG_BUCKETS;
pub use report::{
    ComplianceReport, ComplianceRow, ComplianceRules, ComplianceStatus, Delivery, Figures,
    Obligation, QualityReport, ReasonCount, StatusCounts, TOP_REASONS, Timeliness, TypeQuality,
};
pub use submission::{
    Location, MAX_LISTED, Notice, Receipt, Rejected, SubmissionId, SubmissionState, TypeCounts,
};
