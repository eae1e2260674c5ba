//! Patients as JP-CLINS names them (issue 16): by insurance identifier in
//! `subject.identifier`, with no Patient to refer to, and, in a document
//! Bundle, through the Composition's subject. Never refused for that alone.

use renkei_store::test_on_both_backends;

use super::*;

const INSURANCE: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";

/// An Observation naming its patient by `system|value`.
fn observation_of(id: &str, system: &str, value: &str) -> String {
    let mut o: serde_json::Value =
        serde_json::from_str(&observation(id, "x", 1.0, None)).expect("json");
    o["subject"] =
        serde_json::json!({"identifier": {"system": system, "value": value}, "type": "Patient"});
    o.to_string()
}

async fn person_keys(stores: &Stores, table: &str) -> Vec<Option<String>> {
    texts(&table_batches(stores, table).await, "person_key")
}

async fn table_batches(stores: &Stores, name: &str) -> Vec<RecordBatch> {
    table(stores, name).await
}

test_on_both_backends!(
    async fn a_subject_named_by_insurance_identifier_is_the_patients_person(t) {
        let identity = Arc::new(TestIdentity::default());
        let intake = intake_for(&t.stores, IntakeConfig::default(), identity.clone()).await;
        let r = submit(&intake, HOSPITAL, ndjson(&[patient("p1", "L1", "01010016:1:2:00")])).await;
        assert_eq!(r.totals().accepted, 1);
        // A later submission names the patient only by the insurance
        // identifier, as JP-CLINS's six information do.
        let r = submit(&intake, HOSPITAL, ndjson(&[observation_of("o1", INSURANCE, "01010016:1:2:00"), observation_of("o2", INSURANCE, "01010016:1:2:00")])).await;
        assert_eq!((r.totals().accepted, r.totals().rejected, r.totals().pending), (2, 0, 0), "{r:?}");
        let person = person_keys(&t.stores, "person").await;
        let observed = person_keys(&t.stores, "observation").await;
        assert_eq!(observed, vec![person[0].clone(); 2], "not the Patient's person");
        assert_eq!(identity.persons(), 1);
    }
);

test_on_both_backends!(
    async fn a_subject_named_by_identifier_alone_is_linked_by_identity_and_its_patient_joins_later(t) {
        let identity = Arc::new(TestIdentity::default());
        let intake = intake_for(&t.stores, IntakeConfig::default(), identity.clone()).await;
        // No Patient at all: identity links by the insurance number, once
        // for the two resources of the chunk.
        let r = submit(&intake, HOSPITAL, ndjson(&[observation_of("o1", INSURANCE, "06130045:12:3456:01"), observation_of("o2", INSURANCE, "06130045:12:3456:01")])).await;
        assert_eq!((r.totals().accepted, r.totals().pending), (2, 0), "{r:?}");
        assert_eq!(identity.persons(), 1, "one person for one identifier");
        // In a later submission too.
        submit(&intake, HOSPITAL, ndjson(&[observation_of("o3", INSURANCE, "06130045:12:3456:01")])).await;
        assert_eq!(identity.persons(), 1);
        // The Patient with that identifier arrives: the same person.
        submit(&intake, HOSPITAL, ndjson(&[patient("p9", "L9", "06130045:12:3456:01")])).await;
        assert_eq!(identity.persons(), 1);
        let observed = person_keys(&t.stores, "observation").await;
        let person = person_keys(&t.stores, "person").await;
        assert!(observed.iter().all(|p| *p == person[0]), "{observed:?} vs {person:?}");
    }
);

