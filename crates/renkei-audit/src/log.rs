//! The log itself: one writer task that commits appends in groups, and the
//! in-memory tree that answers sizes, roots and proofs.
//!
//! Why one writer: leaf indices must be contiguous and every batch ends in a
//! signed head over exactly the entries before it, so appends are serialized
//! anyway. Queuing them to a single task lets it commit everything waiting
//! in one transaction (group commit): one durable flush and one signature
//! for many appenders, instead of one each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use futures::future::BoxFuture;
use renkei_core::{AuditEvent, AuditReceipt, AuditSink, Clock};
use renkei_store::{Db, Stores};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::HeadOrigin;
use crate::head::{LogKey, PublicKey, SignedTreeHead};
use crate::merkle::{ConsistencyProof, Hash, InclusionProof, Tree, leaf_hash, verify_consistency};
use crate::store::{self, DB, KEY_FILE, NewEntry};
use crate::{Error, Result};

/// The most entries the writer commits in one transaction. Larger batches
/// amortize the flush further but hold waiters longer and the tree's write
/// lock longer.
pub const MAX_BATCH: usize = 4096;

/// The most entries [`AuditLog::entries`] returns at once.
pub const MAX_ENTRIES_PER_READ: u64 = 10_000;

/// Commands waiting for the writer. Bounded, so that a flood of appenders
/// waits instead of growing memory without limit.
const QUEUE: usize = 1024;

/// One entry of the log as read back. Serializes as
/// `{"index": 3, "event": {…}, "leaf_hash": "…64 hex…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEntry {
    /// The entry's leaf index.
    pub index: u64,
    /// The event recorded.
    pub event: AuditEvent,
    /// RFC 9162 §2.1.1 leaf hash of the event's canonical bytes.
    pub leaf_hash: Hash,
}

/// The canonical bytes of an event: what is stored and what its leaf hash
/// covers.
pub fn canonical_bytes(event: &AuditEvent) -> Vec<u8> {
    serde_json::to_vec(event).expect("an audit event has only string keys and always serializes")
}

/// The tamper-evident audit log of one platform instance. Cheap to clone;
/// every clone appends through the same writer.
#[derive(Clone, Debug)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    public_key: PublicKey,
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Held while the log is open for writing; released by `close` once
    /// the writer has stopped, or when the last clone is dropped.
    lock: Mutex<Option<crate::lock::WriterLock>>,
}

/// What the writer publishes to readers.
#[derive(Debug)]
struct Shared {
    /// Every leaf hash; may briefly hold a batch that is being committed,
    /// which is why readers go by `size`, never by `tree.len()`.
    tree: RwLock<Tree>,
    /// How many entries are committed.
    size: AtomicU64,
    /// The latest stored head.
    head: Mutex<Option<SignedTreeHead>>,
}

impl Shared {
    fn tree(&self) -> std::sync::RwLockReadGuard<'_, Tree> {
        // A panic while holding the lock cannot leave the tree half-pushed
        // in a way readers see: they go by `size`, which is set last.
        self.tree.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn tree_mut(&self) -> std::sync::RwLockWriteGuard<'_, Tree> {
        self.tree.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn head(&self) -> Option<SignedTreeHead> {
        self.head
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_head(&self, head: SignedTreeHead) {
        *self.head.lock().unwrap_or_else(PoisonError::into_inner) = Some(head);
    }
}

#[derive(Debug)]
enum Command {
    /// Append these entries; answer with the index of the first.
    Append {
        entries: Vec<NewEntry>,
        reply: oneshot::Sender<Result<u64>>,
    },
    /// Answer with a head over the current size, signing one if needed.
    SignHead {
        reply: oneshot::Sender<Result<SignedTreeHead>>,
    },
    /// Finish what is queued, then stop.
    Close,
}

/// What the log is checked against when it opens, beyond its own heads:
/// things kept outside the data directory, which a copy of that directory
/// cannot rewrite ([`AuditLog::open_trusting`]).
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// The public key the operator pinned (`[audit] public_key`): the key
    /// file must hold exactly this key.
    pub key: Option<PublicKey>,
    /// The last head published to the witness (`[audit] witness`): the log
    /// must hold at least its entries and be consistent with it.
    pub witnessed: Option<SignedTreeHead>,
}

