//! The environment around workspaces: every query is audited before it
//! runs and kept in the history with its outcome and compute time (the
//! metering of the analysis environment); researchers save queries by name.

use std::sync::Arc;

use renkei_core::{Actor, AuditEvent, AuditSink, Clock, Outcome, PermitId, Timestamp};
use renkei_store::{Db, DbName, Migrations, Stores};
use serde::Serialize;

use crate::workspace::{QueryResult, Workspace};
use crate::{Error, Result};

const DB: DbName = DbName::new("analysis");

/// id, user, SQL, started, elapsed µs, rows, outcome, message.
type HistoryRow = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// One query as the history keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// Its number.
    pub id: i64,
    /// Who ran it.
    pub username: String,
    /// The SQL.
    pub sql: String,
    /// When it started.
    pub started_at: Timestamp,
    /// How long it ran, ms.
    pub elapsed_ms: Option<i64>,
    /// Rows returned.
    pub rows: Option<i64>,
    /// `ok`, `refused`, `timed_out` or `cancelled` (its request ended
    /// first).
    pub outcome: Option<String>,
    /// The engine's message for a refused query.
    pub message: Option<String>,
}

/// A saved query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SavedQuery {
    /// Its name.
    pub name: String,
    /// Who saved it.
    pub username: String,
    /// The SQL.
    pub sql: String,
    /// When.
    pub saved_at: Timestamp,
}

/// A history row whose query has not ended: on drop, recorded as
/// `cancelled` with the time it ran (from a task of its own, since `Drop`
/// cannot wait).
struct Unfinished {
    db: Option<Db>,
    id: i64,
    started: std::time::Instant,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        let (id, elapsed) = (self.id, self.started.elapsed());
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            let elapsed = i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX);
            let done = sqlx::query(
                "UPDATE queries SET elapsed_us = $2, outcome = 'cancelled', \
                 message = 'the request ended before the query; it was stopped' \
                 WHERE id = $1 AND outcome IS NULL",
            )
            .bind(id)
            .bind(elapsed)
            .execute(db.pool())
            .await;
            if let Err(e) = done {
                tracing::warn!(query = id, error = %e, "a cancelled query's outcome was not recorded");
            }
        });
    }
}

