//! The pipeline, measured alone: read the NDJSON, parse each line,
//! validate it (`renkei_fhir::validate`, JP Core tables, validation on),
//! split it (`renkei_fhir::flatten`: identifying attributes apart from the
//! canonical lake rows, rows by table) and write the rows as Parquet files
//! on disk — one file per lake table, written as the lake writes Parquet
//! (`renkei_store::lake::writer_properties`, zstd), row groups flushed as
//! the table builders fill. All on the calling thread.
//!
//! What it leaves out, and the intake's number includes: identity (the
//! person index, its SQLite and keyed tokens), the version, subject and
//! pending tables, receipts, the content hashes, the lake's staging and
//! commits. The identifying attributes are kept in memory per provider and
//! dropped; each Patient gets a fresh person key (what identity would
//! answer for a person seen once) so the Parquet holds keys of the real
//! shape, and a resource is keyed by its subject's.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use parquet::arrow::ArrowWriter;
use renkei_collect::SubmissionId;
use renkei_core::{Clock, IdentifyingAttributes, LakeTable, PersonKey, SystemClock};
use renkei_fhir::flatten::{Cell, Lineage, TableBuilder};

use super::{Input, cpu_seconds, dir_size, fresh_dir};

/// One run of the pipeline.
pub(super) struct PipelineRun {
    pub(super) seconds: f64,
    pub(super) cpu_seconds: f64,
    /// Lake rows written, all tables.
    pub(super) rows: u64,
    /// Resources whose identifying attributes were split off.
    pub(super) identities: u64,
    pub(super) out_bytes: u64,
}

/// One lake table's rows on their way to its Parquet file.
struct TableOut {
    builder: TableBuilder,
    writer: ArrowWriter<File>,
}

/// Runs the pipeline over the whole input, writing `<out>/<table>.parquet`;
/// a record batch goes to the writer every `batch_rows` rows of a table.
/// Any refused resource fails the run: the synthetic input is valid.
pub(super) fn run(input: &Input, out: &Path, batch_rows: usize) -> anyhow::Result<PipelineRun> {
    fresh_dir(out)?;
    let clock = SystemClock;
    let cpu_before = cpu_seconds()?;
    let started = Instant::now();
    let mut tables: HashMap<LakeTable, TableOut> = HashMap::new();
    let mut resources = 0u64;
    let mut rows = 0u64;
    let mut identities = 0u64;
    let mut line = Vec::with_capacity(64 * 1024);
    for p in &input.providers {
        let lineage = Lineage {
            provider: p.code.clone(),
            submission_id: SubmissionId::generate().to_string(),
            ingested_at: clock.now(),
        };
        // The split's identity side: kept for this provider, then dropped.
        let mut who: Vec<IdentifyingAttributes> = Vec::new();
        let mut persons: HashMap<String, PersonKey> = HashMap::new();
        for file in &p.files {
            let mut reader = BufReader::with_capacity(
                256 * 1024,
                File::open(file).with_context(|| format!("opening {}", file.display()))?,
            );
            let mut number = 0u64;
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .with_context(|| format!("reading {}", file.display()))?;
                if n == 0 {
                    break;
                }
                number += 1;
                let bytes = line.trim_ascii();
                if bytes.is_empty() {
                    continue;
                }
                let at = || format!("{} line {number}", file.display());
                let value: serde_json::Value = serde_json::from_slice(bytes)
                    .with_context(|| format!("{}: malformed JSON", at()))?;
                let outcome = renkei_fhir::validate(&value);
                if !outcome.is_accepted() {
                    bail!(
                        "{}: a synthetic resource is refused: {}",
                        at(),
                        serde_json::to_string(&outcome.to_operation_outcome())?
                    );
                }
                let flat = renkei_fhir::flatten::flatten(&value, &lineage)
                    .with_context(|| format!("{}: cannot be flattened", at()))?;
                resources += 1;
                let person = if flat.resource_type == "Patient" {
                    let key = PersonKey::generate();
                    persons.insert(flat.source_id.clone(), key);
                    Some(key)
                } else {
                    flat.subject
                        .as_ref()
                        .map(|s| *persons.entry(s.clone()).or_insert_with(PersonKey::generate))
                };
                if let Some(a) = flat.identity {
                    who.push(a);
                    identities += 1;
                }
                for (table, mut row) in flat.rows {
                    if let Some(person) = person {
                        row.set("person_key", Cell::Text(person.to_string()));
                    }
                    let t = match tables.entry(table) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            let builder = TableBuilder::new(table);
                            let path = out.join(format!("{}.parquet", table.name()));
                            let file = File::create(&path)
                                .with_context(|| format!("creating {}", path.display()))?;
                            let writer = ArrowWriter::try_new(
                                file,
                                table.schema(),
                                Some(renkei_store::lake::writer_properties()),
                            )?;
                            e.insert(TableOut { builder, writer })
                        }
                    };
                    t.builder.append(&row).with_context(|| {
                        format!("{}: a row does not fit {}", at(), table.name())
                    })?;
                    rows += 1;
                    if t.builder.len() >= batch_rows {
                        t.writer.write(&t.builder.finish())?;
                    }
                }
            }
        }
        std::hint::black_box(&who);
    }
    for (table, mut t) in tables {
        if !t.builder.is_empty() {
            t.writer.write(&t.builder.finish())?;
        }
        t.writer
            .close()
            .with_context(|| format!("closing {}.parquet", table.name()))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds()? - cpu_before;
    ensure!(
        resources == input.resources,
        "the pipeline took {resources} resources of {}",
        input.resources
    );
    let run = PipelineRun {
        seconds,
        cpu_seconds,
        rows,
        identities,
        out_bytes: dir_size(out),
    };
    std::fs::remove_dir_all(out)?;
    Ok(run)
}
