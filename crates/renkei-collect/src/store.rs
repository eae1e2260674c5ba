//! The collection database: every statement is here, portable across
//! SQLite and PostgreSQL (`$n` parameters, BIGINT times in µs, bytes).

use std::collections::HashMap;

use renkei_core::{PersonKey, ProviderCode, RecordId};
use renkei_store::{Db, DbName, Migrations, sql};
use sqlx::Row;

use crate::submission::{Receipt, SubmissionId, SubmissionState};
use crate::{Error, Result};

pub(crate) const DB: DbName = DbName::new("collect");

pub(crate) fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// The person a provider's Patient resource id resolved to, and the
/// identity record it was resolved through (`None` for subjects recorded
/// before records were kept): every lake row about that Patient carries
/// both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Subject {
    pub(crate) person: PersonKey,
    pub(crate) record: Option<RecordId>,
}

/// The version of a source resource the platform holds.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub(crate) submission_id: String,
    pub(crate) last_updated: Option<i64>,
    pub(crate) hash: [u8; 16],
    pub(crate) deleted: bool,
}

/// A version to record for a submission.
#[derive(Clone, Debug)]
pub(crate) struct VersionRow {
    pub(crate) resource_type: String,
    pub(crate) source_id: String,
    pub(crate) last_updated: Option<i64>,
    pub(crate) hash: [u8; 16],
    pub(crate) deleted: bool,
}

/// A resource to hold pending.
#[derive(Clone, Debug)]
pub(crate) struct PendingRow {
    pub(crate) id: String,
    pub(crate) resource_type: String,
    pub(crate) source_id: String,
    pub(crate) subject: String,
    pub(crate) location: String,
    pub(crate) resource: Vec<u8>,
}

/// A pending resource read back.
#[derive(Clone, Debug)]
pub(crate) struct OpenPending {
    pub(crate) id: String,
    pub(crate) origin: String,
    pub(crate) received_us: i64,
    pub(crate) resource_type: String,
    pub(crate) subject: String,
    pub(crate) resource: Vec<u8>,
}

pub(crate) async fn insert_submission(
    db: &Db,
    id: &SubmissionId,
    provider: &ProviderCode,
    received_us: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO submissions (id, provider_code, state, received_us) VALUES ($1, $2, $3, $4)",
    )
    .bind(id.to_string())
    .bind(provider.as_str())
    .bind(SubmissionState::Receiving.as_str())
    .bind(received_us)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The versions held for `keys` (type, id) of `provider`.
