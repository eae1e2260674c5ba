//! Appending, reading back, proofs, heads and reopening.

use std::collections::BTreeSet;

use renkei_audit::merkle::{empty_root, verify_consistency, verify_inclusion};
use renkei_audit::{Error, MAX_ENTRIES_PER_READ, SignedTreeHead, canonical_bytes, merkle, verify};
use renkei_core::AuditSink;
use renkei_store::test_on_both_backends;

use super::*;

test_on_both_backends!(
    async fn appended_entries_read_back_and_verify(t) {
        let log = open(&t.stores).await;
        append_one_by_one(&log, 0, 10).await;
        let events: Vec<_> = (10..110).map(event).collect();
        let receipts = log.append_many(events).await.expect("append many");
        let indices: Vec<u64> = receipts.iter().map(|r| r.index).collect();
        assert_eq!(indices, (10..110).collect::<Vec<_>>());
        assert_eq!(log.size(), 110);

        let entries = log.entries(0, 110).await.expect("read back");
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(entry.index, i as u64);
            assert_eq!(entry.event, event(i as u64));
            assert_eq!(entry.leaf_hash, merkle::leaf_hash(&canonical_bytes(&event(i as u64))));
        }

        let head = log.signed_head().await.expect("head");
        assert_eq!(head.tree_size, 110);
        assert_eq!(head.root_hash, log.root(110).expect("root"));
        head.verify(&log.public_key()).expect("head signature verifies");

        let report = verify(&t.stores, Some(&head)).await.expect("log verifies");
        assert_eq!(report.entries, 110);
        assert!(report.to_string().starts_with("110 entries, "), "{report}");
        log.ping().await.expect("log is ready");

        // Entries are wire values too (the auditors' API).
        let json = serde_json::to_value(&entries[3]).expect("entry serializes");
        assert_eq!(json["index"], 3);
        assert_eq!(json["leaf_hash"], entries[3].leaf_hash.to_hex());
        let back: renkei_audit::StoredEntry = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, entries[3]);
        assert_eq!(report.root, head.root_hash);
        // One head per single append, at least one for the bulk load.
        assert!(report.heads >= 11, "{report:?}");
        log.close().await;
    }
);

test_on_both_backends!(
    async fn concurrent_appenders_get_distinct_contiguous_indices(t) {
        let log = open(&t.stores).await;
        let mut tasks = Vec::new();
        for task in 0..50u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..20u64 {
                    let n = task * 20 + i;
                    let receipt = log.append(event(n)).await.expect("append");
                    got.push((receipt.index, n));
                }
                got
            }));
        }
        let mut by_index = Vec::new();
        for task in tasks {
            by_index.extend(task.await.expect("appender task"));
        }
        let indices: BTreeSet<u64> = by_index.iter().map(|(index, _)| *index).collect();
        assert_eq!(indices, (0..1000).collect::<BTreeSet<_>>(), "indices not distinct or not contiguous");
        assert_eq!(log.size(), 1000);

        // Each receipt names the entry holding that appender's event.
        let mut stored = log.entries(0, 1000).await.expect("read back");
        stored.sort_by_key(|e| e.index);
        for (index, n) in by_index {
            assert_eq!(stored[index as usize].event, event(n), "entry {index}");
        }
        let report = verify(&t.stores, None).await.expect("log verifies");
        assert_eq!(report.entries, 1000);
        assert_eq!(report.root, log.root(1000).expect("root"));
        log.close().await;
    }
);

test_on_both_backends!(
    async fn proofs_from_the_log_verify_with_the_pure_functions(t) {
        let log = open(&t.stores).await;
        log.append_many((0..37).map(event).collect()).await.expect("append");
        let entries = log.entries(0, 37).await.expect("read back");
        for size in [1, 2, 5, 16, 17, 36, 37] {
            let root = log.root(size).expect("root");
            for index in 0..size {
                let proof = log.inclusion_proof(index, size).expect("inclusion proof");
                let leaf = &entries[index as usize].leaf_hash;
                proof.verify(leaf, &root).expect("proof verifies");
                verify_inclusion(leaf, index, size, &proof.path, &root).expect("pure check");
                let json = serde_json::to_string(&proof).expect("proof serializes");
                let back: merkle::InclusionProof = serde_json::from_str(&json).expect("reads back");
                assert_eq!(back, proof);
            }
            for first in 0..=size {
                let proof = log.consistency_proof(first, size).expect("consistency proof");
                let first_root = log.root(first).expect("root");
                verify_consistency(first, size, &first_root, &root, &proof.path)
                    .expect("consistency verifies");
            }
        }
        assert_eq!(log.root(0).expect("root"), empty_root());

        match log.inclusion_proof(5, 38) {
            Err(e @ Error::TreeSizeOutOfRange { tree_size: 38, min: 1, max: 37 }) => {
                assert!(e.is_caller_error());
            }
            other => panic!("expected a tree size out of range, got {other:?}"),
        }
        match log.inclusion_proof(9, 9) {
            Err(e @ Error::IndexOutOfRange { index: 9, tree_size: 9 }) => {
                assert_eq!(
                    e.to_string(),
                    "leaf index 9 is out of range for tree size 9; valid indices are 0..9"
                );
            }
            other => panic!("expected an index out of range, got {other:?}"),
        }
        match log.consistency_proof(10, 5) {
            Err(Error::TreeSizeOutOfRange { tree_size: 10, min: 0, max: 5 }) => {}
            other => panic!("expected a first size out of range, got {other:?}"),
        }
        match log.consistency_proof(3, 40) {
            Err(Error::TreeSizeOutOfRange { tree_size: 40, min: 0, max: 37 }) => {}
            other => panic!("expected a second size out of range, got {other:?}"),
        }
        match log.entries(30, 40).await {
            Err(Error::RangeOutOfRange { start: 30, end: 40, size: 37, .. }) => {}
            other => panic!("expected a range out of range, got {other:?}"),
        }
        match log.entries(0, MAX_ENTRIES_PER_READ + 1).await {
            Err(Error::RangeOutOfRange { .. }) => {}
            other => panic!("expected a range out of range, got {other:?}"),
        }
        log.close().await;
    }
);

