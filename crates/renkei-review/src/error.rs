//! Errors of review.

/// What went wrong in review.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store failed.
    #[error("review store error")]
    Store(#[from] renkei_store::Error),
    /// A query failed.
    #[error("review database error")]
    Database(#[from] sqlx::Error),
    /// A stored row is not what review wrote.
    #[error("review store is inconsistent: {0}")]
    Corrupt(String),
    /// An application form or request that cannot be taken as written
    /// (names the field and why).
    #[error("{0}")]
    Invalid(String),
    /// The workflow does not allow this step from the application's state.
    #[error("an application in state {state} cannot be {action}; allowed: {allowed}")]
    IllegalTransition {
        /// The state it is in.
        state: &'static str,
        /// What was asked (`submitted`, `approved` …).
        action: &'static str,
        /// The steps allowed from that state.
        allowed: String,
    },
    /// Someone else changed the application first; read it again.
    #[error("application {0} changed meanwhile; reload it and try again")]
    Stale(String),
    /// No such application or permit.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not do this to this application (not its applicant,
    /// not assigned to it).
    #[error("{0}")]
    NotYours(String),
    /// A reviewer with a declared conflict of interest.
    #[error(
        "{reviewer} declared a conflict of interest with {organization} and cannot review this application"
    )]
    Conflict {
        /// The reviewer.
        reviewer: String,
        /// The applicant organization.
        organization: String,
    },
    /// The permit is suspended, revoked or past its term.
    #[error("permit {permit} is not in force ({status})")]
    NotInForce {
        /// The permit.
        permit: String,
        /// `suspended`, `revoked` or `expired`.
        status: &'static str,
    },
    /// Another function (the lake's figures) failed to answer.
    #[error(transparent)]
    Peer(renkei_core::ServiceError),
    /// The audit log refused the step's entry, so the step was not taken.
    #[error("the audit log cannot record the step")]
    Audit(#[source] renkei_core::Error),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for renkei_core::Error {
    fn from(e: Error) -> Self {
        renkei_core::Error::Service {
            function: "review",
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
            Error::NotFound(_) => K::NotFound,
            Error::IllegalTransition { .. } | Error::Stale(_) | Error::Conflict { .. } => {
                K::Conflict
            }
            Error::NotYours(_) | Error::NotInForce { .. } => K::NotPermitted,
            Error::Audit(_) => K::Unavailable,
            Error::Peer(e) => e.kind,
            Error::Store(_) | Error::Database(_) | Error::Corrupt(_) => K::Internal,
        }
    }
}

impl From<Error> for renkei_core::ServiceError {
    fn from(e: Error) -> Self {
        let message = match &e {
            // The kind's convention: a not-found names the thing.
            Error::NotFound(what) => what.clone(),
            e => e.to_string(),
        };
        renkei_core::ServiceError::new(renkei_core::Function::Review, e.kind(), message)
    }
}
