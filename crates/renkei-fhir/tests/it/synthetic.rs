//! What collection will receive from `renkei synth` must pass our own
//! validator without errors and flatten without loss: the synthetic nation
//! is the input of the ingest and linkage benchmarks.

use std::io::BufRead;

use renkei_core::{ProviderCode, Timestamp};
use renkei_fhir::flatten::{Lineage, flatten_as};
use renkei_fhir::validate;

#[test]
fn a_synthetic_population_validates_and_flattens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("synth");
    let options = renkei_synth::Options {
        patients: 300,
        providers: 20,
        seed: 7,
        rates: renkei_synth::VariantRates::default(),
        bundles: false,
    };
    renkei_synth::generate(&options, &out).expect("generates");

    let mut resources = 0;
    let mut errors = Vec::new();
    for provider_dir in std::fs::read_dir(&out).expect("out dir") {
        let provider_dir = provider_dir.expect("entry").path();
        if !provider_dir.is_dir() {
            continue;
        }
        let code = provider_dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let lineage = Lineage {
            provider: ProviderCode::parse(&code).expect("directories are named by 医療機関コード"),
            submission_id: "synthetic".to_owned(),
            ingested_at: Timestamp::from_unix_micros(0),
        };
        for file in std::fs::read_dir(&provider_dir).expect("provider dir") {
            let path = file.expect("entry").path();
            let reader = std::io::BufReader::new(std::fs::File::open(&path).expect("open"));
            for (n, line) in reader.lines().enumerate() {
                let line = line.expect("utf-8 line");
                let value: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
                let outcome = validate(&value);
                for issue in outcome.errors() {
                    errors.push(format!(
                        "{}:{}: {} {}",
                        path.display(),
                        n + 1,
                        issue.expression,
                        issue.diagnostics
                    ));
                }
                let id = value["id"].as_str().expect("synthetic resources have ids");
                flatten_as(&value, id, &lineage)
                    .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
                resources += 1;
            }
        }
    }
    assert!(resources > 5_000, "only {resources} resources generated");
    let mut kinds: Vec<String> = errors
        .iter()
        .map(|e| {
            let rest = e.split_once(": ").map_or(e.as_str(), |(_, r)| r);
            rest.chars().filter(|c| !c.is_ascii_digit()).collect()
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    assert!(
        errors.is_empty(),
        "{} errors, kinds: {kinds:#?}, first: {:#?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );
}
