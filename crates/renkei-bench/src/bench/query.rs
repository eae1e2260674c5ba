//! `renkei-bench query`: typical cohort queries on a permit's extract, run
//! through a real workspace (`renkei_analysis::Workspace::query`, the path
//! researchers' SQL takes), against DuckDB running the same SQL over the
//! same Parquet (`scripts/bench/duckdb_query.py`); and what disclosure
//! control adds to the count queries.
//!
//! The input is written directly in the shape `renkei-deid` gives an
//! extract — one zstd Parquet file per table, `pseudonym` first, then the
//! selected columns with the lake's types — for `--persons` persons
//! (person, condition, observation, medication_request). Going through
//! ingest and the extract builder would take hours at a million persons
//! and measure nothing this bench is about. The files are seeded, so the
//! same flags give the same bytes, and are kept under `--work` for the
//! next run.
//!
//! The queries are `scripts/bench/query_set.sql`, compiled in and handed
//! to the peer as written; both engines' answers must agree (the same rows,
//! counts equal, means within rounding), or the bench fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int32Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use renkei_analysis::disclosure::{self, CellTable, DataKind, Key, Rules};
use renkei_analysis::{ExtractTable, Limits, QueryResult, Workspace};
use renkei_core::LakeTable;
use renkei_synth::tables::clinical::{DISEASES, DRUGS, LABS, Sex};
use serde_json::{Value, json};

/// The queries, as both engines run them.
const QUERY_SET: &str = include_str!("../../../../scripts/bench/query_set.sql");

/// Flags of `renkei-bench query`.
#[derive(Debug, clap::Args)]
pub struct QueryBenchArgs {
    /// Persons in the extract.
    #[arg(long, default_value_t = 1_000_000)]
    persons: u64,
    /// Condition rows per person, on average.
    #[arg(long, default_value_t = 10)]
    conditions: u64,
    /// Lab results per person, on average.
    #[arg(long, default_value_t = 15)]
    labs: u64,
    /// Prescriptions per person, on average.
    #[arg(long, default_value_t = 10)]
    prescriptions: u64,
    /// Seed of the generated extract.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs of each query on each side; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Threads of both engines (the workspace's cpus, DuckDB's threads).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Memory a workspace query may hold, GiB.
    #[arg(long, default_value_t = 16)]
    memory_gib: usize,
    /// Where the generated extracts are kept (one directory per size and
    /// seed); the system's temporary directory by default.
    #[arg(long)]
    work: Option<PathBuf>,
    /// The Python interpreter that runs the DuckDB peer.
    #[arg(long, default_value = "python3", env = "RENKEI_BENCH_PYTHON")]
    python: String,
    /// Measure renkei only (no peer, no comparison of answers).
    #[arg(long)]
    skip_peer: bool,
}

/// One query of the set.
#[derive(Debug, Clone, PartialEq)]
struct Query {
    name: String,
    sql: String,
    disclosure: Option<Disclosure>,
}

/// How a count query's result becomes a table for disclosure control.
#[derive(Debug, Clone, PartialEq)]
struct Disclosure {
    dimensions: Vec<String>,
    count: String,
    /// Dimensions given a total margin (indexes into `dimensions`).
    totals: Vec<usize>,
}

/// The queries of a query-set file (see its header for the format).
fn parse_query_set(text: &str) -> anyhow::Result<Vec<Query>> {
    let mut out: Vec<Query> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("-- query:") {
            out.push(Query {
                name: name.trim().to_owned(),
                sql: String::new(),
                disclosure: None,
            });
        } else if let Some(spec) = trimmed.strip_prefix("-- disclosure:") {
            let q = out
                .last_mut()
                .context("a disclosure line before any query")?;
            q.disclosure = Some(parse_disclosure(spec.trim(), &q.name)?);
        } else if trimmed.starts_with("--") || trimmed.is_empty() {
        } else if let Some(q) = out.last_mut() {
            q.sql.push_str(line);
            q.sql.push('\n');
        } else {
            bail!("SQL before the first `-- query:` line: {trimmed:?}");
        }
    }
    for q in &mut out {
        q.sql = q.sql.trim().trim_end_matches(';').trim().to_owned();
        ensure!(!q.sql.is_empty(), "query {:?} has no SQL", q.name);
    }
    ensure!(!out.is_empty(), "the query set holds no query");
    Ok(out)
}