impl AuditLog {
    /// Opens the log in `stores`: migrates its database, loads (or creates,
    /// mode 0600) the signing key, rebuilds the tree from the stored
    /// entries (recomputing every leaf hash from its data), checks it
    /// against the latest stored head, and starts the writer. Must be
    /// called within a Tokio runtime.
    ///
    /// Refuses ([`Error::Tampered`], its cause naming the first bad leaf
    /// index or head size) a log whose entries do not hash to their leaves
    /// or do not give the root of its latest signed head, since appending
    /// would sign over the damage.
    pub async fn open(stores: &Stores, clock: Arc<dyn Clock>) -> Result<AuditLog> {
        Self::open_trusting(stores, clock, &Trust::default()).await
    }

    /// Like [`AuditLog::open`], and also refuses a log whose key is not the
    /// pinned key ([`Error::KeyNotPinned`]) or that is not consistent with
    /// the witnessed head ([`Error::Tampered`]: smaller than the head, its
    /// cause naming both sizes, or failing the RFC 9162 §2.1.4 consistency
    /// proof from the head's size to its own).
    pub async fn open_trusting(
        stores: &Stores,
        clock: Arc<dyn Clock>,
        trust: &Trust,
    ) -> Result<AuditLog> {
        let db = stores.database(DB, &store::migrations()).await?;
        let lock = crate::lock::WriterLock::acquire(stores, &db).await?;
        let key_path = stores.data_dir().join(KEY_FILE);
        let (secret, created) = renkei_store::keys::load_or_create_secret::<32>(&key_path)?;
        let key = LogKey::from_secret(&secret);
        if let Some(pinned) = &trust.key
            && *pinned != key.public()
        {
            return Err(Error::KeyNotPinned {
                path: key_path,
                found: key.public().to_hex(),
                expected: pinned.to_hex(),
            });
        }
        if created {
            tracing::info!(key = %key.public(), "created the audit signing key");
        }
        let (tree, head) = load(&db, &key).await?;
        if let Some(witnessed) = &trust.witnessed {
            check_witnessed(&tree, witnessed, &key.public())
                .map_err(|e| Error::Tampered(Box::new(e)))?;
        }
        let size = tree.len();
        tracing::info!(size, "audit log open");
        let shared = Arc::new(Shared {
            tree: RwLock::new(tree),
            size: AtomicU64::new(size),
            head: Mutex::new(head),
        });
        let (commands, queue) = mpsc::channel(QUEUE);
        let public_key = key.public();
        let writer = Writer {
            db: db.clone(),
            key,
            clock,
            shared: shared.clone(),
            size,
            needs_resync: false,
        };
        let handle = tokio::spawn(writer.run(queue));
        Ok(AuditLog {
            inner: Arc::new(Inner {
                db,
                public_key,
                shared,
                commands,
                writer: Mutex::new(Some(handle)),
                lock: Mutex::new(Some(lock)),
            }),
        })
    }

    /// Appends `event` and resolves once it is durably committed together
    /// with a signed head covering it (DESIGN.md invariant 5: logged before
    /// visible). An error means the entry may not be relied on and what it
    /// records must not take effect.
    pub async fn append(&self, event: AuditEvent) -> Result<AuditReceipt> {
        let entry = prepare(&event);
        let (reply, answer) = oneshot::channel();
        self.send(Command::Append {
            entries: vec![entry],
            reply,
        })
        .await?;
        let index = answer.await.map_err(|_| Error::Closed)??;
        Ok(AuditReceipt { index })
    }

