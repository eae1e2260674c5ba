//! The lake: tables of Parquet files on an [`ObjectStore`] (a local directory
//! or an S3-compatible bucket). Each commit changes one table or several at
//! once and makes a new lake version, in which readers see all of the
//! commit or none of it.
//!
//! # Layout
//!
//! ```text
//! <root>/_lake/00000000000000000001.json                lake version 1
//! <root>/_lake/00000000000000000002.json                lake version 2, …
//! <root>/<table>/_manifest/00000000000000000003-<attempt-id>.json
//!                                                       a table version's manifest
//! <root>/<table>/data/<uuid-v7>.parquet                 data files, never rewritten
//! <root>/_commits/<sha-256 of a commit id>.json         a commit id was tried
//! ```
//!
//! A table manifest is a full snapshot of one table version: the table's
//! Arrow schema, its data files (path, rows, bytes), when it was written, and
//! what the writer said about the commit (an `operation` and `properties`
//! such as a submission id, for lineage). A lake log entry names, for every
//! table, its version and the manifest of that version, with the commit's
//! id, time, operation and properties. Their JSON forms are described in the
//! source of the `manifest` and `log` modules.
//!
//! # Why a commit is atomic
//!
//! The log is the one place where commits are ordered and become visible. A
//! writer:
//!
//! 1. puts its data files under fresh UUID names, where no reader looks
//!    ([`Lake::stage`] does it ahead of the commit, file by file, so that a
//!    large submission is never held in memory whole);
//! 2. for each table it changes, puts the manifest of the table's next
//!    version (its version in the current lake version, plus one) under a
//!    name carrying the writer's own attempt id: no two writers write the
//!    same manifest object, and one that no entry names is never taken for
//!    committed;
//! 3. creates the log entry of lake version *current + 1*, naming those
//!    manifests and, unchanged, every other table's, with a create-if-absent
//!    put ([`PutMode::Create`](object_store::PutMode::Create)): a hard link from a complete temporary file
//!    on a local disk, a conditional `PUT` (`If-None-Match: *`) on S3.
//!
//! Readers only ever go through the log: a table's latest version is the
//! one the current lake version names. So:
//!
//! - A commit is visible exactly when its entry exists, and all at once,
//!   since one entry names every table it changed. An entry is never seen
//!   half-written, because each store's put is atomic.
//! - Exactly one writer wins each lake version. The loser gets
//!   [`object_store::Error::AlreadyExists`], reads the new current version
//!   and tries the next number. If the winner changed none of the loser's
//!   tables, the loser's manifests still hold (they were built on the same
//!   table versions) and are reused; otherwise those tables' manifests are
//!   rebuilt on the new versions, after checking that the change still
//!   applies (same schema, the files it removes still there). After 64 lost
//!   attempts in a row it reports [`Error::CommitConflict`]. Each lost
//!   attempt means another commit landed, so writers make progress, and lake
//!   versions and each table's versions stay contiguous.
//! - A put retried by the store client whose first try landed reports a
//!   conflict too; the writer then finds its own attempt id in the entry.
//! - A crash before the entry leaves data files and manifests that no entry
//!   names (orphans, for a later vacuum); a commit refused for a known
//!   reason deletes them. When the outcome of the entry's put is unknown (a
//!   network error), they are kept: it may have landed.
//! - Entries, manifests and data files are never changed, so a lake version
//!   ([`Lake::at`]) or table version ([`Lake::snapshot`]) reads the same rows
//!   forever (until a vacuum, which does not exist yet).
//!
//! One log for all tables means that writers to unrelated tables race for
//! the same lake versions; the loser's retry costs a listing and a read of
//! the log, and rewrites no manifest.
//!
//! A commit given a [`LakeChange::commit_id`] (a submission id) is
//! idempotent: if a commit with that id already landed, committing again
//! returns its lake version and commits nothing. The id's marker, created
//! before the first try, bounds how far back in the log [`Lake::find_commit`]
//! and the check in [`Lake::commit_all`] read.
//!
//! A store without create-if-absent puts (an S3 clone without conditional
//! writes) makes commits fail with the store's "not implemented" error rather
//! than risk two writers taking one version.
//!
//! # Why not Delta Lake or Iceberg
//!
//! Both fit the problem, but their Rust implementations (`deltalake`,
//! `iceberg-rust`) each pin their own arrow, parquet, object_store and
//! DataFusion releases, and renkei moves those together with DataFusion and
//! Ballista. The part renkei needs is small: snapshot manifests and one log
//! committed by create-if-absent, as in Delta's log (with Iceberg's
//! multi-table view of a catalog commit). Keeping to that subset keeps the
//! lake on the workspace's arrow 59 and the format a page long; a table can
//! still be converted to Delta or Iceberg later, since the data files are
//! plain Parquet.
//!
//! # Reading with DataFusion
//!
//! [`Lake::object_store`] is rooted at the lake's root and
//! [`DataFile::path`] is relative to it. Register the store under a URL of
//! its own (`renkei-lake://lake/`) and list a snapshot's files under that URL,
//! so that a query reads exactly one version. [`Lake::local_root`] gives the
//! directory of a local lake.
//!
//! ```
//! # async fn example() -> renkei_store::Result<()> {
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use renkei_store::lake::{Lake, TableName};
//!
//! let dir = tempfile::tempdir().expect("temporary directory");
//! let lake = Lake::open_local(dir.path())?;
//! let table = TableName::parse("visits")?;
//! let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
//! let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3]))])?;
//! let version = lake.append(&table, &[batch]).await?;
//! let snapshot = lake.snapshot(&table, version).await?;
//! assert_eq!(snapshot.total_rows(), 3);
//! assert_eq!(lake.read(&snapshot).await?[0].num_rows(), 3);
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().expect("runtime").block_on(example()).expect("example");
//! ```
//!
//! Several tables in one commit, from files staged as a submission arrives:
//!
//! ```
//! # async fn example() -> renkei_store::Result<()> {
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use renkei_store::lake::{Change, Lake, LakeChange, TableName};
//!
//! let dir = tempfile::tempdir().expect("temporary directory");
//! let lake = Lake::open_local(dir.path())?;
//! let (person, encounter) = (TableName::parse("person")?, TableName::parse("encounter")?);
//! let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
//! let rows = |n: Vec<i64>| RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(n))]);
//!
//! // Each chunk is written as it arrives; nothing is visible yet.
//! let mut encounters = Change::new();
//! for chunk in [vec![1, 2], vec![3]] {
//!     if let Some(file) = lake.stage(&encounter, vec![rows(chunk)?]).await? {
//!         encounters = encounters.add_staged(file);
//!     }
//! }
//! assert!(lake.current().await?.is_none());
//!
//! let version = lake
//!     .commit_all(
//!         LakeChange::new()
//!             .table(person.clone(), Change::new().add_batches([rows(vec![7])?]))
//!             .table(encounter.clone(), encounters)
//!             .operation("ingest")
//!             .property("submission_id", "01965f0e")
//!             .commit_id("submission-01965f0e"),
//!     )
//!     .await?;
//! let snapshot = lake.at(version).await?;
//! let total = |t| snapshot.table(t).map(|s| s.total_rows());
//! assert_eq!((total(&person), total(&encounter)), (Some(1), Some(3)));
//! assert_eq!(lake.find_commit("submission-01965f0e").await?, Some(version));
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().expect("runtime").block_on(example()).expect("example");
//! ```