test_on_both_backends!(
    async fn reopening_rebuilds_the_same_root(t) {
        let log = open(&t.stores).await;
        append_one_by_one(&log, 0, 3).await;
        log.append_many((3..50).map(event).collect()).await.expect("append");
        let head = log.signed_head().await.expect("head");
        let key = log.public_key();
        log.close().await;
        t.stores.close().await;

        // A new process: new stores on the same directory and database.
        let stores = Stores::open(t.dir.path(), &t.config).await.expect("reopen stores");
        let log = open(&stores).await;
        assert_eq!(log.public_key(), key, "the key file was not reused");
        assert_eq!(log.size(), 50);
        assert_eq!(log.root(50).expect("root"), head.root_hash);
        assert_eq!(log.signed_head().await.expect("head"), head);

        // The log goes on from where it stopped, consistently.
        let receipt = log.append(event(50)).await.expect("append after reopen");
        assert_eq!(receipt.index, 50);
        let new_head = log.signed_head().await.expect("head");
        let proof = log.consistency_proof(50, 51).expect("proof");
        proof
            .verify(&head.root_hash, &new_head.root_hash)
            .expect("the reopened log extends the old one");
        verify(&stores, Some(&head)).await.expect("verifies against the old head");
        log.close().await;
    }
);

test_on_both_backends!(
    async fn empty_log_signs_a_head_over_nothing(t) {
        let log = open(&t.stores).await;
        let head = log.signed_head().await.expect("head");
        assert_eq!(head.tree_size, 0);
        assert_eq!(head.root_hash, empty_root());
        let report = verify(&t.stores, Some(&head)).await.expect("verifies");
        assert_eq!((report.entries, report.heads), (0, 1));
        log.close().await;
    }
);

test_on_both_backends!(
    async fn signing_key_is_private_and_heads_round_trip_as_files(t) {
        let log = open(&t.stores).await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = t.stores.data_dir().join("keys/audit-ed25519.key");
            let mode = std::fs::metadata(&path).expect("key file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        log.append(event(0)).await.expect("append");
        let head = log.signed_head().await.expect("head");
        let path = t.dir.path().join("head.json");
        std::fs::write(&path, head.to_json_pretty()).expect("write head file");
        let text = std::fs::read_to_string(&path).expect("read head file");
        let back = SignedTreeHead::from_json(&text).expect("head file parses");
        assert_eq!(back, head);
        assert!(text.contains(&format!("\"root_hash\": \"{}\"", head.root_hash)), "{text}");
        match SignedTreeHead::from_json("{\"tree_size\": 1}") {
            Err(Error::InvalidHead(_)) => {}
            other => panic!("expected an invalid head, got {other:?}"),
        }
        log.close().await;
    }
);

test_on_both_backends!(
    async fn log_appends_as_an_audit_sink_and_refuses_after_close(t) {
        let log = open(&t.stores).await;
        let sink: Arc<dyn AuditSink> = Arc::new(log.clone());
        let receipt = sink.append(event(0)).await.expect("sink append");
        assert_eq!(receipt.index, 0);
        log.close().await;
        match log.ping().await {
            Err(Error::Closed) => {}
            other => panic!("expected a closed log, got {other:?}"),
        }
        match log.append(event(1)).await {
            Err(Error::Closed) => {}
            other => panic!("expected a closed log, got {other:?}"),
        }
        match sink.append(event(1)).await {
            Err(renkei_core::Error::Audit(message)) => {
                assert_eq!(message, "the audit log is closed");
            }
            other => panic!("expected an audit error, got {other:?}"),
        }
        assert_eq!(verify(&t.stores, None).await.expect("verifies").entries, 1);
    }
);

test_on_both_backends!(
    async fn a_second_writer_is_refused_until_the_first_closes(t) {
        let log = open(&t.stores).await;
        log.append(event(0)).await.expect("append");
        let second = Stores::open(t.dir.path(), &t.config).await.expect("stores");
        let err = AuditLog::open(&second, Arc::new(FixedClock::new(Timestamp::from_unix_micros(T0_US))))
            .await
            .expect_err("two writers");
        assert!(matches!(err, renkei_audit::Error::InUse { .. }), "{err}");
        assert!(err.to_string().contains(&format!("process {}", std::process::id())), "{err}");
        let head = renkei_audit::latest_stored_head(&second).await.expect("heads are readable meanwhile");
        assert_eq!(head.map(|h| h.tree_size), Some(1));
        log.close().await;
        let again = AuditLog::open(&second, Arc::new(FixedClock::new(Timestamp::from_unix_micros(T0_US))))
            .await
            .expect("the lock is released by close");
        again.close().await;
    }
);