    /// Appends many events (a bulk load), in order, in batches of at most
    /// [`MAX_BATCH`]; resolves once all are committed. Each batch is atomic,
    /// the whole call is not: on error, an earlier batch may have been
    /// committed. Other appenders' entries may fall between batches.
    pub async fn append_many(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditReceipt>> {
        let mut entries = events.iter().map(prepare);
        let mut answers = Vec::new();
        loop {
            let batch: Vec<NewEntry> = entries.by_ref().take(MAX_BATCH).collect();
            if batch.is_empty() {
                break;
            }
            let (reply, answer) = oneshot::channel();
            answers.push((batch.len() as u64, answer));
            self.send(Command::Append {
                entries: batch,
                reply,
            })
            .await?;
        }
        let mut receipts = Vec::with_capacity(events.len());
        for (len, answer) in answers {
            let first = answer.await.map_err(|_| Error::Closed)??;
            receipts.extend((first..first + len).map(|index| AuditReceipt { index }));
        }
        Ok(receipts)
    }

    async fn send(&self, command: Command) -> Result<()> {
        self.inner
            .commands
            .send(command)
            .await
            .map_err(|_| Error::Closed)
    }

    /// How many entries are committed.
    pub fn size(&self) -> u64 {
        self.inner.shared.size.load(Ordering::Acquire)
    }

    /// The root of the first `tree_size` entries (RFC 9162 §2.1.1).
    pub fn root(&self, tree_size: u64) -> Result<Hash> {
        let size = self.size();
        if tree_size > size {
            return Err(Error::TreeSizeOutOfRange {
                tree_size,
                min: 0,
                max: size,
            });
        }
        Ok(self.inner.shared.tree().root(tree_size))
    }

    /// The latest signed tree head, signing and storing a fresh one if the
    /// log has grown past the latest stored head (or has none yet).
    pub async fn signed_head(&self) -> Result<SignedTreeHead> {
        if let Some(head) = self.inner.shared.head()
            && head.tree_size == self.size()
        {
            return Ok(head);
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::SignHead { reply }).await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Proof that entry `index` is in the tree of the first `tree_size`
    /// entries (RFC 9162 §2.1.3.1). `tree_size` must be in `1..=size()` and
    /// `index` below it.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<InclusionProof> {
        let size = self.size();
        if tree_size == 0 || tree_size > size {
            return Err(Error::TreeSizeOutOfRange {
                tree_size,
                min: 1,
                max: size,
            });
        }
        if index >= tree_size {
            return Err(Error::IndexOutOfRange { index, tree_size });
        }
        let path = self.inner.shared.tree().inclusion_path(index, tree_size);
        Ok(InclusionProof {
            leaf_index: index,
            tree_size,
            path,
        })
    }

    /// Proof that the tree of the first `first` entries is a prefix of the
    /// tree of the first `second` (RFC 9162 §2.1.4.1). Requires
    /// `first <= second <= size()`; the path is empty when `first` is 0 or
    /// equals `second`.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<ConsistencyProof> {
        let size = self.size();
        if second > size {
            return Err(Error::TreeSizeOutOfRange {
                tree_size: second,
                min: 0,
                max: size,
            });
        }
        if first > second {
            return Err(Error::TreeSizeOutOfRange {
                tree_size: first,
                min: 0,
                max: second,
            });
        }
        let path = self.inner.shared.tree().consistency_path(first, second);
        Ok(ConsistencyProof {
            first,
            second,
            path,
        })
    }

    /// Entries `start..end` as stored, at most [`MAX_ENTRIES_PER_READ`].
    pub async fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>> {
        let size = self.size();
        if start > end || end > size || end - start > MAX_ENTRIES_PER_READ {
            return Err(Error::RangeOutOfRange {
                start,
                end,
                size,
                max_len: MAX_ENTRIES_PER_READ,
            });
        }
        let limit = store::db_int(end - start);
        let rows = store::entry_page(self.inner.db.pool(), start, Some(end), limit).await?;
        rows.into_iter()
            .zip(start..)
            .map(|(row, index)| {
                if row.idx != store::db_int(index) {
                    return Err(Error::EntryGap {
                        expected: index,
                        found: row.idx,
                    });
                }
                let event = serde_json::from_slice(&row.data)
                    .map_err(|source| Error::EntryMalformed { index, source })?;
                let computed = leaf_hash(&row.data);
                match Hash::from_slice(&row.leaf_hash) {
                    Some(stored) if stored == computed => Ok(StoredEntry {
                        index,
                        event,
                        leaf_hash: stored,
                    }),
                    _ => Err(Error::LeafHashMismatch {
                        index,
                        stored: hex::encode(&row.leaf_hash),
                        computed,
                    }),
                }
            })
            .collect()
    }

    /// Whether the log can take entries: its writer runs and its database
    /// answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        if self.inner.commands.is_closed() {
            return Err(Error::Closed);
        }
        self.inner.db.ping().await?;
        Ok(())
    }

    /// The key that signs this log's tree heads.
    pub fn public_key(&self) -> PublicKey {
        self.inner.public_key
    }

    /// Commits everything already queued, then stops the writer. Appends
    /// after (or racing with) `close` fail with [`Error::Closed`].
    pub async fn close(&self) {
        // Queued commands before `Close` are handled first: the channel is
        // ordered and the writer drains it before it stops.
        let _ = self.inner.commands.send(Command::Close).await;
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, "audit writer task ended abnormally");
        }
        // The writer has stopped: another process may write now.
        let lock = self
            .inner
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(lock) = lock {
            lock.release().await;
        }
    }
}

impl AuditSink for AuditLog {
    fn append(&self, event: AuditEvent) -> BoxFuture<'_, Result<AuditReceipt, renkei_core::Error>> {
        Box::pin(async move {
            AuditLog::append(self, event)
                .await
                .map_err(|e| renkei_core::Error::Audit(error_chain(&e)))
        })
    }
}

