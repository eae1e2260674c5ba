//! What a table version holds ([`Snapshot`], [`DataFile`]) and what a commit
//! changes ([`Change`]).

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use object_store::path::Path as ObjectPath;
use renkei_core::Timestamp;

use super::{TableName, TableVersion};

/// One Parquet file of a table version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFile {
    path: ObjectPath,
    rows: u64,
    bytes: u64,
}

impl DataFile {
    pub(crate) fn new(path: ObjectPath, rows: u64, bytes: u64) -> Self {
        Self { path, rows, bytes }
    }

    /// Where the file is in [`Lake::object_store`](super::Lake::object_store):
    /// `<table>/data/<uuid-v7>.parquet`, relative to the lake's root.
    pub fn path(&self) -> &ObjectPath {
        &self.path
    }

    /// How many rows it holds.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// A committed table version: its schema and data files. Snapshots never
/// change; reading one later reads the same rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    table: TableName,
    version: TableVersion,
    committed_at: Timestamp,
    schema: SchemaRef,
    files: Vec<DataFile>,
    operation: Option<String>,
    properties: BTreeMap<String, String>,
}

impl Snapshot {
    pub(crate) fn new(
        table: TableName,
        version: TableVersion,
        committed_at: Timestamp,
        schema: SchemaRef,
        files: Vec<DataFile>,
        operation: Option<String>,
        properties: BTreeMap<String, String>,
    ) -> Self {
        Self {
            table,
            version,
            committed_at,
            schema,
            files,
            operation,
            properties,
        }
    }

    /// The table.
    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// The version.
    pub fn version(&self) -> TableVersion {
        self.version
    }

    /// The version this one was committed on top of (`None` for the first).
    pub fn parent(&self) -> Option<TableVersion> {
        self.version.parent()
    }

    /// When the version was committed, by the lake's clock.
    pub fn committed_at(&self) -> Timestamp {
        self.committed_at
    }

    /// The table's schema; every batch read from this snapshot has it.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The data files, oldest first.
    pub fn files(&self) -> &[DataFile] {
        &self.files
    }

    /// The number of rows in the version.
    pub fn total_rows(&self) -> u64 {
        self.files.iter().map(DataFile::rows).sum()
    }

    /// The bytes of Parquet in the version.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(DataFile::bytes).sum()
    }

    /// What the commit did, as its writer described it (`"append"`, …).
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    /// The writer's notes on the commit, for lineage (a submission id, …).
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }
}

/// What one commit does to a table: add rows, remove data files, or both, in
/// one atomic step.
///
/// Removing a file hides its rows from the new version only; older versions
/// keep it. To supersede some rows of a file, remove the file and add its
/// remaining rows with the replacements in the same change.
///
/// ```
/// # use renkei_store::lake::Change;
/// # fn batches() -> Vec<arrow::record_batch::RecordBatch> { Vec::new() }
/// let change = Change::new()
///     .add_batches(batches())
///     .operation("append")
///     .property("submission_id", "01965f0e");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub(crate) add: Vec<RecordBatch>,
    pub(crate) remove: Vec<ObjectPath>,
    pub(crate) operation: Option<String>,
    pub(crate) properties: BTreeMap<String, String>,
}

impl Change {
    /// A change that does nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `batches` as one new data file. Their schema must be the table's
    /// (or, for a table not yet created, becomes the table's).
    pub fn add_batches(mut self, batches: impl IntoIterator<Item = RecordBatch>) -> Self {
        self.add.extend(batches);
        self
    }

    /// Removes the data file at `path` (a [`DataFile::path`] of the latest
    /// version) from the new version.
    pub fn remove_file(mut self, path: ObjectPath) -> Self {
        self.remove.push(path);
        self
    }

    /// Describes the commit (`"append"`, `"supersede"`, …).
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    /// Records `key = value` with the commit, for lineage.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }
}
