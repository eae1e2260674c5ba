//! The intake: one submission read, checked, split and committed.
//!
//! A submission is read in chunks. Each chunk is processed off the async
//! threads ([`crate::process`]), then classified against the versions
//! already held (new, unchanged, superseding, stale), its patients resolved
//! by identity in one batch, and its rows appended to per-table builders
//! that are written to the lake as staged (invisible) Parquet files as they
//! fill. Bookkeeping rows are staged in the database per chunk. At the end
//! everything becomes visible at once: one lake commit over all tables
//! (with the submission id as its commit id), then identity's batch (the
//! patients' persons, tokens and records, staged under the submission id),
//! then one database transaction moving what was staged. A crash between
//! any two is finished at the next start by looking for the commit id in
//! the lake; a submission that fails, is dropped or was cut by a crash
//! before it is read has its identity batch discarded with it.
//!
//! Audited before visible (issue 15, finding 8): the entry naming the
//! submission and its counts is appended before its lake commit (refused,
//! nothing of it lands), then one naming the lake version it landed as.
//! Recovery that finishes a submission names the version in an entry
//! appended before it does.
//!
//! Submissions of one provider are serialized (their supersession
//! decisions depend on each other); different providers' run side by side.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use renkei_core::{
    Actor, AuditEvent, AuditSink, Clock, IdentifyingAttributes, IdentityResolver, LakeTable,
    ProviderCode, SUPERSEDED_TABLE, Timestamp, superseded_schema,
};
use renkei_fhir::flatten::{Cell, Flattened, Lineage, TableBuilder};
use renkei_store::lake::{Change, Lake, LakeChange, StagedFile, TableName};
use renkei_store::{Db, Stores};
use tokio::io::AsyncRead;
use tracing::{Instrument, info, instrument, warn};

use crate::input::Source;
use crate::limits::{CHUNK_BYTES, Limits};
use crate::process::{self, Accepted, Kind, Processed};
use crate::provider::{self, Provider};
use crate::quality::Tally;
use crate::store::{self, PendingRow, Subject, VersionRow};
use crate::submission::{
    Location, MAX_LISTED, Notice, Receipt, Rejected, SubmissionId, SubmissionState, TypeCounts,
};
use crate::{Error, Result};

/// Tuning of the intake.
#[derive(Clone, Debug)]
pub struct IntakeConfig {
    /// How much a submission may make the platform hold.
    pub limits: Limits,
    /// Resources processed per chunk.
    pub chunk_resources: usize,
    /// Rows per staged Parquet file (per table).
    pub rows_per_file: usize,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            chunk_resources: 4096,
            rows_per_file: 1 << 17,
        }
    }
}

