//! Idempotency, supersession and the pending area.

use renkei_store::test_on_both_backends;

use super::*;

test_on_both_backends!(
    async fn a_submission_lands_whole_and_its_resend_is_recognised(t) {
        let intake = intake(&t.stores).await;
        let body = ndjson(&[patient("p1", "L1", "01010016:1:2:00"), observation("o1", "p1", 5.5, None)]);
        let first = submit(&intake, HOSPITAL, body.clone()).await;
        let totals = first.totals();
        assert_eq!((totals.received, totals.accepted, totals.rejected), (2, 2, 0), "{first:#?}");
        assert!(first.lake_version.is_some());
        assert_eq!(rows(&t.stores, "person").await, 1);
        assert_eq!(rows(&t.stores, "observation").await, 1);
        let persons = texts(&table(&t.stores, "person").await, "person_key");
        let observed = texts(&table(&t.stores, "observation").await, "person_key");
        assert_eq!(persons, observed, "the observation is keyed to its patient's person");

        let version = lake_version(&t.stores).await;
        let again = submit(&intake, HOSPITAL, body).await;
        assert_eq!(again, first, "the same content returns the first receipt");
        assert_eq!(lake_version(&t.stores).await, version, "and writes nothing");
        assert_eq!(intake.recent(Some(&code(HOSPITAL)), 10).await.expect("recent").len(), 1);
    }
);

test_on_both_backends!(
    async fn a_newer_version_supersedes_and_an_older_one_is_stale(t) {
        let intake = intake(&t.stores).await;
        submit(&intake, HOSPITAL, ndjson(&[patient("p1", "L1", "01010016:1:2:00"), observation("o1", "p1", 5.5, Some("2024-04-01T10:00:00+09:00"))])).await;
        // Unchanged content within a new submission: nothing written.
        let same = submit(&intake, HOSPITAL, ndjson(&[observation("o1", "p1", 5.5, Some("2024-04-01T10:00:00+09:00")), patient("p1", "L1", "01010016:1:2:00")])).await;
        assert_eq!(same.totals().unchanged, 2, "{same:#?}");
        assert_eq!(same.lake_version, None);

        let newer = submit(&intake, HOSPITAL, ndjson(&[observation("o1", "p1", 6.1, Some("2024-04-02T10:00:00+09:00"))])).await;
        let c = newer.counts["Observation"];
        assert_eq!((c.accepted, c.superseded), (1, 1), "{newer:#?}");
        assert_eq!(rows(&t.stores, "observation").await, 2, "old rows are kept");
        let superseded = table(&t.stores, "superseded").await;
        assert_eq!(texts(&superseded, "source_id"), [Some("o1".to_owned())]);
        assert_eq!(texts(&superseded, "reason"), [Some("replaced".to_owned())]);
        assert_eq!(texts(&superseded, "by_submission_id"), [Some(newer.submission_id.to_string())]);

        let older = submit(&intake, HOSPITAL, ndjson(&[observation("o1", "p1", 4.0, Some("2024-03-01T10:00:00+09:00"))])).await;
        assert_eq!(older.counts["Observation"].stale, 1, "{older:#?}");
        assert_eq!(rows(&t.stores, "observation").await, 2);
        assert!(older.notices[0].message.contains("not newer"), "{:?}", older.notices);
    }
);

test_on_both_backends!(
    async fn a_resource_before_its_patient_waits_and_then_joins(t) {
        let intake = intake(&t.stores).await;
        // Bulk Data exports split by type: the Observation file may come first.
        let first = submit(&intake, HOSPITAL, ndjson(&[observation("o1", "p9", 5.5, None)])).await;
        assert_eq!(first.counts["Observation"].pending, 1, "{first:#?}");
        assert!(first.notices[0].message.contains("Patient/p9"), "{:?}", first.notices);
        assert_eq!(rows(&t.stores, "observation").await, 0);
        assert_eq!(intake.pending_count(&code(HOSPITAL)).await.expect("count"), 1);

        // Another provider's Patient with the same id is someone else.
        submit(&intake, CLINIC, ndjson(&[patient("p9", "X", "01010016:9:9:00")])).await;
        assert_eq!(intake.pending_count(&code(HOSPITAL)).await.expect("count"), 1);

        let second = submit(&intake, HOSPITAL, ndjson(&[patient("p9", "L9", "01010016:1:9:00")])).await;
        assert_eq!(second.pending_joined, 1, "{second:#?}");
        assert_eq!(rows(&t.stores, "observation").await, 1);
        assert_eq!(intake.pending_count(&code(HOSPITAL)).await.expect("count"), 0);
        let obs = table(&t.stores, "observation").await;
        assert_eq!(texts(&obs, "submission_id"), [Some(first.submission_id.to_string())], "lineage names the submission it arrived in");

        // Every row about p9 names the identity record its person came
        // from — the Patient's — whether it waited (o1), or came in a
        // later submission than its Patient (o2): a split moves them all.
        submit(&intake, HOSPITAL, ndjson(&[observation("o2", "p9", 6.5, None)])).await;
        let persons = table(&t.stores, "person").await;
        let hospital_row = texts(&persons, "provider_code").iter().position(|c| c.as_deref() == Some(HOSPITAL)).expect("the hospital's person row");
        let record = texts(&persons, "identity_record")[hospital_row].clone().expect("a person row names its record");
        renkei_core::RecordId::parse(&record).expect("an identity record id");
        let obs = table(&t.stores, "observation").await;
        assert_eq!(texts(&obs, "identity_record"), [Some(record.clone()), Some(record)]);
    }
);

test_on_both_backends!(
    async fn within_one_submission_order_does_not_matter(t) {
        let intake = intake(&t.stores).await;
        let r = submit(&intake, HOSPITAL, ndjson(&[observation("o1", "p1", 1.0, None), patient("p1", "L1", "01010016:1:2:00")])).await;
        let c = r.counts["Observation"];
        assert_eq!((c.accepted, c.pending), (1, 0), "{r:#?}");
        assert_eq!(rows(&t.stores, "observation").await, 1);
        assert_eq!(intake.pending_count(&code(HOSPITAL)).await.expect("count"), 0);
    }
);

test_on_both_backends!(
    async fn a_refused_version_does_not_block_its_correction(t) {
        // Issue 16: sent again corrected with the same meta.lastUpdated, a
        // refused resource was ignored as stale although nothing of it was
        // stored.
        let intake = intake(&t.stores).await;
        submit(&intake, HOSPITAL, ndjson(&[patient("p1", "L1", "01010016:1:2:00")])).await;
        let at = Some("2024-04-01T09:00:00+09:00");
        let mut bad: serde_json::Value = serde_json::from_str(&observation("o1", "p1", 1.0, at)).expect("json");
        bad["status"] = serde_json::json!("not-a-status");
        let r = submit(&intake, HOSPITAL, ndjson(&[bad.to_string()])).await;
        assert_eq!(r.totals().rejected, 1, "{r:?}");
        let r = submit(&intake, HOSPITAL, ndjson(&[observation("o1", "p1", 1.0, at)])).await;
        assert_eq!((r.totals().accepted, r.totals().stale), (1, 0), "the correction was lost: {r:?}");
        assert_eq!(rows(&t.stores, "observation").await, 1);
    }
);
