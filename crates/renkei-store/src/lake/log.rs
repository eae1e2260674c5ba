//! The lake log: one JSON object per lake version, naming every table's
//! committed manifest, and reading the lake through it.
//!
//! ```json
//! {
//!   "format": 1,
//!   "version": 12,
//!   "parent": 11,
//!   "commit_id": "submission-01965f0e",
//!   "attempt": "01965f0e-…",
//!   "committed_at": "2026-11-25T00:30:00Z",
//!   "operation": "ingest",
//!   "properties": { "submission_id": "01965f0e" },
//!   "tables": {
//!     "condition": { "version": 4, "manifest": "condition/_manifest/00000000000000000004-01965f0e-….json" },
//!     "person": { "version": 7, "manifest": "person/_manifest/00000000000000000007-01965f0e-….json" }
//!   }
//! }
//! ```
//!
//! `commit_id` is the caller's id of the commit (or the attempt id when it
//! gave none); `attempt` is the id of the one `commit_all` call that wrote
//! the entry, so that a writer whose retried put reports a conflict can tell
//! its own entry from another writer's with the same commit id. An entry
//! lists every table, changed or not: it alone says what the lake holds.
//!
//! A commit given a commit id first creates `_commits/<sha-256 of the id>.json`
//! (`{"format": 1, "commit_id": "…", "since": 11}`) with create-if-absent:
//! every lake version carrying that id comes after `since`, so finding it
//! reads only the versions committed since the id was first tried.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use renkei_core::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::debug;

use super::lake_snapshot::TableState;
use super::manifest::{Manifest, VERSION_DIGITS, is_manifest_of};
use super::{Lake, LakeSnapshot, LakeVersion, Snapshot, TableName, TableVersion};
use crate::{Error, Result};

/// The lake log format this code writes and reads.
const FORMAT: u32 = 1;

/// How many objects a reader fetches at once when it needs several.
pub(crate) const CONCURRENT_READS: usize = 8;

/// The folder of the lake log: `_lake` (table names cannot start with `_`).
pub(crate) fn log_dir() -> ObjectPath {
    ObjectPath::from("_lake")
}

/// The log entry of lake version `version`: `_lake/00000000000000000007.json`.
pub(crate) fn entry_path(version: LakeVersion) -> ObjectPath {
    log_dir().join(format!("{:0VERSION_DIGITS$}.json", version.get()).as_str())
}

/// The lake version a log entry's file name stands for, or `None` for any
/// other object (a store's temporary file, a stray upload).
pub(crate) fn version_of_entry_name(file_name: &str) -> Option<LakeVersion> {
    let digits = file_name.strip_suffix(".json")?;
    if digits.len() != VERSION_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| LakeVersion::try_from(n).ok())
}

/// The marker of commit id `commit_id`: `_commits/<sha-256 hex>.json`, a
/// fixed-length name whatever characters the id has.
pub(crate) fn marker_path(commit_id: &str) -> ObjectPath {
    let digest = hex::encode(Sha256::digest(commit_id.as_bytes()));
    ObjectPath::from_iter(["_commits", &format!("{digest}.json")])
}

/// One lake version as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LakeEntry {
    pub format: u32,
    pub version: u64,
    pub parent: Option<u64>,
    pub commit_id: String,
    pub attempt: String,
    pub committed_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    pub tables: BTreeMap<String, TableRef>,
}

/// A table's committed version in a lake version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TableRef {
    pub version: u64,
    pub manifest: String,
}

/// The marker of a commit id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CommitMarker {
    pub format: u32,
    pub commit_id: String,
    /// The lake version that was current when the id was first tried (0 for
    /// an empty lake).
    pub since: u64,
}

