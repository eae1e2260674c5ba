//! How fast parse + validate + flatten run on one core, over a directory of
//! NDJSON as `renkei synth` writes it. A planning figure for the ingest
//! benchmark (`renkei-bench ingest` will measure the whole intake against
//! DuckDB); not a benchmark of record.
//!
//! ```sh
//! renkei synth --patients 10000 --providers 100 --out /tmp/s10k
//! cargo run --release -p renkei-fhir --example throughput -- /tmp/s10k
//! ```

use std::io::BufRead;
use std::time::{Duration, Instant};

use renkei_core::{LakeTable, ProviderCode, Timestamp};
use renkei_fhir::flatten::{Cell, Lineage, TableBuilder, flatten_as};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: throughput DIR")?;
    let (mut bytes, mut resources, mut errors) = (0u64, 0u64, 0u64);
    let (mut parse, mut validate, mut flatten, mut build) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut builders: Vec<(LakeTable, TableBuilder)> = LakeTable::ALL
        .iter()
        .map(|t| (*t, TableBuilder::new(*t)))
        .collect();
    for provider in std::fs::read_dir(&dir)? {
        let provider = provider?.path();
        if !provider.is_dir() {
            continue;
        }
        let code = provider
            .file_name()
            .ok_or("no name")?
            .to_string_lossy()
            .into_owned();
        let lineage = Lineage {
            provider: ProviderCode::parse(&code)?,
            submission_id: "throughput".to_owned(),
            ingested_at: Timestamp::from_unix_micros(0),
        };
        for file in std::fs::read_dir(&provider)? {
            let reader = std::io::BufReader::new(std::fs::File::open(file?.path())?);
            for line in reader.lines() {
                let line = line?;
                bytes += line.len() as u64 + 1;
                let t = Instant::now();
                let value: serde_json::Value = serde_json::from_str(&line)?;
                parse += t.elapsed();
                let t = Instant::now();
                let outcome = renkei_fhir::validate(&value);
                validate += t.elapsed();
                errors += outcome.errors().count() as u64;
                let t = Instant::now();
                let id = value["id"].as_str().unwrap_or("?");
                let flat = flatten_as(&value, id, &lineage)?;
                flatten += t.elapsed();
                let t = Instant::now();
                for (table, mut row) in flat.rows {
                    row.set(
                        "person_key",
                        Cell::Text("00000000-0000-7000-8000-000000000000".to_owned()),
                    );
                    let (_, b) = builders
                        .iter_mut()
                        .find(|(t, _)| *t == table)
                        .ok_or("table")?;
                    b.append(&row)?;
                    if b.len() >= 65_536 {
                        std::hint::black_box(b.finish());
                    }
                }
                build += t.elapsed();
                resources += 1;
            }
        }
    }
    let total = parse + validate + flatten + build;
    let per_s = |d: Duration| resources as f64 / d.as_secs_f64();
    println!(
        "{resources} resources, {:.0} MB, {errors} errors: {:.0} resources/s, {:.1} MB/s on one core",
        bytes as f64 / 1e6,
        per_s(total),
        bytes as f64 / 1e6 / total.as_secs_f64()
    );
    println!(
        "  parse {:.0}/s, validate {:.0}/s, flatten {:.0}/s, arrow {:.0}/s",
        per_s(parse),
        per_s(validate),
        per_s(flatten),
        per_s(build)
    );
    Ok(())
}
