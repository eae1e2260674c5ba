//! The errors of anonymization: the caller's mistakes (bad input, bad
//! configuration, a value missing from its hierarchy) apart from ours
//! (`Internal`, `Verification`), each saying where: file, line, column,
//! value.

use super::verify::Violation;

/// What went wrong while reading, configuring or anonymizing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{action} {path}")]
    Io {
        /// What was attempted ("reading", "writing").
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file is malformed (unequal record lengths, bad UTF-8).
    #[error("{file}, line {line}: malformed CSV")]
    Csv {
        /// The file (or the name the caller gave the input).
        file: String,
        /// 1-based line of the fault, 0 when unknown.
        line: u64,
        /// The cause.
        #[source]
        source: csv::Error,
    },
    /// A table or column given in code or a CSV header is unusable.
    #[error("{source_name}: {message}")]
    InvalidTable {
        /// The file or the name of the in-memory table.
        source_name: String,
        /// What is wrong and where.
        message: String,
    },
    /// A hierarchy file or a generated hierarchy is unusable.
    #[error("hierarchy {source_name}, line {line}: {message}")]
    InvalidHierarchy {
        /// The file, or the column the hierarchy was built for.
        source_name: String,
        /// 1-based line (row of the hierarchy), 0 when not one row's fault.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value cannot go into the kind of hierarchy asked for (a date
    /// hierarchy given "abc").
    #[error("column {column:?}: value {value:?} does not fit a {kind} hierarchy: {why}")]
    UnfitValue {
        /// The column.
        column: String,
        /// The offending value.
        value: String,
        /// The kind of hierarchy.
        kind: &'static str,
        /// What was expected.
        why: &'static str,
    },
    /// A configured column does not exist.
    #[error("unknown column {name:?} (the columns are {available})")]
    UnknownColumn {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        available: String,
    },
    /// A quasi-identifier has no hierarchy in the configuration.
    #[error("quasi-identifier {column:?} has no hierarchy")]
    NoHierarchy {
        /// The column.
        column: String,
    },
    /// A value of the data is missing from its column's hierarchy.
    #[error("column {column:?}, row {row}: value {value:?} is not in its hierarchy")]
    NotInHierarchy {
        /// The column.
        column: String,
        /// 1-based data row (the CSV line is one more, for the header).
        row: usize,
        /// The value.
        value: String,
    },
    /// The configuration is inconsistent (k of 0, t outside [0, 1], l
    /// without a sensitive column…).
    #[error("invalid anonymization settings: {0}")]
    InvalidConfig(String),
    /// The lattice or the packed class keys would be too large.
    #[error("too large to anonymize: {0}")]
    TooLarge(String),
    /// No generalization satisfies the privacy models within the
    /// suppression budget.
    #[error(
        "no generalization satisfies {models} with at most {budget} of {rows} records suppressed"
    )]
    NoSolution {
        /// The models, as text ("k=5, distinct l=3").
        models: String,
        /// Records that may be suppressed.
        budget: usize,
        /// Records in the input.
        rows: usize,
    },
    /// The output failed the independent check: a bug of ours, never
    /// released.
    #[error("the anonymized output failed independent verification")]
    Verification(#[source] Violation),
    /// A broken invariant of the engine.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Results of anonymization.
pub type Result<T, E = Error> = std::result::Result<T, E>;