fn parse_disclosure(spec: &str, query: &str) -> anyhow::Result<Disclosure> {
    let mut parts = spec.split_whitespace();
    let dimensions: Vec<String> = parts
        .next()
        .with_context(|| format!("query {query:?}: disclosure names no dimension"))?
        .split(',')
        .map(str::to_owned)
        .collect();
    let (mut count, mut totals) = (None, Vec::new());
    for part in parts {
        match part.split_once('=') {
            Some(("count", c)) => count = Some(c.to_owned()),
            Some(("total", t)) => {
                for d in t.split(',') {
                    totals.push(dimensions.iter().position(|x| x == d).with_context(|| {
                        format!("query {query:?}: total along {d:?}, not a dimension")
                    })?);
                }
            }
            _ => bail!("query {query:?}: disclosure part {part:?} is neither count= nor total="),
        }
    }
    Ok(Disclosure {
        dimensions,
        count: count.with_context(|| format!("query {query:?}: disclosure without count="))?,
        totals,
    })
}

/// The extract's tables and the lake columns the permit selected.
const TABLES: [(LakeTable, &[&str]); 4] = [
    (
        LakeTable::Person,
        &["sex", "birth_date", "prefecture_code", "municipality_code"],
    ),
    (
        LakeTable::Condition,
        &["icd10", "medis_code", "onset_date", "recorded_date"],
    ),
    (
        LakeTable::Observation,
        &["code", "value_number", "value_unit", "effective_at"],
    ),
    (
        LakeTable::MedicationRequest,
        &["code", "authored_at", "dose_quantity", "duration_days"],
    ),
];