test_on_both_backends!(
    async fn a_subject_identity_cannot_link_by_waits_for_its_patient(t) {
        let identity = Arc::new(TestIdentity::default());
        let intake = intake_for(&t.stores, IntakeConfig::default(), identity.clone()).await;
        let system = "urn:oid:1.2.392.999999.1";
        let r = submit(&intake, HOSPITAL, ndjson(&[observation_of("o1", system, "A-77")])).await;
        assert_eq!((r.totals().rejected, r.totals().pending), (0, 1), "refused for naming its patient by an identifier: {r:?}");
        let note = &r.notices[0].message;
        assert!(note.contains(system) && !note.contains("A-77"), "the note names the system, not the number: {note}");
        assert_eq!(identity.persons(), 0);
        // A Patient carrying that identifier (and one identity links by)
        // takes it in.
        let mut p: serde_json::Value = serde_json::from_str(&patient("p1", "L1", "01010016:1:9:00")).expect("json");
        p["identifier"].as_array_mut().expect("identifiers").push(serde_json::json!({"system": system, "value": "A-77"}));
        let r = submit(&intake, HOSPITAL, ndjson(&[p.to_string()])).await;
        assert_eq!(r.pending_joined, 1, "{r:?}");
        assert_eq!(person_keys(&t.stores, "observation").await.len(), 1);
        assert_eq!(person_keys(&t.stores, "observation").await, person_keys(&t.stores, "person").await);
    }
);

test_on_both_backends!(
    async fn a_document_entry_without_a_subject_takes_the_compositions(t) {
        let intake = intake(&t.stores).await;
        let patient_url = "urn:uuid:0a48a4bf-0d87-4efb-aafd-d45e0842a4dd";
        let mut pat: serde_json::Value = serde_json::from_str(&patient("p1", "L1", "01010016:1:2:00")).expect("json");
        pat.as_object_mut().expect("object").remove("id");
        let document = serde_json::json!({
            "resourceType": "Bundle", "type": "document",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:11111111-2222-3333-4444-555555555555"},
            "timestamp": "2024-04-01T10:00:00+09:00",
            "entry": [
                {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001", "resource": {
                    "resourceType": "Composition", "status": "final",
                    "type": {"coding": [{"system": "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes", "code": "57133-1"}]},
                    "subject": {"reference": patient_url}, "date": "2024-04-01", "author": [{"display": "医師"}], "title": "診療情報提供書"}},
                {"fullUrl": patient_url, "resource": pat},
                {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000002", "resource": {
                    "resourceType": "Encounter", "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}},
                {"fullUrl": "urn:uuid:aaaaaaaa-0000-0000-0000-000000000003", "resource": {
                    "resourceType": "Organization", "name": "東京テスト病院"}}
            ]
        });
        let r = submit(&intake, HOSPITAL, document.to_string()).await;
        assert_eq!(r.totals().rejected, 0, "{r:?}");
        let person = person_keys(&t.stores, "person").await;
        assert_eq!(person.len(), 1);
        assert_eq!(person_keys(&t.stores, "encounter").await, person, "the Encounter is not the Composition's patient's");
    }
);

test_on_both_backends!(
    async fn what_is_said_of_a_bundle_itself_reaches_the_receipt(t) {
        // A profile the platform does not know, claimed by the Bundle: it is
        // checked against what is known and the sender is told, on the
        // receipt, about the Bundle itself (no entry carries that warning).
        let intake = intake(&t.stores).await;
        let batch = serde_json::json!({
            "resourceType": "Bundle", "type": "batch",
            "meta": {"profile": ["http://example.org/StructureDefinition/NotPublished"]},
            "entry": [{"resource": serde_json::from_str::<serde_json::Value>(&patient("p1", "L1", "01010016:1:3:00")).expect("json"),
                       "request": {"method": "PUT", "url": "Patient/p1"}}]
        });
        let r = submit(&intake, HOSPITAL, batch.to_string()).await;
        assert_eq!((r.totals().rejected, r.totals().accepted), (0, 1), "{r:?}");
        assert!(
            r.notices.iter().any(|n| n.resource.starts_with("Bundle/")
                && n.message.contains("Bundle.meta.profile")
                && n.message.contains("NotPublished")),
            "{:#?}",
            r.notices
        );
    }
);
