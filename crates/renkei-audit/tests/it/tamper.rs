//! Changing any stored byte is found, and located, by verification.

use renkei_audit::{Error, HeadOrigin, canonical_bytes, merkle, verify};
use renkei_store::test_on_both_backends;

use super::*;

/// The stored bytes of one column of one row.
async fn read_bytes(db: &Db, sql: &str, key: i64) -> Vec<u8> {
    sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(db.pool())
        .await
        .expect("row exists")
}

async fn write_bytes(db: &Db, sql: &str, bytes: Vec<u8>, key: i64) {
    let done = sqlx::query(sql)
        .bind(bytes)
        .bind(key)
        .execute(db.pool())
        .await
        .expect("tamper");
    assert_eq!(done.rows_affected(), 1);
}

fn flip(mut bytes: Vec<u8>, at: usize) -> Vec<u8> {
    bytes[at] ^= 0x20;
    bytes
}

test_on_both_backends!(
    async fn altered_entry_data_is_named_by_its_index(t) {
        let log = open(&t.stores).await;
        log.append_many((0..20).map(event).collect()).await.expect("append");
        let db = audit_db(&t.stores).await;
        let data = read_bytes(&db, "SELECT data FROM entries WHERE idx = $1", 7).await;
        let at = data.len() / 2;
        write_bytes(&db, "UPDATE entries SET data = $1 WHERE idx = $2", flip(data, at), 7).await;
        match verify(&t.stores, None).await {
            Err(e @ Error::LeafHashMismatch { index: 7, .. }) => {
                assert!(e.to_string().starts_with("audit entry 7 was altered"), "{e}");
            }
            other => panic!("expected entry 7 to be reported, got {other:?}"),
        }
        log.close().await;
    }
);

test_on_both_backends!(
    async fn altered_leaf_hash_is_named_by_its_index(t) {
        let log = open(&t.stores).await;
        log.append_many((0..20).map(event).collect()).await.expect("append");
        let db = audit_db(&t.stores).await;
        let leaf = read_bytes(&db, "SELECT leaf_hash FROM entries WHERE idx = $1", 12).await;
        write_bytes(&db, "UPDATE entries SET leaf_hash = $1 WHERE idx = $2", flip(leaf, 31), 12)
            .await;
        match verify(&t.stores, None).await {
            Err(Error::LeafHashMismatch { index: 12, .. }) => {}
            other => panic!("expected entry 12 to be reported, got {other:?}"),
        }
        log.close().await;
    }
);

test_on_both_backends!(
    async fn rewritten_entry_is_caught_by_the_head_covering_it(t) {
        let log = open(&t.stores).await;
        // Heads at sizes 1..=5, then one at 15.
        append_one_by_one(&log, 0, 5).await;
        log.append_many((5..15).map(event).collect()).await.expect("append");
        log.close().await;
        // A forger who rewrites entry 8 together with its leaf hash.
        let db = audit_db(&t.stores).await;
        let mut forged = event(8);
        forged.object = "permit-forged".to_owned();
        let data = canonical_bytes(&forged);
        let leaf = merkle::leaf_hash(&data).as_bytes().to_vec();
        write_bytes(&db, "UPDATE entries SET data = $1 WHERE idx = $2", data, 8).await;
        write_bytes(&db, "UPDATE entries SET leaf_hash = $1 WHERE idx = $2", leaf, 8).await;
        match verify(&t.stores, None).await {
            Err(e @ Error::HeadRootMismatch {
                origin: HeadOrigin::Stored,
                tree_size: 15,
                since: 5,
                ..
            }) => {
                assert!(e.to_string().contains("an entry in 5..15 was altered"), "{e}");
            }
            other => panic!("expected the head at 15 to be reported, got {other:?}"),
        }
        // Reopening refuses to sign over the damage.
        match AuditLog::open(&t.stores, clock()).await {
            Err(Error::Tampered(cause)) => {
                assert!(matches!(*cause, Error::HeadRootMismatch { tree_size: 15, .. }), "{cause:?}");
            }
            other => panic!("expected the reopened log to be refused, got {other:?}"),
        }
    }
);

