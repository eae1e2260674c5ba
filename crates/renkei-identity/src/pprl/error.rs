//! Errors of Bloom-filter encoding and matching.

use std::path::PathBuf;

/// What went wrong. Messages name the file, line or setting at fault and
/// never repeat a value of a record.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the records failed (a missing column, a broken CSV).
    #[error(transparent)]
    Records(#[from] crate::linkage::Error),
    /// The key file is missing, unreadable or malformed.
    #[error("linkage key {}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The schema is not usable.
    #[error("encoding schema: {0}")]
    Schema(String),
    /// An encoded record cannot be read.
    #[error("{side} file, record {line}: {reason}")]
    Encoding {
        /// Which file: "input", "left" or "right".
        side: &'static str,
        /// The line of the CSV file (the header is line 1).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The two files were encoded with different schemas (or keys of
    /// different lengths): their filters cannot be compared.
    #[error(
        "the left file was encoded with schema {left} and the right with {right}: \
         both sides must encode with the same schema (renkei identity encode --schema)"
    )]
    SchemaMismatch {
        /// Fingerprint of the left file's schema.
        left: String,
        /// Fingerprint of the right file's schema.
        right: String,
    },
    /// A matching setting is out of range.
    #[error("setting {key}: {reason}")]
    InvalidSetting {
        /// The setting.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result with PPRL's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