impl LakeEntry {
    /// The entry recording `snapshot`, written by attempt `attempt`.
    pub fn from_snapshot(snapshot: &LakeSnapshot, attempt: &str) -> Self {
        Self {
            format: FORMAT,
            version: snapshot.version.get(),
            parent: snapshot.version.parent().map(LakeVersion::get),
            commit_id: snapshot.commit_id.clone(),
            attempt: attempt.to_owned(),
            committed_at: snapshot.committed_at,
            operation: snapshot.operation.clone(),
            properties: snapshot.properties.clone(),
            tables: snapshot
                .tables
                .iter()
                .map(|(name, state)| {
                    let entry = TableRef {
                        version: state.snapshot.version().get(),
                        manifest: state.manifest.to_string(),
                    };
                    (name.to_string(), entry)
                })
                .collect(),
        }
    }

    /// The JSON stored in the log.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a log entry of strings and numbers serializes")
    }

    /// Reads the entry stored at `location`, which must be that of
    /// `version`, checking that it names valid tables and manifests.
    pub fn from_json(bytes: &[u8], version: LakeVersion, location: &ObjectPath) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidLake {
            reason: format!("log entry {location} is invalid: {reason}"),
        };
        let entry: Self = serde_json::from_slice(bytes)
            .map_err(|e| invalid(format!("not lake log JSON: {e}")))?;
        if entry.format != FORMAT {
            return Err(invalid(format!(
                "format {} is not the format {FORMAT} this version of renkei reads",
                entry.format
            )));
        }
        if entry.version != version.get() {
            return Err(invalid(format!("it records version {}", entry.version)));
        }
        for (name, table) in &entry.tables {
            let parsed = TableName::parse(name)
                .map_err(|_| invalid(format!("{name:?} is not a table name")))?;
            if table.version == 0
                || !is_manifest_of(
                    &ObjectPath::from(table.manifest.as_str()),
                    &parsed,
                    TableVersion::new(table.version),
                )
            {
                return Err(invalid(format!(
                    "table {name:?} version {} names manifest {:?}",
                    table.version, table.manifest
                )));
            }
        }
        Ok(entry)
    }

    /// The version of `table` in this entry, 0 if it has none.
    pub fn table_version(&self, table: &TableName) -> u64 {
        self.tables.get(table.as_str()).map_or(0, |t| t.version)
    }
}

impl CommitMarker {
    pub fn new(commit_id: &str, since: Option<LakeVersion>) -> Self {
        Self {
            format: FORMAT,
            commit_id: commit_id.to_owned(),
            since: since.map_or(0, LakeVersion::get),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a marker of strings and numbers serializes")
    }

    pub fn from_json(bytes: &[u8], commit_id: &str, location: &ObjectPath) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidLake {
            reason: format!("commit marker {location} is invalid: {reason}"),
        };
        let marker: Self =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("not marker JSON: {e}")))?;
        if marker.format != FORMAT || marker.commit_id != commit_id {
            return Err(invalid(format!(
                "format {}, commit id {:?}",
                marker.format, marker.commit_id
            )));
        }
        Ok(marker)
    }
}

impl Lake {
    /// The latest lake version, or `None` for a lake nobody has committed to.
    ///
    /// The lake remembers the newest version it has seen (clones share it).
    /// When no one has committed since, finding out costs one `HEAD` request
    /// (for the next version's entry). Otherwise it costs one listing of
    /// the log from the known version on (S3 starts it after that key; a
    /// local disk reads the names in `_lake/`, without touching older
    /// entries), one read of the newest entry, and one read of each table
    /// manifest that changed. The first call on a [`Lake`] lists the whole
    /// log once.
    pub async fn current(&self) -> Result<Option<LakeSnapshot>> {
        let known = self.remembered();
        let newest = match &known {
            Some(known) => {
                let next = known.version.next();
                if !self.exists(&entry_path(next)).await? {
                    return Ok(Some(known.clone()));
                }
                let listed = self.newest_listed(Some(known.version)).await?;
                Some(listed.map_or(next, |listed| listed.max(next)))
            }
            None => self.newest_listed(None).await?,
        };
        let Some(newest) = newest else {
            return Ok(None);
        };
        let entry = self.read_entry(newest).await?;
        let snapshot = self.load(entry, known.as_ref()).await?;
        self.remember(&snapshot);
        Ok(Some(snapshot))
    }

