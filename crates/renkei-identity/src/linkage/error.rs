//! Errors of linkage.

use std::path::PathBuf;

/// What went wrong in linkage. Messages name the file, column or rule at
/// fault and never repeat a value of a record.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CSV file could not be read.
    #[error("cannot read CSV {}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// Why (carries the line).
        #[source]
        source: csv::Error,
    },
    /// A column named by the caller is not in a file.
    #[error("no column \"{column}\" in the {side} file; its columns are: {}", available.join(", "))]
    MissingColumn {
        /// The column asked for.
        column: String,
        /// Which file: "input", "left" or "right".
        side: &'static str,
        /// The columns the file has.
        available: Vec<String>,
    },
    /// A blocking rule could not be read.
    #[error("blocking rule \"{rule}\": {reason}")]
    InvalidRule {
        /// The rule as written.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting is out of range or inconsistent.
    #[error("setting {key}: {reason}")]
    InvalidSetting {
        /// The setting's key, as in the configuration file.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing to compare: no field is left once ids and ignored columns
    /// are set aside.
    #[error("no field to compare: every column is the id or ignored")]
    NoFields,
}

/// Result with linkage's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
