//! The lake: tables of Parquet files on an [`ObjectStore`] (a local directory
//! or an S3-compatible bucket), each commit a new immutable table version.
//!
//! # Layout
//!
//! ```text
//! <root>/<table>/data/<uuid-v7>.parquet                 data files, never rewritten
//! <root>/<table>/_manifest/00000000000000000001.json    version 1
//! <root>/<table>/_manifest/00000000000000000002.json    version 2, …
//! ```
//!
//! A manifest is a full snapshot of its version: the table's Arrow schema,
//! the list of data files (path, rows, bytes), the commit time, and what the
//! writer said about the commit (an `operation` and `properties` such as a
//! submission id, for lineage). Its JSON form is described in the
//! `manifest` module's source.
//!
//! # Why a commit is atomic
//!
//! A writer first puts its new data files under fresh UUID names, where no
//! reader looks: a reader only opens files a manifest lists. It then creates
//! the manifest of version *latest + 1* with a create-if-absent put
//! ([`PutMode::Create`]): a hard link from a complete temporary file on a
//! local disk, a conditional `PUT` (`If-None-Match: *`) on S3. So:
//!
//! - A version is visible exactly when its manifest exists, and a manifest is
//!   never seen half-written, because each store's put is atomic.
//! - Exactly one writer wins each version number. The loser gets
//!   [`object_store::Error::AlreadyExists`], reads the new latest version,
//!   checks that its change still applies (same schema, the files it removes
//!   still there) and tries the next number, up to 64 times, after which it
//!   reports [`Error::CommitConflict`]. Each lost attempt means another commit
//!   succeeded, so writers make progress and versions stay contiguous.
//! - A crash before the manifest leaves only unlisted data files (orphans, to
//!   be swept by a later vacuum); a commit that fails for a known reason
//!   deletes its data files. When the outcome of the manifest put is unknown
//!   (a network error), the files are kept: the manifest may have landed.
//! - Old manifests and the files they list are never changed, so a snapshot
//!   reads the same rows forever (until a vacuum, which does not exist yet).
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
//! Ballista. The part renkei needs is small: snapshot manifests committed by
//! create-if-absent, as in Delta's log. Keeping to that subset keeps the lake
//! on the workspace's arrow 59 and the format a page long; a table can still
//! be converted to Delta or Iceberg later, since the data files are plain
//! Parquet.
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

mod data_file;
mod manifest;
mod schema;
mod snapshot;
mod table_name;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStoreExt, PutMode};
use renkei_core::{Clock, SystemClock};
use tracing::{debug, info, instrument, warn};
use url::Url;

use crate::{Error, Result};
use data_file::{encode_parquet, open_data_file};
use manifest::{Manifest, data_dir, manifest_dir, manifest_path, version_of_manifest_name};
use schema::{conform_batches, schema_difference};

pub use object_store::ObjectStore;
pub use object_store::path::Path as ObjectPath;
pub use snapshot::{Change, DataFile, Snapshot};
pub use table_name::{TableName, TableVersion};

/// How many versions a commit tries before giving up on conflicts.
const MAX_COMMIT_ATTEMPTS: u32 = 64;

/// The URL forms [`Lake::open_url`] accepts, for error messages.
const SUPPORTED_URLS: &str = "supported: file:///absolute/dir, s3://bucket/prefix";

/// The lake, on a local directory or an S3-compatible bucket. Cheap to clone;
/// clones share the store.
#[derive(Clone)]
pub struct Lake {
    inner: Arc<Inner>,
}

struct Inner {
    /// Rooted at the lake's root: paths are `<table>/…`.
    store: Arc<dyn ObjectStore>,
    root_url: Url,
    local_root: Option<PathBuf>,
    clock: Arc<dyn Clock>,
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
        std::fs::create_dir_all(dir).map_err(io)?;
        let root = std::fs::canonicalize(dir).map_err(io)?;
        let store =
            LocalFileSystem::new_with_prefix(&root).map_err(|source| Error::ObjectStore {
                location: root.display().to_string(),
                source,
            })?;
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

    fn with_store(store: Arc<dyn ObjectStore>, root_url: Url, local_root: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                root_url,
                local_root,
                clock: Arc::new(SystemClock),
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

    /// The tables that have at least one committed version, by name.
    pub async fn tables(&self) -> Result<Vec<TableName>> {
        let listing = self
            .inner
            .store
            .list_with_delimiter(None)
            .await
            .map_err(|source| Error::ObjectStore {
                location: self.inner.root_url.to_string(),
                source,
            })?;
        let mut tables = Vec::new();
        for prefix in listing.common_prefixes {
            let Some(Ok(name)) = prefix.filename().map(TableName::parse) else {
                debug!(prefix = %prefix, "skipping an entry that is not a lake table");
                continue;
            };
            if !self.versions(&name).await?.is_empty() {
                tables.push(name);
            }
        }
        tables.sort();
        Ok(tables)
    }

    /// The committed versions of `table`, oldest first; empty if the table
    /// does not exist.
    pub async fn versions(&self, table: &TableName) -> Result<Vec<TableVersion>> {
        let dir = manifest_dir(table);
        let objects: Vec<_> = self
            .inner
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|source| Error::ObjectStore {
                location: dir.to_string(),
                source,
            })?;
        let mut versions: Vec<TableVersion> = objects
            .iter()
            .filter_map(|o| o.location.filename().and_then(version_of_manifest_name))
            .collect();
        versions.sort();
        Ok(versions)
    }