/// `e` and its causes, joined with `: ` (the core error holds only text).
fn error_chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn prepare(event: &AuditEvent) -> NewEntry {
    let data = canonical_bytes(event);
    NewEntry {
        at_us: event.at.unix_micros(),
        leaf: leaf_hash(&data),
        data,
    }
}

/// Reads every entry into a tree, checking that the indices run from 0
/// without a gap and recomputing each leaf hash from the entry's data (a
/// changed byte is named by its index here, not only later as a root that
/// no longer matches), and checks the latest stored head against it.
async fn load(db: &Db, key: &LogKey) -> Result<(Tree, Option<SignedTreeHead>)> {
    let mut tree = Tree::new();
    let tampered = |e| Error::Tampered(Box::new(e));
    loop {
        let page = store::entry_page(db.pool(), tree.len(), None, store::PAGE).await?;
        let full = page.len() as i64 == store::PAGE;
        for row in page {
            let index = tree.len();
            if row.idx != store::db_int(index) {
                return Err(tampered(Error::EntryGap {
                    expected: index,
                    found: row.idx,
                }));
            }
            // RFC 9162 §2.1.1: the leaf covers the stored bytes.
            let computed = leaf_hash(&row.data);
            match Hash::from_slice(&row.leaf_hash) {
                Some(stored) if stored == computed => {}
                Some(_) => {
                    return Err(tampered(Error::LeafHashMismatch {
                        index,
                        stored: hex::encode(&row.leaf_hash),
                        computed,
                    }));
                }
                None => {
                    return Err(tampered(Error::LeafHashMalformed {
                        index,
                        len: row.leaf_hash.len(),
                    }));
                }
            }
            tree.push(computed);
        }
        if !full {
            break;
        }
    }
    let head = store::latest_head(db.pool()).await?;
    if let Some(head) = &head {
        if head.tree_size > tree.len() {
            return Err(tampered(Error::HeadBeyondLog {
                origin: HeadOrigin::Stored,
                tree_size: head.tree_size,
                entries: tree.len(),
            }));
        }
        head.check_signature(&key.public(), HeadOrigin::Stored, 0)
            .map_err(tampered)?;
        let computed = tree.root(head.tree_size);
        if computed != head.root_hash {
            return Err(tampered(Error::HeadRootMismatch {
                origin: HeadOrigin::Stored,
                tree_size: head.tree_size,
                since: 0,
                signed: head.root_hash,
                computed,
            }));
        }
    }
    Ok((tree, head))
}

/// Checks that `tree` extends the witnessed head: it holds at least the
/// head's entries, the head is this log's, and the RFC 9162 §2.1.4
/// consistency proof from the head's size to the tree's verifies.
fn check_witnessed(tree: &Tree, witnessed: &SignedTreeHead, key: &PublicKey) -> Result<()> {
    let size = tree.len();
    if witnessed.tree_size > size {
        return Err(Error::HeadBeyondLog {
            origin: HeadOrigin::Witnessed,
            tree_size: witnessed.tree_size,
            entries: size,
        });
    }
    witnessed.check_signature(key, HeadOrigin::Witnessed, 0)?;
    let path = tree.consistency_path(witnessed.tree_size, size);
    verify_consistency(
        witnessed.tree_size,
        size,
        &witnessed.root_hash,
        &tree.root(size),
        &path,
    )
    .map_err(|_| Error::HeadRootMismatch {
        origin: HeadOrigin::Witnessed,
        tree_size: witnessed.tree_size,
        since: 0,
        signed: witnessed.root_hash,
        computed: tree.root(witnessed.tree_size),
    })
}

/// The single writer: owns the committed size and is the only task that
/// mutates the tree or inserts rows.
struct Writer {
    db: Db,
    key: LogKey,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
    size: u64,
    /// Set when a commit failed: the database may hold the batch after all
    /// (a lost reply to COMMIT), so re-read it before the next batch.
    needs_resync: bool,
}