mod commit;
mod data_file;
mod lake_snapshot;
mod log;
mod manifest;
mod schema;
mod snapshot;
mod stage;
mod table_name;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use renkei_core::{Clock, SystemClock};
use url::Url;

use crate::{Error, Result};
use data_file::open_data_file;

pub use data_file::writer_properties;

pub use lake_snapshot::{LakeChange, LakeSnapshot, LakeVersion};
pub use object_store::ObjectStore;
pub use object_store::path::Path as ObjectPath;
pub use snapshot::{Change, DataFile, Snapshot, StagedFile};
pub use table_name::{TableName, TableVersion};

/// The URL forms [`Lake::open_url`] accepts, for error messages.
const SUPPORTED_URLS: &str = "supported: file:///absolute/dir, s3://bucket/prefix";

/// The lake, on a local directory or an S3-compatible bucket. Cheap to clone;
/// clones share the store and the latest lake version seen.
#[derive(Clone)]
pub struct Lake {
    inner: Arc<Inner>,
}

struct Inner {
    /// Rooted at the lake's root: paths are `<table>/…` and `_lake/…`.
    store: Arc<dyn ObjectStore>,
    root_url: Url,
    local_root: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    /// The newest lake version seen, so that finding the current one starts
    /// there (a std mutex: held only to clone or swap, never across I/O).
    head: Arc<Mutex<Option<LakeSnapshot>>>,
}

