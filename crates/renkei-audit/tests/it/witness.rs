//! Someone holding a copy of the data directory holds the signing key: they
//! can cut the log back, or rewrite it and re-sign. What is kept outside —
//! a witnessed head, a pinned key — still catches them, and the log refuses
//! to open over an altered entry.

use renkei_audit::{Error, HeadOrigin, Trust, Witness, verify_with_key};
use renkei_store::test_on_both_backends;

use super::*;

async fn cut_back_to(db: &Db, size: i64) {
    sqlx::query("DELETE FROM entries WHERE idx >= $1")
        .bind(size)
        .execute(db.pool())
        .await
        .expect("truncate entries");
    sqlx::query("DELETE FROM signed_heads WHERE tree_size > $1")
        .bind(size)
        .execute(db.pool())
        .await
        .expect("truncate heads");
}

test_on_both_backends!(
    async fn an_altered_entry_is_refused_at_open_naming_its_leaf(t) {
        let log = open(&t.stores).await;
        log.append_many((0..20).map(event).collect()).await.expect("append");
        log.close().await;
        // Only the data is changed, not the stored leaf hash: the stored
        // heads still match the stored leaves, so only recomputing each leaf
        // from its bytes finds it.
        let db = audit_db(&t.stores).await;
        let mut data: Vec<u8> = sqlx::query_scalar("SELECT data FROM entries WHERE idx = $1")
            .bind(7_i64)
            .fetch_one(db.pool())
            .await
            .expect("entry 7");
        let at = data.len() / 2;
        data[at] ^= 0x01;
        sqlx::query("UPDATE entries SET data = $1 WHERE idx = $2")
            .bind(data)
            .bind(7_i64)
            .execute(db.pool())
            .await
            .expect("tamper");
        match AuditLog::open(&t.stores, clock()).await {
            Err(Error::Tampered(cause)) => match *cause {
                Error::LeafHashMismatch { index: 7, .. } => {
                    assert!(cause.to_string().contains("audit entry 7 was altered"), "{cause}");
                }
                other => panic!("expected leaf 7 to be named, got {other:?}"),
            },
            other => panic!("expected the log to be refused, got {other:?}"),
        }
    }
);

test_on_both_backends!(
    async fn a_log_cut_back_below_the_witnessed_head_is_refused_naming_both_sizes(t) {
        let dir = tempfile::tempdir().expect("temp dir");
        let witness = Witness::new(dir.path().join("witness/heads.jsonl"));
        let log = open(&t.stores).await;
        log.append_many((0..20).map(event).collect()).await.expect("append");
        assert!(witness.publish(&log.signed_head().await.expect("head")).expect("publish"));
        log.close().await;

        cut_back_to(&audit_db(&t.stores).await, 12).await;
        // The copy alone cannot tell: its own heads agree with it.
        AuditLog::open(&t.stores, clock()).await.expect("self-consistent").close().await;

        let trust = Trust {
            key: None,
            witnessed: witness.latest().expect("witness reads"),
        };
        match AuditLog::open_trusting(&t.stores, clock(), &trust).await {
            Err(Error::Tampered(cause)) => match *cause {
                Error::HeadBeyondLog {
                    origin: HeadOrigin::Witnessed,
                    tree_size: 20,
                    entries: 12,
                } => {
                    let text = cause.to_string();
                    assert!(text.contains("size 20") && text.contains("(12)"), "{text}");
                }
                other => panic!("expected sizes 20 and 12, got {other:?}"),
            },
            other => panic!("expected the log to be refused, got {other:?}"),
        }
    }
);

test_on_both_backends!(
    async fn a_log_rewritten_and_resigned_with_the_copied_key_fails_the_consistency_proof(t) {
        let dir = tempfile::tempdir().expect("temp dir");
        let witness = Witness::new(dir.path().join("heads.jsonl"));
        let log = open(&t.stores).await;
        log.append_many((0..10).map(event).collect()).await.expect("append");
        assert!(witness.publish(&log.signed_head().await.expect("head")).expect("publish"));
        log.close().await;

        // Entries 6.. are replaced by others, and the key in the copy signs
        // fresh heads over them: internally the log is perfect.
        cut_back_to(&audit_db(&t.stores).await, 6).await;
        let log = open(&t.stores).await;
        log.append_many((100..110).map(event).collect()).await.expect("regrow");
        log.close().await;
        renkei_audit::verify(&t.stores, None).await.expect("internally consistent");

        let trust = Trust {
            key: None,
            witnessed: witness.latest().expect("witness reads"),
        };
        match AuditLog::open_trusting(&t.stores, clock(), &trust).await {
            Err(Error::Tampered(cause)) => {
                assert!(
                    matches!(*cause, Error::HeadRootMismatch { origin: HeadOrigin::Witnessed, tree_size: 10, .. }),
                    "{cause:?}"
                );
            }
            other => panic!("expected the log to be refused, got {other:?}"),
        }

        // A log that only grew since the witnessed head opens and extends it.
        let fresh = other_stores(&t.stores).await;
        let log = open(&fresh.stores).await;
        log.append_many((0..5).map(event).collect()).await.expect("append");
        let witnessed = log.signed_head().await.expect("head");
        log.append_many((5..9).map(event).collect()).await.expect("append");
        log.close().await;
        let trust = Trust { key: Some(log.public_key()), witnessed: Some(witnessed) };
        AuditLog::open_trusting(&fresh.stores, clock(), &trust)
            .await
            .expect("a grown log is consistent with its witness")
            .close()
            .await;
    }
);

test_on_both_backends!(
    async fn a_replaced_key_file_is_refused_against_the_pinned_key(t) {
        let log = open(&t.stores).await;
        log.append_many((0..3).map(event).collect()).await.expect("append");
        let pinned = log.public_key();
        log.close().await;

        // The copy's owner wipes the heads and the key, and starts afresh
        // with a key of their own.
        let db = audit_db(&t.stores).await;
        sqlx::query("DELETE FROM signed_heads").execute(db.pool()).await.expect("wipe heads");
        std::fs::remove_file(t.stores.data_dir().join("keys/audit-ed25519.key")).expect("key");
        let forged = open(&t.stores).await;
        forged.signed_head().await.expect("re-signed");
        let forged_key = forged.public_key();
        forged.close().await;
        assert_ne!(forged_key, pinned);

        let trust = Trust { key: Some(pinned), witnessed: None };
        match AuditLog::open_trusting(&t.stores, clock(), &trust).await {
            Err(e @ Error::KeyNotPinned { .. }) => {
                assert!(e.to_string().contains(&pinned.to_hex()), "{e}");
            }
            other => panic!("expected the key to be refused, got {other:?}"),
        }
        match verify_with_key(&t.stores, &pinned, None).await {
            Err(Error::HeadKeyMismatch { origin: HeadOrigin::Stored, .. }) => {}
            other => panic!("expected the stored heads to fail the pinned key, got {other:?}"),
        }
    }
);