/// An extract table's schema, as the builder writes it: `pseudonym`, then
/// the selected lake columns with the lake's types.
fn extract_schema(table: LakeTable, columns: &[&str]) -> anyhow::Result<SchemaRef> {
    let lake = table.schema();
    let mut fields = vec![Field::new("pseudonym", DataType::Utf8, true)];
    for c in columns {
        fields.push(lake.field_with_name(c)?.clone());
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// SplitMix64: a seeded stream per person and table, so that the tables
/// can be written in parallel and still agree about each person.
struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn new(seed: u64, stream: u64, i: u64) -> Self {
        Rng(mix(seed ^ mix(stream.wrapping_mul(0x9E37_79B9) ^ mix(i))))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A count with mean `mean`: uniform on 0..=2·mean.
    fn count(&mut self, mean: u64) -> u64 {
        self.below(2 * mean + 1)
    }
}

/// Days since 1970-01-01.
const DAY_1930: i32 = -14_610;
const DAY_2010: i32 = 14_610;
const DAY_2015: i32 = 16_436;
const DAY_2026: i32 = 20_454;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Diagnoses of passing illnesses: ICD-10 (as the lake holds it, no dot).
const ACUTE: [&str; 10] = [
    "J069", "K297", "M545", "H521", "L209", "R51", "A090", "J209", "N390", "R05",
];

/// What every table knows about a person.
struct PersonDraw {
    pseudonym: String,
    male: bool,
    birth: i32,
    prefecture: u64,
    municipality: u64,
    /// Indexes into [`DISEASES`].
    chronic: Vec<usize>,
}

fn person(seed: u64, i: u64) -> PersonDraw {
    let mut rng = Rng::new(seed, 0, i);
    let pseudonym = format!("{:016x}{:016x}", rng.next(), rng.next());
    let male = rng.below(2) == 0;
    let birth = DAY_1930 + rng.below((DAY_2026 - DAY_1930) as u64) as i32;
    let age = (DAY_2026 - birth) as u32 / 365;
    let sex = if male { Sex::Male } else { Sex::Female };
    let chronic = (0..DISEASES.len())
        .filter(|d| rng.unit() < (DISEASES[*d].prevalence)(age, sex))
        .collect();
    PersonDraw {
        pseudonym,
        male,
        birth,
        prefecture: 1 + rng.below(47),
        municipality: 100 + rng.below(40) * 2,
        chronic,
    }
}

/// The day a chronic disease started: fixed per person and disease.
fn onset(seed: u64, i: u64, p: &PersonDraw, disease: usize) -> i32 {
    let mut rng = Rng::new(seed, 3, i * 64 + disease as u64);
    let from = p.birth.max(DAY_2010);
    from + rng.below((DAY_2026 - from).max(1) as u64) as i32
}

fn micros_between(rng: &mut Rng, from: i32, to: i32) -> i64 {
    i64::from(from) * MICROS_PER_DAY
        + rng.below((i64::from(to - from) * MICROS_PER_DAY) as u64) as i64
}

/// Persons per batch written.
const CHUNK: u64 = 20_000;

/// Writes one table of the extract; returns its rows.
fn write_table(
    table: LakeTable,
    columns: &[&str],
    args: &QueryBenchArgs,
    path: &Path,
) -> anyhow::Result<u64> {
    let schema = extract_schema(table, columns)?;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        file,
        schema.clone(),
        Some(renkei_store::lake::writer_properties()),
    )?;
    let seed = args.seed;
    let mut rows = 0u64;
    let mut start = 0u64;
    while start < args.persons {
        let end = (start + CHUNK).min(args.persons);
        let mut pseudonym = StringBuilder::new();
        let columns: Vec<ArrayRef> = match table {
            LakeTable::Person => {
                let (mut sex, mut birth, mut pref, mut muni) = (
                    StringBuilder::new(),
                    Date32Builder::new(),
                    StringBuilder::new(),
                    StringBuilder::new(),
                );
                for i in start..end {
                    let p = person(seed, i);
                    pseudonym.append_value(&p.pseudonym);
                    sex.append_value(if p.male { "male" } else { "female" });
                    birth.append_value(p.birth);
                    pref.append_value(format!("{:02}", p.prefecture));
                    muni.append_value(format!(
                        "{:02}{:03}{}",
                        p.prefecture,
                        p.municipality,
                        p.municipality % 10
                    ));
                }
                vec![
                    Arc::new(pseudonym.finish()),
                    Arc::new(sex.finish()),
                    Arc::new(birth.finish()),
                    Arc::new(pref.finish()),
                    Arc::new(muni.finish()),
                ]
            }
            LakeTable::Condition => {
                let (mut icd10, mut medis, mut onset_date, mut recorded) = (
                    StringBuilder::new(),
                    StringBuilder::new(),
                    Date32Builder::new(),
                    Date32Builder::new(),
                );
                for i in start..end {
                    let p = person(seed, i);
                    let mut rng = Rng::new(seed, 1, i);
                    for _ in 0..rng.count(args.conditions) {
                        pseudonym.append_value(&p.pseudonym);
                        // Chronic diseases are recorded again and again
                        // (a claim a month); passing illnesses once.
                        let day = if !p.chronic.is_empty() && rng.unit() < 0.7 {
                            let d = p.chronic[rng.below(p.chronic.len() as u64) as usize];
                            icd10.append_value(DISEASES[d].icd10.replace('.', ""));
                            medis.append_value(DISEASES[d].medis);
                            onset(seed, i, &p, d)
                        } else {
                            icd10.append_value(ACUTE[rng.below(ACUTE.len() as u64) as usize]);
                            medis.append_null();
                            let from = p.birth.max(DAY_2015);
                            from + rng.below((DAY_2026 - from).max(1) as u64) as i32
                        };
                        onset_date.append_value(day);
                        recorded.append_value((day + rng.below(365) as i32).min(DAY_2026 - 1));
                    }
                }
                vec![
                    Arc::new(pseudonym.finish()),
                    Arc::new(icd10.finish()),
                    Arc::new(medis.finish()),
                    Arc::new(onset_date.finish()),
                    Arc::new(recorded.finish()),
                ]
            }
            LakeTable::Observation => {
                let (mut code, mut value, mut unit, mut at) = (
                    StringBuilder::new(),
                    Float64Builder::new(),
                    StringBuilder::new(),
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                );
                for i in start..end {
                    let p = person(seed, i);
                    let diabetic = p.chronic.contains(&0);
                    let mut rng = Rng::new(seed, 2, i);
                    for _ in 0..rng.count(args.labs) {
                        let l = rng.below(LABS.len() as u64) as usize;
                        let lab = &LABS[l];
                        let mut v = lab.low + (lab.high - lab.low) * (rng.unit() * 1.4 - 0.2);
                        if l == renkei_synth::tables::clinical::HBA1C && diabetic {
                            v += 1.5;
                        }
                        let scale = 10f64.powi(i32::from(lab.decimals));
                        pseudonym.append_value(&p.pseudonym);
                        code.append_value(lab.jlac10);
                        value.append_value((v * scale).round() / scale);
                        unit.append_value(lab.unit);
                        at.append_value(micros_between(&mut rng, p.birth.max(DAY_2015), DAY_2026));
                    }
                }
                vec![
                    Arc::new(pseudonym.finish()),
                    Arc::new(code.finish()),
                    Arc::new(value.finish()),
                    Arc::new(unit.finish()),
                    Arc::new(at.finish()),
                ]
            }
            LakeTable::MedicationRequest => {
                let (mut code, mut at, mut dose, mut days) = (
                    StringBuilder::new(),
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                    Float64Builder::new(),
                    Int32Builder::new(),
                );
                for i in start..end {
                    let p = person(seed, i);
                    let mut rng = Rng::new(seed, 4, i);
                    let with_drug: Vec<usize> = p
                        .chronic
                        .iter()
                        .copied()
                        .filter(|d| DISEASES[*d].drug.is_some())
                        .collect();
                    for _ in 0..rng.count(args.prescriptions) {
                        let drug = match with_drug.as_slice() {
                            [] => &DRUGS[rng.below(DRUGS.len() as u64) as usize],
                            ds if rng.unit() < 0.8 => {
                                let d = ds[rng.below(ds.len() as u64) as usize];
                                &DRUGS[DISEASES[d].drug.expect("filtered on a drug")]
                            }
                            _ => &DRUGS[rng.below(DRUGS.len() as u64) as usize],
                        };
                        pseudonym.append_value(&p.pseudonym);
                        code.append_value(drug.yj);
                        at.append_value(micros_between(&mut rng, p.birth.max(DAY_2015), DAY_2026));
                        dose.append_value(f64::from(drug.per_day));
                        days.append_value([7, 14, 28, 30, 56, 84, 90][rng.below(7) as usize]);
                    }
                }
                vec![
                    Arc::new(pseudonym.finish()),
                    Arc::new(code.finish()),
                    Arc::new(at.finish()),
                    Arc::new(dose.finish()),
                    Arc::new(days.finish()),
                ]
            }
            other => bail!("the bench writes no {} table", other.name()),
        };
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
        start = end;
    }
    writer.close()?;
    Ok(rows)
}

/// The extract for these flags: generated once, then found again.
fn extract_dir(args: &QueryBenchArgs) -> anyhow::Result<(PathBuf, BTreeMap<String, u64>)> {
    let root = args
        .work
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("renkei-bench-query"));
    let dir = root.join(format!(
        "persons-{}-c{}-l{}-m{}-seed-{}",
        args.persons, args.conditions, args.labs, args.prescriptions, args.seed
    ));
    // Written last: a directory without it is an interrupted generation.
    let marker = dir.join("bench-input.json");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let rows: BTreeMap<String, u64> =
            serde_json::from_str(&text).with_context(|| format!("reading {}", marker.display()))?;
        eprintln!("bench query: reusing the extract in {}", dir.display());
        return Ok((dir, rows));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!(
        "bench query: writing an extract of {} persons (seed {}) to {}…",
        args.persons,
        args.seed,
        dir.display()
    );
    let t0 = Instant::now();
    let rows = std::thread::scope(|s| -> anyhow::Result<BTreeMap<String, u64>> {
        let handles: Vec<_> = TABLES
            .iter()
            .map(|(table, columns)| {
                let path = dir.join(format!("{}.parquet", table.name()));
                s.spawn(move || write_table(*table, columns, args, &path))
            })
            .collect();
        let mut rows = BTreeMap::new();
        for ((table, _), h) in TABLES.iter().zip(handles) {
            let n = h
                .join()
                .map_err(|_| anyhow::anyhow!("writing {} panicked", table.name()))??;
            rows.insert(table.name().to_owned(), n);
        }
        Ok(rows)
    })?;
    std::fs::write(&marker, serde_json::to_string(&rows)?)?;
    eprintln!(
        "bench query: wrote {} rows in {:.1} s",
        rows.values().sum::<u64>(),
        t0.elapsed().as_secs_f64()
    );
    Ok((dir, rows))
}

