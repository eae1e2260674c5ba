//! Why an intake call failed as a whole. A resource that is refused is not
//! an error: it is a line of the receipt.

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
    /// A single JSON document larger than the limit (NDJSON has no limit).
    #[error(
        "a single JSON document may be at most {limit} bytes; send large data as NDJSON (one resource per line)"
    )]
    DocumentTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The provider code is not registered, or the caller may not submit
    /// for it.
    #[error("provider {0}: {1}")]
    Provider(String, String),
    /// Identity could not resolve the submission's patients.
    #[error("identity: {0}")]
    Identity(#[from] renkei_core::Error),
    /// A database error.
    #[error("collection database: {0}")]
    Db(#[from] sqlx::Error),
    /// A store error (the lake, opening the database).
    #[error(transparent)]
    Store(#[from] renkei_store::Error),
    /// Stored data that cannot be read back.
    #[error("stored collection data is corrupt: {0}")]
    Corrupt(String),
}

/// Results of collection.
pub type Result<T, E = Error> = std::result::Result<T, E>;
