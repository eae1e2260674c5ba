//! DESIGN.md invariant 1 over a synthetic population: no lake column holds
//! a name, an identifier value, an address line or a telephone number.

use std::collections::BTreeSet;

use arrow::array::{Array, StringArray};
use renkei_store::test_on_both_backends;

use super::*;

/// Every identifying string of the Patients in `dir`: names, identifier
/// values, address lines and texts, telecom values.
fn identifying_strings(dir: &std::path::Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for provider in std::fs::read_dir(dir).expect("synth dir") {
        let path = provider.expect("entry").path().join("Patient.ndjson");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let p: serde_json::Value = serde_json::from_str(line).expect("json");
            for name in p["name"].as_array().into_iter().flatten() {
                out.extend(name["family"].as_str().map(str::to_owned));
                out.extend(name["text"].as_str().map(str::to_owned));
                for g in name["given"].as_array().into_iter().flatten() {
                    out.extend(g.as_str().map(str::to_owned));
                }
            }
            for i in p["identifier"].as_array().into_iter().flatten() {
                out.extend(i["value"].as_str().map(str::to_owned));
            }
            for a in p["address"].as_array().into_iter().flatten() {
                out.extend(a["text"].as_str().map(str::to_owned));
                for l in a["line"].as_array().into_iter().flatten() {
                    out.extend(l.as_str().map(str::to_owned));
                }
            }
            for t in p["telecom"].as_array().into_iter().flatten() {
                out.extend(t["value"].as_str().map(str::to_owned));
            }
        }
    }
    // One- and two-character given names ("学") would match inside unrelated
    // codes or words; names are checked as whole cell values and as
    // substrings when at least three characters long.
    out
}

test_on_both_backends!(
    async fn no_lake_column_holds_a_direct_identifier(t) {
        let synth = tempfile::tempdir().expect("tempdir");
        let options = renkei_synth::Options { patients: 60, providers: 6, seed: 7, rates: Default::default(), bundles: false };
        renkei_synth::generate(&options, synth.path()).expect("synth");
        let intake = intake(&t.stores).await;
        let mut accepted = 0;
        for dir in std::fs::read_dir(synth.path()).expect("dir") {
            let dir = dir.expect("entry").path();
            if !dir.is_dir() {
                continue;
            }
            let provider = code(dir.file_name().and_then(|n| n.to_str()).expect("code"));
            intake
                .register_provider(&sender(), &Provider { code: provider.clone(), name: "synthetic".into(), kind: FacilityKind::Hospital, org_id: None, registered_at: Timestamp::from_unix_micros(0) })
                .await
                .expect("register");
            let mut body = Vec::new();
            for ty in ["Organization", "Patient", "Coverage", "Encounter", "Condition", "Observation", "MedicationRequest", "MedicationDispense", "Procedure", "AllergyIntolerance", "ImagingStudy"] {
                if let Ok(bytes) = std::fs::read(dir.join(format!("{ty}.ndjson"))) {
                    body.extend(bytes);
                }
            }
            let r = intake.submit(&sender(), &provider, std::io::Cursor::new(body)).await.expect("submit");
            assert_eq!(r.totals().rejected, 0, "synthetic records are valid: {:#?}", r.rejected.first());
            assert_eq!(r.totals().pending, 0, "{r:#?}");
            accepted += r.totals().accepted;
        }
        assert!(accepted > 500, "{accepted} resources accepted");

        let secrets = identifying_strings(synth.path());
        assert!(secrets.len() > 100, "{} identifying strings", secrets.len());
        let lake = t.stores.lake().expect("lake");
        let current = lake.current().await.expect("current").expect("a lake version");
        let mut cells = 0u64;
        for snapshot in current.tables() {
            for batch in lake.read(snapshot).await.expect("read") {
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    let Some(strings) = column.as_any().downcast_ref::<StringArray>() else { continue };
                    for i in 0..strings.len() {
                        if !strings.is_valid(i) {
                            continue;
                        }
                        let cell = strings.value(i);
                        cells += 1;
                        for s in &secrets {
                            let hit = cell == s || (s.chars().count() >= 3 && cell.contains(s.as_str()));
                            assert!(!hit, "{}.{} holds {s:?}: {cell:?}", snapshot.table(), field.name());
                        }
                    }
                }
            }
        }
        assert!(cells > 1000, "scanned {cells} cells");
    }
);
