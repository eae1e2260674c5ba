//! The audit database: its migrations and every query on it, in portable SQL
//! (`$1` parameters, `BIGINT` integers, bytes) that the Any driver runs on
//! SQLite and PostgreSQL alike.

use renkei_store::{DbName, Migrations};
use sqlx::{AnyConnection, AnyPool, Row};

use crate::head::{KeyId, SignedTreeHead};
use crate::merkle::Hash;
use crate::{Error, Result};

/// The audit function's database.
pub(crate) const DB: DbName = DbName::new("audit");

/// Where the signing key lives, under the data directory.
pub(crate) const KEY_FILE: &str = "keys/audit-ed25519.key";

/// Rows per multi-row `INSERT`: four parameters each keeps a statement
/// under SQLite's historical limit of 999 parameters, and far fewer round
/// trips than one statement per row on PostgreSQL.
const ROWS_PER_INSERT: usize = 200;

/// Rows fetched per query when streaming the log.
pub(crate) const PAGE: i64 = 10_000;

pub(crate) fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// An entry ready to be written: its canonical bytes and their leaf hash,
/// computed by the appending task rather than the single writer.
#[derive(Debug)]
pub(crate) struct NewEntry {
    pub at_us: i64,
    pub data: Vec<u8>,
    pub leaf: Hash,
}

/// An entry as stored, unchecked.
#[derive(Debug)]
pub(crate) struct RawEntry {
    pub idx: i64,
    pub data: Vec<u8>,
    pub leaf_hash: Vec<u8>,
}

/// An index or size as the database holds it. The log cannot reach 2^63
/// entries, so this holds for every value the writer produces.
pub(crate) fn db_int(value: u64) -> i64 {
    i64::try_from(value).expect("audit indices and sizes stay below 2^63")
}

/// Writes entries `first..first + entries.len()` on `conn` (inside the
/// batch's transaction).
pub(crate) async fn insert_entries(
    conn: &mut AnyConnection,
    first: u64,
    entries: &[&NewEntry],
) -> Result<(), sqlx::Error> {
    let mut index = first;
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from("INSERT INTO entries (idx, at_us, data, leaf_hash) VALUES ");
        for i in 0..chunk.len() {
            let p = i * 4;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4));
        }
        let mut query = sqlx::query(&sql);
        for entry in chunk {
            query = query
                .bind(db_int(index))
                .bind(entry.at_us)
                .bind(entry.data.clone())
                .bind(entry.leaf.as_bytes().to_vec());
            index += 1;
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Stores a signed tree head. A head already stored at the same size is kept
/// (heads are never replaced).
pub(crate) async fn insert_head(
    conn: &mut AnyConnection,
    head: &SignedTreeHead,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signed_heads (tree_size, timestamp_us, root_hash, signature, key_id) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tree_size) DO NOTHING",
    )
    .bind(db_int(head.tree_size))
    .bind(head.timestamp.unix_micros())
    .bind(head.root_hash.as_bytes().to_vec())
    .bind(head.signature.to_vec())
    .bind(head.key_id.to_hex())
    .execute(conn)
    .await?;
    Ok(())
}

/// The index the next entry gets: one past the highest stored.
pub(crate) async fn next_index(pool: &AnyPool) -> Result<u64> {
    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries")
        .fetch_one(pool)
        .await
        .map_err(Error::db("counting audit entries"))?;
    Ok(u64::try_from(next).unwrap_or(0))
}

/// Entries with `from <= idx < to`, at most `limit`, in order.
pub(crate) async fn entry_page(
    pool: &AnyPool,
    from: u64,
    to: Option<u64>,
    limit: i64,
) -> Result<Vec<RawEntry>> {
    let rows = sqlx::query(
        "SELECT idx, data, leaf_hash FROM entries WHERE idx >= $1 AND idx < $2 \
         ORDER BY idx LIMIT $3",
    )
    .bind(db_int(from))
    .bind(to.map_or(i64::MAX, db_int))
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(Error::db("reading audit entries"))?;
    rows.iter()
        .map(|r| {
            Ok(RawEntry {
                idx: r.try_get("idx")?,
                data: r.try_get("data")?,
                leaf_hash: r.try_get("leaf_hash")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Error::db("reading audit entries"))
}

/// Up to [`PAGE`] signed tree heads with `tree_size >= from`, smallest
/// first.
pub(crate) async fn head_page(pool: &AnyPool, from: u64) -> Result<Vec<SignedTreeHead>> {
    let rows = sqlx::query(
        "SELECT tree_size, timestamp_us, root_hash, signature, key_id FROM signed_heads \
         WHERE tree_size >= $1 ORDER BY tree_size LIMIT $2",
    )
    .bind(db_int(from))
    .bind(PAGE)
    .fetch_all(pool)
    .await
    .map_err(Error::db("reading signed tree heads"))?;
    rows.iter().map(head_from_row).collect()
}

/// The stored head with the largest tree size.
pub(crate) async fn latest_head(pool: &AnyPool) -> Result<Option<SignedTreeHead>> {
    let row = sqlx::query(
        "SELECT tree_size, timestamp_us, root_hash, signature, key_id FROM signed_heads \
         ORDER BY tree_size DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .map_err(Error::db("reading the latest signed tree head"))?;
    row.as_ref().map(head_from_row).transpose()
}

fn head_from_row(row: &sqlx::any::AnyRow) -> Result<SignedTreeHead> {
    let read = |e| Error::db("reading signed tree heads")(e);
    let tree_size: i64 = row.try_get("tree_size").map_err(read)?;
    let timestamp_us: i64 = row.try_get("timestamp_us").map_err(read)?;
    let root: Vec<u8> = row.try_get("root_hash").map_err(read)?;
    let signature: Vec<u8> = row.try_get("signature").map_err(read)?;
    let key_id: String = row.try_get("key_id").map_err(read)?;
    let malformed = |reason: String| Error::HeadMalformed { tree_size, reason };
    Ok(SignedTreeHead {
        tree_size: u64::try_from(tree_size).map_err(|_| malformed("negative tree size".into()))?,
        timestamp: renkei_core::Timestamp::from_unix_micros(timestamp_us),
        root_hash: Hash::from_slice(&root)
            .ok_or_else(|| malformed(format!("root hash has {} bytes, not 32", root.len())))?,
        signature: signature
            .as_slice()
            .try_into()
            .map_err(|_| malformed(format!("signature has {} bytes, not 64", signature.len())))?,
        key_id: KeyId::from_hex(&key_id)
            .ok_or_else(|| malformed(format!("key id {key_id:?} is not 64 hex digits")))?,
    })
}
