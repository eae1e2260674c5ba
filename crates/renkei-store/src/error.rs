//! Errors of the storage layer.

use std::path::PathBuf;

/// What went wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration names something that cannot be used.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// Registering files with the query engine failed.
    #[error("query engine: {0}")]
    Query(String),
    /// A database could not be opened.
    #[error("cannot open the {name} database at {location}")]
    Open {
        /// Which function's database.
        name: String,
        /// The file or schema (never the password).
        location: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A function's migrations failed.
    #[error("cannot migrate the {name} database")]
    Migrate {
        /// Which function's database.
        name: String,
        /// Why.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key file exists but is not a key of the expected form.
    #[error("key file {path} is invalid: {reason}")]
    InvalidKey {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The lake's object store failed.
    #[error("lake object store error at {location}")]
    ObjectStore {
        /// The object path.
        location: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// A Parquet file could not be written or read.
    #[error("parquet error in {location}")]
    Parquet {
        /// The object path.
        location: String,
        /// Why.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An Arrow operation failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A lake table name, schema or manifest is not acceptable.
    #[error("lake table {table:?}: {reason}")]
    InvalidTable {
        /// The table.
        table: String,
        /// Why it was refused.
        reason: String,
    },
    /// A lake table has no such version (or does not exist at all).
    #[error("lake table {table:?} has no version {version}")]
    NoSuchVersion {
        /// The table.
        table: String,
        /// The version asked for.
        version: u64,
    },
    /// A change removes a data file that the table's latest version does not
    /// hold: it never did, or another writer removed it first. The caller
    /// must decide again from the new latest version.
    #[error("lake table {table:?}: data file {path} to remove is not in version {version}")]
    MissingDataFile {
        /// The table.
        table: String,
        /// The object path of the file.
        path: String,
        /// The latest version, which lacks the file (0: no version yet).
        version: u64,
    },
    /// The lake has no such lake version.
    #[error("the lake has no version {version}")]
    NoSuchLakeVersion {
        /// The lake version asked for.
        version: u64,
    },
    /// A lake-wide change, or an entry of the lake log, is not acceptable.
    #[error("lake: {reason}")]
    InvalidLake {
        /// Why it was refused.
        reason: String,
    },
    /// A commit could not land because other writers committed lake versions
    /// first, too many times in a row.
    #[error("lake table {table:?}: gave up committing after {attempts} conflicting writers")]
    CommitConflict {
        /// The table, or the tables of a lake-wide change, comma-separated.
        table: String,
        /// How many times it tried.
        attempts: u32,
    },
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
