//! Jobs: long work (an extract build, a relink of the whole index) started
//! by a request that answers `202 Accepted` at once, with `Location:
//! /api/v1/jobs/{id}`, and read back there until it ends (issue 15,
//! finding 10). Work that ran inline was cut by the request timeout, or
//! held a connection for minutes.
//!
//! A job's row lives in the server's own database, so its outcome outlives
//! the request and a restart. A job a stop interrupted is marked failed at
//! the next start: the work itself is crash-safe where it runs (an extract
//! is committed whole or not at all, each merge is its own transaction),
//! so it can simply be started again. Shutdown waits for running jobs.

use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use renkei_core::{AuditEvent, AuditSink, Clock, Outcome, Timestamp, UserId};
use renkei_store::Db;
use serde::Serialize;
use sqlx::Row;

use crate::accounts::User;
use crate::{Error, Problem, Result};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Builds a permit's extract (`POST /api/v1/permits/{id}/extracts`).
    Extract,
    /// The probabilistic pass over the person index
    /// (`POST /api/v1/identity/relink`).
    Relink,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Extract => "extract",
            JobKind::Relink => "relink",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "extract" => Ok(JobKind::Extract),
            "relink" => Ok(JobKind::Relink),
            other => Err(Error::Internal(format!("stored job kind {other:?}"))),
        }
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Still working.
    Running,
    /// Done: `result` holds what it made.
    Succeeded,
    /// Ended without its result: `problem` says why.
    Failed,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "running" => Ok(JobState::Running),
            "succeeded" => Ok(JobState::Succeeded),
            "failed" => Ok(JobState::Failed),
            other => Err(Error::Internal(format!("stored job state {other:?}"))),
        }
    }
}

/// A job, as `GET /api/v1/jobs/{id}` shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Job {
    /// The job's id.
    pub id: String,
    /// What it does.
    pub kind: JobKind,
    /// What it works on (`permit=…`, `index`).
    pub subject: String,
    /// Where it is.
    pub state: JobState,
    /// When it was started (RFC 3339).
    pub created_at: String,
    /// When it ended, if it has.
    pub finished_at: Option<String>,
    /// What it made, once it succeeded (an extract's manifest, a relink's
    /// report).
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Why it failed, as the request would have answered.
    pub problem: Option<Problem>,
    /// Who started it.
    #[serde(skip)]
    pub owner: UserId,
}

/// What a job's work gives back: its result, and what the log records of
/// it (ids and counts).
#[derive(Debug)]
pub struct Done {
    /// The result shown at the job's resource.
    pub result: serde_json::Value,
    /// The audit entry's object, after `job=… kind=…`.
    pub detail: String,
}

/// The jobs of this server.
#[derive(Clone)]
pub struct Jobs {
    db: Db,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditSink>,
    running: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").finish_non_exhaustive()
    }
}

