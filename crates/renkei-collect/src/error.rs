//! Why an intake call failed as a whole. A resource that is refused is not
//! an error: it is a line of the receipt.

use crate::encoding::Encoding;
use crate::limits::Limit;

/// Errors of collection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body could not be read to its end: a broken gzip stream, a
    /// connection cut mid-way, a line cut off without its newline. Nothing
    /// of the submission was committed.
    #[error(
        "the submission could not be read to its end ({at}): {reason}; nothing from it was committed"
    )]
    Incomplete {
        /// Where reading stopped, e.g. `line 1201`.
        at: String,
        /// What went wrong.
        reason: String,
    },
    /// The body is not FHIR JSON at all (for example a single JSON document
    /// that does not parse). Nothing was committed.
    #[error("the body is not FHIR JSON: {0}; nothing was committed")]
    NotFhir(String),
    /// A part of the submission went past one of the intake's limits; it
    /// was refused before being held past the limit. Nothing was
    /// committed.
    #[error(
        "{at} is over the limit collect.{limit} = {max} {unit}; nothing from the submission was committed",
        unit = .limit.unit()
    )]
    TooLarge {
        /// Where: `line 12`, `Bundle.entry[10000] (line 1)`, `the gzip body`.
        at: String,
        /// Which limit (its configuration key).
        limit: Limit,
        /// The limit's value.
        max: u64,
    },
    /// The body is not UTF-8, as FHIR JSON must be (RFC 8259 §8.1); read
    /// once and refused once, naming the encoding it looks like.
    #[error(
        "the body is not UTF-8 (first at {at}); it looks like {encoding}: {advice}; nothing was committed",
        encoding = .likely.name(),
        advice = .likely.advice()
    )]
    NotUtf8 {
        /// Where the first byte that is not UTF-8 is (`line 3`).
        at: String,
        /// The encoding the bytes look like.
        likely: Encoding,
    },
    /// The request was dropped (the client hung up, or the request timed
    /// out) before the submission was committed; it was rolled back.
    #[error(
        "the request was dropped before the submission was committed; nothing from it was committed"
    )]
    Cancelled,
    /// The provider code is not registered, or the caller may not submit
    /// for it.
    #[error("provider {0}: {1}")]
    Provider(String, String),
    /// Identity could not resolve the submission's patients, or give its
    /// merges and splits: said as identity said it.
    #[error(transparent)]
    Identity(#[from] renkei_core::ServiceError),
    /// A database error.
    #[error("collection database: {0}")]
    Db(#[from] sqlx::Error),
    /// A store error (the lake, opening the database).
    #[error(transparent)]
    Store(#[from] renkei_store::Error),
    /// Stored data that cannot be read back.
    #[error("stored collection data is corrupt: {0}")]
    Corrupt(String),
    /// The audit log refused the entry of a change, so the change was not
    /// made.
    #[error("the audit log cannot record the submission")]
    Audit(#[source] renkei_core::Error),
}

/// Results of collection.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the sender is at fault (the body, not the platform): what
    /// an HTTP layer answers 4xx.
    pub fn is_senders(&self) -> bool {
        matches!(
            self,
            Error::Incomplete { .. }
                | Error::NotFhir(_)
                | Error::TooLarge { .. }
                | Error::NotUtf8 { .. }
                | Error::Provider(..)
                | Error::Cancelled
        )
    }

    /// This error as a FHIR OperationOutcome, for a FHIR endpoint to
    /// answer with (FHIR R4 §3.1.0.4: errors come back as
    /// OperationOutcome). The message carries no submitted value.
    pub fn to_operation_outcome(&self) -> serde_json::Value {
        use renkei_fhir::{Issue, IssueType, Outcome, Severity};
        let code = match self {
            Error::TooLarge { .. } => IssueType::TooLong,
            Error::Incomplete { .. } | Error::NotFhir(_) | Error::NotUtf8 { .. } => {
                IssueType::Structure
            }
            _ => IssueType::Processing,
        };
        let outcome = Outcome {
            issues: vec![Issue {
                severity: Severity::Error,
                code,
                diagnostics: self.to_string(),
                expression: String::new(),
            }],
        };
        serde_json::to_value(outcome.to_operation_outcome()).unwrap_or_else(
            |_| serde_json::json!({"resourceType": "OperationOutcome", "issue": []}),
        )
    }
}
