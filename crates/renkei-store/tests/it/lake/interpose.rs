//! An object store that steps in at one chosen create-if-absent put, to put
//! another writer's commit exactly where a race would land it, or to answer
//! as a failing or retried request would. Everything else goes straight to
//! the store it wraps.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// What happens at the next create-if-absent put under a prefix.
pub enum Step {
    /// Runs another writer's work first (it sees the store as it is), then
    /// the put.
    Before(Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>),
    /// The put lands, but reports that the object already exists, as a
    /// request retried after a lost response does.
    LandThenConflict,
    /// The put fails without landing, as on a broken connection.
    Fail,
}

/// Wraps a store; see the module docs.
pub struct Interposer {
    inner: Arc<dyn ObjectStore>,
    steps: Mutex<VecDeque<(String, Step)>>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

impl Interposer {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            steps: Mutex::default(),
        }
    }

    /// Queues `step` for the next create-if-absent put whose path starts
    /// with `prefix`.
    pub fn at_next_create(&self, prefix: &str, step: Step) {
        self.steps
            .lock()
            .expect("no test panics holding the steps")
            .push_back((prefix.to_owned(), step));
    }

    /// Whether every queued step has run.
    pub fn all_ran(&self) -> bool {
        self.steps
            .lock()
            .expect("no test panics holding the steps")
            .is_empty()
    }

    fn take_step(&self, location: &Path, opts: &PutOptions) -> Option<Step> {
        if opts.mode != PutMode::Create {
            return None;
        }
        let mut steps = self.steps.lock().expect("no test panics holding the steps");
        let i = steps
            .iter()
            .position(|(prefix, _)| location.as_ref().starts_with(prefix.as_str()))?;
        steps.remove(i).map(|(_, step)| step)
    }
}

impl fmt::Display for Interposer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Interposer({})", self.inner)
    }
}

impl fmt::Debug for Interposer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interposer")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

// `ObjectStore` is an `async_trait`; its methods are written out here as the
// macro would expand them, rather than adding the macro as a dependency.
impl ObjectStore for Interposer {
    fn put_opts<'a, 'b, 'async_trait>(
        &'a self,
        location: &'b Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Boxed<'async_trait, PutResult>
    where
        'a: 'async_trait,
        'b: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            match self.take_step(location, &opts) {
                None => self.inner.put_opts(location, payload, opts).await,
                Some(Step::Before(run)) => {
                    run().await;
                    self.inner.put_opts(location, payload, opts).await
                }
                Some(Step::LandThenConflict) => {
                    self.inner.put_opts(location, payload, opts).await?;
                    Err(object_store::Error::AlreadyExists {
                        path: location.to_string(),
                        source: "the first try of a retried request landed".into(),
                    })
                }
                Some(Step::Fail) => Err(object_store::Error::Generic {
                    store: "interposer",
                    source: "connection reset before the response".into(),
                }),
            }
        })
    }

    fn put_multipart_opts<'a, 'b, 'async_trait>(
        &'a self,
        location: &'b Path,
        opts: PutMultipartOptions,
    ) -> Boxed<'async_trait, Box<dyn MultipartUpload>>
    where
        'a: 'async_trait,
        'b: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.put_multipart_opts(location, opts)
    }

    fn get_opts<'a, 'b, 'async_trait>(
        &'a self,
        location: &'b Path,
        options: GetOptions,
    ) -> Boxed<'async_trait, GetResult>
    where
        'a: 'async_trait,
        'b: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.get_opts(location, options)
    }

    fn get_ranges<'a, 'b, 'c, 'async_trait>(
        &'a self,
        location: &'b Path,
        ranges: &'c [Range<u64>],
    ) -> Boxed<'async_trait, Vec<Bytes>>
    where
        'a: 'async_trait,
        'b: 'async_trait,
        'c: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.get_ranges(location, ranges)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    fn list_with_delimiter<'a, 'b, 'async_trait>(
        &'a self,
        prefix: Option<&'b Path>,
    ) -> Boxed<'async_trait, ListResult>
    where
        'a: 'async_trait,
        'b: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.list_with_delimiter(prefix)
    }

    fn copy_opts<'a, 'b, 'c, 'async_trait>(
        &'a self,
        from: &'b Path,
        to: &'c Path,
        options: CopyOptions,
    ) -> Boxed<'async_trait, ()>
    where
        'a: 'async_trait,
        'b: 'async_trait,
        'c: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.copy_opts(from, to, options)
    }
}
