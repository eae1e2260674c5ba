//! Bundles: transactions all or nothing, references between entries,
//! DELETE.

use renkei_store::test_on_both_backends;
use serde_json::{Value, json};

use super::*;

fn entry(resource: &str, full_url: &str, method: &str, url: &str) -> Value {
    let mut r: Value = serde_json::from_str(resource).expect("json");
    r.as_object_mut().expect("object").remove("id");
    json!({"fullUrl": full_url, "resource": r, "request": {"method": method, "url": url}})
}

fn bundle(ty: &str, entries: Vec<Value>) -> String {
    json!({"resourceType": "Bundle", "type": ty, "entry": entries}).to_string()
}

test_on_both_backends!(
    async fn a_transaction_resolves_uuid_and_conditional_references(t) {
        let intake = intake(&t.stores).await;
        let p = "urn:uuid:6f1e3b7a-7a8e-4a53-9a53-0f6f6c1c0001";
        let o = observation("x", "x", 5.0, None).replace("Patient/x", p);
        let mut cond = observation("x", "x", 6.0, None);
        cond = cond.replace(
            "Patient/x",
            &format!("Patient?identifier=urn:oid:1.2.392.100495.20.3.51.1{HOSPITAL}|L77"),
        );
        let body = bundle("transaction", vec![
            entry(&patient("x", "L77", "01010016:7:7:00"), p, "POST", "Patient"),
            entry(&o, "urn:uuid:6f1e3b7a-7a8e-4a53-9a53-0f6f6c1c0002", "POST", "Observation"),
            entry(&cond, "urn:uuid:6f1e3b7a-7a8e-4a53-9a53-0f6f6c1c0003", "POST", "Observation"),
        ]);
        let r = submit(&intake, HOSPITAL, body).await;
        assert_eq!(r.totals().accepted, 3, "{r:#?}");
        let persons = texts(&table(&t.stores, "person").await, "person_key");
        let observed = texts(&table(&t.stores, "observation").await, "person_key");
        assert_eq!(observed, [persons[0].clone(), persons[0].clone()]);
        let ids = texts(&table(&t.stores, "person").await, "source_id");
        assert_eq!(ids, [Some("6f1e3b7a-7a8e-4a53-9a53-0f6f6c1c0001".to_owned())], "a created resource is named by its fullUrl's UUID");
    }
);

test_on_both_backends!(
    async fn one_bad_entry_refuses_a_transaction_but_not_a_batch(t) {
        let intake = intake(&t.stores).await;
        let good = patient("p1", "L1", "01010016:1:2:00");
        let bad = observation("o1", "p1", 1.0, None).replace("\"final\"", "\"finished-ish\"");
        let entries = || vec![
            entry(&good, "urn:uuid:00000000-0000-4000-8000-000000000001", "PUT", "Patient/p1"),
            entry(&bad, "urn:uuid:00000000-0000-4000-8000-000000000002", "PUT", "Observation/o1"),
        ];
        let r = submit(&intake, HOSPITAL, bundle("transaction", entries())).await;
        assert_eq!((r.totals().accepted, r.totals().rejected), (0, 2), "{r:#?}");
        assert!(r.rejected.iter().any(|x| x.outcome.to_string().contains("entry[1]")), "{r:#?}");
        assert_eq!(lake_version(&t.stores).await, None);

        let r = submit(&intake, HOSPITAL, bundle("batch", entries())).await;
        assert_eq!((r.totals().accepted, r.totals().rejected), (1, 1), "{r:#?}");
        assert_eq!(r.rejected[0].location.entry, Some(1));
        assert_eq!(rows(&t.stores, "person").await, 1);
    }
);

test_on_both_backends!(
    async fn a_delete_entry_supersedes_the_rows_it_names(t) {
        let intake = intake(&t.stores).await;
        submit(&intake, HOSPITAL, ndjson(&[patient("p1", "L1", "01010016:1:2:00"), observation("o1", "p1", 1.0, None)])).await;
        let delete = json!({"request": {"method": "DELETE", "url": "Observation/o1"}});
        let nothing = json!({"request": {"method": "DELETE", "url": "Observation/never"}});
        let conditional = json!({"request": {"method": "DELETE", "url": "Observation?code=x"}});
        let r = submit(&intake, HOSPITAL, bundle("batch", vec![delete, nothing, conditional])).await;
        assert_eq!(r.counts["Observation"].deleted, 1, "{r:#?}");
        assert_eq!(r.rejected.len(), 1, "a conditional delete is not supported: {r:#?}");
        let superseded = table(&t.stores, "superseded").await;
        assert_eq!(texts(&superseded, "reason"), [Some("deleted".to_owned())]);
        // Sent again after the delete, it is new again.
        let again = submit(&intake, HOSPITAL, ndjson(&[observation("o1", "p1", 1.0, None)])).await;
        assert_eq!(again.counts["Observation"].accepted, 1, "{again:#?}");
    }
);

test_on_both_backends!(
    async fn a_transaction_that_fails_placement_commits_nothing(t) {
        // Issue 16: entries valid on their own but refused when placed
        // (one resource twice with different content) left the rest
        // committed.
        let intake = intake(&t.stores).await;
        let one = patient("p1", "L1", "01010016:1:2:00");
        let other = patient("p1", "L1", "01010016:1:3:00");
        let entries = vec![
            entry(&one, "urn:uuid:00000000-0000-4000-8000-000000000001", "PUT", "Patient/p1"),
            entry(&other, "urn:uuid:00000000-0000-4000-8000-000000000002", "PUT", "Patient/p1"),
        ];
        let r = submit(&intake, HOSPITAL, bundle("transaction", entries)).await;
        assert_eq!((r.totals().accepted, r.totals().rejected), (0, 2), "{r:#?}");
        assert!(r.rejected.iter().any(|x| x.outcome.to_string().contains("appears twice")), "{r:#?}");
        assert_eq!(lake_version(&t.stores).await, None);
    }
);