/// Collection's intake. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    lake: Lake,
    identity: Arc<dyn IdentityResolver>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    config: IntakeConfig,
    locks: std::sync::Mutex<HashMap<ProviderCode, Arc<tokio::sync::Mutex<()>>>>,
    /// The memory budget, in KiB: each submission reserves its worst case
    /// before it reads.
    budget: tokio::sync::Semaphore,
    /// Clean-ups of submissions whose request ended before they were read
    /// (a client that hung up, a timeout), running on their own.
    cleanups: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// Opens collection's database and the lake, and finishes or discards
    /// the submissions a crash interrupted. Submissions are recorded in
    /// `audit` before they take effect.
    pub async fn open(
        stores: &Stores,
        identity: Arc<dyn IdentityResolver>,
        audit: Arc<dyn AuditSink>,
        clock: Arc<dyn Clock>,
        config: IntakeConfig,
    ) -> Result<Self> {
        let db = stores.database(store::DB, &store::migrations()).await?;
        let lake = stores.lake()?;
        let intake = Self {
            inner: Arc::new(Inner {
                db,
                lake,
                identity,
                audit,
                clock,
                budget: tokio::sync::Semaphore::new(kib(config.limits.memory_budget_bytes) as usize),
                config,
                locks: std::sync::Mutex::default(),
                cleanups: std::sync::Mutex::default(),
            }),
        };
        intake.recover().await?;
        Ok(intake)
    }

    async fn recover(&self) -> Result<()> {
        for (id, state) in store::unfinished(&self.inner.db).await? {
            warn!(submission = %id, ?state, "settling a submission a crash interrupted");
            self.inner
                .settle(
                    &id,
                    "interrupted: the platform stopped before the submission was committed",
                )
                .await?;
        }
        Ok(())
    }

    /// Waits until every submission whose request ended before it was read
    /// (a client that hung up, a timeout) has been discarded — in
    /// collection and in identity. For shutdown and tests; the clean-ups
    /// run on their own meanwhile.
    pub async fn settled(&self) {
        loop {
            let pending: Vec<_> = std::mem::take(
                &mut *self
                    .inner
                    .cleanups
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if pending.is_empty() {
                return;
            }
            for task in pending {
                if let Err(e) = task.await {
                    warn!(error = %e, "a submission's clean-up did not finish; recovery will at the next start");
                }
            }
        }
    }

    /// The lake this intake writes.
    pub(crate) fn lake(&self) -> &Lake {
        &self.inner.lake
    }

    /// The collection database (for readiness checks and reports).
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Registers a provider, or updates its name, kind and organization
    /// (which organization's senders may submit for it): recorded in the
    /// log, as `by`, before it commits.
    pub async fn register_provider(&self, by: &Actor, provider: &Provider) -> Result<()> {
        let mut tx = self.inner.db.begin_write().await?;
        provider::register(&mut tx, provider).await?;
        let org = provider
            .org_id
            .map(|o| format!(" organization={o}"))
            .unwrap_or_default();
        self.inner
            .log(
                by,
                "collect.provider",
                format!(
                    "provider={} kind={}{org}",
                    provider.code,
                    provider.kind.as_str()
                ),
            )
            .await?;
        tx.commit().await.map_err(renkei_store::Error::from)?;
        Ok(())
    }

    /// A registered provider.
    pub async fn provider(&self, code: &ProviderCode) -> Result<Option<Provider>> {
        Ok(provider::list(&self.inner.db, Some(code)).await?.pop())
    }

    /// Every registered provider, by code.
    pub async fn providers(&self) -> Result<Vec<Provider>> {
        provider::list(&self.inner.db, None).await
    }

    /// A submission's receipt.
    pub async fn receipt(&self, id: &SubmissionId) -> Result<Option<Receipt>> {
        store::receipt(&self.inner.db, id).await
    }

    /// The latest receipts, newest first, of one provider or all.
    pub async fn recent(
        &self,
        provider: Option<&ProviderCode>,
        limit: u32,
    ) -> Result<Vec<Receipt>> {
        store::recent(&self.inner.db, provider, limit).await
    }

    /// Resources of `provider` held pending, waiting for their patient.
    pub async fn pending_count(&self, provider: &ProviderCode) -> Result<u64> {
        store::open_pending_count(&self.inner.db, provider).await
    }

    /// Reads, checks and commits one submission from `provider`: NDJSON
    /// (optionally gzip), a single resource or a Bundle, told apart by
    /// content. Returns the receipt; the same content sent again returns
    /// the first receipt and writes nothing.
    ///
    /// An error means nothing of the submission was committed — to the
    /// lake, collection's tables or identity: the body could not be read to
    /// its end, went past a limit ([`Limits`]), was not FHIR JSON, or a
    /// store failed. Identity's writes are staged under the submission and
    /// committed or discarded with it. Dropping the returned future before
    /// the body has been read to its end (a client that hangs up, a request
    /// that times out) stops the work and discards the submission; once the
    /// body is read, the commit runs to its end regardless.
    ///
    /// `by` is who sent it, as the audit log names them.
    #[instrument(skip_all, fields(provider = %provider))]
    pub async fn submit<R>(&self, by: &Actor, provider: &ProviderCode, body: R) -> Result<Receipt>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        if self.provider(provider).await?.is_none() {
            return Err(Error::Provider(
                provider.to_string(),
                "not registered: an operator registers a provider before it submits".to_owned(),
            ));
        }
        // The work runs as a task of its own, told by `hangup` closing that
        // its caller is gone: dropping a future would stop it at an await
        // point without its rollback, and blocking work it had started
        // would go on.
        let (_hangup, hangup_rx) = tokio::sync::oneshot::channel::<std::convert::Infallible>();
        let this = self.clone();
        let provider = provider.clone();
        let by = by.clone();
        let task = tokio::spawn(
            async move { this.run(by, &provider, body, hangup_rx).await }.in_current_span(),
        );
        // Dropped before the task ends, its rollback is still waited for by
        // `settled`.
        let mut finishing = Finishing {
            inner: self.inner.clone(),
            task: Some(task),
        };
        let joined = finishing
            .task
            .as_mut()
            .expect("the task is kept until it ends")
            .await;
        finishing.task = None;
        joined.map_err(|e| Error::Corrupt(format!("the intake task failed: {e}")))?
    }

    async fn run<R>(
        &self,
        by: Actor,
        provider: &ProviderCode,
        body: R,
        mut hangup: tokio::sync::oneshot::Receiver<std::convert::Infallible>,
    ) -> Result<Receipt>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let lock = {
            let mut locks = self
                .inner
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.entry(provider.clone()).or_default().clone()
        };
        let serialized = tokio::select! {
            guard = lock.lock_owned() => guard,
            _ = &mut hangup => return Err(Error::Cancelled),
        };
        let reserve = kib(self.inner.config.limits.reserve_bytes());
        let _reserved = tokio::select! {
            permit = self.inner.budget.acquire_many(reserve) => permit
                .map_err(|e| Error::Corrupt(format!("the intake's memory budget: {e}")))?,
            _ = &mut hangup => return Err(Error::Cancelled),
        };

        let id = SubmissionId::generate();
        let received_at = self.inner.clock.now();
        store::insert_submission(&self.inner.db, &id, provider, received_at.unix_micros()).await?;
        // Until the body is read, dropping this future (the client hung
        // up, the request timed out) must not leave the submission
        // receiving, nor identity's staged persons behind.
        let mut unsettled = Unsettled {
            inner: self.inner.clone(),
            id,
            serialized: Some(serialized),
        };
        let mut run = Run::new(&self.inner, provider.clone(), id, received_at);
        let read = tokio::select! {
            biased;
            _ = &mut hangup => {
                warn!(submission = %id, "the request was dropped while its body was read; rolling back");
                Err(Error::Cancelled)
            }
            read = run.read(body) => read,
        };
        // Read to its end: what remains is not cut short by a hang-up.
        let read = match read {
            Ok(source) => {
                let (content_sha256, bytes) = (source.content_sha256(), source.bytes());
                drop(source);
                run.prepare(content_sha256, bytes).await
            }
            Err(e) => Err(e),
        };
        let staged = std::mem::take(&mut run.staged);
        drop(run);
        match read {
            Ok(Read::Duplicate(first)) => {
                unsettled.disarm();
                Ok(*first)
            }
            Ok(Read::Ready(ready)) => {
                let serialized = unsettled.disarm();
                // Read whole: the commit runs to its end on its own, even if
                // the client leaves now, holding the provider's turn.
                let inner = self.inner.clone();
                tokio::spawn(async move {
                    let _serialized = serialized;
                    inner.commit(&by, ready, staged).await
                })
                .await
                .map_err(|e| Error::Corrupt(format!("committing submission {id} panicked: {e}")))?
            }
            Err(error) => {
                // Still armed: dropped while failing, it is settled anyway.
                let answer = self.inner.fail(&id, error, staged).await;
                unsettled.disarm();
                answer
            }
        }
    }
}

