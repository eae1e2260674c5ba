//! Errors of identity.

/// What went wrong in identity.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store failed.
    #[error("identity store error")]
    Store(#[from] renkei_store::Error),
    /// A query failed.
    #[error("identity database error")]
    Database(#[from] sqlx::Error),
    /// A stored row is not what identity wrote.
    #[error("identity store is inconsistent: {0}")]
    Corrupt(String),
    /// The request itself is wrong, whatever the index holds (a blank
    /// reason, no records named, a person merged into itself).
    #[error("{0}")]
    Invalid(String),
    /// Something the request names does not exist (a review item, an
    /// attribute record).
    #[error("{0}")]
    NotFound(String),
    /// The request is well formed but the index's current state does not
    /// allow it (an item already decided, a person merged away, a split
    /// that would leave nothing).
    #[error("{0}")]
    Conflict(String),
    /// The probabilistic pass could not plan its linkage.
    #[error("probabilistic linkage of the index")]
    Linkage(#[from] crate::linkage::Error),
    /// A person key the index never issued.
    #[error("no person {0} in the index")]
    UnknownPerson(String),
    /// Encryption or decryption of attributes failed (a wrong key, or a
    /// ciphertext that was altered or moved).
    #[error("attribute record {record} cannot be decrypted")]
    Decrypt {
        /// The attribute record's id.
        record: String,
    },
    /// The audit log refused the entry of a curation step, so the step was
    /// not taken.
    #[error("the audit log cannot record the step")]
    Audit(#[source] renkei_core::Error),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for renkei_core::Error {
    fn from(e: Error) -> Self {
        renkei_core::Error::Service {
            function: "identity",
            message: e.to_string(),
        }
    }
}

impl Error {
    /// The kind of failure, as another function sees it.
    pub fn kind(&self) -> renkei_core::ErrorKind {
        use renkei_core::ErrorKind as K;
        match self {
            Error::Invalid(_) | Error::Linkage(_) => K::Invalid,
            Error::NotFound(_) | Error::UnknownPerson(_) => K::NotFound,
            Error::Conflict(_) => K::Conflict,
            Error::Audit(_) => K::Unavailable,
            Error::Store(_) | Error::Database(_) | Error::Corrupt(_) | Error::Decrypt { .. } => {
                K::Internal
            }
        }
    }
}

impl From<Error> for renkei_core::ServiceError {
    fn from(e: Error) -> Self {
        let message = match &e {
            // The kind's convention: a not-found names the thing.
            Error::NotFound(what) => what.clone(),
            Error::UnknownPerson(p) => format!("person {p}"),
            e => e.to_string(),
        };
        renkei_core::ServiceError::new(renkei_core::Function::Identity, e.kind(), message)
    }
}
