//! The registry: recording opt-outs and withdrawals, and answering who is
//! out.
//!
//! Writes go through one writer task that commits whatever requests are
//! waiting in one transaction (group commit): each commit costs a disk
//! flush, and under load many patients' requests share one. Every change
//! gets the next registry version inside that transaction, its audit entry
//! is durable before the commit, and the caller's answer comes after the
//! in-memory index has it — so a patient who is told "recorded" is already
//! out of the next exclusion set.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use renkei_core::{Actor, AuditEvent, AuditSink, Clock, Outcome, PersonKey, Timestamp};
use renkei_store::{Backend, Db, DbName, Migrations, Stores, sql};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::change::{Change, ChangeKind, Channel, OptOutRequest, StandingOptOut, Submitter};
use crate::index::{Index, Persons, Row as IndexRow};
use crate::{DataCategory, DataUse, Error, ExclusionSet, Purpose, Receipt, Result, Scope};

const DB: DbName = DbName::new("optout");
/// Requests committed together at most.
const MAX_BATCH: usize = 256;
/// Rows read per query while catching up (bounds memory at open).
const CATCH_UP_PAGE: i64 = 100_000;
/// How far in the past a requested effective time may lie and still be
/// read as "now" (clocks of portals and forms disagree a little).
const SKEW_US: i64 = 5 * 60 * 1_000_000;

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// What the platform's configuration decides about opt-outs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Whether bereaved family may record or withdraw an opt-out for a
    /// deceased person (遺族による申出).
    pub bereaved_family_may_act: bool,
    /// The data categories a patient may opt out of.
    pub categories: Vec<DataCategory>,
}

impl Default for Policy {
    fn default() -> Self {
        let categories = ["mental_health", "infectious_disease", "reproductive_health"]
            .iter()
            .map(|c| DataCategory::parse(c).expect("valid built-in category"))
            .collect();
        Self {
            bereaved_family_may_act: true,
            categories,
        }
    }
}

enum Op {
    OptOut(OptOutRequest),
    Withdraw(crate::change::WithdrawalRequest),
}

struct Job {
    op: Op,
    actor: Actor,
    reply: oneshot::Sender<Result<Change>>,
}

/// What the reader side shares with the writer.
#[derive(Debug)]
struct Shared {
    db: Db,
    index: RwLock<Index>,
    persons: Arc<RwLock<Persons>>,
    catching_up: tokio::sync::Mutex<()>,
}