test_on_both_backends!(
    async fn altered_head_signature_or_root_is_named_by_its_size(t) {
        let log = open(&t.stores).await;
        append_one_by_one(&log, 0, 6).await;
        log.close().await;
        let db = audit_db(&t.stores).await;

        let signature = read_bytes(&db, "SELECT signature FROM signed_heads WHERE tree_size = $1", 3).await;
        write_bytes(
            &db,
            "UPDATE signed_heads SET signature = $1 WHERE tree_size = $2",
            flip(signature.clone(), 10),
            3,
        )
        .await;
        match verify(&t.stores, None).await {
            Err(e @ Error::HeadSignatureInvalid {
                origin: HeadOrigin::Stored,
                tree_size: 3,
                since: 2,
            }) => {
                assert!(e.to_string().contains("at size 3"), "{e}");
            }
            other => panic!("expected the head at 3 to be reported, got {other:?}"),
        }
        write_bytes(&db, "UPDATE signed_heads SET signature = $1 WHERE tree_size = $2", signature, 3)
            .await;
        verify(&t.stores, None).await.expect("restored log verifies");

        let root = read_bytes(&db, "SELECT root_hash FROM signed_heads WHERE tree_size = $1", 4).await;
        write_bytes(&db, "UPDATE signed_heads SET root_hash = $1 WHERE tree_size = $2", flip(root, 0), 4)
            .await;
        match verify(&t.stores, None).await {
            Err(Error::HeadSignatureInvalid { tree_size: 4, since: 3, .. }) => {}
            other => panic!("expected the head at 4 to be reported, got {other:?}"),
        }
    }
);

test_on_both_backends!(
    async fn given_head_that_does_not_match_the_log_fails(t) {
        let log = open(&t.stores).await;
        log.append_many((0..10).map(event).collect()).await.expect("append");
        let head10 = log.signed_head().await.expect("head");
        log.append_many((10..20).map(event).collect()).await.expect("append");
        let head20 = log.signed_head().await.expect("head");
        verify(&t.stores, Some(&head10)).await.expect("an earlier head of this log verifies");

        // A head of another log, made with another key.
        let other = other_stores(&t.stores).await;
        let other_log = open(&other.stores).await;
        other_log.append_many((0..10).map(event).collect()).await.expect("append");
        let foreign = other_log.signed_head().await.expect("head");
        other_log.close().await;
        match verify(&t.stores, Some(&foreign)).await {
            Err(Error::HeadKeyMismatch { origin: HeadOrigin::Given, tree_size: 10, .. }) => {}
            other => panic!("expected a key mismatch, got {other:?}"),
        }

        // This log's head, altered.
        let mut altered = head10.clone();
        altered.tree_size = 11;
        match verify(&t.stores, Some(&altered)).await {
            Err(Error::HeadSignatureInvalid { origin: HeadOrigin::Given, tree_size: 11, .. }) => {}
            other => panic!("expected an invalid signature, got {other:?}"),
        }

        // The log cut back to 10 entries, its later heads removed with them:
        // only a head kept outside can tell.
        log.close().await;
        let db = audit_db(&t.stores).await;
        sqlx::query("DELETE FROM entries WHERE idx >= $1")
            .bind(10_i64)
            .execute(db.pool())
            .await
            .expect("truncate entries");
        sqlx::query("DELETE FROM signed_heads WHERE tree_size > $1")
            .bind(10_i64)
            .execute(db.pool())
            .await
            .expect("truncate heads");
        verify(&t.stores, None).await.expect("a cut log is self-consistent");
        match verify(&t.stores, Some(&head20)).await {
            Err(e @ Error::HeadBeyondLog { origin: HeadOrigin::Given, tree_size: 20, entries: 10 }) => {
                assert!(e.to_string().contains("entries 10..20 were removed"), "{e}");
            }
            other => panic!("expected removed entries to be reported, got {other:?}"),
        }
    }
);