impl Jobs {
    /// Jobs kept in `db` (the server's own database). Jobs left running by
    /// a stop are marked failed.
    pub async fn open(db: Db, clock: Arc<dyn Clock>, audit: Arc<dyn AuditSink>) -> Result<Self> {
        let problem = Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the platform stopped while the job ran; start it again".to_owned(),
        );
        let interrupted = sqlx::query(
            "UPDATE jobs SET state = 'failed', problem = $1, finished_us = $2 WHERE state = 'running'",
        )
        .bind(serde_json::to_string(&problem).map_err(|e| Error::Internal(e.to_string()))?)
        .bind(clock.now().unix_micros())
        .execute(db.pool())
        .await?
        .rows_affected();
        if interrupted > 0 {
            tracing::warn!(
                jobs = interrupted,
                "jobs a stop interrupted are marked failed"
            );
        }
        Ok(Self {
            db,
            clock,
            audit,
            running: Arc::default(),
        })
    }

    /// Starts `work` as a job of `owner`'s and returns it, running. The
    /// work runs to its end even if nobody asks for it again.
    pub async fn start(
        &self,
        kind: JobKind,
        subject: String,
        owner: &User,
        work: BoxFuture<'static, Result<Done>>,
    ) -> Result<Job> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO jobs (id, kind, subject, owner_id, state, created_us) \
             VALUES ($1, $2, $3, $4, 'running', $5)",
        )
        .bind(&id)
        .bind(kind.as_str())
        .bind(&subject)
        .bind(owner.id.to_string())
        .bind(now.unix_micros())
        .execute(self.db.pool())
        .await?;
        let this = self.clone();
        let (job, actor) = (id.clone(), owner.actor());
        let task = tokio::spawn(async move {
            let outcome = work.await;
            if let Err(e) = this.finish(&job, kind, actor, outcome).await {
                tracing::error!(job, error = %e, "cannot record the end of a job; the next start marks it failed");
            }
        });
        {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            running.retain(|t| !t.is_finished());
            running.push(task);
        }
        Ok(Job {
            id,
            kind,
            subject,
            state: JobState::Running,
            created_at: now.to_rfc3339(),
            finished_at: None,
            result: None,
            problem: None,
            owner: owner.id,
        })
    }

    async fn finish(
        &self,
        id: &str,
        kind: JobKind,
        actor: renkei_core::Actor,
        outcome: Result<Done>,
    ) -> Result<()> {
        let (state, result, problem, detail) = match outcome {
            Ok(done) => (JobState::Succeeded, Some(done.result), None, done.detail),
            Err(e) => {
                let problem = e.problem();
                let detail = format!("status={}", problem.status);
                (JobState::Failed, None, Some(problem), detail)
            }
        };
        // What the job did was recorded where it was done (an extract by
        // processing, each merge by identity); this entry ties them to the
        // job. Refused, the job's end is still kept: its result is shown
        // only through requests, each logged before it is answered.
        let entry = AuditEvent {
            at: self.clock.now(),
            actor: actor.clone(),
            action: "job.end".to_owned(),
            object: format!(
                "job={id} kind={} state={} {detail}",
                kind.as_str(),
                state.as_str()
            ),
            outcome: match state {
                JobState::Failed => Outcome::Failed,
                _ => Outcome::Success,
            },
            status: None,
            request_id: None,
        };
        if let Err(e) = self.audit.append(entry).await {
            tracing::warn!(job = id, error = %e, "the audit log did not record the end of a job");
        }
        let problem = problem
            .map(|p| serde_json::to_string(&p))
            .transpose()
            .map_err(|e| Error::Internal(e.to_string()))?;
        sqlx::query(
            "UPDATE jobs SET state = $1, result = $2, problem = $3, finished_us = $4 WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(result.map(|r| r.to_string()))
        .bind(problem)
        .bind(self.clock.now().unix_micros())
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The job `id`, if it exists.
    pub async fn get(&self, id: &str) -> Result<Option<Job>> {
        let row = sqlx::query(
            "SELECT id, kind, subject, owner_id, state, result, problem, created_us, finished_us \
             FROM jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            Error::Internal(format!("stored job {id}: {what}: {e}"))
        };
        let result: Option<String> = row.try_get("result")?;
        let problem: Option<String> = row.try_get("problem")?;
        let owner: String = row.try_get("owner_id")?;
        let finished: Option<i64> = row.try_get("finished_us")?;
        Ok(Some(Job {
            id: row.try_get("id")?,
            kind: JobKind::parse(&row.try_get::<String, _>("kind")?)?,
            subject: row.try_get("subject")?,
            state: JobState::parse(&row.try_get::<String, _>("state")?)?,
            created_at: Timestamp::from_unix_micros(row.try_get("created_us")?).to_rfc3339(),
            finished_at: finished.map(|us| Timestamp::from_unix_micros(us).to_rfc3339()),
            result: result
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(|e| corrupt("result", &e))?,
            problem: problem
                .map(|p| serde_json::from_str(&p))
                .transpose()
                .map_err(|e| corrupt("problem", &e))?,
            owner: UserId::parse(&owner).map_err(|e| corrupt("owner", &e))?,
        }))
    }

    /// Waits for every running job to end (for shutdown and tests).
    pub async fn settled(&self) {
        loop {
            let tasks: Vec<_> =
                std::mem::take(&mut *self.running.lock().unwrap_or_else(PoisonError::into_inner));
            if tasks.is_empty() {
                return;
            }
            for task in tasks {
                if let Err(e) = task.await {
                    tracing::error!(error = %e, "a job's task failed");
                }
            }
        }
    }
}