/// A submission's task whose caller may go away: then [`Intake::settled`]
/// waits for it (its rollback) like any other clean-up.
struct Finishing {
    inner: Arc<Inner>,
    task: Option<tokio::task::JoinHandle<Result<Receipt>>>,
}

impl Drop for Finishing {
    fn drop(&mut self) {
        let Some(task) = self.task.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let waiter = runtime.spawn(async move {
            let _ = task.await;
        });
        self.inner
            .cleanups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(waiter);
    }
}

/// A submission being read, to be discarded if its request is dropped
/// before [`disarm`](Self::disarm).
struct Unsettled {
    inner: Arc<Inner>,
    id: SubmissionId,
    /// The provider's turn, held until the clean-up is done.
    serialized: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Unsettled {
    /// The submission was read (or failed and is handled): no clean-up.
    fn disarm(&mut self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.serialized.take()
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        let Some(serialized) = self.serialized.take() else {
            return;
        };
        let inner = self.inner.clone();
        let id = self.id;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            warn!(submission = %id, "a submission was dropped without a runtime; recovery settles it at the next start");
            return;
        };
        let task = runtime.spawn({
            let inner = inner.clone();
            async move {
                let _serialized = serialized;
                match inner
                    .settle(&id, "abandoned: the request ended before the submission was read")
                    .await
                {
                    Ok(_) => info!(submission = %id, "a submission whose request ended was discarded"),
                    Err(e) => warn!(submission = %id, error = %e, "cannot discard a dropped submission; recovery will at the next start"),
                }
            }
        });
        inner
            .cleanups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task);
    }
}

/// How [`Inner::settle`] left a submission.
enum Settled {
    /// Its lake commit had landed: committed, with this receipt.
    Committed(Box<Receipt>),
    /// Nothing of it counts: marked failed, identity's batch discarded.
    Abandoned,
    /// It was settled before (committed, failed or forgotten).
    Already,
}

/// A submission read to its end, ready to commit.
struct Ready {
    id: SubmissionId,
    provider: ProviderCode,
    receipt: Receipt,
    stats: Vec<(String, String, i64)>,
}

/// What reading a submission gave.
enum Read {
    /// Read whole; commit it.
    Ready(Box<Ready>),
    /// The same content was committed before: its receipt (nothing of this
    /// one was kept).
    Duplicate(Box<Receipt>),
}

impl Inner {
    /// Commits a submission read to its end: the lake first (one commit
    /// with the submission id as its commit id), then identity's batch,
    /// then collection's bookkeeping. A crash between any two is finished
    /// by [`settle`](Self::settle) at the next start, since the lake
    /// commit can be found.
    async fn commit(
        &self,
        by: &Actor,
        ready: Box<Ready>,
        staged: Vec<(TableName, StagedFile)>,
    ) -> Result<Receipt> {
        let id = ready.id;
        match self.try_commit(by, &ready, staged).await {
            Ok(receipt) => Ok(receipt),
            Err(error) => self.fail(&id, error, Vec::new()).await,
        }
    }

    async fn try_commit(
        &self,
        by: &Actor,
        ready: &Ready,
        staged: Vec<(TableName, StagedFile)>,
    ) -> Result<Receipt> {
        let id = &ready.id;
        let stats: Vec<(&str, &str, i64)> = ready
            .stats
            .iter()
            .map(|(t, m, v)| (t.as_str(), m.as_str(), *v))
            .collect();
        if let Err(e) = store::begin_commit(&self.db, &ready.receipt, &stats).await {
            self.lake
                .discard(staged.into_iter().map(|(_, f)| f).collect())
                .await;
            return Err(e);
        }
        let totals = ready.receipt.totals();
        if let Err(e) = self
            .log(
                by,
                "collect.commit",
                format!(
                    "submission={id} provider={} received={} accepted={} rejected={} pending={}",
                    ready.provider,
                    totals.received,
                    totals.accepted,
                    totals.rejected,
                    totals.pending
                ),
            )
            .await
        {
            self.lake
                .discard(staged.into_iter().map(|(_, f)| f).collect())
                .await;
            return Err(e);
        }
        let version = if staged.is_empty() {
            None
        } else {
            let mut by_table: BTreeMap<String, (TableName, Change)> = BTreeMap::new();
            for (table, file) in staged {
                let entry = by_table
                    .entry(table.to_string())
                    .or_insert_with(|| (table.clone(), Change::new().operation("ingest")));
                entry.1 = std::mem::take(&mut entry.1).add_staged(file);
            }
            let mut change = LakeChange::new()
                .operation("ingest")
                .property("submission_id", id.to_string())
                .property("provider_code", ready.provider.to_string())
                .commit_id(id.to_string());
            for (_, (table, c)) in by_table {
                change = change.table(table, c);
            }
            Some(self.lake.commit_all(change).await?.get())
        };
        // The entry before the lake commit recorded the submission; this
        // one adds the version it landed as. Refused, it must not turn a
        // landed submission into an error the sender would resend: the
        // lake's own log names the submission (its commit id) at that
        // version.
        if let Err(e) = self
            .log(
                by,
                "collect.committed",
                format!("submission={id} lake_version={}", lake_version(version)),
            )
            .await
        {
            warn!(submission = %id, error = %e, "the audit log did not record the lake version of a landed submission");
        }
        self.identity.commit_batch(&id.identity_batch()).await?;
        let receipt =
            store::finish_commit(&self.db, id, version, self.clock.now().unix_micros()).await?;
        let totals = receipt.totals();
        info!(
            submission = %id,
            lake_version = ?version,
            received = totals.received,
            accepted = totals.accepted,
            rejected = totals.rejected,
            pending = totals.pending,
            "submission committed"
        );
        Ok(receipt)
    }

