//! The table manifest: one JSON object per table version, a full snapshot of
//! it. A manifest is visible only once the lake log references it (see the
//! `log` module); it is never rewritten.
//!
//! ```json
//! {
//!   "format": 1,
//!   "table": "claims",
//!   "version": 2,
//!   "parent": 1,
//!   "commit_id": "01965f0e-…",
//!   "committed_at": "2026-11-25T00:30:00Z",
//!   "operation": "append",
//!   "properties": { "submission_id": "…" },
//!   "schema": "/////7gAAAAQAAAA…",
//!   "columns": [ { "name": "person_key", "type": "Utf8", "nullable": false } ],
//!   "files": [ { "path": "claims/data/01965f0e-….parquet", "rows": 1000, "bytes": 23456 } ]
//! }
//! ```
//!
//! `schema` is the Arrow schema in the encoding Parquet files keep under
//! their `ARROW:schema` key (an Arrow IPC schema message, base64): the Arrow
//! format's own stable serialization, readable by pyarrow and arrow-cpp, so
//! the manifest does not depend on how one arrow-rs release derives serde.
//! `columns` repeats the field names and types for a human reading the file;
//! it is informational and never read back. `commit_id` is the id of the
//! commit attempt that wrote the manifest (also in its object name).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use object_store::path::Path as ObjectPath;
use renkei_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::{DataFile, Snapshot, TableName, TableVersion};
use crate::{Error, Result};

/// The manifest format this code writes and reads.
const FORMAT: u32 = 1;

/// Digits of a version in a manifest's file name: all of `u64`, zero-padded
/// so that names sort as versions do.
pub(crate) const VERSION_DIGITS: usize = 20;

/// The folder of a table's manifests: `<table>/_manifest`.
pub(crate) fn manifest_dir(table: &TableName) -> ObjectPath {
    ObjectPath::from_iter([table.as_str(), "_manifest"])
}

/// The object holding the manifest that commit attempt `attempt` wrote for
/// `version` of `table`:
/// `<table>/_manifest/00000000000000000007-<attempt>.json`.
///
/// Several manifests may exist for one version (a writer that lost the race
/// for a lake version, or crashed before its lake version); the one the lake
/// log references is the committed one, and the attempt id in the name keeps
/// the others from ever being taken for it.
pub(crate) fn manifest_path(table: &TableName, version: TableVersion, attempt: &str) -> ObjectPath {
    manifest_dir(table).join(format!("{:0VERSION_DIGITS$}-{attempt}.json", version.get()).as_str())
}

/// Whether `path` names a manifest of `version` of `table`, as a lake log
/// entry must.
pub(crate) fn is_manifest_of(path: &ObjectPath, table: &TableName, version: TableVersion) -> bool {
    let mut parts = path.parts();
    let (Some(dir), Some(folder), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let prefix = format!("{:0VERSION_DIGITS$}-", version.get());
    dir.as_ref() == table.as_str()
        && folder.as_ref() == "_manifest"
        && name
            .as_ref()
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".json"))
            .is_some_and(|attempt| !attempt.is_empty())
}

/// The folder of a table's data files: `<table>/data`.
pub(crate) fn data_dir(table: &TableName) -> ObjectPath {
    ObjectPath::from_iter([table.as_str(), "data"])
}

/// One table version as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: u32,
    pub table: String,
    pub version: u64,
    pub parent: Option<u64>,
    pub commit_id: String,
    pub committed_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    pub schema: String,
    #[serde(default)]
    pub columns: Vec<ColumnEntry>,
    pub files: Vec<FileEntry>,
}

/// A column, for human readers of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ColumnEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
}

/// A data file of a table version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
}