impl fmt::Debug for Lake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lake")
            .field("root_url", &self.inner.root_url.as_str())
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl Lake {
    /// Opens the lake in `dir`, creating the directory if needed.
    pub fn open_local(dir: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: dir.to_owned(),
            source,
        };
        crate::private::create_dir(dir)?;
        let root = std::fs::canonicalize(dir).map_err(io)?;
        let store =
            LocalFileSystem::new_with_prefix(&root).map_err(|source| Error::ObjectStore {
                location: root.display().to_string(),
                source,
            })?;
        // Every lake file 0600 in 0700 directories (issue 15).
        let store = crate::private::PrivateStore::new(store, root.clone());
        let root_url = Url::from_directory_path(&root).map_err(|()| {
            Error::Config(format!(
                "lake directory {} cannot be named by a file URL",
                root.display()
            ))
        })?;
        Ok(Self::with_store(Arc::new(store), root_url, Some(root)))
    }

    /// Opens the lake at `url`: `file:///absolute/dir` (as
    /// [`open_local`](Self::open_local)) or `s3://bucket/prefix`, an
    /// S3-compatible store configured from the `AWS_*` environment variables
    /// as [`AmazonS3Builder::from_env`] reads them (`AWS_ENDPOINT` for a
    /// non-AWS store, `AWS_REGION`, credentials, `AWS_ALLOW_HTTP`). The store
    /// must support conditional puts (`If-None-Match`), as AWS S3, MinIO and
    /// Cloudflare R2 do.
    pub fn open_url(url: &str) -> Result<Self> {
        let parsed = Url::parse(url).map_err(|e| {
            Error::Config(format!(
                "lake URL {url:?} is not a URL ({e}); {SUPPORTED_URLS}"
            ))
        })?;
        match parsed.scheme() {
            "file" => {
                let dir = parsed.to_file_path().map_err(|()| {
                    Error::Config(format!(
                        "lake URL {url:?} is not a local absolute path; {SUPPORTED_URLS}"
                    ))
                })?;
                Self::open_local(&dir)
            }
            "s3" | "s3a" => {
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(Error::Config(format!(
                        "lake URL {url:?} names no bucket; {SUPPORTED_URLS}"
                    )));
                }
                let s3 = AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|source| Error::ObjectStore {
                        location: url.to_owned(),
                        source,
                    })?;
                let prefix = ObjectPath::from_url_path(parsed.path()).map_err(|e| {
                    Error::Config(format!("lake URL {url:?} has an invalid path: {e}"))
                })?;
                let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix))
                };
                let mut root_url = parsed.clone();
                if !root_url.path().ends_with('/') {
                    root_url.set_path(&format!("{}/", root_url.path()));
                }
                Ok(Self::with_store(store, root_url, None))
            }
            other => Err(Error::Config(format!(
                "lake URL {url:?} has the unsupported scheme {other:?}; {SUPPORTED_URLS}"
            ))),
        }
    }

    /// Opens the lake kept in `store` (rooted at the lake's root), which
    /// `root_url` names in messages: for a store [`open_url`](Self::open_url)
    /// does not build, such as [`object_store::memory::InMemory`]. The store
    /// must support create-if-absent puts ([`PutMode::Create`](object_store::PutMode::Create)).
    pub fn open_store(store: Arc<dyn ObjectStore>, root_url: Url) -> Self {
        Self::with_store(store, root_url, None)
    }

    fn with_store(store: Arc<dyn ObjectStore>, root_url: Url, local_root: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                root_url,
                local_root,
                clock: Arc::new(SystemClock),
                head: Arc::default(),
            }),
        }
    }

    /// This lake with commit times read from `clock` instead of the system's.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: self.inner.store.clone(),
                root_url: self.inner.root_url.clone(),
                local_root: self.inner.local_root.clone(),
                clock,
                head: self.inner.head.clone(),
            }),
        }
    }

    /// The object store, rooted at the lake's root: [`DataFile::path`]s are
    /// paths in it.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.inner.store.clone()
    }

    /// Where the lake is: `file:///…/` or `s3://bucket/prefix/`.
    pub fn root_url(&self) -> &Url {
        &self.inner.root_url
    }

    /// The lake's directory, for a lake on the local disk.
    pub fn local_root(&self) -> Option<&Path> {
        self.inner.local_root.as_deref()
    }

    /// The tables of the current lake version, by name.
    pub async fn tables(&self) -> Result<Vec<TableName>> {
        Ok(self
            .current()
            .await?
            .map(|current| current.tables().map(|t| t.table().clone()).collect())
            .unwrap_or_default())
    }

    /// The committed versions of `table`, oldest first (contiguous from 1);
    /// empty if the table does not exist.
    pub async fn versions(&self, table: &TableName) -> Result<Vec<TableVersion>> {
        let latest = self.latest(table).await?.map_or(0, |t| t.version().get());
        Ok((1..=latest).map(TableVersion::new).collect())
    }

    /// The latest version of `table` (the one the current lake version
    /// names), or `None` if it does not exist.
    pub async fn latest(&self, table: &TableName) -> Result<Option<Snapshot>> {
        Ok(self
            .current()
            .await?
            .and_then(|current| current.table(table).cloned()))
    }

    /// All rows of `snapshot`, in memory. Prefer
    /// [`read_stream`](Self::read_stream) for large tables.
    pub async fn read(&self, snapshot: &Snapshot) -> Result<Vec<RecordBatch>> {
        self.read_stream(snapshot).try_collect().await
    }

    /// The rows of `snapshot` as a stream of batches with its schema, file by
    /// file, fetching only the byte ranges being decoded.
    pub fn read_stream(&self, snapshot: &Snapshot) -> BoxStream<'static, Result<RecordBatch>> {
        let store = self.inner.store.clone();
        let table = snapshot.table().clone();
        let schema = snapshot.schema().clone();
        stream::iter(snapshot.files().to_vec())
            .then(move |file| open_data_file(store.clone(), table.clone(), schema.clone(), file))
            .try_flatten()
            .boxed()
    }
}

pub(super) fn invalid(table: &TableName, reason: &str) -> Error {
    Error::InvalidTable {
        table: table.to_string(),
        reason: reason.to_owned(),
    }
}
