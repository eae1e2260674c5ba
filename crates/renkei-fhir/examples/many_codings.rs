//! How long one hostile resource takes to validate: a JP-CLINS laboratory
//! result (`JP_Observation_LabResult_eCS`, whose `code.coding` has many
//! slices) carrying `N` codings, up to what the 16 MiB resource limit lets
//! through. Each coding is sorted into the profile's slices, so this is the
//! slice matcher's worst case. A bound for operators, not a benchmark of
//! record.
//!
//! ```sh
//! cargo run --release -p renkei-fhir --example many_codings -- 120000 known
//! cargo run --release -p renkei-fhir --example many_codings -- 120000 unknown
//! ```
//!
//! `known` repeats the first slice's code system (refused: the slice allows
//! one); `unknown` gives each coding a system no slice names (accepted, and
//! each coding is compared with every slice).

use std::time::Instant;

use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .ok_or("usage: many_codings N known|unknown")?
        .parse()?;
    let unknown = match args.next().as_deref() {
        Some("known") => false,
        Some("unknown") => true,
        _ => return Err("usage: many_codings N known|unknown".into()),
    };
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/jp-clins/examples/Observation-Example-JP-Obs-LabResult-eCS-K.json"
    );
    let mut resource: Value = serde_json::from_slice(&std::fs::read(example)?)?;
    let first = resource["code"]["coding"][0].clone();
    let codings = resource["code"]["coding"]
        .as_array_mut()
        .ok_or("the example has no codings")?;
    for i in 0..n {
        let mut c = first.clone();
        c["code"] = json!(format!("x{i}"));
        if unknown {
            c["system"] = json!(format!("urn:example:{i}"));
        }
        codings.push(c);
    }
    let bytes = serde_json::to_vec(&resource)?.len();
    // Compile the profiles first, so that only the check is timed.
    let _ = renkei_fhir::validate(&json!({"resourceType": "Basic"}));
    let start = Instant::now();
    let outcome = renkei_fhir::validate(&resource);
    let elapsed = start.elapsed();
    println!(
        "{{\"codings\":{n},\"bytes\":{bytes},\"seconds\":{:.3},\"errors\":{}}}",
        elapsed.as_secs_f64(),
        outcome.errors().count()
    );
    Ok(())
}
