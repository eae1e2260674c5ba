//! Batches of resolutions that become visible together or not at all.
//!
//! Collection resolves a submission's patients chunk by chunk, long before
//! it knows whether the submission will commit. Each chunk's persons,
//! tokens, attribute records and review items are written to `staged_*`
//! tables under the batch (the submission's id), where only later chunks of
//! the same batch see them. When the submission's lake
//! commit lands, [`PersonIndex::commit_batch`] moves them into the index in
//! one transaction; when it is refused, abandoned or interrupted,
//! [`PersonIndex::discard_batch`] deletes them. Both are idempotent, so
//! collection's start-up recovery can repeat whichever a crash cut short.
//!
//! A commit can meet a token another batch gave to another person while
//! this one was staged (two providers sending one new patient at once).
//! The token stays with the person it was committed to first — a token,
//! once given, keeps its person — and the pair is queued for review
//! ([`ReviewReason::ConcurrentLink`]) rather than merged unseen.

use std::collections::{HashMap, HashSet};

use renkei_core::{IdentityBatch, PersonKey};
use renkei_store::sql;
use sqlx::Row;

use crate::curation::ReviewReason;
use crate::index::parse_key;
use crate::{PersonIndex, Result};

/// Statements that delete a batch's staged rows, in an order no foreign key
/// minds.
const DISCARD: [&str; 4] = [
    "DELETE FROM staged_reviews WHERE batch = $1",
    "DELETE FROM staged_records WHERE batch = $1",
    "DELETE FROM staged_tokens WHERE batch = $1",
    "DELETE FROM staged_persons WHERE batch = $1",
];

impl PersonIndex {
    /// Makes everything staged under `batch` visible, in one transaction.
    /// Idempotent: a batch committed already, discarded or never staged is
    /// nothing to do.
    pub async fn commit_batch(&self, batch: &IdentityBatch) -> Result<()> {
        let mut tx = self.begin_locked().await?;
        self.commit_in(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes everything staged under `batch`. Idempotent.
    pub async fn discard_batch(&self, batch: &IdentityBatch) -> Result<()> {
        let mut tx = self.db().begin_write().await?;
        let batch_text = batch.to_string();
        let mut removed = 0;
        for statement in DISCARD {
            removed += sqlx::query(statement)
                .bind(batch_text.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        if removed > 0 {
            tracing::info!(batch = %batch, rows = removed, "staged resolutions discarded");
        }
        Ok(())
    }

    /// How many rows are staged under `batch` (persons, tokens, records,
    /// review items): zero once it is committed or discarded.
    pub async fn staged_rows(&self, batch: &IdentityBatch) -> Result<u64> {
        let mut n = 0;
        for table in [
            "staged_persons",
            "staged_tokens",
            "staged_records",
            "staged_reviews",
        ] {
            let count: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE batch = $1"))
                    .bind(batch.to_string())
                    .fetch_one(self.db().pool())
                    .await?;
            n += u64::try_from(count).unwrap_or(0);
        }
        Ok(n)
    }

    /// Moves `batch`'s staged rows into the index, inside `tx` (which holds
    /// the resolution lock).
    pub(crate) async fn commit_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        batch: &IdentityBatch,
    ) -> Result<()> {
        let batch_text = batch.to_string();
        let now = self.clock().now().unix_micros();
        // A token staged for a person merged away meanwhile names the
        // survivor, as every token of a merged person does.
        sqlx::query(
            "UPDATE staged_tokens SET person_key = (SELECT p.merged_into FROM persons p \
             WHERE p.person_key = staged_tokens.person_key) \
             WHERE batch = $1 AND EXISTS (SELECT 1 FROM persons p \
             WHERE p.person_key = staged_tokens.person_key AND p.merged_into IS NOT NULL)",
        )
        .bind(batch_text.as_str())
        .execute(&mut **tx)
        .await?;
        // Tokens another batch committed meanwhile: they keep their person.
        let taken = sqlx::query(
            "SELECT s.person_key AS staged, s.record_id AS record_id, m.person_key AS held \
             FROM staged_tokens s JOIN match_tokens m ON m.kind = s.kind AND m.token = s.token \
             WHERE s.batch = $1",
        )
        .bind(batch_text.as_str())
        .fetch_all(&mut **tx)
        .await?;
        let mut pairs: HashMap<(PersonKey, PersonKey), String> = HashMap::new();
        for row in &taken {
            let staged = parse_key(&row.try_get::<String, _>("staged")?)?;
            let held = parse_key(&row.try_get::<String, _>("held")?)?;
            if staged != held {
                pairs
                    .entry((staged, held))
                    .or_insert(row.try_get("record_id")?);
            }
        }
        sqlx::query(
            "DELETE FROM staged_tokens WHERE batch = $1 AND EXISTS (SELECT 1 FROM match_tokens m \
             WHERE m.kind = staged_tokens.kind AND m.token = staged_tokens.token)",
        )
        .bind(batch_text.as_str())
        .execute(&mut **tx)
        .await?;
        let statements = [
            "INSERT INTO persons (person_key, created_us) \
             SELECT person_key, created_us FROM staged_persons WHERE batch = $1",
            "INSERT INTO match_tokens (kind, token, person_key, created_us) \
             SELECT kind, token, person_key, created_us FROM staged_tokens WHERE batch = $1",
            "INSERT INTO attribute_records \
             (id, person_key, provider_code, nonce, ciphertext, created_us, link_state) \
             SELECT id, person_key, provider_code, nonce, ciphertext, created_us, link_state \
             FROM staged_records WHERE batch = $1",
            "INSERT INTO review_queue (id, record_id, person_key, other_person, reason, score, \
             state, created_us) \
             SELECT id, record_id, person_key, NULL, reason, NULL, 'open', created_us \
             FROM staged_reviews WHERE batch = $1",
        ];
        let mut moved = 0;
        for statement in statements.into_iter().chain(DISCARD) {
            moved += sqlx::query(statement)
                .bind(batch_text.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
        }
        for ((staged, held), record) in &pairs {
            sqlx::query(
                "INSERT INTO review_queue (id, record_id, person_key, other_person, reason, score, \
                 state, created_us) VALUES ($1, $2, $3, $4, $5, NULL, 'open', $6)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(record.as_str())
            .bind(staged.to_string())
            .bind(held.to_string())
            .bind(ReviewReason::ConcurrentLink.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        tracing::debug!(batch = %batch, rows = moved, contested = pairs.len(), "staged resolutions committed");
        Ok(())
    }
}

/// Which person each of `tokens` names among the tokens `batch` staged.
pub(crate) async fn staged_holders(
    conn: &mut sqlx::AnyConnection,
    batch: &IdentityBatch,
    tokens: &[[u8; 32]],
) -> Result<HashMap<(&'static str, [u8; 32]), PersonKey>> {
    let mut out = HashMap::new();
    let batch_text = batch.to_string();
    let unique: Vec<&[u8; 32]> = tokens.iter().collect::<HashSet<_>>().into_iter().collect();
    for chunk in unique.chunks(sql::rows_per_statement(1)) {
        let text = format!(
            "SELECT kind, token, person_key FROM staged_tokens WHERE batch = $1 AND token IN ({})",
            sql::list(2, chunk.len())
        );
        let mut q = sqlx::query(&text).bind(batch_text.as_str());
        for t in chunk {
            q = q.bind(t.to_vec());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let (key, person) = crate::index::token_row(&row, "a staged")?;
            out.insert(key, person);
        }
    }
    Ok(out)
}
