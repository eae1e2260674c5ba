//! Errors of the analysis environment.

/// What went wrong in the analysis environment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store failed.
    #[error("analysis store error")]
    Store(#[from] renkei_store::Error),
    /// A query of the environment's own database failed.
    #[error("analysis database error")]
    Database(#[from] sqlx::Error),
    /// The researcher's SQL was refused or failed; the message is the
    /// engine's, about their query.
    #[error("{0}")]
    Query(String),
    /// The query ran past the permit's time limit and was stopped.
    #[error("the query ran longer than the workspace allows ({seconds} s) and was stopped")]
    TimedOut {
        /// The limit.
        seconds: u64,
    },
    /// Arrow failed while encoding a result.
    #[error("arrow error while encoding a result")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The audit log refused the entry, so the query did not run.
    #[error("the audit log cannot record the query")]
    Audit(#[source] renkei_core::Error),
    /// A request the environment cannot act on, with what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the state (an output decided already).
    #[error("{0}")]
    Conflict(String),
    /// Stored data the environment cannot read back.
    #[error("analysis store holds unreadable data: {0}")]
    Corrupt(String),
    /// The analysis cluster (a Ballista scheduler or executor) could not be
    /// set up or stopped; `step` says what was being done.
    #[error("the analysis cluster failed while {step}")]
    Cluster {
        /// What was being done.
        step: String,
        /// Ballista's error.
        #[source]
        source: ballista_core::error::BallistaError,
    },
    /// The engine configuration is not usable (a scheduler address without
    /// a host, say).
    #[error("invalid analysis engine: {0}")]
    InvalidEngine(String),
    /// The analysis cluster could not be reached (a scheduler or an
    /// executor down): the query may be fine; try again later.
    #[error("the analysis cluster cannot be reached: {0}")]
    Unavailable(String),
    /// The environment is busy with work of the same kind (an output
    /// check); the request may be fine: try again later.
    #[error("{0}")]
    Busy(String),
    /// Something named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The user is not named on the permit whose workspace they asked for.
    #[error("{0}")]
    NotNamed(String),
    /// Another function (review, processing) failed to answer.
    #[error(transparent)]
    Peer(#[from] renkei_core::ServiceError),
}

/// The analysis environment's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
