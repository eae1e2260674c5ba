//! What a table version holds ([`Snapshot`], [`DataFile`]), and what a
//! commit changes in one table ([`Change`], with files written ahead as
//! [`StagedFile`]s).

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

/// A data file written for a table but not yet in any version: what
/// [`Lake::stage`](super::Lake::stage) returns, for
/// [`Change::add_staged`].
///
/// Until a commit lists it, no reader sees it. It is not `Clone`, so that a
/// file is added to at most one commit: a commit that is refused deletes
/// the files it was given, and [`Lake::discard`](super::Lake::discard)
/// deletes those of an abandoned submission.
#[derive(Debug, PartialEq)]
pub struct StagedFile {
    table: TableName,
    file: DataFile,
    schema: SchemaRef,
}

impl StagedFile {
    pub(crate) fn new(table: TableName, file: DataFile, schema: SchemaRef) -> Self {
        Self {
            table,
            file,
            schema,
        }
    }

    /// The table it was staged for; it can be added to that table only.
    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// Where it is: `<table>/data/<uuid-v7>.parquet`.
    pub fn path(&self) -> &ObjectPath {
        self.file.path()
    }

    /// How many rows it holds.
    pub fn rows(&self) -> u64 {
        self.file.rows()
    }

    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        self.file.bytes()
    }

    /// The schema of its rows, checked against the table's at commit.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub(crate) fn data_file(&self) -> &DataFile {
        &self.file
    }
}

/// What one commit does to a table: add rows (batches written at commit, or
/// files staged before), remove data files, or both, in one atomic step.
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
#[derive(Debug, Default)]
pub struct Change {
    pub(crate) add: Vec<RecordBatch>,
    pub(crate) staged: Vec<StagedFile>,
    pub(crate) remove: Vec<ObjectPath>,
    pub(crate) operation: Option<String>,
    pub(crate) properties: BTreeMap<String, String>,
}

impl Change {
    /// A change that does nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `batches` as one new data file, written at commit. Their schema
    /// must be the table's (or, for a table not yet created, becomes the
    /// table's).
    pub fn add_batches(mut self, batches: impl IntoIterator<Item = RecordBatch>) -> Self {
        self.add.extend(batches);
        self
    }

    /// Adds a file written earlier by [`Lake::stage`](super::Lake::stage)
    /// for this table. Its schema must be the table's (a non-nullable field
    /// may fill a nullable one) or, for a table not yet created, becomes the
    /// table's if no batches are added.
    pub fn add_staged(mut self, file: StagedFile) -> Self {
        self.staged.push(file);
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

    /// Whether the change adds no batches and no staged files and removes
    /// nothing (a commit refuses it).
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.staged.is_empty() && self.remove.is_empty()
    }

    /// `self` followed by `other`: the additions and removals of both, and
    /// `other`'s operation and properties over `self`'s.
    pub(crate) fn merge(mut self, other: Change) -> Self {
        self.add.extend(other.add);
        self.staged.extend(other.staged);
        self.remove.extend(other.remove);
        if other.operation.is_some() {
            self.operation = other.operation;
        }
        self.properties.extend(other.properties);
        self
    }
}