    /// A submission failed with `error`: settles it and answers — with
    /// its receipt if its lake commit landed despite the error, else with
    /// the error, its staged lake files deleted.
    async fn fail(
        &self,
        id: &SubmissionId,
        error: Error,
        staged: Vec<(TableName, StagedFile)>,
    ) -> Result<Receipt> {
        match self.settle(id, &error.to_string()).await {
            Ok(Settled::Committed(receipt)) => {
                warn!(submission = %id, %error, "the lake commit landed despite the error; finished");
                Ok(*receipt)
            }
            Ok(Settled::Abandoned | Settled::Already) => {
                self.lake
                    .discard(staged.into_iter().map(|(_, f)| f).collect())
                    .await;
                Err(error)
            }
            Err(e) => {
                warn!(submission = %id, error = %e, "cannot settle a failed submission; recovery will at the next start");
                Err(error)
            }
        }
    }

    /// Finishes or discards a submission that stopped before it was
    /// committed (an error, a dropped request, a crash), in collection and
    /// in identity alike: if its lake commit landed, identity's batch is
    /// committed and then the bookkeeping; otherwise identity's batch is
    /// discarded and then the submission marked failed. Each step may be
    /// repeated, so a crash between two is finished at the next start.
    async fn settle(&self, id: &SubmissionId, reason: &str) -> Result<Settled> {
        let batch = id.identity_batch();
        let landed = match store::state_of(&self.db, id).await? {
            // The lake commit is only ever attempted from `committing`.
            Some(SubmissionState::Receiving) => None,
            Some(SubmissionState::Committing) => self.lake.find_commit(&id.to_string()).await?,
            Some(SubmissionState::Committed) => return Ok(Settled::Already),
            Some(SubmissionState::Failed) | None => {
                // Failed or forgotten after identity's batch was
                // discarded; discarding again costs nothing.
                self.identity.discard_batch(&batch).await?;
                return Ok(Settled::Already);
            }
        };
        match landed {
            Some(version) => {
                self.log(
                    &recovery(),
                    "collect.recover",
                    format!(
                        "submission={id} lake_version={} finished: its lake commit had landed",
                        version.get()
                    ),
                )
                .await?;
                self.identity.commit_batch(&batch).await?;
                let receipt = store::finish_commit(
                    &self.db,
                    id,
                    Some(version.get()),
                    self.clock.now().unix_micros(),
                )
                .await?;
                Ok(Settled::Committed(Box::new(receipt)))
            }
            None => {
                self.identity.discard_batch(&batch).await?;
                store::abandon(&self.db, id, reason, false).await?;
                // Nothing of it was ever visible, so a log that refuses
                // the entry must not keep the rollback from happening.
                if let Err(e) = self
                    .log(&recovery(), "collect.abandon", format!("submission={id}"))
                    .await
                {
                    warn!(submission = %id, error = %e, "the audit log did not record a discarded submission");
                }
                Ok(Settled::Abandoned)
            }
        }
    }

    /// Appends an entry and waits until it is durable.
    async fn log(&self, by: &Actor, action: &str, object: String) -> Result<()> {
        self.audit
            .append(AuditEvent::success(
                self.clock.now(),
                by.clone(),
                action,
                object,
            ))
            .await
            .map_err(Error::Audit)?;
        Ok(())
    }
}

/// Who finishes or discards a submission a crash or a dropped request
/// left behind.
fn recovery() -> Actor {
    Actor::System {
        component: "collect.recovery".to_owned(),
    }
}