impl Writer {
    async fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        while let Some(command) = queue.recv().await {
            let mut appends = Vec::new();
            let mut signers = Vec::new();
            let mut count = 0;
            let mut next = Some(command);
            let mut yielded = false;
            // Group commit: take everything already waiting, up to the cap.
            while let Some(command) = next.take() {
                match command {
                    Command::Append { entries, reply } => {
                        count += entries.len();
                        appends.push((entries, reply));
                    }
                    Command::SignHead { reply } => signers.push(reply),
                    // Refuse new commands but keep draining those queued.
                    Command::Close => queue.close(),
                }
                if count < MAX_BATCH {
                    next = queue.try_recv().ok();
                    if next.is_none() && !yielded {
                        // The appenders answered by the last commit are
                        // runnable but may not have queued their next entry
                        // yet; one yield lets them, so the batch is not cut
                        // to the one that happened to be first.
                        yielded = true;
                        tokio::task::yield_now().await;
                        next = queue.try_recv().ok();
                    }
                }
            }
            if self.needs_resync {
                self.resync().await;
            }
            if !appends.is_empty() {
                self.commit(appends, count).await;
            }
            for reply in signers {
                let _ = reply.send(self.head_for_current_size().await);
            }
        }
        tracing::debug!(size = self.size, "audit writer stopped");
    }

    async fn commit(
        &mut self,
        appends: Vec<(Vec<NewEntry>, oneshot::Sender<Result<u64>>)>,
        count: usize,
    ) {
        let first = self.size;
        if self.needs_resync {
            // The database could not be read back after a failed commit:
            // writing on would risk reusing indices.
            for (_, reply) in appends {
                let _ = reply.send(Err(Error::Unavailable {
                    reason: "the database cannot be read back after a failed commit",
                }));
            }
            return;
        }
        let new_size = first + count as u64;
        let root = {
            let mut tree = self.shared.tree_mut();
            for (entries, _) in &appends {
                for entry in entries {
                    tree.push(entry.leaf);
                }
            }
            tree.root(new_size)
        };
        let head = self.key.sign(new_size, self.clock.now(), root);
        match self.write(first, &appends, &head).await {
            Ok(()) => {
                self.size = new_size;
                self.shared.set_head(head);
                self.shared.size.store(new_size, Ordering::Release);
                tracing::debug!(first, count, "audit batch committed");
                let mut index = first;
                for (entries, reply) in appends {
                    let _ = reply.send(Ok(index));
                    index += entries.len() as u64;
                }
            }
            Err(source) => {
                tracing::error!(first, count, error = %source, "audit batch not committed");
                self.shared.tree_mut().truncate(first);
                let source = Arc::new(source);
                for (_, reply) in appends {
                    let _ = reply.send(Err(Error::CommitFailed {
                        first,
                        count,
                        source: source.clone(),
                    }));
                }
                self.needs_resync = true;
                self.resync().await;
            }
        }
    }

    /// Writes the batch and its head in one transaction, so a head exists at
    /// every batch boundary and a crash leaves either both or neither.
    async fn write(
        &self,
        first: u64,
        appends: &[(Vec<NewEntry>, oneshot::Sender<Result<u64>>)],
        head: &SignedTreeHead,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        // One multi-row statement per chunk across every append of the
        // batch: most appends carry one entry, and a statement per entry
        // made PostgreSQL pay a round trip per row.
        let entries: Vec<&NewEntry> = appends.iter().flat_map(|(e, _)| e).collect();
        store::insert_entries(&mut tx, first, &entries).await?;
        store::insert_head(&mut tx, head).await?;
        tx.commit().await
    }

    /// After a failed commit, learns whether the batch was in fact stored
    /// (the connection can fail after the database committed) and, if so,
    /// rebuilds the tree from storage.
    async fn resync(&mut self) {
        let stored = match store::next_index(self.db.pool()).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the audit log back; will retry");
                return;
            }
        };
        if stored == self.size {
            self.needs_resync = false;
            return;
        }
        match load(&self.db, &self.key).await {
            Ok((tree, head)) => {
                tracing::warn!(
                    from = self.size,
                    to = tree.len(),
                    "audit batch was committed after all; reloaded"
                );
                self.size = tree.len();
                *self.shared.tree_mut() = tree;
                if let Some(head) = head {
                    self.shared.set_head(head);
                }
                self.shared.size.store(self.size, Ordering::Release);
                self.needs_resync = false;
            }
            Err(e) => tracing::error!(error = %e, "cannot reload the audit log"),
        }
    }

    async fn head_for_current_size(&mut self) -> Result<SignedTreeHead> {
        if let Some(head) = self.shared.head()
            && head.tree_size == self.size
        {
            return Ok(head);
        }
        let root = self.shared.tree().root(self.size);
        let head = self.key.sign(self.size, self.clock.now(), root);
        let mut conn = self
            .db
            .pool()
            .acquire()
            .await
            .map_err(Error::db("storing a signed tree head"))?;
        store::insert_head(&mut conn, &head)
            .await
            .map_err(Error::db("storing a signed tree head"))?;
        self.shared.set_head(head.clone());
        Ok(head)
    }
}
