//! The lake as a whole: its versions ([`LakeVersion`]), what one of them
//! holds ([`LakeSnapshot`]) and what a lake-wide commit changes
//! ([`LakeChange`]).

use std::collections::BTreeMap;
use std::fmt;
use std::num::{NonZeroU64, TryFromIntError};
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use renkei_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Change, Snapshot, TableName};

/// A version of the whole lake: 1 for the first commit to any table, then
/// one more for each commit. Lake versions are contiguous, and each names
/// one version of every table.
///
/// Serialized as its number, for lineage records.
///
/// ```
/// use renkei_store::lake::LakeVersion;
///
/// let v = LakeVersion::try_from(7).expect("not zero");
/// assert_eq!((v.get(), v.next().get()), (7, 8));
/// assert_eq!(LakeVersion::FIRST.to_string(), "1");
/// assert!(LakeVersion::try_from(0).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LakeVersion(NonZeroU64);

impl LakeVersion {
    /// The version of the lake's first commit.
    pub const FIRST: Self = Self(NonZeroU64::MIN);

    /// The lake version numbered `n`, as recorded elsewhere. Whether the
    /// lake has it is for [`Lake::at`](super::Lake::at) to say.
    pub const fn new(n: NonZeroU64) -> Self {
        Self(n)
    }

    /// The version number.
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// The version after this one.
    pub fn next(self) -> Self {
        Self(
            self.0
                .checked_add(1)
                .expect("a lake cannot have 2^64 versions"),
        )
    }

    /// The version before this one, if any.
    pub fn parent(self) -> Option<Self> {
        NonZeroU64::new(self.0.get() - 1).map(Self)
    }
}

impl TryFrom<u64> for LakeVersion {
    type Error = TryFromIntError;
    fn try_from(n: u64) -> Result<Self, TryFromIntError> {
        NonZeroU64::try_from(n).map(Self)
    }
}

impl fmt::Display for LakeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A committed lake version: one version of every table that existed then.
/// Lake snapshots never change; reading one later reads the same rows.
#[derive(Clone, Debug)]
pub struct LakeSnapshot {
    pub(crate) version: LakeVersion,
    pub(crate) committed_at: Timestamp,
    pub(crate) commit_id: String,
    pub(crate) operation: Option<String>,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) tables: BTreeMap<TableName, TableState>,
}

/// One table of a lake version: its manifest and what it holds.
#[derive(Clone, Debug)]
pub(crate) struct TableState {
    pub manifest: ObjectPath,
    pub snapshot: Arc<Snapshot>,
}

impl LakeSnapshot {
    /// The lake version.
    pub fn version(&self) -> LakeVersion {
        self.version
    }

    /// When it was committed, by the lake's clock.
    pub fn committed_at(&self) -> Timestamp {
        self.committed_at
    }

    /// `table` as of this version, or `None` if it did not exist yet.
    pub fn table(&self, table: &TableName) -> Option<&Snapshot> {
        self.tables.get(table).map(|t| t.snapshot.as_ref())
    }

    /// Every table as of this version, by name.
    pub fn tables(&self) -> impl Iterator<Item = &Snapshot> {
        self.tables.values().map(|t| t.snapshot.as_ref())
    }

    /// What the commit did, as its writer described it (`"ingest"`, …).
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    /// The writer's notes on the commit, for lineage (a submission id, …).
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// The commit's id: the one given with [`LakeChange::commit_id`], or one
    /// the lake made up.
    pub fn commit_id(&self) -> &str {
        &self.commit_id
    }

    pub(crate) fn state(&self, table: &TableName) -> Option<&TableState> {
        self.tables.get(table)
    }
}

/// What one lake-wide commit does: a [`Change`] to each of several tables,
/// all visible together or not at all.
///
/// The commit's `operation` and `properties` describe the lake version, and
/// also each table version it makes, under those the table's own [`Change`]
/// sets. A `commit_id` makes the commit idempotent: committing again with an
/// id that already landed returns that lake version (see
/// [`Lake::commit_all`](super::Lake::commit_all)).
///
/// ```
/// # use renkei_store::lake::{Change, LakeChange, TableName};
/// # fn batches() -> Vec<arrow::record_batch::RecordBatch> { Vec::new() }
/// # let (person, encounter) = (TableName::parse("person")?, TableName::parse("encounter")?);
/// let change = LakeChange::new()
///     .table(person, Change::new().add_batches(batches()))
///     .table(encounter, Change::new().add_batches(batches()))
///     .operation("ingest")
///     .property("submission_id", "01965f0e")
///     .commit_id("submission-01965f0e");
/// assert!(change.is_empty(), "no batches were given");
/// # Ok::<(), renkei_store::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct LakeChange {
    pub(crate) tables: BTreeMap<TableName, Change>,
    pub(crate) operation: Option<String>,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) commit_id: Option<String>,
}

impl LakeChange {
    /// A change that does nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `change` to `table`. Naming a table again adds the second
    /// change to the first.
    pub fn table(mut self, table: TableName, change: Change) -> Self {
        let merged = match self.tables.remove(&table) {
            Some(earlier) => earlier.merge(change),
            None => change,
        };
        self.tables.insert(table, merged);
        self
    }

    /// Describes the commit (`"ingest"`, …).
    pub fn operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    /// Records `key = value` with the commit, for lineage.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Names the commit, so that committing it again (a retry after a crash)
    /// does not commit twice, and [`Lake::find_commit`](super::Lake::find_commit)
    /// can tell whether it landed.
    pub fn commit_id(mut self, id: impl Into<String>) -> Self {
        self.commit_id = Some(id.into());
        self
    }

    /// Whether no table is changed (a commit refuses it).
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(Change::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lake_versions_count_from_one_and_serialize_as_numbers() {
        assert_eq!(LakeVersion::FIRST.get(), 1);
        assert_eq!(LakeVersion::FIRST.parent(), None);
        let two = LakeVersion::FIRST.next();
        assert_eq!(two.get(), 2);
        assert_eq!(two.parent(), Some(LakeVersion::FIRST));
        assert_eq!(serde_json::to_string(&two).expect("serializes"), "2");
        assert_eq!(
            serde_json::from_str::<LakeVersion>("17").expect("reads"),
            LakeVersion::try_from(17).expect("not zero")
        );
        assert!(serde_json::from_str::<LakeVersion>("0").is_err());
    }

    #[test]
    fn naming_a_table_twice_adds_both_changes() {
        let t = TableName::parse("person").expect("valid");
        let change = LakeChange::new()
            .table(
                t.clone(),
                Change::new()
                    .remove_file(ObjectPath::from("person/data/a.parquet"))
                    .property("k", "1"),
            )
            .table(
                t.clone(),
                Change::new()
                    .remove_file(ObjectPath::from("person/data/b.parquet"))
                    .operation("fix")
                    .property("k", "2"),
            );
        let merged = &change.tables[&t];
        assert_eq!(merged.remove.len(), 2);
        assert_eq!(merged.operation.as_deref(), Some("fix"));
        assert_eq!(merged.properties["k"], "2");
        assert!(!change.is_empty());
        assert!(LakeChange::new().is_empty());
    }
}
