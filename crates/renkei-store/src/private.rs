//! Data at rest belongs to the platform's account alone: every directory
//! it creates under the data directory is mode 0700 and every file 0600,
//! so another account on the machine reads nothing — not the lake, not an
//! extract, not a database with password hashes in it.
//!
//! Explicit modes, because the writers underneath do not take one: SQLite
//! creates its files 0644 (less the umask) and gives `-wal`/`-shm` the mode
//! of the database file, so the database file is created here first, 0600;
//! `object_store`'s local store creates files 0666 and directories 0777
//! (less the umask), so the lake and the extract store [`seal`] each file
//! they write. The binary also sets the umask to 077, which covers any
//! writer missed here; these functions do not rely on it.
//!
//! Existing files and directories with looser modes (a data directory from
//! before this rule) are tightened, not refused: the platform owns them.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};

use crate::{Error, Result};

/// The mode of every directory the platform creates.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file the platform creates.
pub const FILE_MODE: u32 = 0o600;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir` and any missing parents with mode 0700, and tightens
/// `dir` itself to 0700 if it exists with a looser mode.
pub fn create_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir).map_err(io(dir))?;
    tighten(dir, DIR_MODE)
}

/// Creates the empty file `path` with mode 0600 unless it exists; tightens
/// it to 0600 if it exists with a looser mode.
pub fn create_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => tighten(path, FILE_MODE),
        Err(e) => Err(io(path)(e)),
    }
}

/// Makes the file at `relative` under `root` 0600 and every directory
/// between them 0700: what a store that cannot set modes itself calls
/// after each write.
pub fn seal(root: &Path, relative: &str) -> Result<()> {
    let mut dir = root.to_owned();
    let mut parts = relative.split('/').filter(|p| !p.is_empty()).peekable();
    while let Some(part) = parts.next() {
        let path = dir.join(part);
        if parts.peek().is_some() {
            tighten(&path, DIR_MODE)?;
            dir = path;
        } else {
            tighten(&path, FILE_MODE)?;
        }
    }
    Ok(())
}

/// Makes every directory under `dir` (itself included) 0700 and every file
/// 0600: for a tree a library wrote with default modes (the demo's
/// synthetic records).
pub fn tighten_tree(dir: &Path) -> Result<()> {
    tighten(dir, DIR_MODE)?;
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            tighten_tree(&path)?;
        } else {
            tighten(&path, FILE_MODE)?;
        }
    }
    Ok(())
}

/// Sets `path` to `mode` if it grants anything `mode` does not. A path that
/// vanished meanwhile (a staged file deleted) is left alone.
pub fn tighten(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(path)(e)),
        };
        if meta.permissions().mode() & 0o777 & !mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(io(path))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// A local object store whose every written object ends 0600 in 0700
/// directories: `object_store`'s `LocalFileSystem` takes no mode, so each
/// put, completed upload, copy and rename is [`seal`]ed before it is
/// reported done. Used for the lake and the extract store.
#[derive(Debug)]
pub struct PrivateStore {
    inner: Box<dyn ObjectStore>,
    root: PathBuf,
}

impl PrivateStore {
    /// Wraps `inner`, a store of the files under `root`.
    pub fn new(inner: impl ObjectStore, root: PathBuf) -> Self {
        Self {
            inner: Box::new(inner),
            root,
        }
    }

    fn seal(&self, location: &ObjectPath) -> object_store::Result<()> {
        seal(&self.root, location.as_ref()).map_err(|e| object_store::Error::Generic {
            store: "PrivateStore",
            source: Box::new(e),
        })
    }
}

impl std::fmt::Display for PrivateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateStore({})", self.inner)
    }
}

/// What `#[async_trait]` makes of an `async fn` in the trait (written out,
/// to need no macro crate for one impl).
type Fut<'a, T> = Pin<Box<dyn std::future::Future<Output = object_store::Result<T>> + Send + 'a>>;

impl ObjectStore for PrivateStore {
    fn put_opts<'a, 'b, 'c>(
        &'a self,
        location: &'b ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Fut<'c, PutResult>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            let done = self.inner.put_opts(location, payload, opts).await?;
            self.seal(location)?;
            Ok(done)
        })
    }

    fn put_multipart_opts<'a, 'b, 'c>(
        &'a self,
        location: &'b ObjectPath,
        opts: PutMultipartOptions,
    ) -> Fut<'c, Box<dyn MultipartUpload>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            let upload = self.inner.put_multipart_opts(location, opts).await?;
            Ok(Box::new(PrivateUpload {
                upload,
                root: self.root.clone(),
                location: location.clone(),
            }) as Box<dyn MultipartUpload>)
        })
    }

    fn get_opts<'a, 'b, 'c>(
        &'a self,
        location: &'b ObjectPath,
        options: GetOptions,
    ) -> Fut<'c, GetResult>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.inner.get_opts(location, options)
    }

    fn get_ranges<'a, 'b, 'r, 'c>(
        &'a self,
        location: &'b ObjectPath,
        ranges: &'r [Range<u64>],
    ) -> Fut<'c, Vec<Bytes>>
    where
        'a: 'c,
        'b: 'c,
        'r: 'c,
        Self: 'c,
    {
        self.inner.get_ranges(location, ranges)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&ObjectPath>,
        offset: &ObjectPath,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    fn list_with_delimiter<'a, 'b, 'c>(
        &'a self,
        prefix: Option<&'b ObjectPath>,
    ) -> Fut<'c, ListResult>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.inner.list_with_delimiter(prefix)
    }

    fn copy_opts<'a, 'b, 'd, 'c>(
        &'a self,
        from: &'b ObjectPath,
        to: &'d ObjectPath,
        options: CopyOptions,
    ) -> Fut<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        'd: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            self.inner.copy_opts(from, to, options).await?;
            self.seal(to)
        })
    }

    fn rename_opts<'a, 'b, 'd, 'c>(
        &'a self,
        from: &'b ObjectPath,
        to: &'d ObjectPath,
        options: RenameOptions,
    ) -> Fut<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        'd: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            self.inner.rename_opts(from, to, options).await?;
            self.seal(to)
        })
    }
}

/// A multipart upload sealed when it completes.
#[derive(Debug)]
struct PrivateUpload {
    upload: Box<dyn MultipartUpload>,
    root: PathBuf,
    location: ObjectPath,
}

impl MultipartUpload for PrivateUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.upload.put_part(data)
    }

    fn complete<'a, 'c>(&'a mut self) -> BoxFuture<'c, object_store::Result<PutResult>>
    where
        'a: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            let done = self.upload.complete().await?;
            seal(&self.root, self.location.as_ref()).map_err(|e| object_store::Error::Generic {
                store: "PrivateStore",
                source: Box::new(e),
            })?;
            Ok(done)
        })
    }

    fn abort<'a, 'c>(&'a mut self) -> BoxFuture<'c, object_store::Result<()>>
    where
        'a: 'c,
        Self: 'c,
    {
        self.upload.abort()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn created_and_loose_paths_end_private() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("a/b");
        create_dir(&dir).expect("created");
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("f");
        create_file(&file).expect("created");
        assert_eq!(mode(&file), 0o600);

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        seal(tmp.path(), "a/b/f").expect("sealed");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
        seal(tmp.path(), "a/b/gone").expect("a vanished file is no error");
    }
}