    /// The latest version of `table`, or `None` if it does not exist.
    pub async fn latest(&self, table: &TableName) -> Result<Option<Snapshot>> {
        match self.versions(table).await?.last() {
            Some(&version) => self.snapshot(table, version).await.map(Some),
            None => Ok(None),
        }
    }

    /// Version `version` of `table`.
    pub async fn snapshot(&self, table: &TableName, version: TableVersion) -> Result<Snapshot> {
        let location = manifest_path(table, version);
        self.read_manifest(table, version)
            .await?
            .into_snapshot(table, &location)
    }

    async fn read_manifest(&self, table: &TableName, version: TableVersion) -> Result<Manifest> {
        let location = manifest_path(table, version);
        let store_error = |source| Error::ObjectStore {
            location: location.to_string(),
            source,
        };
        let bytes = match self.inner.store.get(&location).await {
            Ok(found) => found.bytes().await.map_err(store_error)?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::NoSuchVersion {
                    table: table.to_string(),
                    version: version.get(),
                });
            }
            Err(source) => return Err(store_error(source)),
        };
        Manifest::from_json(&bytes, table, version, &location)
    }

    /// Appends `batches` to `table` as one new data file, creating the table
    /// with their schema if it does not exist. Returns the new version.
    pub async fn append(&self, table: &TableName, batches: &[RecordBatch]) -> Result<TableVersion> {
        if batches.is_empty() {
            return Err(invalid(table, "nothing to append: no batches given"));
        }
        self.commit(
            table,
            Change::new()
                .add_batches(batches.iter().cloned())
                .operation("append"),
        )
        .await
    }

    /// Commits `change` to `table` as its next version, which is returned.
    ///
    /// Added batches must have the table's schema (same field names, order
    /// and types; a non-nullable field where the table's is nullable is
    /// accepted) or [`Error::InvalidTable`] names the first difference; for a
    /// table that does not exist yet, the first batch's schema becomes the
    /// table's. Removed files must be in the latest version, or
    /// [`Error::MissingDataFile`] names the first that is not. Concurrent
    /// commits to the same table are serialized (see the module docs).
    #[instrument(skip_all, fields(table = %table))]
    pub async fn commit(&self, table: &TableName, change: Change) -> Result<TableVersion> {
        let Change {
            add,
            remove,
            operation,
            properties,
        } = change;
        if add.is_empty() && remove.is_empty() {
            return Err(invalid(
                table,
                "the change adds no batches and removes no files",
            ));
        }
        let base = self.latest(table).await?;
        check_removals(table, base.as_ref(), &remove)?;
        let schema = match (&base, add.first()) {
            (Some(base), _) => base.schema().clone(),
            (None, Some(first)) => first.schema(),
            (None, None) => {
                unreachable!("a change that only removes files from an absent table was refused")
            }
        };
        let add = conform_batches(table, &schema, add)?;
        let added = self.write_data_file(table, &schema, add).await?;
        let pending = Pending {
            schema,
            added,
            remove,
            operation,
            properties,
            commit_id: uuid::Uuid::now_v7().to_string(),
        };
        match self.commit_manifest(table, base, &pending).await {
            Ok(version) => Ok(version),
            Err(Failure::NotCommitted(error)) => {
                if let Some(file) = &pending.added {
                    self.delete_orphan(file.path()).await;
                }
                Err(error)
            }
            Err(Failure::Unknown(error)) => {
                if let Some(file) = &pending.added {
                    warn!(
                        path = %file.path(),
                        "the commit's outcome is unknown; keeping its data file"
                    );
                }
                Err(error)
            }
        }
    }

    /// Commits the manifest of `pending` on top of `base`, retrying on top of
    /// each newer version another writer commits first.
    async fn commit_manifest(
        &self,
        table: &TableName,
        mut base: Option<Snapshot>,
        pending: &Pending,
    ) -> Result<TableVersion, Failure> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let version = base
                .as_ref()
                .map_or(TableVersion::FIRST, |b| b.version().next());
            let schema = base
                .as_ref()
                .map_or(&pending.schema, |b| b.schema())
                .clone();
            let files = base
                .iter()
                .flat_map(Snapshot::files)
                .filter(|f| !pending.remove.contains(f.path()))
                .chain(&pending.added)
                .cloned()
                .collect();
            let snapshot = Snapshot::new(
                table.clone(),
                version,
                self.inner.clock.now(),
                schema,
                files,
                pending.operation.clone(),
                pending.properties.clone(),
            );
            let location = manifest_path(table, version);
            let json = Manifest::from_snapshot(&snapshot, &pending.commit_id).to_json();
            match self
                .inner
                .store
                .put_opts(&location, json.into(), PutMode::Create.into())
                .await
            {
                Ok(_) => {
                    info!(
                        version = version.get(),
                        rows_added = pending.added.as_ref().map_or(0, DataFile::rows),
                        files_removed = pending.remove.len(),
                        attempts,
                        "committed table version"
                    );
                    return Ok(version);
                }
                Err(object_store::Error::AlreadyExists { .. }) => {
                    // A retried request whose first try landed also ends
                    // here, finding our own manifest.
                    match self.read_manifest(table, version).await {
                        Ok(existing) if existing.commit_id == pending.commit_id => {
                            return Ok(version);
                        }
                        Ok(_) => {}
                        Err(error) => return Err(Failure::Unknown(error)),
                    }
                    if attempts >= MAX_COMMIT_ATTEMPTS {
                        return Err(Failure::NotCommitted(Error::CommitConflict {
                            table: table.to_string(),
                            attempts,
                        }));
                    }
                    debug!(
                        version = version.get(),
                        attempts, "another writer committed this version first; retrying"
                    );
                    base = self.latest(table).await.map_err(Failure::NotCommitted)?;
                    if let Some(newer) = &base
                        && let Some(difference) = schema_difference(newer.schema(), &pending.schema)
                    {
                        return Err(Failure::NotCommitted(invalid(
                            table,
                            &format!(
                                "another writer committed version {} with a different schema: {difference}",
                                newer.version()
                            ),
                        )));
                    }
                    check_removals(table, base.as_ref(), &pending.remove)
                        .map_err(Failure::NotCommitted)?;
                }
                Err(source) => {
                    return Err(Failure::Unknown(Error::ObjectStore {
                        location: location.to_string(),
                        source,
                    }));
                }
            }
        }
    }

    /// Writes `batches` as one Parquet file under `<table>/data/`; nothing
    /// for no rows.
    async fn write_data_file(
        &self,
        table: &TableName,
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<Option<DataFile>> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(None);
        }
        let path = data_dir(table).join(format!("{}.parquet", uuid::Uuid::now_v7()).as_str());
        let schema = schema.clone();
        // Encoding and compression are CPU work: keep them off the runtime's
        // worker threads.
        let encoded = tokio::task::spawn_blocking(move || encode_parquet(schema, &batches))
            .await
            .expect("parquet encoding does not panic");
        let bytes = encoded.map_err(|source| Error::Parquet {
            location: path.to_string(),
            source,
        })?;
        let size = bytes.len() as u64;
        self.inner
            .store
            .put_opts(&path, bytes.into(), PutMode::Create.into())
            .await
            .map_err(|source| Error::ObjectStore {
                location: path.to_string(),
                source,
            })?;
        Ok(Some(DataFile::new(path, rows as u64, size)))
    }

    async fn delete_orphan(&self, path: &ObjectPath) {
        if let Err(error) = self.inner.store.delete(path).await {
            warn!(path = %path, %error, "cannot delete the data file of a failed commit; it is left as an orphan");
        }
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

/// A change ready to commit: its data file is written.
struct Pending {
    /// The schema the added rows were checked against.
    schema: SchemaRef,
    added: Option<DataFile>,
    remove: Vec<ObjectPath>,
    operation: Option<String>,
    properties: std::collections::BTreeMap<String, String>,
    /// Written into the manifest, to recognise our own commit.
    commit_id: String,
}

/// Why a manifest was not committed, and whether it might have been.
enum Failure {
    /// Certainly not committed: the data file can go.
    NotCommitted(Error),
    /// Perhaps committed: the data file must stay.
    Unknown(Error),
}

pub(super) fn invalid(table: &TableName, reason: &str) -> Error {
    Error::InvalidTable {
        table: table.to_string(),
        reason: reason.to_owned(),
    }
}

fn missing_file(table: &TableName, path: &ObjectPath, base: Option<&Snapshot>) -> Error {
    Error::MissingDataFile {
        table: table.to_string(),
        path: path.to_string(),
        version: base.map_or(0, |b| b.version().get()),
    }
}

fn check_removals(table: &TableName, base: Option<&Snapshot>, remove: &[ObjectPath]) -> Result<()> {
    let held = |path: &ObjectPath| base.is_some_and(|b| b.files().iter().any(|f| f.path() == path));
    match remove.iter().find(|path| !held(path)) {
        Some(path) => Err(missing_file(table, path, base)),
        None => Ok(()),
    }
}