pub(crate) async fn held_versions(
    db: &Db,
    provider: &ProviderCode,
    keys: &[(String, String)],
) -> Result<HashMap<(String, String), Held>> {
    let mut by_type: HashMap<&str, Vec<&str>> = HashMap::new();
    for (t, id) in keys {
        by_type.entry(t.as_str()).or_default().push(id.as_str());
    }
    let mut out = HashMap::new();
    let mut conn = db.pool().acquire().await?;
    for (ty, ids) in by_type {
        for chunk in ids.chunks(sql::rows_per_statement(1)) {
            let text = format!(
                "SELECT source_id, submission_id, last_updated_us, content_hash, deleted \
                 FROM source_versions WHERE provider_code = $1 AND resource_type = $2 \
                 AND source_id IN ({})",
                sql::list(3, chunk.len())
            );
            let mut q = sqlx::query(&text).bind(provider.as_str()).bind(ty);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&mut *conn).await? {
                let hash: Vec<u8> = row.try_get("content_hash")?;
                let deleted: i64 = row.try_get("deleted")?;
                out.insert(
                    (ty.to_owned(), row.try_get::<String, _>("source_id")?),
                    Held {
                        submission_id: row.try_get("submission_id")?,
                        last_updated: row.try_get("last_updated_us")?,
                        hash: hash
                            .try_into()
                            .map_err(|_| Error::Corrupt("a content hash is not 16 bytes".into()))?,
                        deleted: deleted != 0,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// The persons of `provider`'s Patient resource ids, as committed.
pub(crate) async fn known_subjects(
    db: &Db,
    provider: &ProviderCode,
    patient_ids: &[&str],
) -> Result<HashMap<String, Subject>> {
    let mut out = HashMap::new();
    let mut conn = db.pool().acquire().await?;
    for chunk in patient_ids.chunks(sql::rows_per_statement(1)) {
        let text = format!(
            "SELECT patient_id, person_key, identity_record FROM subjects WHERE provider_code = $1 \
             AND patient_id IN ({})",
            sql::list(2, chunk.len())
        );
        let mut q = sqlx::query(&text).bind(provider.as_str());
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let key: String = row.try_get("person_key")?;
            let person = PersonKey::parse(&key)
                .map_err(|e| Error::Corrupt(format!("stored person key: {e}")))?;
            let record = row
                .try_get::<Option<String>, _>("identity_record")?
                .map(|r| RecordId::parse(&r))
                .transpose()
                .map_err(|e| Error::Corrupt(format!("stored identity record: {e}")))?;
            out.insert(row.try_get("patient_id")?, Subject { person, record });
        }
    }
    Ok(out)
}

/// Stages a chunk's bookkeeping rows, invisible until [`finish_commit`]
/// moves them. The three `stage_*` functions run in one transaction per
/// chunk (the caller's): with `synchronous=FULL` every autocommitted
/// statement was a WAL fsync of its own, about a hundred per chunk.
pub(crate) async fn stage_versions(
    conn: &mut sqlx::AnyConnection,
    id: &SubmissionId,
    provider: &ProviderCode,
    rows: &[VersionRow],
) -> Result<()> {
    let id = id.to_string();
    for chunk in rows.chunks(sql::rows_per_statement(7)) {
        let text = format!(
            "INSERT INTO source_versions_staged (submission_id, provider_code, resource_type, \
             source_id, last_updated_us, content_hash, deleted) VALUES {}",
            sql::values(chunk.len(), 7)
        );
        let mut q = sqlx::query(&text);
        for r in chunk {
            q = q
                .bind(id.as_str())
                .bind(provider.as_str())
                .bind(r.resource_type.as_str())
                .bind(r.source_id.as_str())
                .bind(r.last_updated)
                .bind(r.hash.to_vec())
                .bind(i64::from(r.deleted));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn stage_subjects(
    conn: &mut sqlx::AnyConnection,
    id: &SubmissionId,
    provider: &ProviderCode,
    rows: &[(String, Subject)],
) -> Result<()> {
    let id = id.to_string();
    for chunk in rows.chunks(sql::rows_per_statement(5)) {
        let text = format!(
            "INSERT INTO subjects_staged (submission_id, provider_code, patient_id, person_key, identity_record) \
             VALUES {} ON CONFLICT (submission_id, patient_id) DO UPDATE SET \
             person_key = excluded.person_key, identity_record = excluded.identity_record",
            sql::values(chunk.len(), 5)
        );
        let mut q = sqlx::query(&text);
        for (patient, subject) in chunk {
            q = q
                .bind(id.as_str())
                .bind(provider.as_str())
                .bind(patient.as_str())
                .bind(subject.person.to_string())
                .bind(subject.record.map(|r| r.to_string()));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn stage_pending(
    conn: &mut sqlx::AnyConnection,
    id: &SubmissionId,
    provider: &ProviderCode,
    received_us: i64,
    rows: &[PendingRow],
) -> Result<()> {
    let id = id.to_string();
    for chunk in rows.chunks(sql::rows_per_statement(10)) {
        let text = format!(
            "INSERT INTO pending (id, provider_code, origin_submission, state, resource_type, \
             source_id, subject, received_us, location, resource) VALUES {}",
            sql::values(chunk.len(), 10)
        );
        let mut q = sqlx::query(&text);
        for r in chunk {
            q = q
                .bind(r.id.as_str())
                .bind(provider.as_str())
                .bind(id.as_str())
                .bind("staged")
                .bind(r.resource_type.as_str())
                .bind(r.source_id.as_str())
                .bind(r.subject.as_str())
                .bind(received_us)
                .bind(r.location.as_str())
                .bind(r.resource.as_slice());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Pending resources of `provider` waiting for one of `subjects`: open
/// ones from committed submissions, and this submission's own staged ones.
pub(crate) async fn pending_for(
    db: &Db,
    provider: &ProviderCode,
    this: &SubmissionId,
    subjects: &[&str],
) -> Result<Vec<OpenPending>> {
    let mut out = Vec::new();
    let mut conn = db.pool().acquire().await?;
    for chunk in subjects.chunks(sql::rows_per_statement(1)) {
        let text = format!(
            "SELECT id, origin_submission, received_us, resource_type, subject, resource FROM pending \
             WHERE provider_code = $1 AND ((state = 'open' AND resolving_in IS NULL) \
             OR (state = 'staged' AND origin_submission = $2)) AND subject IN ({})",
            sql::list(3, chunk.len())
        );
        let mut q = sqlx::query(&text)
            .bind(provider.as_str())
            .bind(this.to_string());
        for s in chunk {
            q = q.bind(*s);
        }
        for row in q.fetch_all(&mut *conn).await? {
            out.push(OpenPending {
                id: row.try_get("id")?,
                origin: row.try_get("origin_submission")?,
                received_us: row.try_get("received_us")?,
                resource_type: row.try_get("resource_type")?,
                subject: row.try_get("subject")?,
                resource: row.try_get("resource")?,
            });
        }
    }
    Ok(out)
}

/// Marks pending resources as joining the lake with submission `this`:
/// older ones become resolved when it commits; its own staged ones are
/// removed, since they never waited beyond it.
pub(crate) async fn mark_resolving(db: &Db, this: &SubmissionId, ids: &[String]) -> Result<()> {
    let this = this.to_string();
    for chunk in ids.chunks(sql::rows_per_statement(1)) {
        let list = sql::list(2, chunk.len());
        let text =
            format!("UPDATE pending SET resolving_in = $1 WHERE state = 'open' AND id IN ({list})");
        let mut q = sqlx::query(&text).bind(this.as_str());
        for id in chunk {
            q = q.bind(id.as_str());
        }
        q.execute(db.pool()).await?;
        let text = format!(
            "DELETE FROM pending WHERE state = 'staged' AND origin_submission = $1 AND id IN ({list})"
        );
        let mut q = sqlx::query(&text).bind(this.as_str());
        for id in chunk {
            q = q.bind(id.as_str());
        }
        q.execute(db.pool()).await?;
    }
    Ok(())
}

/// An earlier committed submission of `provider` with the same content.
pub(crate) async fn same_content(
    db: &Db,
    provider: &ProviderCode,
    sha256: &str,
) -> Result<Option<Receipt>> {
    let row = sqlx::query(
        "SELECT receipt FROM submissions WHERE provider_code = $1 AND content_sha256 = $2 \
         AND state = 'committed' ORDER BY received_us LIMIT 1",
    )
    .bind(provider.as_str())
    .bind(sha256)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| parse_receipt(&r.try_get::<String, _>("receipt")?))
        .transpose()
}

/// The submission is read: it records its receipt and figures and enters
/// `committing`, after which recovery looks for its lake commit.
pub(crate) async fn begin_commit(
    db: &Db,
    receipt: &Receipt,
    stats: &[(&str, &str, i64)],
) -> Result<()> {
    let id = receipt.submission_id.to_string();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE submissions SET state = $2, content_sha256 = $3, bytes = $4, receipt = $5 WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(SubmissionState::Committing.as_str())
    .bind(receipt.content_sha256.as_str())
    .bind(receipt.bytes as i64)
    .bind(receipt_json(receipt)?)
    .execute(&mut *tx)
    .await?;
    for chunk in stats.chunks(sql::rows_per_statement(5)) {
        let text = format!(
            "INSERT INTO submission_stats (submission_id, provider_code, resource_type, metric, value) VALUES {}",
            sql::values(chunk.len(), 5)
        );
        let mut q = sqlx::query(&text);
        for (ty, metric, value) in chunk {
            q = q
                .bind(id.as_str())
                .bind(receipt.provider.as_str())
                .bind(*ty)
                .bind(*metric)
                .bind(*value);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The lake commit landed (or there was nothing to commit): what was
/// staged becomes current, in one transaction.
pub(crate) async fn finish_commit(
    db: &Db,
    id: &SubmissionId,
    lake_version: Option<u64>,
    committed_us: i64,
) -> Result<Receipt> {
    let sid = id.to_string();
    let mut tx = db.begin_write().await?;
    let stored: String = sqlx::query_scalar("SELECT receipt FROM submissions WHERE id = $1")
        .bind(sid.as_str())
        .fetch_one(&mut *tx)
        .await?;
    let mut receipt = parse_receipt(&stored)?;
    receipt.state = SubmissionState::Committed;
    receipt.lake_version = lake_version;
    receipt.committed_at = Some(renkei_core::Timestamp::from_unix_micros(committed_us));
    let statements = [
        "INSERT INTO source_versions (provider_code, resource_type, source_id, submission_id, \
         last_updated_us, content_hash, deleted) \
         SELECT provider_code, resource_type, source_id, submission_id, last_updated_us, content_hash, deleted \
         FROM source_versions_staged WHERE submission_id = $1 \
         ON CONFLICT (provider_code, resource_type, source_id) DO UPDATE SET \
         submission_id = excluded.submission_id, last_updated_us = excluded.last_updated_us, \
         content_hash = excluded.content_hash, deleted = excluded.deleted",
        "DELETE FROM source_versions_staged WHERE submission_id = $1",
        "INSERT INTO subjects (provider_code, patient_id, person_key, submission_id, identity_record) \
         SELECT provider_code, patient_id, person_key, submission_id, identity_record FROM subjects_staged \
         WHERE submission_id = $1 \
         ON CONFLICT (provider_code, patient_id) DO UPDATE SET \
         person_key = excluded.person_key, submission_id = excluded.submission_id, \
         identity_record = excluded.identity_record",
        "DELETE FROM subjects_staged WHERE submission_id = $1",
        "UPDATE pending SET state = 'open' WHERE origin_submission = $1 AND state = 'staged'",
        "UPDATE pending SET state = 'resolved', resolved_in = $1, resolving_in = NULL WHERE resolving_in = $1",
    ];
    for statement in statements {
        sqlx::query(statement)
            .bind(sid.as_str())
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE submissions SET state = $2, committed_us = $3, lake_version = $4, receipt = $5 WHERE id = $1",
    )
    .bind(sid.as_str())
    .bind(SubmissionState::Committed.as_str())
    .bind(committed_us)
    .bind(lake_version.map(|v| v as i64))
    .bind(receipt_json(&receipt)?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(receipt)
}

/// Abandons a submission: nothing it staged counts, and it is marked
/// failed with `reason` (or removed entirely when `forget`, for a resend
/// of content already committed).
pub(crate) async fn abandon(db: &Db, id: &SubmissionId, reason: &str, forget: bool) -> Result<()> {
    let sid = id.to_string();
    let mut tx = db.begin_write().await?;
    for statement in [
        "DELETE FROM source_versions_staged WHERE submission_id = $1",
        "DELETE FROM subjects_staged WHERE submission_id = $1",
        "DELETE FROM pending WHERE origin_submission = $1 AND state = 'staged'",
        "UPDATE pending SET resolving_in = NULL WHERE resolving_in = $1",
        "DELETE FROM submission_stats WHERE submission_id = $1",
    ] {
        sqlx::query(statement)
            .bind(sid.as_str())
            .execute(&mut *tx)
            .await?;
    }
    if forget {
        sqlx::query("DELETE FROM submissions WHERE id = $1")
            .bind(sid.as_str())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("UPDATE submissions SET state = $2, failure = $3 WHERE id = $1")
            .bind(sid.as_str())
            .bind(SubmissionState::Failed.as_str())
            .bind(reason)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A submission's state, `None` for one never recorded (or forgotten as
/// a resend of content committed before).
pub(crate) async fn state_of(db: &Db, id: &SubmissionId) -> Result<Option<SubmissionState>> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM submissions WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    state.map(|s| SubmissionState::parse(&s)).transpose()
}

/// Submissions a crash left unfinished: (id, state).
pub(crate) async fn unfinished(db: &Db) -> Result<Vec<(SubmissionId, SubmissionState)>> {
    let rows = sqlx::query(
        "SELECT id, state FROM submissions WHERE state IN ('receiving', 'committing') ORDER BY id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                SubmissionId::parse(&r.try_get::<String, _>("id")?)
                    .map_err(|e| Error::Corrupt(e.to_string()))?,
                SubmissionState::parse(&r.try_get::<String, _>("state")?)?,
            ))
        })
        .collect()
}

pub(crate) async fn receipt(db: &Db, id: &SubmissionId) -> Result<Option<Receipt>> {
    let row = sqlx::query("SELECT receipt FROM submissions WHERE id = $1 AND receipt IS NOT NULL")
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| parse_receipt(&r.try_get::<String, _>("receipt")?))
        .transpose()
}

pub(crate) async fn recent(
    db: &Db,
    provider: Option<&ProviderCode>,
    limit: u32,
) -> Result<Vec<Receipt>> {
    let rows =
        match provider {
            Some(p) => sqlx::query(
                "SELECT receipt FROM submissions WHERE provider_code = $1 AND receipt IS NOT NULL \
                 ORDER BY received_us DESC LIMIT $2",
            )
            .bind(p.as_str())
            .bind(i64::from(limit))
            .fetch_all(db.pool())
            .await?,
            None => {
                sqlx::query(
                    "SELECT receipt FROM submissions WHERE receipt IS NOT NULL \
                 ORDER BY received_us DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(db.pool())
                .await?
            }
        };
    rows.iter()
        .map(|r| parse_receipt(&r.try_get::<String, _>("receipt")?))
        .collect()
}

/// Pending resources of `provider` still waiting (in committed
/// submissions).
pub(crate) async fn open_pending_count(db: &Db, provider: &ProviderCode) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pending WHERE provider_code = $1 AND state = 'open'",
    )
    .bind(provider.as_str())
    .fetch_one(db.pool())
    .await?;
    Ok(n.max(0) as u64)
}

fn receipt_json(receipt: &Receipt) -> Result<String> {
    serde_json::to_string(receipt).map_err(|e| Error::Corrupt(format!("receipt: {e}")))
}

fn parse_receipt(text: &str) -> Result<Receipt> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("stored receipt: {e}")))
}