/// A lake version for the log: `none` when the submission wrote nothing.
fn lake_version(version: Option<u64>) -> String {
    version.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

/// Bytes in whole KiB, rounded up (the budget's unit: a semaphore counts
/// in `u32`).
fn kib(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// The decision about an accepted resource against the version held.
enum Decision {
    New,
    Supersedes(String),
}

/// One submission being read.
struct Run<'a> {
    inner: &'a Inner,
    provider: ProviderCode,
    id: SubmissionId,
    received_at: Timestamp,
    lineage: Lineage,
    counts: BTreeMap<String, TypeCounts>,
    rejected: Vec<Rejected>,
    notices: Vec<Notice>,
    tally: Tally,
    builders: HashMap<LakeTable, TableBuilder>,
    superseded: SupersededRows,
    staged: Vec<(TableName, StagedFile)>,
    /// (type, id) hash → content hash, for resources seen in this
    /// submission. 64 bits: a collision among 10 million resources has a
    /// chance of about 3 in a million, and would refuse one resource as a
    /// conflicting duplicate, never lose one silently.
    seen: HashMap<u64, [u8; 16]>,
    /// Patient resource id → person (and identity's record of it), for
    /// this submission's patients.
    subjects: HashMap<String, Subject>,
    /// Patient resource id → the provider's patient id (患者ID), so that a
    /// Coverage can be resolved together with its Patient.
    local_ids: HashMap<String, String>,
    pending_joined: u64,
}

impl<'a> Run<'a> {
    fn new(
        inner: &'a Inner,
        provider: ProviderCode,
        id: SubmissionId,
        received_at: Timestamp,
    ) -> Self {
        let lineage = Lineage {
            provider: provider.clone(),
            submission_id: id.to_string(),
            ingested_at: received_at,
        };
        Self {
            inner,
            provider,
            id,
            received_at,
            lineage,
            counts: BTreeMap::new(),
            rejected: Vec::new(),
            notices: Vec::new(),
            tally: Tally::default(),
            builders: HashMap::new(),
            superseded: SupersededRows::default(),
            staged: Vec::new(),
            seen: HashMap::new(),
            subjects: HashMap::new(),
            local_ids: HashMap::new(),
            pending_joined: 0,
        }
    }

    /// Reads the body to its end, processing it chunk by chunk: patients
    /// resolved (staged in identity), rows staged in the lake. The only
    /// phase a hang-up cancels.
    async fn read<R>(&mut self, body: R) -> Result<Source>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let config = self.inner.config.clone();
        let limits = Arc::new(config.limits.clone());
        let mut source = Source::open(body, config.limits.clone()).await?;
        let mut empty = true;
        loop {
            let items = source
                .next_chunk(config.chunk_resources, CHUNK_BYTES)
                .await?;
            if items.is_empty() {
                break;
            }
            empty = false;
            let lineage = self.lineage.clone();
            let limits = limits.clone();
            let processed =
                tokio::task::spawn_blocking(move || process::chunk(items, &lineage, &limits))
                    .await
                    .map_err(|e| Error::Corrupt(format!("processing a chunk panicked: {e}")))??;
            self.absorb(processed).await?;
        }
        if empty {
            return Err(Error::NotFhir(
                "the body is empty: send FHIR JSON (NDJSON, a resource or a Bundle)".to_owned(),
            ));
        }
        Ok(source)
    }

    /// What was read, ready to commit — or the receipt of the same content
    /// committed before, this one's staged writes discarded.
    async fn prepare(&mut self, content_sha256: String, bytes: u64) -> Result<Read> {
        if let Some(first) =
            store::same_content(&self.inner.db, &self.provider, &content_sha256).await?
        {
            info!(submission = %self.id, first = %first.submission_id, "the same content was committed before; returning its receipt");
            let staged = std::mem::take(&mut self.staged);
            self.inner
                .lake
                .discard(staged.into_iter().map(|(_, f)| f).collect())
                .await;
            // Identity's batch first: forgotten, the submission could no
            // longer be found by recovery.
            self.inner
                .identity
                .discard_batch(&self.id.identity_batch())
                .await?;
            store::abandon(&self.inner.db, &self.id, "duplicate", true).await?;
            return Ok(Read::Duplicate(Box::new(first)));
        }
        self.join_pending().await?;
        self.flush_all().await?;

        let receipt = Receipt {
            submission_id: self.id,
            provider: self.provider.clone(),
            state: SubmissionState::Committing,
            received_at: self.received_at,
            committed_at: None,
            lake_version: None,
            content_sha256,
            bytes,
            counts: std::mem::take(&mut self.counts),
            rejected: std::mem::take(&mut self.rejected),
            notices: std::mem::take(&mut self.notices),
            pending_joined: self.pending_joined,
            failure: None,
        };
        let stats = self
            .tally
            .rows()
            .map(|(t, m, v)| (t.to_owned(), m.to_owned(), v))
            .collect();
        Ok(Read::Ready(Box::new(Ready {
            id: self.id,
            provider: self.provider.clone(),
            receipt,
            stats,
        })))
    }

    fn count(&mut self, resource_type: &str) -> &mut TypeCounts {
        if !self.counts.contains_key(resource_type) {
            self.counts
                .insert(resource_type.to_owned(), TypeCounts::default());
        }
        self.counts.get_mut(resource_type).expect("inserted above")
    }

    fn notice(&mut self, location: Location, resource: String, message: String) {
        if self.notices.len() < MAX_LISTED {
            self.notices.push(Notice {
                location,
                resource,
                message,
            });
        }
    }

    fn reject(&mut self, p: Processed, outcome: serde_json::Value, reasons: &[String]) {
        let ty = p
            .resource_type
            .clone()
            .unwrap_or_else(|| "(unknown)".to_owned());
        self.count(&ty).rejected += 1;
        for r in reasons {
            self.tally.add(&ty, &format!("reject: {r}"), 1);
        }
        if self.rejected.len() < MAX_LISTED {
            self.rejected.push(Rejected {
                location: p.location,
                resource_type: p.resource_type,
                id: p.id,
                outcome,
            });
        }
    }

    async fn absorb(&mut self, processed: Vec<Processed>) -> Result<()> {
        let keys: Vec<(String, String)> = processed
            .iter()
            .filter(|p| matches!(p.kind, Kind::Accepted(_) | Kind::Delete))
            .filter_map(|p| Some((p.resource_type.clone()?, p.id.clone()?)))
            .collect();
        let held = store::held_versions(&self.inner.db, &self.provider, &keys).await?;

        let mut versions = Vec::new();
        let mut candidates: Vec<(Processed, Box<Accepted>)> = Vec::new();
        for mut p in processed {
            let ty = p
                .resource_type
                .clone()
                .unwrap_or_else(|| "(unknown)".to_owned());
            let kind = std::mem::replace(&mut p.kind, Kind::Delete);
            if let Kind::Notices(warnings) = &kind {
                // About the Bundle, not a resource received: counted nowhere.
                let name = format!("{ty}/{}", p.id.clone().unwrap_or_default());
                for w in warnings {
                    self.notice(p.location, name.clone(), format!("warning at {w}"));
                }
                continue;
            }
            self.count(&ty).received += 1;
            match kind {
                Kind::Notices(_) => {}
                Kind::Rejected { outcome, reasons } => self.reject(p, outcome, &reasons),
                Kind::Delete => {
                    let id = p.id.clone().unwrap_or_default();
                    match held.get(&(ty.clone(), id.clone())) {
                        Some(h) if !h.deleted => {
                            self.superseded.push(
                                &self.provider,
                                &ty,
                                &id,
                                &h.submission_id,
                                &self.id,
                                "deleted",
                                self.received_at,
                            );
                            versions.push(VersionRow {
                                resource_type: ty.clone(),
                                source_id: id,
                                last_updated: None,
                                hash: [0; 16],
                                deleted: true,
                            });
                            self.count(&ty).deleted += 1;
                        }
                        _ => self.notice(
                            p.location,
                            format!("{ty}/{id}"),
                            "DELETE of a resource the platform does not hold: nothing to do"
                                .to_owned(),
                        ),
                    }
                }
                Kind::Accepted(a) => {
                    let id = p.id.clone().unwrap_or_default();
                    let key = key_hash(&ty, &id);
                    if let Some(previous) = self.seen.get(&key) {
                        if *previous == a.hash {
                            self.count(&ty).unchanged += 1;
                        } else {
                            let outcome = conflict_outcome(&ty, &id);
                            self.reject(p, outcome, &["duplicate at Resource.id".to_owned()]);
                        }
                        continue;
                    }
                    self.seen.insert(key, a.hash);
                    let decision = match held.get(&(ty.clone(), id.clone())) {
                        None => Decision::New,
                        Some(h) if h.deleted => Decision::New,
                        Some(h) if h.hash == a.hash => {
                            self.count(&ty).unchanged += 1;
                            continue;
                        }
                        Some(h) => match (a.last_updated, h.last_updated) {
                            (Some(new), Some(old)) if new <= old => {
                                self.count(&ty).stale += 1;
                                self.notice(p.location, format!("{ty}/{id}"), "not newer (meta.lastUpdated) than the version already held: ignored".to_owned());
                                continue;
                            }
                            _ => Decision::Supersedes(h.submission_id.clone()),
                        },
                    };
                    if let Decision::Supersedes(old) = &decision {
                        self.superseded.push(
                            &self.provider,
                            &ty,
                            &id,
                            old,
                            &self.id,
                            "replaced",
                            self.received_at,
                        );
                        self.count(&ty).superseded += 1;
                    }
                    self.tally.sample(&ty, &a.sample, self.received_at);
                    self.tally.add(&ty, "warnings", a.warnings.len() as i64);
                    // The sender learns of each warning, not only the
                    // quality report's count of them.
                    for w in &a.warnings {
                        self.notice(p.location, format!("{ty}/{id}"), format!("warning at {w}"));
                    }
                    versions.push(VersionRow {
                        resource_type: ty.clone(),
                        source_id: id,
                        last_updated: a.last_updated,
                        hash: a.hash,
                        deleted: false,
                    });
                    candidates.push((p, a));
                }
            }
        }

        let subjects = self.resolve_identities(&candidates).await?;
        let pending = self.place(candidates).await?;
        // The chunk's bookkeeping in one transaction: one commit (one WAL
        // fsync) instead of one per statement.
        let mut tx = self.inner.db.begin_write().await?;
        store::stage_subjects(&mut tx, &self.id, &self.provider, &subjects).await?;
        store::stage_versions(&mut tx, &self.id, &self.provider, &versions).await?;
        store::stage_pending(
            &mut tx,
            &self.id,
            &self.provider,
            self.received_at.unix_micros(),
            &pending,
        )
        .await?;
        tx.commit().await?;
        self.flush_full().await
    }

    /// Resolves the Patients and Coverages of a chunk in one identity call;
    /// returns the chunk's Patients and their persons, to be staged.
    async fn resolve_identities(
        &mut self,
        candidates: &[(Processed, Box<Accepted>)],
    ) -> Result<Vec<(String, Subject)>> {
        for (_, a) in candidates {
            let f = &a.flattened;
            if f.resource_type == "Patient"
                && let Some(local) = f.identity.as_ref().and_then(|i| i.local_patient_id.clone())
            {
                self.local_ids.insert(f.source_id.clone(), local);
            }
        }
        let mut who: Vec<(usize, IdentifyingAttributes)> = Vec::new();
        for (i, (_, a)) in candidates.iter().enumerate() {
            let f = &a.flattened;
            let Some(attributes) = &f.identity else {
                continue;
            };
            let mut attributes = attributes.clone();
            if f.resource_type == "Coverage" {
                // Resolve a Coverage as its Patient's: with the 患者ID, so
                // that identity links the insurance to that person.
                match f.subject.as_ref().and_then(|s| self.local_ids.get(s)) {
                    Some(local) => attributes.local_patient_id = Some(local.clone()),
                    None => continue,
                }
            }
            who.push((i, attributes));
        }
        // Patients named by identifier (JP-CLINS's `subject.identifier`):
        // each key not seen before is resolved once, as a Patient with that
        // identifier would be; the rest of its resources find it by key.
        let named = self.identifier_subjects(candidates).await?;
        if who.is_empty() && named.is_empty() {
            return Ok(Vec::new());
        }
        let mut records: Vec<IdentifyingAttributes> = who.iter().map(|(_, a)| a.clone()).collect();
        records.extend(named.iter().map(|(_, a)| a.clone()));
        // Staged under the submission: identity's writes become visible
        // when the submission commits, and vanish if it does not.
        let answers = self
            .inner
            .identity
            .resolve_staged(&self.id.identity_batch(), &self.provider, &records)
            .await?;
        let mut staged = Vec::new();
        let mut answers = answers.into_iter();
        for ((i, _), answer) in who.iter().zip(answers.by_ref()) {
            let f = &candidates[*i].1.flattened;
            if f.resource_type == "Patient" {
                let subject = Subject {
                    person: answer.person_key,
                    record: Some(answer.record),
                };
                // Its id, and each identifier others may name it by.
                for key in std::iter::once(&f.source_id).chain(&f.identifier_keys) {
                    self.subjects.insert(key.clone(), subject);
                    staged.push((key.clone(), subject));
                }
            }
        }
        for ((key, _), answer) in named.into_iter().zip(answers) {
            let subject = Subject {
                person: answer.person_key,
                record: Some(answer.record),
            };
            self.subjects.insert(key.clone(), subject);
            staged.push((key, subject));
        }
        Ok(staged)
    }

    /// The identifier keys of a chunk's subjects that identity can link by
    /// and that no earlier Patient or resource of this provider settled,
    /// once each, with what identity needs.
    async fn identifier_subjects(
        &self,
        candidates: &[(Processed, Box<Accepted>)],
    ) -> Result<Vec<(String, IdentifyingAttributes)>> {
        // A Patient of this very chunk settles its own identifiers.
        let patients: std::collections::HashSet<&str> = candidates
            .iter()
            .flat_map(|(_, a)| a.flattened.identifier_keys.iter().map(String::as_str))
            .collect();
        let mut fresh: Vec<(String, IdentifyingAttributes)> = Vec::new();
        for (_, a) in candidates {
            let f = &a.flattened;
            let Some(si) = f
                .subject_identifier
                .as_ref()
                .filter(|_| f.subject.is_none())
            else {
                continue;
            };
            let key = si.key();
            if self.subjects.contains_key(&key)
                || patients.contains(key.as_str())
                || fresh.iter().any(|(k, _)| *k == key)
            {
                continue;
            }
            if let Some(attributes) = si.attributes() {
                fresh.push((key, attributes));
            }
        }
        let keys: Vec<&str> = fresh.iter().map(|(k, _)| k.as_str()).collect();
        let known = store::known_subjects(&self.inner.db, &self.provider, &keys).await?;
        fresh.retain(|(k, _)| !known.contains_key(k));
        Ok(fresh)
    }

    /// Puts each candidate's rows in its tables, or holds it pending.
    async fn place(
        &mut self,
        mut candidates: Vec<(Processed, Box<Accepted>)>,
    ) -> Result<Vec<PendingRow>> {
        // A patient named by identifier is keyed like a Patient id from
        // here on.
        for (_, a) in &mut candidates {
            let f = &mut a.flattened;
            if f.subject.is_none()
                && let Some(si) = &f.subject_identifier
            {
                f.subject = Some(si.key());
            }
        }
        let unknown: Vec<&str> = {
            let mut v: Vec<&str> = candidates
                .iter()
                .filter_map(|(_, a)| a.flattened.subject.as_deref())
                .filter(|s| !self.subjects.contains_key(*s))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let known = store::known_subjects(&self.inner.db, &self.provider, &unknown).await?;
        let mut pending = Vec::new();
        for (p, mut a) in candidates {
            let ty = a.flattened.resource_type.clone();
            let subject = match a.flattened.subject.as_deref() {
                Some(s) => self.subjects.get(s).or_else(|| known.get(s)).copied(),
                None => None,
            };
            match (subject, a.flattened.subject.clone()) {
                (Some(subject), _) => self.rows(&mut a.flattened, Some(subject), &ty)?,
                (None, None) => {
                    if a.flattened
                        .rows
                        .iter()
                        .all(|(t, _)| *t == LakeTable::RawResource)
                    {
                        self.rows(&mut a.flattened, None, &ty)?;
                    } else {
                        // About a patient but naming none (JP-CLINS sends
                        // an Encounter on its own): kept whole as a raw
                        // resource, outside the clinical tables, rather
                        // than lost; the sender is told.
                        let Some(mut raw) = process::raw_only(&a.json, &self.lineage) else {
                            let outcome = conflict_like(
                                &ty,
                                "the resource names no patient (subject), so it cannot be placed in the lake",
                            );
                            self.reject(p, outcome, &["required at subject".to_owned()]);
                            continue;
                        };
                        self.rows(&mut raw, None, &ty)?;
                        self.notice(p.location, format!("{ty}/{}", a.flattened.source_id), "names no patient (subject, or a document's Composition): kept as a raw resource, outside the clinical tables, until a version that names its patient arrives".to_owned());
                    }
                }
                (None, Some(subject)) => {
                    self.count(&ty).pending += 1;
                    let waits = match &a.flattened.subject_identifier {
                        Some(si) => format!(
                            "waits for a Patient with the identifier its subject names (system {}), which identity cannot link by alone: held pending, it joins the lake when that Patient arrives",
                            si.system
                        ),
                        None => format!(
                            "waits for Patient/{subject}, not received yet: held pending, it joins the lake when that Patient arrives"
                        ),
                    };
                    self.notice(p.location, format!("{ty}/{}", a.flattened.source_id), waits);
                    pending.push(PendingRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        resource_type: ty.clone(),
                        source_id: a.flattened.source_id.clone(),
                        subject,
                        location: p.location.to_string(),
                        resource: a.json,
                    });
                    continue;
                }
            }
            self.count(&ty).accepted += 1;
        }
        Ok(pending)
    }

    /// Appends a resource's rows (taken, not copied) to their tables.
    fn rows(&mut self, f: &mut Flattened, subject: Option<Subject>, ty: &str) -> Result<()> {
        let person = subject.map(|s| s.person.to_string());
        let record = subject.and_then(|s| s.record).map(|r| r.to_string());
        for (table, mut row) in std::mem::take(&mut f.rows) {
            if let Some(person) = &person {
                row.set("person_key", Cell::Text(person.clone()));
            }
            if let Some(record) = &record {
                row.set("identity_record", Cell::Text(record.clone()));
            }
            let builder = self
                .builders
                .entry(table)
                .or_insert_with(|| TableBuilder::new(table));
            if let Err(e) = builder.append(&row) {
                // A flattening bug, not the provider's fault: keep going,
                // but say so loudly.
                warn!(resource_type = ty, error = %e, "a flattened row does not fit its table");
                return Err(Error::Corrupt(format!("{ty}/{}: {e}", f.source_id)));
            }
        }
        Ok(())
    }

    /// Pending resources (this submission's, and earlier ones') whose
    /// Patient arrived in this submission join the lake with it.
    async fn join_pending(&mut self) -> Result<()> {
        let subjects: Vec<&str> = self.subjects.keys().map(String::as_str).collect();
        let waiting =
            store::pending_for(&self.inner.db, &self.provider, &self.id, &subjects).await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let this = self.id.to_string();
        let mut ids = Vec::new();
        for w in waiting {
            let Some(subject) = self.subjects.get(&w.subject).copied() else {
                continue;
            };
            let lineage = Lineage {
                provider: self.provider.clone(),
                submission_id: w.origin.clone(),
                ingested_at: Timestamp::from_unix_micros(w.received_us),
            };
            let Some(mut flattened) = process::reflatten(&w.resource, &lineage) else {
                warn!(pending = %w.id, "a pending resource no longer flattens; it stays pending");
                continue;
            };
            self.rows(&mut flattened, Some(subject), &w.resource_type)?;
            if w.origin == this {
                let c = self.count(&w.resource_type);
                c.pending -= 1;
                c.accepted += 1;
            } else {
                self.pending_joined += 1;
            }
            ids.push(w.id);
        }
        store::mark_resolving(&self.inner.db, &self.id, &ids).await
    }

    async fn flush_full(&mut self) -> Result<()> {
        let limit = self.inner.config.rows_per_file;
        let full: Vec<LakeTable> = self
            .builders
            .iter()
            .filter(|(_, b)| b.len() >= limit)
            .map(|(t, _)| *t)
            .collect();
        for table in full {
            self.stage(table).await?;
        }
        Ok(())
    }

    async fn flush_all(&mut self) -> Result<()> {
        let tables: Vec<LakeTable> = self.builders.keys().copied().collect();
        for table in tables {
            self.stage(table).await?;
        }
        if let Some(batch) = self.superseded.finish()? {
            let name = table_name(SUPERSEDED_TABLE)?;
            if let Some(file) = self.inner.lake.stage(&name, vec![batch]).await? {
                self.staged.push((name, file));
            }
        }
        Ok(())
    }

    async fn stage(&mut self, table: LakeTable) -> Result<()> {
        let Some(builder) = self.builders.get_mut(&table) else {
            return Ok(());
        };
        if builder.is_empty() {
            return Ok(());
        }
        let batch = builder.finish();
        let name = table_name(table.name())?;
        if let Some(file) = self.inner.lake.stage(&name, vec![batch]).await? {
            self.staged.push((name, file));
        }
        Ok(())
    }
}

