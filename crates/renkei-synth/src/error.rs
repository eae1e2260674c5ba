//! Errors of the generator.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while generating a population.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller asked for something impossible (zero patients, …).
    #[error("invalid synth options: {0}")]
    InvalidOptions(String),
    /// A bug in the generator (an index out of range); never the caller's
    /// fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// Writing an output file failed.
    #[error("cannot write {path:?}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Serializing a resource failed (a bug: our JSON values always serialize).
    #[error("cannot serialize a {resource_type} resource")]
    Json {
        /// The resource type.
        resource_type: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Writing the ground truth failed.
    #[error("cannot write the ground truth {path:?}")]
    Truth {
        /// truth.csv.
        path: PathBuf,
        /// The cause.
        #[source]
        source: csv::Error,
    },
}
