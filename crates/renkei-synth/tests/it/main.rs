//! Generates a small population into a temporary directory and checks the
//! output as a consumer would: every NDJSON line is a JSON resource of the
//! file's type, every reference resolves within its provider, and truth.csv
//! covers exactly the Patient records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use renkei_synth::{Options, VariantRates, check_digit, generate};
use serde_json::Value;

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "reference" {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_owned());
                    }
                } else {
                    collect_references(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

struct ProviderFiles {
    /// "Type/id" of every resource.
    ids: BTreeSet<String>,
    /// References made, with the file and line they came from.
    references: Vec<(String, String)>,
    patients: BTreeSet<String>,
    resources: BTreeMap<String, Vec<Value>>,
}

fn read_provider(dir: &Path) -> ProviderFiles {
    let mut files = ProviderFiles {
        ids: BTreeSet::new(),
        references: Vec::new(),
        patients: BTreeSet::new(),
        resources: BTreeMap::new(),
    };
    for entry in std::fs::read_dir(dir).expect("provider directory") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name")
            .to_owned();
        let resource_type = name
            .strip_suffix(".ndjson")
            .expect("only .ndjson files")
            .to_owned();
        let text = std::fs::read_to_string(&path).expect("utf-8 ndjson");
        for (i, line) in text.lines().enumerate() {
            let where_ = format!("{}:{}", path.display(), i + 1);
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{where_}: {e}"));
            assert_eq!(
                v["resourceType"].as_str(),
                Some(resource_type.as_str()),
                "{where_}"
            );
            let id = v["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{where_}: no id"))
                .to_owned();
            assert!(
                files.ids.insert(format!("{resource_type}/{id}")),
                "{where_}: duplicate id {id}"
            );
            if resource_type == "Patient" {
                files.patients.insert(id);
            }
            let mut refs = Vec::new();
            collect_references(&v, &mut refs);
            files
                .references
                .extend(refs.into_iter().map(|r| (r, where_.clone())));
            files
                .resources
                .entry(resource_type.clone())
                .or_default()
                .push(v);
        }
    }
    files
}

#[test]
fn a_small_nation_is_valid_ndjson_with_resolving_references_and_full_truth() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("nation");
    let options = Options {
        patients: 300,
        providers: 15,
        seed: 42,
        rates: VariantRates::default(),
        bundles: true,
    };
    let summary = generate(&options, &out).expect("generate");
    assert_eq!(summary.persons, 300);

    let mut truth: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut persons = BTreeSet::new();
    let mut reader = csv::Reader::from_path(out.join("truth.csv")).expect("truth.csv");
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["provider_code", "resource_id", "person_number"]
    );
    for row in reader.records() {
        let row = row.expect("truth row");
        truth
            .entry(row[0].to_owned())
            .or_default()
            .insert(row[1].to_owned());
        persons.insert(row[2].parse::<u64>().expect("person number"));
    }
    assert!(
        persons.len() > 250,
        "most persons have records: {}",
        persons.len()
    );

    let mut seen_types = BTreeSet::new();
    let mut providers = 0;
    for entry in std::fs::read_dir(&out).expect("output") {
        let path = entry.expect("entry").path();
        if !path.is_dir() {
            continue;
        }
        providers += 1;
        let code = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("code")
            .to_owned();
        assert_eq!(code.len(), 10);
        assert!(check_digit::is_valid(&code[3..]), "医療機関コード {code}");
        let files = read_provider(&path);
        for (reference, where_) in &files.references {
            assert!(
                files.ids.contains(reference),
                "{where_}: unresolved reference {reference}"
            );
        }
        let expected = truth.get(&code).cloned().unwrap_or_default();
        assert_eq!(
            files.patients, expected,
            "truth.csv rows of {code} are its Patients"
        );
        for coverage in files.resources.get("Coverage").into_iter().flatten() {
            let insurer = coverage["payor"][0]["identifier"]["value"]
                .as_str()
                .expect("insurer");
            assert!(
                matches!(insurer.len(), 6 | 8) && check_digit::is_valid(insurer),
                "保険者番号 {insurer}"
            );
        }
        // Each transaction Bundle holds resources that are also in the
        // NDJSON files, one patient's worth, addressed by PUT Type/id.
        for bundle in files.resources.get("Bundle").into_iter().flatten() {
            assert_eq!(bundle["type"], "transaction");
            let entries = bundle["entry"].as_array().expect("entries");
            assert_eq!(entries[0]["resource"]["resourceType"], "Patient");
            for e in entries {
                assert_eq!(e["request"]["method"], "PUT");
                let url = e["request"]["url"].as_str().expect("url");
                assert!(
                    files.ids.contains(url),
                    "bundle entry {url} not in the NDJSON files"
                );
            }
        }
        let bundles = files.resources.get("Bundle").map_or(0, Vec::len);
        assert_eq!(
            bundles,
            files.patients.len(),
            "one Bundle per Patient at {code}"
        );
        seen_types.extend(files.resources.into_keys());
    }
    assert_eq!(providers, 15);
    for t in [
        "Organization",
        "Patient",
        "Coverage",
        "Encounter",
        "Condition",
        "Observation",
        "MedicationRequest",
        "MedicationDispense",
        "Procedure",
        "AllergyIntolerance",
        "ImagingStudy",
        "Bundle",
    ] {
        assert!(seen_types.contains(t), "no {t} generated");
    }
}