impl Manifest {
    /// The manifest recording `snapshot`, written by commit attempt
    /// `commit_id`.
    pub fn from_snapshot(snapshot: &Snapshot, commit_id: &str) -> Self {
        let schema = snapshot.schema();
        Self {
            format: FORMAT,
            table: snapshot.table().to_string(),
            version: snapshot.version().get(),
            parent: snapshot.parent().map(TableVersion::get),
            commit_id: commit_id.to_owned(),
            committed_at: snapshot.committed_at(),
            operation: snapshot.operation().map(str::to_owned),
            properties: snapshot.properties().clone(),
            schema: parquet::arrow::encode_arrow_schema(schema),
            columns: schema
                .fields()
                .iter()
                .map(|f| ColumnEntry {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                    nullable: f.is_nullable(),
                })
                .collect(),
            files: snapshot
                .files()
                .iter()
                .map(|f| FileEntry {
                    path: f.path().to_string(),
                    rows: f.rows(),
                    bytes: f.bytes(),
                })
                .collect(),
        }
    }

    /// The JSON stored in the manifest object.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest of strings and numbers serializes")
    }

    /// Reads the manifest stored at `location`, which must be `table`'s
    /// manifest of `version`.
    pub fn from_json(
        bytes: &[u8],
        table: &TableName,
        version: TableVersion,
        location: &ObjectPath,
    ) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidTable {
            table: table.to_string(),
            reason: format!("manifest {location} is invalid: {reason}"),
        };
        let manifest: Self = serde_json::from_slice(bytes)
            .map_err(|e| invalid(format!("not manifest JSON: {e}")))?;
        if manifest.format != FORMAT {
            return Err(invalid(format!(
                "format {} is not the format {FORMAT} this version of renkei reads",
                manifest.format
            )));
        }
        if manifest.table != table.as_str() || manifest.version != version.get() {
            return Err(invalid(format!(
                "it records table {:?} version {}",
                manifest.table, manifest.version
            )));
        }
        Ok(manifest)
    }

    /// The snapshot this manifest records; `location` names it in errors.
    pub fn into_snapshot(self, table: &TableName, location: &ObjectPath) -> Result<Snapshot> {
        let invalid = |reason: String| Error::InvalidTable {
            table: table.to_string(),
            reason: format!("manifest {location} is invalid: {reason}"),
        };
        let schema = decode_schema(&self.schema).map_err(invalid)?;
        let files = self
            .files
            .into_iter()
            .map(|f| DataFile::new(ObjectPath::from(f.path), f.rows, f.bytes))
            .collect();
        Ok(Snapshot::new(
            table.clone(),
            TableVersion::new(self.version),
            self.committed_at,
            schema,
            files,
            self.operation,
            self.properties,
        ))
    }
}

