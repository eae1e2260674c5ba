//! Errors of processing.

/// What went wrong in processing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store failed.
    #[error("processing store error")]
    Store(#[from] renkei_store::Error),
    /// A query of processing's own database failed.
    #[error("processing database error")]
    Database(#[from] sqlx::Error),
    /// The query engine failed while reading the lake.
    #[error("query engine error while building an extract")]
    Engine(#[from] datafusion::error::DataFusionError),
    /// Arrow failed while transforming a batch.
    #[error("arrow error while building an extract")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing an extract's Parquet failed.
    #[error("parquet error while writing an extract")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The extract store failed.
    #[error("extract store error")]
    ObjectStore(#[from] object_store::Error),
    /// A request processing cannot take as written (says which field and
    /// why).
    #[error("{0}")]
    Invalid(String),
    /// No such extract (or permit key).
    #[error("{0} not found")]
    NotFound(String),
    /// The permit's key was destroyed when the permit ended: nothing more
    /// can be extracted under it, and its pseudonyms can no longer be made.
    #[error("the key of permit {0} was destroyed when the permit ended")]
    KeyDestroyed(String),
    /// The permit stopped being in force while the extract was built; the
    /// extract was not made visible.
    #[error("permit {permit} is not in force: {reason}")]
    NotInForce {
        /// The permit.
        permit: String,
        /// Why (suspended, revoked, expired).
        reason: String,
    },
    /// Review refused the permit (not in force), in its own words.
    #[error("{0}")]
    Refused(String),
    /// Another function (review, the opt-out registry) failed to answer.
    #[error(transparent)]
    Peer(#[from] renkei_core::ServiceError),
    /// A stored row is not what processing wrote.
    #[error("processing store is inconsistent: {0}")]
    Corrupt(String),
    /// The audit log refused the entry, so the extract was not made
    /// visible.
    #[error("the audit log cannot record the extract")]
    Audit(#[source] renkei_core::Error),
}

/// Processing's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The kind of failure, as another function sees it.
    pub fn kind(&self) -> renkei_core::ErrorKind {
        use renkei_core::ErrorKind as K;
        match self {
            Error::Invalid(_) => K::Invalid,
            Error::NotFound(_) => K::NotFound,
            Error::KeyDestroyed(_) => K::Conflict,
            Error::NotInForce { .. } | Error::Refused(_) => K::NotPermitted,
            Error::Peer(e) => e.kind,
            Error::Audit(_) => K::Unavailable,
            Error::Store(_)
            | Error::Database(_)
            | Error::Engine(_)
            | Error::Arrow(_)
            | Error::Parquet(_)
            | Error::ObjectStore(_)
            | Error::Corrupt(_) => K::Internal,
        }
    }
}

impl From<Error> for renkei_core::ServiceError {
    fn from(e: Error) -> Self {
        match e {
            // Said by another function: passed on as it said it.
            Error::Peer(e) => e,
            // The kind's convention: a not-found names the thing.
            Error::NotFound(what) => renkei_core::ServiceError::new(
                renkei_core::Function::Processing,
                renkei_core::ErrorKind::NotFound,
                what,
            ),
            e => renkei_core::ServiceError::new(
                renkei_core::Function::Processing,
                e.kind(),
                e.to_string(),
            ),
        }
    }
}
