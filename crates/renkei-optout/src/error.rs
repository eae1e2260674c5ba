//! Errors of the opt-out registry.

use crate::Receipt;

/// What went wrong in the opt-out registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store failed.
    #[error("opt-out store error")]
    Store(#[from] renkei_store::Error),
    /// A query failed.
    #[error("opt-out database error")]
    Database(#[from] sqlx::Error),
    /// A stored row is not what the registry wrote.
    #[error("opt-out registry is inconsistent: {0}")]
    Corrupt(String),
    /// A request the registry cannot take as written (says which field
    /// and why).
    #[error("{0}")]
    Invalid(String),
    /// The configured policy does not let this submitter act.
    #[error("{0}")]
    NotAllowed(String),
    /// No opt-out has this receipt number.
    #[error("no opt-out with receipt number {0}")]
    UnknownReceipt(Receipt),
    /// The receipt names another person's opt-out. Said the same way as an
    /// unknown receipt to the caller, so that a receipt number cannot be
    /// used to learn that somebody else opted out.
    #[error("no opt-out with receipt number {0}")]
    NotYours(Receipt),
    /// The opt-out was withdrawn already.
    #[error("the opt-out {receipt} was already withdrawn (receipt {by})")]
    AlreadyWithdrawn {
        /// The opt-out.
        receipt: Receipt,
        /// The withdrawal's receipt.
        by: Receipt,
    },
    /// Identification of a patient failed for a reason other than "no
    /// match" (the identity service is down).
    #[error("patient identification failed: {0}")]
    Identification(String),
    /// The audit log refused the change's entry, so the change was not
    /// made.
    #[error("the audit log cannot record the change")]
    Audit(#[source] renkei_core::Error),
    /// Bereaved family asked for a person whose death is not on record.
    #[error(
        "submitter: no death is on record for person {0}; bereaved family may act only for a deceased person"
    )]
    NoDeathOnRecord(renkei_core::PersonKey),
    /// A function the registry asks (the lake's figures) cannot answer now.
    #[error("{0}")]
    Unavailable(String),
    /// The registry's writer has stopped (the platform is shutting down).
    #[error("the opt-out registry is closed")]
    Closed,
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for renkei_core::Error {
    fn from(e: Error) -> Self {
        renkei_core::Error::Service {
            function: "optout",
            message: e.to_string(),
        }
    }
}

impl Error {
    /// The kind of failure, as another function sees it.
    pub fn kind(&self) -> renkei_core::ErrorKind {
        use renkei_core::ErrorKind as K;
        match self {
            Error::Invalid(_) => K::Invalid,
            Error::NotAllowed(_) => K::NotPermitted,
            Error::UnknownReceipt(_) | Error::NotYours(_) => K::NotFound,
            Error::AlreadyWithdrawn { .. } | Error::NoDeathOnRecord(_) => K::Conflict,
            Error::Identification(_) | Error::Audit(_) | Error::Closed | Error::Unavailable(_) => {
                K::Unavailable
            }
            Error::Store(_) | Error::Database(_) | Error::Corrupt(_) => K::Internal,
        }
    }
}

impl From<Error> for renkei_core::ServiceError {
    fn from(e: Error) -> Self {
        let message = match &e {
            // The kind's convention: a not-found names the thing.
            Error::UnknownReceipt(r) | Error::NotYours(r) => {
                format!("opt-out with receipt number {r}")
            }
            e => e.to_string(),
        };
        renkei_core::ServiceError::new(renkei_core::Function::OptOut, e.kind(), message)
    }
}