pub async fn run(args: QueryBenchArgs) -> anyhow::Result<()> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    ensure!(args.persons > 0, "--persons must be at least 1");
    let queries = parse_query_set(QUERY_SET)?;
    let (dir, rows) = {
        let args = &args;
        tokio::task::block_in_place(|| extract_dir(args))?
    };
    let store: Arc<dyn ObjectStore> = Arc::new(
        LocalFileSystem::new_with_prefix(&dir)
            .with_context(|| format!("opening {}", dir.display()))?,
    );
    let tables: Vec<ExtractTable> = TABLES
        .iter()
        .map(|(t, _)| ExtractTable {
            name: t.name().to_owned(),
            files: vec![ObjectPath::from(format!("{}.parquet", t.name()))],
            // As the server opens a workspace: the schema from the footer.
            schema: None,
        })
        .collect();
    let limits = Limits {
        memory_bytes: args.memory_gib << 30,
        timeout: Duration::from_secs(3600),
        max_rows: 1_000_000,
        cpus: args.threads,
    };
    let ws = Workspace::open(renkei_core::PermitId::generate(), store, &tables, limits).await?;
    let mut measured = Vec::new();
    for q in &queries {
        let mut seconds = Vec::new();
        let mut last = None;
        for _ in 0..args.runs {
            let t0 = Instant::now();
            let result = ws
                .query(&q.sql)
                .await
                .with_context(|| format!("query {}", q.name))?;
            seconds.push(t0.elapsed().as_secs_f64());
            last = Some(result);
        }
        let result = last.expect("at least one run");
        ensure!(!result.truncated, "query {}: the result was cut", q.name);
        let (sdc_s, suppressed, cells) = match &q.disclosure {
            Some(d) => {
                let mut times = Vec::new();
                let mut outcome = (0, 0);
                for _ in 0..args.runs {
                    let t0 = Instant::now();
                    let table = cell_table(d, &result)?;
                    let decision = disclosure::check(&table, &Rules::default(), &[])
                        .with_context(|| format!("disclosure control of {}", q.name))?;
                    times.push(t0.elapsed().as_secs_f64());
                    outcome = (decision.suppressed().count(), decision.cells().len());
                }
                (Some(super::median(times)), outcome.0, outcome.1)
            }
            None => (None, 0, 0),
        };
        let r = super::median(seconds);
        eprintln!(
            "bench query: renkei {}: {:.3} s, {} rows{}",
            q.name,
            r,
            result.rows,
            sdc_s.map_or_else(String::new, |s| format!(
                "; disclosure control {:.4} s ({:.2}% of the query), {suppressed} of {cells} cells suppressed",
                s,
                100.0 * s / r
            ))
        );
        measured.push((q, r, result, sdc_s, suppressed, cells));
    }
    let peer = if args.skip_peer {
        None
    } else {
        Some(peer(&args, &dir, &queries)?)
    };
    let mut per_query = serde_json::Map::new();
    let (mut renkei_total, mut peer_total) = (0.0, 0.0);
    let (mut counted_query_s, mut sdc_total) = (0.0, 0.0);
    for (i, (q, r, result, sdc_s, suppressed, cells)) in measured.iter().enumerate() {
        renkei_total += r;
        let mut entry = json!({ "renkei_s": r, "rows": result.rows });
        if let Some(s) = sdc_s {
            counted_query_s += r;
            sdc_total += s;
            entry["sdc_s"] = json!(s);
            entry["sdc_overhead"] = json!(s / r);
            entry["suppressed_cells"] = json!(suppressed);
            entry["cells"] = json!(cells);
        }
        if let Some(peer) = &peer {
            let theirs = &peer["queries"][i];
            ensure!(
                theirs["name"] == q.name.as_str(),
                "the peer answered {} where {} was asked",
                theirs["name"],
                q.name
            );
            same_answer(&q.name, result, theirs)?;
            let seconds: Vec<f64> = theirs["seconds"]
                .as_array()
                .context("peer seconds")?
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            ensure!(!seconds.is_empty(), "the peer timed no run of {}", q.name);
            let p = super::median(seconds);
            peer_total += p;
            entry["duckdb_s"] = json!(p);
            entry["speedup"] = json!(round2(p / r));
            eprintln!(
                "bench query: {}: renkei {r:.3} s, duckdb {p:.3} s, same answer ({} rows)",
                q.name, result.rows
            );
        }
        per_query.insert(q.name.clone(), entry);
    }
    let sdc_overhead = if counted_query_s > 0.0 {
        Some(sdc_total / counted_query_s)
    } else {
        None
    };
    println!(
        "{}",
        json!({
            "bench": "query",
            "metric": "seconds_total",
            "renkei": renkei_total,
            "peer": "duckdb",
            "peer_value": peer.as_ref().map(|_| peer_total),
            "speedup": peer.as_ref().map(|_| round2(peer_total / renkei_total)),
            "sdc_overhead": sdc_overhead,
            "queries": per_query,
            "persons": args.persons,
            "rows": rows,
            "rows_total": rows.values().sum::<u64>(),
            "runs": args.runs,
            "threads": args.threads,
            "duckdb": peer.as_ref().map(|p| p["duckdb"].clone()),
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
    Ok(())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A count query's result as a table of distinct persons per cell, with
/// the margins its disclosure line asks for, summed from the cells (each
/// person falls in one category of a dimension with a total).
fn cell_table(d: &Disclosure, result: &QueryResult) -> anyhow::Result<CellTable> {
    let rows = result.to_json_rows()?;
    let mut cells: BTreeMap<Vec<Option<String>>, u64> = BTreeMap::new();
    for row in rows {
        let key: Vec<Option<String>> = d
            .dimensions
            .iter()
            .map(|dim| match row.get(dim) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => Some(String::new()),
                Some(v) => Some(v.to_string()),
            })
            .collect();
        let n = row
            .get(&d.count)
            .and_then(Value::as_u64)
            .with_context(|| format!("column {:?} is not a count", d.count))?;
        for mask in 0u32..(1 << d.totals.len()) {
            let mut k = key.clone();
            for (bit, dim) in d.totals.iter().enumerate() {
                if mask >> bit & 1 == 1 {
                    k[*dim] = None;
                }
            }
            *cells.entry(k).or_default() += n;
        }
    }
    let mut table = CellTable::new(d.dimensions.iter().cloned(), DataKind::General);
    for (key, n) in cells {
        table.push_count(key.into_iter().map(|p| p.map_or(Key::Total, Key::value)), n);
    }
    Ok(table)
}

/// Fails unless the peer's rows are renkei's: same columns and rows in the
/// same order, integers equal, floats within rounding of the summation
/// order.
fn same_answer(name: &str, ours: &QueryResult, theirs: &Value) -> anyhow::Result<()> {
    let columns = ours.columns();
    let their_columns: Vec<&str> = theirs["columns"]
        .as_array()
        .context("peer columns")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ensure!(
        columns
            .iter()
            .map(String::as_str)
            .eq(their_columns.iter().copied()),
        "{name}: renkei's columns {columns:?}, DuckDB's {their_columns:?}"
    );
    let their_rows = theirs["rows"].as_array().context("peer rows")?;
    let our_rows = ours.to_json_rows()?;
    ensure!(
        our_rows.len() == their_rows.len(),
        "{name}: renkei answered {} rows, DuckDB {}",
        our_rows.len(),
        their_rows.len()
    );
    for (i, (a, b)) in our_rows.iter().zip(their_rows).enumerate() {
        for (j, c) in columns.iter().enumerate() {
            let x = a.get(c).unwrap_or(&Value::Null);
            let y = &b[j];
            let same = match (x, y) {
                (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
                    (Some(x), Some(y)) => x == y,
                    _ => {
                        let (x, y) = (
                            x.as_f64().unwrap_or(f64::NAN),
                            y.as_f64().unwrap_or(f64::NAN),
                        );
                        (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
                    }
                },
                _ => x == y,
            };
            ensure!(same, "{name}: row {i}, column {c}: renkei {x}, DuckDB {y}");
        }
    }
    Ok(())
}

fn peer(args: &QueryBenchArgs, dir: &Path, queries: &[Query]) -> anyhow::Result<Value> {
    let tables: serde_json::Map<String, Value> = TABLES
        .iter()
        .map(|(t, _)| {
            (
                t.name().to_owned(),
                json!(
                    dir.join(format!("{}.parquet", t.name()))
                        .display()
                        .to_string()
                ),
            )
        })
        .collect();
    let scratch = tempfile::tempdir()?;
    let tables_json = scratch.path().join("tables.json");
    let queries_json = scratch.path().join("queries.json");
    std::fs::write(&tables_json, serde_json::to_string(&tables)?)?;
    let list: Vec<Value> = queries
        .iter()
        .map(|q| json!({ "name": q.name, "sql": q.sql }))
        .collect();
    std::fs::write(&queries_json, serde_json::to_string(&list)?)?;
    let script = super::peer_script("duckdb_query.py")?;
    let output = Command::new(&args.python)
        .arg(&script)
        .arg("--tables")
        .arg(&tables_json)
        .arg("--queries")
        .arg(&queries_json)
        .arg("--runs")
        .arg(args.runs.to_string())
        .arg("--threads")
        .arg(args.threads.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} (the DuckDB peer needs Python 3)", args.python))?;
    ensure!(
        output.status.success(),
        "the DuckDB peer failed ({})",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .last()
        .context("the DuckDB peer printed nothing")?;
    serde_json::from_str(last).with_context(|| format!("the DuckDB peer printed {last:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_set_parses_with_its_disclosure_lines() {
        let queries = parse_query_set(QUERY_SET).expect("the shipped set parses");
        let names: Vec<&str> = queries.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "age_band_disease",
                "lab_trend",
                "drug_prevalence",
                "diabetes_drugs_after_diagnosis",
                "high_hba1c_by_age_sex"
            ]
        );
        assert_eq!(
            queries[0].disclosure,
            Some(Disclosure {
                dimensions: vec!["age_band".into(), "disease".into()],
                count: "persons".into(),
                totals: vec![0],
            })
        );
        assert_eq!(queries[1].disclosure, None);
        assert!(
            queries
                .iter()
                .all(|q| q.sql.starts_with("SELECT") && !q.sql.ends_with(';'))
        );
    }

    #[test]
    fn a_total_along_a_dimension_that_is_not_one_is_refused() {
        let err = parse_query_set("-- query: q\n-- disclosure: a,b count=n total=c\nSELECT 1;\n")
            .expect_err("c is not a dimension");
        assert!(err.to_string().contains("\"c\""), "{err}");
    }
}