/// The opt-out registry. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
    jobs: mpsc::Sender<Job>,
    pub(crate) clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditSink>,
    policy: Arc<Policy>,
    /// Figures from the lake: whether a death is on record.
    lake: Arc<dyn renkei_core::LakeStatistics>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("db", &self.shared.db)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Registry {
    /// Opens the `optout` database, loads the registry into memory and
    /// starts the writer.
    pub async fn open(
        stores: &Stores,
        clock: Arc<dyn Clock>,
        audit: Arc<dyn AuditSink>,
        policy: Policy,
        lake: Arc<dyn renkei_core::LakeStatistics>,
    ) -> Result<Self> {
        let db = stores.database(DB, &migrations()).await?;
        let shared = Arc::new(Shared {
            db,
            index: RwLock::new(Index::default()),
            persons: Arc::new(RwLock::new(Persons::default())),
            catching_up: tokio::sync::Mutex::new(()),
        });
        shared.catch_up().await?;
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            shared: shared.clone(),
            clock: clock.clone(),
            audit: audit.clone(),
        };
        tokio::spawn(writer.run(rx));
        Ok(Self {
            shared,
            jobs,
            clock,
            audit,
            policy: Arc::new(policy),
            lake,
        })
    }

    /// The configured policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The database, for readiness checks and tests.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// Records an opt-out for `actor` (who is audited as having done it)
    /// and answers with its receipt and the version it made.
    pub async fn opt_out(&self, request: OptOutRequest, actor: Actor) -> Result<Change> {
        let mut request = request;
        self.check_submitter(&request.submitter)?;
        self.check_bereaved(&request.submitter, &request.person)
            .await?;
        self.check_scope(&request.scope)?;
        let now = self.clock.now().unix_micros();
        request.effective_from = Some(match request.effective_from {
            None => Timestamp::from_unix_micros(now),
            Some(t) if t.unix_micros() < now - SKEW_US => {
                return Err(Error::Invalid(format!(
                    "effective_from {t}: an opt-out cannot take effect in the past"
                )));
            }
            Some(t) => Timestamp::from_unix_micros(t.unix_micros().max(now)),
        });
        self.submit(Op::OptOut(request), actor).await
    }

    /// Withdraws one of the person's opt-outs, at once.
    pub async fn withdraw(
        &self,
        request: crate::change::WithdrawalRequest,
        actor: Actor,
    ) -> Result<Change> {
        self.check_submitter(&request.submitter)?;
        self.check_bereaved(&request.submitter, &request.person)
            .await?;
        self.submit(Op::Withdraw(request), actor).await
    }

    async fn submit(&self, op: Op, actor: Actor) -> Result<Change> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { op, actor, reply })
            .await
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    fn check_submitter(&self, submitter: &Submitter) -> Result<()> {
        match submitter {
            Submitter::Person => Ok(()),
            Submitter::Representative { relation } | Submitter::BereavedFamily { relation }
                if relation.trim().is_empty() =>
            {
                Err(Error::Invalid(
                    "submitter.relation: a representative or family member must state the relation"
                        .to_owned(),
                ))
            }
            Submitter::BereavedFamily { .. } if !self.policy.bereaved_family_may_act => {
                Err(Error::NotAllowed(
                    "this platform's policy does not let bereaved family act for a deceased person \
                     (optout.bereaved_family_may_act = false)"
                        .to_owned(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Bereaved family act only for a person whose death is on record.
    async fn check_bereaved(&self, submitter: &Submitter, person: &PersonKey) -> Result<()> {
        if matches!(submitter, Submitter::BereavedFamily { .. })
            && !self
                .lake
                .deceased(*person)
                .await
                .map_err(|e| Error::Unavailable(e.to_string()))?
        {
            return Err(Error::NoDeathOnRecord(*person));
        }
        Ok(())
    }

    fn check_scope(&self, scope: &Scope) -> Result<()> {
        if let Scope::Purposes(ps) = scope {
            for p in ps {
                if let Purpose::Category(c) = p
                    && !self.policy.categories.contains(c)
                {
                    let offered: Vec<&str> =
                        self.policy.categories.iter().map(|c| c.as_str()).collect();
                    return Err(Error::Invalid(format!(
                        "scope: data category {:?} is not one this platform offers ({})",
                        c.as_str(),
                        offered.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// The registry version: how many changes are on record.
    pub async fn version(&self) -> Result<u64> {
        self.shared.catch_up().await
    }

    /// Who is kept out of `used` at instant `at`, by the registry as it
    /// stands now; the answer names the version it reflects.
    pub async fn exclusion(&self, used: &DataUse, at: Timestamp) -> Result<ExclusionSet> {
        let version = self.shared.catch_up().await?;
        self.exclusion_as_of(used, at, version).await
    }

    /// Who was kept out of `used` at instant `at` by the registry as it
    /// stood at `version` — how an extract's recorded version is checked
    /// later. Refuses a version the registry has not reached.
    pub async fn exclusion_as_of(
        &self,
        used: &DataUse,
        at: Timestamp,
        version: u64,
    ) -> Result<ExclusionSet> {
        let current = self.shared.catch_up().await?;
        if version > current {
            return Err(Error::Invalid(format!(
                "version {version}: the registry is at version {current}"
            )));
        }
        let bitmap = {
            let index = self.shared.index.read().unwrap_or_else(|e| e.into_inner());
            let persons = self
                .shared
                .persons
                .read()
                .unwrap_or_else(|e| e.into_inner());
            index.excluded(used, at.unix_micros(), version, persons.len())
        };
        Ok(ExclusionSet {
            version,
            at,
            used: used.clone(),
            bitmap,
            persons: self.shared.persons.clone(),
        })
    }

    /// A person's whole history, oldest first.
    pub async fn history(&self, person: &PersonKey) -> Result<Vec<Change>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM optout_changes WHERE person_key = $1 ORDER BY version"
        ))
        .bind(person.to_string())
        .fetch_all(self.shared.db.pool())
        .await?;
        rows.iter().map(change_from_row).collect()
    }

    /// The change with this receipt number.
    pub async fn change(&self, receipt: &Receipt) -> Result<Change> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM optout_changes WHERE receipt = $1"
        ))
        .bind(receipt.as_str())
        .fetch_optional(self.shared.db.pool())
        .await?
        .ok_or_else(|| Error::UnknownReceipt(receipt.clone()))?;
        change_from_row(&row)
    }

    /// A person's opt-outs not withdrawn, as they stand at `at`: in force,
    /// or waiting for their effective time.
    pub async fn status(&self, person: &PersonKey, at: Timestamp) -> Result<Vec<StandingOptOut>> {
        let history = self.history(person).await?;
        let withdrawn: HashSet<&Receipt> = history
            .iter()
            .filter_map(|c| match &c.kind {
                ChangeKind::Withdrawal { withdraws } => Some(withdraws),
                ChangeKind::OptOut => None,
            })
            .collect();
        Ok(history
            .iter()
            .filter(|c| c.kind == ChangeKind::OptOut && !withdrawn.contains(&c.receipt))
            .map(|c| StandingOptOut {
                change: c.clone(),
                in_force: c.effective_from <= at,
            })
            .collect())
    }

    /// Opt-outs in force at `at` by the registry as it stood then (the
    /// changes recorded before `at`), by scope key.
    pub async fn in_force_by_scope(&self, at: Timestamp) -> Result<Vec<(String, u64)>> {
        self.shared.catch_up().await?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM optout_changes WHERE recorded_us < $1")
                .bind(at.unix_micros())
                .fetch_one(self.shared.db.pool())
                .await?;
        let version = u64::try_from(version.unwrap_or(0)).unwrap_or(0);
        let index = self.shared.index.read().unwrap_or_else(|e| e.into_inner());
        Ok(index.in_force_by_scope(at.unix_micros(), version))
    }

    /// Changes recorded before `before`, per month (in Japan) by kind and
    /// scope, before any suppression: `(month, kind, scope, count)`.
    pub async fn monthly_counts(
        &self,
        before: Timestamp,
    ) -> Result<Vec<(String, String, Scope, u64)>> {
        let rows = sqlx::query(
            "SELECT recorded_month, kind, scope, COUNT(*) AS n FROM optout_changes \
             WHERE recorded_us < $1 \
             GROUP BY recorded_month, kind, scope ORDER BY recorded_month, kind, scope",
        )
        .bind(before.unix_micros())
        .fetch_all(self.shared.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let scope: String = r.try_get("scope")?;
                Ok((
                    r.try_get("recorded_month")?,
                    r.try_get("kind")?,
                    Scope::parse(&scope).map_err(|e| Error::Corrupt(format!("scope: {e}")))?,
                    u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// Records many opt-outs in one transaction: the migration of a
    /// predecessor's registry (paper forms on record), and the benchmark.
    /// One audit entry names the versions the import made. Requests are
    /// checked as [`opt_out`](Self::opt_out) checks them; one bad request
    /// refuses the whole import, naming it.
    pub async fn import(&self, requests: Vec<OptOutRequest>, actor: Actor) -> Result<(u64, u64)> {
        let now = self.clock.now().unix_micros();
        for (i, r) in requests.iter().enumerate() {
            self.check_submitter(&r.submitter)
                .and_then(|()| self.check_scope(&r.scope))
                .map_err(|e| Error::Invalid(format!("import request {i}: {e}")))?;
        }
        let db = &self.shared.db;
        let mut tx = db.begin_write().await?;
        let start = lock_version(&mut tx, db.backend()).await?;
        let mut ordinals = Ordinals::default();
        let month = month_of(now);
        let mut version = start;
        let columns = 14;
        for chunk in requests.chunks(sql::rows_per_statement(columns)) {
            let mut persons_new = Vec::new();
            for r in chunk {
                if let (o, true) = ordinals.get_or_assign(&mut tx, &r.person).await? {
                    persons_new.push((o, r.person));
                }
            }
            insert_persons(&mut tx, &persons_new).await?;
            let text = format!(
                "INSERT INTO optout_changes (version, receipt, kind, person_key, ordinal, scope, \
                 effective_us, recorded_us, recorded_month, submitter, relation, channel, \
                 withdraws, withdraws_receipt) VALUES {}",
                sql::values(chunk.len(), columns)
            );
            let mut q = sqlx::query(&text);
            for r in chunk {
                version += 1;
                let effective = r.effective_from.map_or(now, |t| t.unix_micros().max(now));
                q = q
                    .bind(version as i64)
                    .bind(Receipt::generate().to_string())
                    .bind("opt_out")
                    .bind(r.person.to_string())
                    .bind(i64::from(ordinals.known[&r.person]))
                    .bind(r.scope.to_string())
                    .bind(effective)
                    .bind(now)
                    .bind(month.clone())
                    .bind(r.submitter.kind())
                    .bind(r.submitter.relation().map(str::to_owned))
                    .bind(r.channel.as_str())
                    .bind(None::<i64>)
                    .bind(None::<String>);
            }
            q.execute(&mut *tx).await?;
        }
        set_version(&mut tx, version).await?;
        let event = AuditEvent {
            at: Timestamp::from_unix_micros(now),
            actor,
            action: "optout.import".to_owned(),
            object: format!(
                "versions {}..={version} ({} opt-outs)",
                start + 1,
                requests.len()
            ),
            outcome: Outcome::Success,
            status: None,
            request_id: None,
        };
        self.audit.append(event).await.map_err(Error::Audit)?;
        tx.commit().await?;
        self.shared.catch_up().await?;
        Ok((start + 1, version))
    }
}

const COLUMNS: &str = "version, receipt, kind, person_key, scope, effective_us, recorded_us, \
                       submitter, relation, channel, withdraws_receipt";

fn change_from_row(r: &sqlx::any::AnyRow) -> Result<Change> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| Error::Corrupt(format!("{what}: {e}"));
    let receipt: String = r.try_get("receipt")?;
    let kind: String = r.try_get("kind")?;
    let person: String = r.try_get("person_key")?;
    let scope: String = r.try_get("scope")?;
    let submitter: String = r.try_get("submitter")?;
    let channel: String = r.try_get("channel")?;
    Ok(Change {
        version: u64::try_from(r.try_get::<i64, _>("version")?)
            .map_err(|e| corrupt("version", &e))?,
        receipt: Receipt::parse(&receipt).map_err(|e| corrupt("receipt", &e))?,
        kind: match kind.as_str() {
            "opt_out" => ChangeKind::OptOut,
            "withdrawal" => {
                let w: Option<String> = r.try_get("withdraws_receipt")?;
                let w = w.ok_or_else(|| Error::Corrupt("a withdrawal names no opt-out".into()))?;
                ChangeKind::Withdrawal {
                    withdraws: Receipt::parse(&w).map_err(|e| corrupt("withdraws", &e))?,
                }
            }
            other => return Err(Error::Corrupt(format!("change kind {other:?}"))),
        },
        person: PersonKey::parse(&person).map_err(|e| corrupt("person", &e))?,
        scope: Scope::parse(&scope).map_err(|e| corrupt("scope", &e))?,
        effective_from: Timestamp::from_unix_micros(r.try_get("effective_us")?),
        recorded_at: Timestamp::from_unix_micros(r.try_get("recorded_us")?),
        submitter: Submitter::from_parts(&submitter, r.try_get("relation")?)
            .ok_or_else(|| Error::Corrupt(format!("submitter {submitter:?}")))?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| Error::Corrupt(format!("channel {channel:?}")))?,
    })
}

/// `YYYY-MM` in Japan.
fn month_of(unix_us: i64) -> String {
    Timestamp::from_unix_micros(unix_us).jst_month()
}

/// Reads the version under the write lock: SQLite's `BEGIN IMMEDIATE`
/// holds it already; PostgreSQL takes the row's lock, so concurrent
/// writers (several servers on one database) take versions in turn and
/// a reader never sees a later version before an earlier one commits.
async fn lock_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
) -> Result<u64> {
    let text = match backend {
        Backend::Sqlite => "SELECT version FROM optout_meta WHERE id = 1",
        Backend::Postgres => "SELECT version FROM optout_meta WHERE id = 1 FOR UPDATE",
    };
    let v: i64 = sqlx::query_scalar(text).fetch_one(&mut **tx).await?;
    u64::try_from(v).map_err(|_| Error::Corrupt(format!("registry version {v}")))
}

async fn set_version(tx: &mut sqlx::Transaction<'static, sqlx::Any>, version: u64) -> Result<()> {
    sqlx::query("UPDATE optout_meta SET version = $1 WHERE id = 1")
        .bind(version as i64)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_persons(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    persons: &[(u32, PersonKey)],
) -> Result<()> {
    for chunk in persons.chunks(sql::rows_per_statement(2)) {
        let text = format!(
            "INSERT INTO optout_persons (ordinal, person_key) VALUES {}",
            sql::values(chunk.len(), 2)
        );
        let mut q = sqlx::query(&text);
        for (o, p) in chunk {
            q = q.bind(i64::from(*o)).bind(p.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Person numbers within one transaction: known ones looked up, new ones
/// numbered after the largest.
#[derive(Default)]
struct Ordinals {
    known: HashMap<PersonKey, u32>,
    next: Option<u32>,
}

impl Ordinals {
    /// The person's number, and whether it is new (to be inserted).
    async fn get_or_assign(
        &mut self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        person: &PersonKey,
    ) -> Result<(u32, bool)> {
        if let Some(o) = self.known.get(person) {
            return Ok((*o, false));
        }
        let found: Option<i64> =
            sqlx::query_scalar("SELECT ordinal FROM optout_persons WHERE person_key = $1")
                .bind(person.to_string())
                .fetch_optional(&mut **tx)
                .await?;
        let (o, new) = match found {
            Some(o) => (
                u32::try_from(o).map_err(|_| Error::Corrupt(format!("person number {o}")))?,
                false,
            ),
            None => {
                let next = match self.next {
                    Some(n) => n,
                    None => {
                        let max: Option<i64> =
                            sqlx::query_scalar("SELECT MAX(ordinal) FROM optout_persons")
                                .fetch_one(&mut **tx)
                                .await?;
                        max.map_or(0, |m| m as u32 + 1)
                    }
                };
                self.next = Some(next.checked_add(1).ok_or_else(|| {
                    Error::Corrupt("more persons than a roaring bitmap can number".into())
                })?);
                (next, true)
            }
        };
        self.known.insert(*person, o);
        Ok((o, new))
    }
}

impl Shared {
    /// Applies every change committed after the index's version; answers
    /// the version the index then holds.
    async fn catch_up(&self) -> Result<u64> {
        let _one_at_a_time = self.catching_up.lock().await;
        loop {
            let from = self.index.read().unwrap_or_else(|e| e.into_inner()).version;
            let rows = sqlx::query(
                "SELECT version, ordinal, person_key, scope, effective_us, withdraws \
                 FROM optout_changes WHERE version > $1 ORDER BY version LIMIT $2",
            )
            .bind(from as i64)
            .bind(CATCH_UP_PAGE)
            .fetch_all(self.db.pool())
            .await?;
            if rows.is_empty() {
                return Ok(from);
            }
            let page = rows.len() as i64;
            let parsed = rows
                .iter()
                .map(|r| {
                    let person: String = r.try_get("person_key")?;
                    let scope: String = r.try_get("scope")?;
                    Ok(IndexRow {
                        version: r.try_get::<i64, _>("version")? as u64,
                        ordinal: u32::try_from(r.try_get::<i64, _>("ordinal")?)
                            .map_err(|e| Error::Corrupt(format!("person number: {e}")))?,
                        person: PersonKey::parse(&person)
                            .map_err(|e| Error::Corrupt(format!("person: {e}")))?,
                        scope: Scope::parse(&scope)
                            .map_err(|e| Error::Corrupt(format!("scope: {e}")))?,
                        effective_us: r.try_get("effective_us")?,
                        withdraws: r.try_get::<Option<i64>, _>("withdraws")?.map(|v| v as u64),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            {
                let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
                let mut persons = self.persons.write().unwrap_or_else(|e| e.into_inner());
                index.apply(parsed, &mut persons)?;
            }
            if page < CATCH_UP_PAGE {
                return Ok(self.index.read().unwrap_or_else(|e| e.into_inner()).version);
            }
        }
    }
}

/// The single writer: takes the requests waiting, commits them together.
struct Writer {
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditSink>,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let jobs = std::mem::take(&mut batch);
            self.commit(jobs).await;
        }
    }

    async fn commit(&self, jobs: Vec<Job>) {
        let mut accepted: Vec<(Job, Change)> = Vec::with_capacity(jobs.len());
        let result = self.write(jobs, &mut accepted).await;
        match result {
            Ok(()) => {
                // Answer only once the index has the changes: the caller's
                // next exclusion set must already hold them.
                if let Err(e) = self.shared.catch_up().await {
                    tracing::error!(error = %e, "opt-out index cannot catch up after a commit");
                }
                for (job, change) in accepted {
                    let _ = job.reply.send(Ok(change));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, changes = accepted.len(), "opt-out batch not committed");
                let message = e.to_string();
                for (job, change) in accepted {
                    let _ = job.reply.send(Err(match &e {
                        Error::Audit(_) => Error::Audit(renkei_core::Error::Service {
                            function: "audit",
                            message: message.clone(),
                        }),
                        _ => Error::Corrupt(format!(
                            "change {} was not committed: {message}",
                            change.receipt
                        )),
                    }));
                }
            }
        }
    }

    /// Checks and inserts each job in one transaction; answers refused
    /// jobs at once and leaves the accepted ones (with their changes) in
    /// `accepted` for the caller to answer after the commit.
    async fn write(&self, jobs: Vec<Job>, accepted: &mut Vec<(Job, Change)>) -> Result<()> {
        let db = &self.shared.db;
        let mut tx = db.begin_write().await?;
        let mut version = lock_version(&mut tx, db.backend()).await?;
        let now = self.clock.now().unix_micros();
        let month = month_of(now);
        let mut ordinals = Ordinals::default();
        // Opt-outs withdrawn within this batch, which the database does
        // not show yet.
        let mut withdrawn_here: HashMap<u64, Receipt> = HashMap::new();
        for job in jobs {
            let recorded = Timestamp::from_unix_micros(now);
            let checked =
                match &job.op {
                    Op::OptOut(r) => Ok((
                        Change {
                            version: version + 1,
                            receipt: Receipt::generate(),
                            kind: ChangeKind::OptOut,
                            person: r.person,
                            scope: r.scope.clone(),
                            effective_from: r.effective_from.unwrap_or(recorded),
                            recorded_at: recorded,
                            submitter: r.submitter.clone(),
                            channel: r.channel,
                        },
                        None,
                    )),
                    Op::Withdraw(w) => check_withdrawal(&mut tx, w, &withdrawn_here).await.map(
                        |(target, scope)| {
                            let change = Change {
                                version: version + 1,
                                receipt: Receipt::generate(),
                                kind: ChangeKind::Withdrawal {
                                    withdraws: w.opt_out.clone(),
                                },
                                person: w.person,
                                scope,
                                effective_from: recorded,
                                recorded_at: recorded,
                                submitter: w.submitter.clone(),
                                channel: w.channel,
                            };
                            withdrawn_here.insert(target, change.receipt.clone());
                            (change, Some(target))
                        },
                    ),
                };
            let (change, withdraws) = match checked {
                Ok(c) => c,
                Err(e) if is_refusal(&e) => {
                    let _ = job.reply.send(Err(e));
                    continue;
                }
                Err(e) => {
                    let _ = job.reply.send(Err(Error::Corrupt(e.to_string())));
                    return Err(e);
                }
            };
            let (ordinal, new) = ordinals.get_or_assign(&mut tx, &change.person).await?;
            if new {
                insert_persons(&mut tx, &[(ordinal, change.person)]).await?;
            }
            let withdraws_receipt = match &change.kind {
                ChangeKind::Withdrawal { withdraws } => Some(withdraws.to_string()),
                ChangeKind::OptOut => None,
            };
            sqlx::query(
                "INSERT INTO optout_changes (version, receipt, kind, person_key, ordinal, scope, \
                 effective_us, recorded_us, recorded_month, submitter, relation, channel, \
                 withdraws, withdraws_receipt) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(change.version as i64)
            .bind(change.receipt.to_string())
            .bind(match change.kind {
                ChangeKind::OptOut => "opt_out",
                ChangeKind::Withdrawal { .. } => "withdrawal",
            })
            .bind(change.person.to_string())
            .bind(i64::from(ordinal))
            .bind(change.scope.to_string())
            .bind(change.effective_from.unix_micros())
            .bind(now)
            .bind(month.clone())
            .bind(change.submitter.kind())
            .bind(change.submitter.relation().map(str::to_owned))
            .bind(change.channel.as_str())
            .bind(withdraws.map(|v| v as i64))
            .bind(withdraws_receipt)
            .execute(&mut *tx)
            .await?;
            version += 1;
            accepted.push((job, change));
        }
        if accepted.is_empty() {
            tx.rollback().await?;
            return Ok(());
        }
        set_version(&mut tx, version).await?;
        // Logged before visible: the entries are durable before the commit
        // makes the changes count.
        let events = accepted.iter().map(|(job, change)| {
            self.audit.append(AuditEvent {
                at: change.recorded_at,
                actor: job.actor.clone(),
                action: match change.kind {
                    ChangeKind::OptOut => "optout.opt_out".to_owned(),
                    ChangeKind::Withdrawal { .. } => "optout.withdraw".to_owned(),
                },
                object: format!(
                    "receipt={} person={} scope={} version={} channel={}",
                    change.receipt,
                    change.person,
                    change.scope,
                    change.version,
                    change.channel.as_str()
                ),
                outcome: Outcome::Success,
                status: None,
                request_id: None,
            })
        });
        futures::future::try_join_all(events)
            .await
            .map_err(Error::Audit)?;
        if let Err(e) = tx.commit().await {
            let receipts: Vec<String> = accepted
                .iter()
                .map(|(_, c)| c.receipt.to_string())
                .collect();
            let note = AuditEvent {
                at: self.clock.now(),
                actor: Actor::System {
                    component: "optout".to_owned(),
                },
                action: "optout.rolled_back".to_owned(),
                object: format!("receipts {}", receipts.join(",")),
                outcome: Outcome::Failed,
                status: None,
                request_id: None,
            };
            if let Err(audit) = self.audit.append(note).await {
                tracing::error!(error = %audit, "cannot record a rolled-back opt-out batch");
            }
            return Err(e.into());
        }
        Ok(())
    }
}

/// Refusals answer one request; anything else fails the batch.
fn is_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::UnknownReceipt(_) | Error::NotYours(_) | Error::AlreadyWithdrawn { .. }
    )
}

/// The version and scope of the opt-out a withdrawal names, if the
/// person may withdraw it.
async fn check_withdrawal(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    w: &crate::change::WithdrawalRequest,
    withdrawn_here: &HashMap<u64, Receipt>,
) -> Result<(u64, Scope)> {
    let row = sqlx::query(
        "SELECT o.version, o.person_key, o.scope, w.receipt AS withdrawn_by \
         FROM optout_changes o LEFT JOIN optout_changes w ON w.withdraws = o.version \
         WHERE o.receipt = $1 AND o.kind = 'opt_out'",
    )
    .bind(w.opt_out.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| Error::UnknownReceipt(w.opt_out.clone()))?;
    let person: String = row.try_get("person_key")?;
    if person != w.person.to_string() {
        return Err(Error::NotYours(w.opt_out.clone()));
    }
    let version = row.try_get::<i64, _>("version")? as u64;
    let by: Option<String> = row.try_get("withdrawn_by")?;
    let by = match by {
        Some(text) => Some(Receipt::parse(&text).map_err(|e| Error::Corrupt(e.to_string()))?),
        None => withdrawn_here.get(&version).cloned(),
    };
    if let Some(by) = by {
        return Err(Error::AlreadyWithdrawn {
            receipt: w.opt_out.clone(),
            by,
        });
    }
    let scope: String = row.try_get("scope")?;
    let scope = Scope::parse(&scope).map_err(|e| Error::Corrupt(format!("scope: {e}")))?;
    Ok((version, scope))
}