/// The analysis environment.
pub struct Environment {
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) peers: crate::Peers,
    /// Output checks running at once in this process: one, so that a
    /// large table takes one core of the blocking pool, never all of them.
    pub(crate) checks: Arc<tokio::sync::Semaphore>,
    /// Permits with a proposal being computed.
    pub(crate) proposing: Arc<std::sync::Mutex<std::collections::HashSet<PermitId>>>,
    /// Each permit's memory pool, while any of its workspaces is open.
    pools: std::sync::Mutex<
        std::collections::HashMap<
            PermitId,
            std::sync::Weak<dyn datafusion::execution::memory_pool::MemoryPool>,
        >,
    >,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Environment {
    /// Opens the `analysis` database.
    pub async fn open(
        stores: &Stores,
        clock: Arc<dyn Clock>,
        audit: Arc<dyn AuditSink>,
        peers: crate::Peers,
    ) -> Result<Self> {
        let db = stores.database(DB, &migrations()).await?;
        Ok(Self {
            db,
            clock,
            audit,
            peers,
            checks: Arc::new(tokio::sync::Semaphore::new(1)),
            proposing: Arc::default(),
            pools: std::sync::Mutex::default(),
        })
    }

    /// The memory pool of `permit`'s queries in this process: one pool of
    /// `bytes` shared by every workspace of the permit open at once, so
    /// that concurrent queries share the permit's memory instead of each
    /// getting all of it.
    pub fn memory_pool(
        &self,
        permit: PermitId,
        bytes: usize,
    ) -> Arc<dyn datafusion::execution::memory_pool::MemoryPool> {
        let mut pools = match self.pools.lock() {
            Ok(pools) => pools,
            Err(poisoned) => poisoned.into_inner(),
        };
        pools.retain(|_, pool| pool.strong_count() > 0);
        if let Some(pool) = pools.get(&permit).and_then(std::sync::Weak::upgrade) {
            return pool;
        }
        let pool = crate::workspace::memory_pool(bytes);
        pools.insert(permit, Arc::downgrade(&pool));
        pool
    }

    /// The database, for readiness checks and tests.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Runs `sql` in `workspace` for `username`: audited first, then run,
    /// then kept in the history with its outcome and time. Returns the
    /// query's number and its result.
    pub async fn run(
        &self,
        workspace: &Workspace,
        username: &str,
        actor: Actor,
        sql: &str,
    ) -> Result<(i64, Result<QueryResult>)> {
        let now = self.clock.now();
        let id = self.next_id().await?;
        self.audit
            .append(AuditEvent {
                at: now,
                actor,
                action: "analysis.query".to_owned(),
                object: format!("permit={} query={id}", workspace.permit()),
                outcome: Outcome::Success,
                status: None,
                request_id: None,
            })
            .await
            .map_err(Error::Audit)?;
        sqlx::query(
            "INSERT INTO queries (id, permit_id, username, sql_text, started_us) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(workspace.permit().to_string())
        .bind(username)
        .bind(sql)
        .bind(now.unix_micros())
        .execute(self.db.pool())
        .await?;
        // If the caller goes away mid-query (the client hung up, the
        // request timed out), the query is stopped (`Workspace::query`)
        // and this records it as cancelled, with the compute it used.
        let mut unfinished = Unfinished {
            db: Some(self.db.clone()),
            id,
            started: std::time::Instant::now(),
        };
        let result = workspace.query(sql).await;
        unfinished.db = None;
        let (elapsed, rows, outcome, message) = match &result {
            Ok(r) => (
                i64::try_from(r.elapsed.as_micros()).unwrap_or(i64::MAX),
                Some(r.rows as i64),
                "ok",
                None,
            ),
            Err(e) => (
                self.clock.now().unix_micros() - now.unix_micros(),
                None,
                if matches!(e, Error::TimedOut { .. }) {
                    "timed_out"
                } else {
                    "refused"
                },
                Some(e.to_string()),
            ),
        };
        sqlx::query(
            "UPDATE queries SET elapsed_us = $2, rows_returned = $3, outcome = $4, message = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(elapsed)
        .bind(rows)
        .bind(outcome)
        .bind(message)
        .execute(self.db.pool())
        .await?;
        Ok((id, result))
    }

    async fn next_id(&self) -> Result<i64> {
        // Ids are taken inside the insert's uniqueness: a racing writer's
        // insert fails and the caller sees a database error, never two
        // queries under one number.
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM queries")
            .fetch_one(self.db.pool())
            .await?;
        Ok(max.unwrap_or(0) + 1)
    }

    /// The permit's history, newest first.
    pub async fn history(&self, permit: PermitId, limit: i64) -> Result<Vec<HistoryEntry>> {
        let rows: Vec<HistoryRow> =
            sqlx::query_as(
                "SELECT id, username, sql_text, started_us, elapsed_us, rows_returned, outcome, message \
                 FROM queries WHERE permit_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(permit.to_string())
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, username, sql, started, elapsed, rows, outcome, message)| HistoryEntry {
                    id,
                    username,
                    sql,
                    started_at: Timestamp::from_unix_micros(started),
                    elapsed_ms: elapsed.map(|us| us / 1000),
                    rows,
                    outcome,
                    message,
                },
            )
            .collect())
    }

    /// Compute used by the permit's queries, seconds (for billing).
    pub async fn compute_seconds(&self, permit: PermitId) -> Result<f64> {
        let us: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(elapsed_us) AS BIGINT) FROM queries WHERE permit_id = $1",
        )
        .bind(permit.to_string())
        .fetch_one(self.db.pool())
        .await?;
        Ok(us.unwrap_or(0) as f64 / 1e6)
    }

    /// Saves (or replaces) a query under `name`.
    pub async fn save(
        &self,
        permit: PermitId,
        username: &str,
        name: &str,
        sql: &str,
    ) -> Result<SavedQuery> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::Query(
                "name: give the query a name of 1–100 characters".to_owned(),
            ));
        }
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO saved_queries (permit_id, name, username, sql_text, saved_us) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (permit_id, name) DO UPDATE SET username = excluded.username, sql_text = excluded.sql_text, saved_us = excluded.saved_us",
        )
        .bind(permit.to_string())
        .bind(name)
        .bind(username)
        .bind(sql)
        .bind(now.unix_micros())
        .execute(self.db.pool())
        .await?;
        Ok(SavedQuery {
            name: name.to_owned(),
            username: username.to_owned(),
            sql: sql.to_owned(),
            saved_at: now,
        })
    }

    /// The permit's saved queries, by name.
    pub async fn saved(&self, permit: PermitId) -> Result<Vec<SavedQuery>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT name, username, sql_text, saved_us FROM saved_queries WHERE permit_id = $1 ORDER BY name",
        )
        .bind(permit.to_string())
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, username, sql, saved)| SavedQuery {
                name,
                username,
                sql,
                saved_at: Timestamp::from_unix_micros(saved),
            })
            .collect())
    }
}
