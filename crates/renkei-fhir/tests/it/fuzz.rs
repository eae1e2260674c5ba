//! The validator and the flattener against mutated published records
//! (issue 16): every JP-CLINS example of `testdata/jp-clins/` and every
//! JP Core example of the shared test data, mutated at random — a node
//! replaced by another kind of value, a member dropped, an array element
//! repeated, a string made huge or odd — must give an outcome, never a
//! panic. Seeded, and bounded by a number of cases (`RENKEI_FUZZ_CASES`,
//! default 3000; `RENKEI_FUZZ_SEED` to replay), so it runs in CI in
//! seconds.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use renkei_core::{ProviderCode, Timestamp};
use renkei_fhir::flatten::{Lineage, flatten};
use serde_json::{Value, json};

fn examples() -> Vec<Value> {
    let roots = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/jp-clins/examples"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/jpcore"),
    ];
    let mut files: Vec<PathBuf> = Vec::new();
    for root in &roots {
        let entries = std::fs::read_dir(root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
        files.extend(
            entries
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "json")),
        );
    }
    files.sort();
    let values: Vec<Value> = files
        .iter()
        .filter_map(|f| serde_json::from_slice(&std::fs::read(f).expect("read")).ok())
        .collect();
    assert!(
        values.len() > 80,
        "too few examples to mutate: {}",
        values.len()
    );
    values
}

/// A value of another kind than usual, some of them hostile.
fn odd_value(rng: &mut ChaCha20Rng) -> Value {
    match rng.gen_range(0..12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(rng.r#gen::<i64>()),
        3 => json!(rng.r#gen::<f64>() * 1e300),
        4 => json!(""),
        5 => json!("x".repeat(rng.gen_range(1..70_000))),
        6 => json!("\u{0}\u{202e}𠮷ｱ\u{fffd}"),
        7 => json!([]),
        8 => json!({}),
        9 => json!([null, 1, "a", {}]),
        10 => json!({"reference": "Patient/", "identifier": {"system": 5}}),
        _ => {
            let mut deep = json!(1);
            for _ in 0..rng.gen_range(1..60) {
                deep = json!({"extension": [deep]});
            }
            deep
        }
    }
}

/// Every path to a node of `v`, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn mutate(v: &mut Value, rng: &mut ChaCha20Rng) {
    for _ in 0..rng.gen_range(1..4) {
        let mut all = Vec::new();
        pointers(v, String::new(), &mut all);
        let Some(at) = all.choose(rng).cloned() else {
            return;
        };
        let (parent, last) = match at.rsplit_once('/') {
            Some((p, l)) => (p.to_owned(), l.to_owned()),
            None => (String::new(), String::new()),
        };
        match rng.gen_range(0..4) {
            // Replace the node.
            0 | 1 => {
                if let Some(node) = v.pointer_mut(&at) {
                    *node = odd_value(rng);
                }
            }
            // Drop it from its object, or repeat it in its array.
            2 => match v.pointer_mut(&parent) {
                Some(Value::Object(m)) => {
                    m.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) if !a.is_empty() => {
                    let i = last.parse::<usize>().unwrap_or(0).min(a.len() - 1);
                    let copy = a[i].clone();
                    a.insert(i, copy);
                }
                _ => {}
            },
            // Change the resource type under the same content.
            _ => {
                let types = [
                    "Patient",
                    "Observation",
                    "Bundle",
                    "Composition",
                    "Encounter",
                    "Nope",
                    "",
                ];
                if let Some(m) = v.as_object_mut() {
                    let ty = types.choose(rng).copied().unwrap_or("");
                    m.insert("resourceType".to_owned(), json!(ty));
                }
            }
        }
    }
}

#[test]
fn mutated_published_records_never_panic_the_validator_or_the_flattener() {
    let seed: u64 = std::env::var("RENKEI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let cases: usize = std::env::var("RENKEI_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let examples = examples();
    let lineage = Lineage {
        provider: ProviderCode::parse("1311234567").expect("code"),
        submission_id: "fuzz".to_owned(),
        ingested_at: Timestamp::from_unix_micros(0),
    };
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut refused = 0;
    for case in 0..cases {
        let mut v = examples.choose(&mut rng).expect("an example").clone();
        mutate(&mut v, &mut rng);
        let bytes = serde_json::to_vec(&v).expect("serializes");
        let outcome = std::panic::catch_unwind(|| {
            let outcome = renkei_fhir::validate(&v);
            let _ = renkei_fhir::parse(&bytes);
            if outcome.is_accepted() {
                let _ = flatten(&v, &lineage);
            }
            outcome
        });
        let outcome = outcome.unwrap_or_else(|_| {
            panic!(
                "case {case} (seed {seed}) panicked on: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(2000)])
            )
        });
        // An outcome is always a well-formed OperationOutcome.
        let oo = serde_json::to_value(outcome.to_operation_outcome()).expect("serializes");
        assert_eq!(oo["resourceType"], "OperationOutcome");
        refused += usize::from(!outcome.is_accepted());
    }
    // The mutations are not all harmless: most are caught.
    assert!(
        refused * 2 > cases,
        "only {refused} of {cases} mutated records refused"
    );
}