/// Decodes a schema written by [`parquet::arrow::encode_arrow_schema`].
fn decode_schema(encoded: &str) -> Result<SchemaRef, String> {
    let bytes = BASE64
        .decode(encoded)
        .map_err(|e| format!("schema is not base64: {e}"))?;
    let schema: Schema = arrow::ipc::convert::try_schema_from_ipc_buffer(&bytes)
        .map_err(|e| format!("schema is not an Arrow IPC schema: {e}"))?;
    Ok(Arc::new(schema))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::datatypes::{DataType, Field, TimeUnit};

    use super::*;

    fn table() -> TableName {
        TableName::parse("claims").expect("valid")
    }

    fn snapshot() -> Snapshot {
        let schema = Schema::new_with_metadata(
            vec![
                Field::new("person_key", DataType::Utf8, false),
                Field::new("amount", DataType::Int64, true),
                Field::new(
                    "at",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("+09:00".into())),
                    true,
                ),
                Field::new(
                    "codes",
                    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                    true,
                )
                .with_metadata(HashMap::from([("system".into(), "ICD-10".into())])),
            ],
            HashMap::from([("source".into(), "fhir".into())]),
        );
        Snapshot::new(
            table(),
            TableVersion::new(3),
            Timestamp::from_unix_micros(1_795_000_000_123_456),
            Arc::new(schema),
            vec![
                DataFile::new(ObjectPath::from("claims/data/a.parquet"), 10, 2_000),
                DataFile::new(ObjectPath::from("claims/data/b.parquet"), 0, 500),
            ],
            Some("append".into()),
            BTreeMap::from([("submission_id".into(), "受付-1".into())]),
        )
    }

    #[test]
    fn manifest_round_trips_through_json() {
        let snapshot = snapshot();
        let manifest = Manifest::from_snapshot(&snapshot, "commit-1");
        let location = manifest_path(&table(), TableVersion::new(3), "a");
        let json = manifest.to_json();
        let read = Manifest::from_json(&json, &table(), TableVersion::new(3), &location)
            .expect("own output reads");
        assert_eq!(read, manifest);
        assert_eq!(read.parent, Some(2));
        assert_eq!(read.commit_id, "commit-1");
        assert_eq!(read.columns[2].data_type, "Timestamp(µs, \"+09:00\")");
        let back = read.into_snapshot(&table(), &location).expect("snapshot");
        assert_eq!(
            back.schema(),
            snapshot.schema(),
            "schema with metadata survives"
        );
        assert_eq!(back.files(), snapshot.files());
        assert_eq!(back.committed_at(), snapshot.committed_at());
        assert_eq!(back.properties(), snapshot.properties());
        assert_eq!(back.operation(), Some("append"));
        assert_eq!(back.total_rows(), 10);
    }

    #[test]
    fn manifest_for_another_version_or_format_is_refused() {
        let manifest = Manifest::from_snapshot(&snapshot(), "c");
        let json = manifest.to_json();
        let at_4 = manifest_path(&table(), TableVersion::new(4), "a");
        let err = Manifest::from_json(&json, &table(), TableVersion::new(4), &at_4)
            .expect_err("version 3 stored as 4");
        assert!(
            err.to_string().contains("claims") && format!("{err:?}").contains("version 3"),
            "{err:?}"
        );
        let newer = Manifest {
            format: 2,
            ..manifest
        };
        let at_3 = manifest_path(&table(), TableVersion::new(3), "a");
        let err = Manifest::from_json(&newer.to_json(), &table(), TableVersion::new(3), &at_3)
            .expect_err("format 2");
        assert!(format!("{err:?}").contains("format 2"), "{err:?}");
        let err = Manifest::from_json(b"{", &table(), TableVersion::new(3), &at_3)
            .expect_err("broken JSON");
        assert!(
            format!("{err:?}").contains("claims/_manifest/00000000000000000003-a.json"),
            "{err:?}"
        );
    }

    #[test]
    fn manifest_names_sort_as_versions_and_name_their_attempt() {
        let path = manifest_path(&table(), TableVersion::new(7), "01965f0e");
        assert_eq!(
            path.as_ref(),
            "claims/_manifest/00000000000000000007-01965f0e.json"
        );
        let max = manifest_path(&table(), TableVersion::new(u64::MAX), "a");
        assert_eq!(max.filename(), Some("18446744073709551615-a.json"));
        assert!(is_manifest_of(&path, &table(), TableVersion::new(7)));
        for (other, version) in [
            ("claims/_manifest/00000000000000000007-01965f0e.json", 8),
            ("claims/_manifest/00000000000000000007-.json", 7),
            ("claims/_manifest/00000000000000000007.json", 7),
            ("claims/_manifest/7-a.json", 7),
            ("claims/_manifest/00000000000000000007-a.json.tmp", 7),
            ("visits/_manifest/00000000000000000007-a.json", 7),
            ("claims/data/00000000000000000007-a.json", 7),
            ("x/claims/_manifest/00000000000000000007-a.json", 7),
        ] {
            assert!(
                !is_manifest_of(
                    &ObjectPath::from(other),
                    &table(),
                    TableVersion::new(version)
                ),
                "{other} as version {version}"
            );
        }
    }
}
