//! Flattening the published JP Core examples.

use std::path::PathBuf;

use renkei_core::{LakeTable, ProviderCode, Timestamp};
use serde_json::Value;

use super::*;

fn lineage() -> Lineage {
    Lineage {
        provider: ProviderCode::parse("1311234567").expect("valid"),
        submission_id: "sub-1".to_owned(),
        ingested_at: Timestamp::from_unix_micros(1_800_000_000_000_000),
    }
}

fn examples() -> Vec<(String, Value)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/jpcore");
    let mut out = Vec::new();
    for dir in [
        root.clone(),
        root.join("hl7-r4-core"),
        root.join("jp-clins"),
    ] {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let value: Value = serde_json::from_str(&text).expect("the examples are JSON");
            out.push((
                path.file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
                value,
            ));
        }
    }
    assert!(out.len() > 40, "testdata looks incomplete: {}", out.len());
    out
}

/// Every resource in an example with its source id (Bundles are opened; an
/// entry without an id is named by its fullUrl).
fn resources(v: &Value) -> Vec<(String, &Value)> {
    match v["resourceType"].as_str() {
        Some("Bundle") => v["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let r = e.get("resource")?;
                let id = r["id"].as_str().or(e["fullUrl"].as_str())?;
                Some((id.to_owned(), r))
            })
            .collect(),
        _ => vec![(v["id"].as_str().expect("examples have ids").to_owned(), v)],
    }
}

#[test]
fn every_example_flattens_into_rows_that_fit_their_tables() {
    let mut built = std::collections::BTreeMap::new();
    for (file, example) in examples() {
        for (id, resource) in resources(&example) {
            let flat =
                flatten_as(resource, &id, &lineage()).unwrap_or_else(|e| panic!("{file}: {e}"));
            for (table, row) in &flat.rows {
                let mut row = row.clone();
                row.set(
                    "person_key",
                    Cell::Text("00000000-0000-7000-8000-000000000000".to_owned()),
                );
                built
                    .entry(*table)
                    .or_insert_with(|| TableBuilder::new(*table))
                    .append(&row)
                    .unwrap_or_else(|e| panic!("{file}: {} row refused: {e}", table.name()));
            }
        }
    }
    for table in [
        LakeTable::Person,
        LakeTable::Condition,
        LakeTable::Observation,
        LakeTable::MedicationRequest,
        LakeTable::RawResource,
    ] {
        let b = built
            .get_mut(&table)
            .unwrap_or_else(|| panic!("no {} rows from the examples", table.name()));
        let batch = b.finish();
        assert!(batch.num_rows() > 0);
        assert_eq!(batch.schema(), table.schema());
    }
}

#[test]
fn no_identifying_value_of_any_example_patient_reaches_a_lake_row() {
    let mut secrets = Vec::new();
    let mut rows = Vec::new();
    for (_, example) in examples() {
        for (id, resource) in resources(&example) {
            let flat = flatten_as(resource, &id, &lineage()).expect("flattens");
            if let Some(a) = &flat.identity {
                for v in [
                    &a.kanji_name,
                    &a.kana_name,
                    &a.local_patient_id,
                    &a.insured_number,
                    &a.phone,
                    &a.address,
                    &a.postal_code,
                ]
                .into_iter()
                .flatten()
                {
                    secrets.push(v.clone());
                }
            }
            rows.extend(flat.rows.into_iter().map(|(_, r)| format!("{r:?}")));
        }
    }
    assert!(
        secrets.iter().any(|s| s.contains("山田")),
        "the examples' patients were not read"
    );
    for secret in &secrets {
        // Short values (a two-digit 枝番) could match by chance; names,
        // numbers and addresses cannot.
        if secret.chars().count() < 4 {
            continue;
        }
        for row in &rows {
            assert!(
                !row.contains(secret.as_str()),
                "{secret:?} reached a lake row: {row}"
            );
        }
    }
}

#[test]
fn the_jp_core_patient_splits_into_attributes_and_a_person_row() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata/jpcore/Patient-jp-patient-example-1.json"),
    )
    .expect("readable");
    let flat = flatten(&serde_json::from_str(&text).expect("json"), &lineage()).expect("flattens");
    let a = flat.identity.expect("attributes");
    assert_eq!(a.local_patient_id.as_deref(), Some("00000010"));
    assert_eq!(a.kanji_name.as_deref(), Some("山田 太郎"));
    assert_eq!(a.kana_name.as_deref(), Some("ヤマダ タロウ"));
    assert_eq!(a.birth_date.as_deref(), Some("1970-01-01"));
    assert_eq!(flat.subject.as_deref(), Some("jp-patient-example-1"));
    let (table, row) = &flat.rows[0];
    assert_eq!(*table, LakeTable::Person);
    assert_eq!(
        row.get("prefecture_code"),
        Some(&Cell::Text("13".to_owned()))
    );
    assert_eq!(row.get("birth_date"), Some(&Cell::Date(0)));
    assert_eq!(
        row.get("provider_code"),
        Some(&Cell::Text("1311234567".to_owned()))
    );
}

#[test]
fn the_clins_patient_carries_its_insurance_in_one_identifier() {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/testdata/jpcore/jp-clins/Patient-Example-JP-Patient-eCS-MAKINO.json",
    ))
    .expect("readable");
    let flat = flatten(&serde_json::from_str(&text).expect("json"), &lineage()).expect("flattens");
    let a = flat.identity.expect("attributes");
    assert_eq!(a.insurer_number.as_deref(), Some("00012345"));
    assert_eq!(a.insured_number.as_deref(), Some("１８７"));
    assert_eq!(a.insured_branch.as_deref(), Some("05"));
    assert_eq!(
        flat.rows[0].1.get("prefecture_code"),
        Some(&Cell::Text("39".to_owned()))
    );
}