    /// Lake version `version`, readable as long as the lake keeps its files
    /// (forever, until a vacuum exists). Reads its entry and the manifests
    /// that differ from the latest version the lake has seen.
    pub async fn at(&self, version: LakeVersion) -> Result<LakeSnapshot> {
        let known = self.remembered();
        if let Some(known) = &known
            && known.version == version
        {
            return Ok(known.clone());
        }
        let entry = self.read_entry(version).await?;
        self.load(entry, known.as_ref()).await
    }

    /// The lake version committed with `commit_id` (given with
    /// [`LakeChange::commit_id`](super::LakeChange::commit_id)), or `None`
    /// if no such commit landed: for recovery after a crash.
    ///
    /// An id never tried costs one read (of its marker). Otherwise this reads
    /// the log entries from the current version back to the version that
    /// was current when the id was first tried, several at a time: cheap
    /// right after a crash, and proportional to the commits since then in
    /// general. Ids the lake made up (commits without an id) are not found.
    pub async fn find_commit(&self, commit_id: &str) -> Result<Option<LakeVersion>> {
        let Some(marker) = self.read_marker(commit_id).await? else {
            return Ok(None);
        };
        let Some(current) = self.current().await? else {
            return Ok(None);
        };
        let found = self
            .find_in_log(commit_id, marker.since, current.version)
            .await?;
        Ok(found.map(|entry| entry.0))
    }

    /// The newest entry in `(since, until]` with `commit_id`, and its table
    /// versions.
    pub(crate) async fn find_in_log(
        &self,
        commit_id: &str,
        since: u64,
        until: LakeVersion,
    ) -> Result<Option<(LakeVersion, LakeEntry)>> {
        let versions = (since.saturating_add(1)..=until.get())
            .rev()
            .filter_map(|n| LakeVersion::try_from(n).ok());
        let mut entries = stream::iter(versions)
            .map(|v| async move { self.read_entry(v).await.map(|e| (v, e)) })
            .buffered(CONCURRENT_READS);
        while let Some((version, entry)) = entries.try_next().await? {
            if entry.commit_id == commit_id {
                return Ok(Some((version, entry)));
            }
        }
        Ok(None)
    }

    /// Version `version` of `table`: the current one, or an older one found
    /// by bisecting the log (a table's version only grows with the lake
    /// version, and is at most the lake version), O(log versions) reads.
    pub async fn snapshot(&self, table: &TableName, version: TableVersion) -> Result<Snapshot> {
        let no_such = || Error::NoSuchVersion {
            table: table.to_string(),
            version: version.get(),
        };
        let current = self.current().await?.ok_or_else(no_such)?;
        let latest = current.table(table).ok_or_else(no_such)?;
        if version == latest.version() {
            return Ok(latest.clone());
        }
        if version > latest.version() || version.get() == 0 {
            return Err(no_such());
        }
        // The first lake version whose table version is at least `version`
        // holds exactly `version`, since table versions grow by one.
        let (mut low, mut high) = (version.get(), current.version.get());
        let mut found = None;
        while low < high {
            let middle = low + (high - low) / 2;
            let at = LakeVersion::try_from(middle).expect("bisection stays at or above 1");
            let entry = self.read_entry(at).await?;
            if entry.table_version(table) >= version.get() {
                high = middle;
                found = Some(entry);
            } else {
                low = middle + 1;
            }
        }
        let entry = match found {
            Some(entry) if entry.version == low => entry,
            _ => {
                let at = LakeVersion::try_from(low).expect("bisection stays at or above 1");
                self.read_entry(at).await?
            }
        };
        let Some(table_ref) = entry.tables.get(table.as_str()) else {
            return Err(no_such());
        };
        if table_ref.version != version.get() {
            return Err(Error::InvalidLake {
                reason: format!(
                    "lake version {} has table {table:?} at version {} where {version} was expected",
                    entry.version, table_ref.version
                ),
            });
        }
        self.read_manifest(
            table,
            version,
            &ObjectPath::from(table_ref.manifest.as_str()),
        )
        .await
    }