fn table_name(name: &str) -> Result<TableName> {
    Ok(TableName::parse(name)?)
}

fn key_hash(ty: &str, id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    ty.hash(&mut h);
    id.hash(&mut h);
    h.finish()
}

fn conflict_outcome(ty: &str, id: &str) -> serde_json::Value {
    conflict_like(
        ty,
        &format!(
            "{ty}/{id} appears twice in this submission with different content; send a later version in a later submission"
        ),
    )
}

fn conflict_like(ty: &str, diagnostics: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": "processing",
            "diagnostics": diagnostics,
            "expression": [ty],
        }]
    })
}

/// Rows of the `superseded` system table for one submission.
#[derive(Default)]
struct SupersededRows {
    provider: StringBuilder,
    source_type: StringBuilder,
    source_id: StringBuilder,
    submission: StringBuilder,
    by: StringBuilder,
    reason: StringBuilder,
    at: TimestampMicrosecondBuilder,
    len: usize,
}

impl SupersededRows {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        provider: &ProviderCode,
        ty: &str,
        id: &str,
        old: &str,
        by: &SubmissionId,
        reason: &str,
        at: Timestamp,
    ) {
        self.provider.append_value(provider.as_str());
        self.source_type.append_value(ty);
        self.source_id.append_value(id);
        self.submission.append_value(old);
        self.by.append_value(by.to_string());
        self.reason.append_value(reason);
        self.at.append_value(at.unix_micros());
        self.len += 1;
    }

    fn finish(&mut self) -> Result<Option<RecordBatch>> {
        if self.len == 0 {
            return Ok(None);
        }
        let at = self.at.finish().with_timezone("UTC");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.provider.finish()),
            Arc::new(self.source_type.finish()),
            Arc::new(self.source_id.finish()),
            Arc::new(self.submission.finish()),
            Arc::new(self.by.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(at),
        ];
        self.len = 0;
        RecordBatch::try_new(superseded_schema(), columns)
            .map(Some)
            .map_err(|e| Error::Corrupt(format!("superseded rows: {e}")))
    }
}