    /// The latest lake version the lake has seen.
    pub(crate) fn remembered(&self) -> Option<LakeSnapshot> {
        self.inner
            .head
            .lock()
            .expect("the remembered lake version is never left half-updated")
            .clone()
    }

    /// Remembers `snapshot` if it is newer than what the lake has seen.
    pub(crate) fn remember(&self, snapshot: &LakeSnapshot) {
        let mut head = self
            .inner
            .head
            .lock()
            .expect("the remembered lake version is never left half-updated");
        if head.as_ref().is_none_or(|h| h.version < snapshot.version) {
            *head = Some(snapshot.clone());
        }
    }

    async fn exists(&self, location: &ObjectPath) -> Result<bool> {
        match self.inner.store.head(location).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(Error::ObjectStore {
                location: location.to_string(),
                source,
            }),
        }
    }

    /// The newest version in a listing of the log after `after` (all of it
    /// for `None`).
    async fn newest_listed(&self, after: Option<LakeVersion>) -> Result<Option<LakeVersion>> {
        let dir = log_dir();
        let listing = match after {
            Some(after) => self
                .inner
                .store
                .list_with_offset(Some(&dir), &entry_path(after)),
            None => self.inner.store.list(Some(&dir)),
        };
        let objects: Vec<_> = listing
            .try_collect()
            .await
            .map_err(|source| Error::ObjectStore {
                location: dir.to_string(),
                source,
            })?;
        Ok(objects
            .iter()
            .filter_map(|o| o.location.filename().and_then(version_of_entry_name))
            .max())
    }

    /// The log entry of `version`.
    pub(crate) async fn read_entry(&self, version: LakeVersion) -> Result<LakeEntry> {
        let location = entry_path(version);
        match self.get(&location).await? {
            Some(bytes) => LakeEntry::from_json(&bytes, version, &location),
            None => Err(Error::NoSuchLakeVersion {
                version: version.get(),
            }),
        }
    }

    /// The marker of `commit_id`, if it was ever tried.
    pub(crate) async fn read_marker(&self, commit_id: &str) -> Result<Option<CommitMarker>> {
        let location = marker_path(commit_id);
        self.get(&location)
            .await?
            .map(|bytes| CommitMarker::from_json(&bytes, commit_id, &location))
            .transpose()
    }

    /// The bytes at `location`, or `None` if there is no such object.
    pub(crate) async fn get(&self, location: &ObjectPath) -> Result<Option<bytes::Bytes>> {
        let store_error = |source| Error::ObjectStore {
            location: location.to_string(),
            source,
        };
        match self.inner.store.get(location).await {
            Ok(found) => found.bytes().await.map(Some).map_err(store_error),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(store_error(source)),
        }
    }

    /// `table`'s manifest of `version` at `location`, as a snapshot.
    pub(crate) async fn read_manifest(
        &self,
        table: &TableName,
        version: TableVersion,
        location: &ObjectPath,
    ) -> Result<Snapshot> {
        let Some(bytes) = self.get(location).await? else {
            return Err(Error::InvalidLake {
                reason: format!(
                    "table {table:?} version {version} names manifest {location}, which is missing"
                ),
            });
        };
        Manifest::from_json(&bytes, table, version, location)?.into_snapshot(table, location)
    }

    /// The lake snapshot `entry` records, reusing the table snapshots of
    /// `known` whose manifest is the same.
    pub(crate) async fn load(
        &self,
        entry: LakeEntry,
        known: Option<&LakeSnapshot>,
    ) -> Result<LakeSnapshot> {
        let version =
            LakeVersion::try_from(entry.version).expect("a read entry's version is not 0");
        let tables: BTreeMap<TableName, TableState> = stream::iter(entry.tables)
            .map(|(name, table_ref)| async move {
                let table = TableName::parse(&name)?;
                let manifest = ObjectPath::from(table_ref.manifest);
                if let Some(state) = known.and_then(|k| k.state(&table))
                    && state.manifest == manifest
                {
                    return Ok((table, state.clone()));
                }
                debug!(table = %table, version = table_ref.version, "reading a table manifest");
                let snapshot = self
                    .read_manifest(&table, TableVersion::new(table_ref.version), &manifest)
                    .await?;
                let state = TableState {
                    manifest,
                    snapshot: Arc::new(snapshot),
                };
                Ok::<_, Error>((table, state))
            })
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?;
        Ok(LakeSnapshot {
            version,
            committed_at: entry.committed_at,
            commit_id: entry.commit_id,
            operation: entry.operation,
            properties: entry.properties,
            tables,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> LakeEntry {
        LakeEntry {
            format: FORMAT,
            version: 2,
            parent: Some(1),
            commit_id: "submission-1".into(),
            attempt: "a".into(),
            committed_at: Timestamp::from_unix_micros(1_795_000_000_000_000),
            operation: Some("ingest".into()),
            properties: BTreeMap::from([("submission_id".into(), "受付-1".into())]),
            tables: BTreeMap::from([(
                "person".into(),
                TableRef {
                    version: 2,
                    manifest: "person/_manifest/00000000000000000002-a.json".into(),
                },
            )]),
        }
    }

    fn v(n: u64) -> LakeVersion {
        LakeVersion::try_from(n).expect("not zero")
    }

    #[test]
    fn entries_round_trip_and_are_checked_against_their_name() {
        let entry = entry();
        let location = entry_path(v(2));
        assert_eq!(location.as_ref(), "_lake/00000000000000000002.json");
        let read = LakeEntry::from_json(&entry.to_json(), v(2), &location).expect("reads");
        assert_eq!(read, entry);
        let err = LakeEntry::from_json(&entry.to_json(), v(3), &entry_path(v(3)))
            .expect_err("version 2 stored as 3");
        assert!(err.to_string().contains("records version 2"), "{err}");

        let mut wrong = entry.clone();
        wrong.tables.get_mut("person").expect("person").manifest =
            "claims/_manifest/00000000000000000002-a.json".into();
        let err = LakeEntry::from_json(&wrong.to_json(), v(2), &location)
            .expect_err("a manifest of another table");
        assert!(err.to_string().contains("names manifest"), "{err}");

        let mut bad_name = entry;
        let person = bad_name.tables.remove("person").expect("person");
        bad_name.tables.insert("_lake".into(), person);
        let err = LakeEntry::from_json(&bad_name.to_json(), v(2), &location)
            .expect_err("an invalid table name");
        assert!(err.to_string().contains("\"_lake\""), "{err}");
    }

    #[test]
    fn entry_names_parse_back_and_markers_have_fixed_names() {
        assert_eq!(
            version_of_entry_name("00000000000000000007.json"),
            Some(v(7))
        );
        for other in [
            "7.json",
            "00000000000000000000.json",
            "0000000000000000007a.json",
            "00000000000000000007.json#1",
            "99999999999999999999.json",
        ] {
            assert_eq!(version_of_entry_name(other), None, "{other}");
        }
        let marker = marker_path("提出/1?x");
        assert!(marker.as_ref().starts_with("_commits/"), "{marker}");
        assert_eq!(marker.filename().map(str::len), Some(64 + ".json".len()));
        assert_ne!(marker, marker_path("提出/2?x"));
    }
}
