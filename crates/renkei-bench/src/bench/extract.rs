//! `renkei-bench extract`: a permit extract of a large lake table — opt-out
//! filter, pseudonyms, Parquet — in rows per second, against DuckDB doing
//! the same anti-join, keyed hash and write over the same files
//! (`scripts/bench/duckdb_extract.py`).
//!
//! The lake is written directly (not through the intake, which `bench
//! ingest` measures): `--persons` persons with `--rows-per-person`
//! observations each, in files of a million rows. The extract keeps three
//! columns and leaves out `--optout-share` of the persons. Each run is a
//! new permit, so nothing is reused; the first run also numbers the
//! persons for the bitmap, which later runs find done.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, ensure};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use futures::future::BoxFuture;
use renkei_core::{
    Actor, AuditEvent, AuditReceipt, AuditSink, DataUse, ErrorKind, Function, Grant, LakeTable,
    OptOutRegistry, PermitAuthority, PermitId, PermitNotice, PersonKey, ServiceError,
    ServiceResult, Standing, SystemClock, WorkspaceResources,
};
use renkei_deid::{Delivery, Exclusion, Options, Peers, Processing, TableSelection};
use renkei_store::lake::TableName;
use renkei_store::{DatabaseConfig, StoreConfig, Stores};

/// Flags of `renkei-bench extract`.
#[derive(Debug, clap::Args)]
pub struct ExtractBenchArgs {
    /// Persons in the lake.
    #[arg(long, default_value_t = 1_000_000)]
    persons: u64,
    /// Observations per person.
    #[arg(long, default_value_t = 10)]
    rows_per_person: u64,
    /// Share of persons who opted out.
    #[arg(long, default_value_t = 0.01)]
    optout_share: f64,
    /// Runs of each side; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// DuckDB's threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The Python interpreter that runs the DuckDB peer.
    #[arg(long, default_value = "python3", env = "RENKEI_BENCH_PYTHON")]
    python: String,
}

/// Counts entries and keeps none: the bench measures the builder, not the
/// log (`bench audit` does).
struct NullAudit;

impl AuditSink for NullAudit {
    fn append(&self, _: AuditEvent) -> BoxFuture<'_, Result<AuditReceipt, renkei_core::Error>> {
        Box::pin(async { Ok(AuditReceipt { index: 0 }) })
    }
}

/// Every permit in force and nobody opted out: the bench hands `build`
/// its grant and exclusion itself.
struct InForce;

impl PermitAuthority for InForce {
    fn grant(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Grant>> {
        Box::pin(async move {
            Err(ServiceError::new(
                Function::Review,
                ErrorKind::NotFound,
                format!("permit {permit}"),
            ))
        })
    }

    fn standing(&self, _: PermitId) -> BoxFuture<'_, ServiceResult<Standing>> {
        Box::pin(async { Ok(Standing::InForce) })
    }

    fn terms(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<(Grant, Standing)>> {
        Box::pin(async move {
            Err(ServiceError::new(
                Function::Review,
                ErrorKind::NotFound,
                format!("permit {permit}"),
            ))
        })
    }

    fn notice(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<PermitNotice>> {
        Box::pin(async move {
            Err(ServiceError::new(
                Function::Review,
                ErrorKind::NotFound,
                format!("permit {permit}"),
            ))
        })
    }

    fn may_check_outputs<'a>(
        &'a self,
        reviewer: &'a str,
        _: PermitId,
    ) -> BoxFuture<'a, ServiceResult<()>> {
        Box::pin(async move {
            Err(ServiceError::new(
                Function::Review,
                ErrorKind::Conflict,
                format!("{reviewer} checks no output here"),
            ))
        })
    }
}

impl OptOutRegistry for InForce {
    fn exclusion(&self, _: &DataUse) -> BoxFuture<'_, ServiceResult<Exclusion>> {
        Box::pin(async { Ok(Exclusion::default()) })
    }
}

const CHUNK: u64 = 1_000_000;

pub async fn run(args: ExtractBenchArgs) -> anyhow::Result<()> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    let dir = tempfile::tempdir()?;
    let stores = Stores::open(
        dir.path(),
        &StoreConfig {
            database: DatabaseConfig::Sqlite { max_connections: 4 },
            ..StoreConfig::default()
        },
    )
    .await?;
    let lake = stores.lake()?;
    let rows_total = args.persons * args.rows_per_person;
    eprintln!(
        "bench extract: writing {} persons × {} observations = {rows_total} rows to a lake…",
        args.persons, args.rows_per_person
    );
    let persons: Vec<String> = (0..args.persons)
        .map(|_| PersonKey::generate().to_string())
        .collect();
    let table = TableName::parse("observation")?;
    let schema = LakeTable::Observation.schema();
    let mut written = 0u64;
    while written < rows_total {
        let n = CHUNK.min(rows_total - written) as usize;
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                let text = |g: &dyn Fn(u64) -> String| {
                    Arc::new(StringArray::from_iter_values(
                        (0..n as u64).map(|i| g(written + i)),
                    )) as ArrayRef
                };
                match f.name().as_str() {
                    "person_key" => text(&|i| persons[(i / args.rows_per_person) as usize].clone()),
                    "code" => text(&|i| format!("3D0{:02}0000001926101", i % 40)),
                    "code_system" => text(&|_| "urn:oid:1.2.392.200119.4.504".to_owned()),
                    "status" => text(&|_| "final".to_owned()),
                    "value_number" => Arc::new(Float64Array::from_iter_values(
                        (0..n as u64).map(|i| ((written + i) % 1000) as f64 / 10.0),
                    )),
                    "effective_at" | "ingested_at" => Arc::new(
                        TimestampMicrosecondArray::from_iter_values((0..n as u64).map(|i| {
                            1_600_000_000_000_000 + ((written + i) % 100_000) as i64 * 3_600_000_000
                        }))
                        .with_timezone("UTC"),
                    ),
                    "provider_code" => text(&|i| format!("13{:08}", i % 1000)),
                    "source_type" => text(&|_| "Observation".to_owned()),
                    "source_id" => text(&|i| format!("obs-{i}")),
                    "submission_id" => text(&|_| "bench".to_owned()),
                    _ => arrow::array::new_null_array(f.data_type(), n),
                }
            })
            .collect();
        lake.append(&table, &[RecordBatch::try_new(schema.clone(), columns)?])
            .await?;
        written += n as u64;
    }
    ensure!(
        args.optout_share > 0.0 && args.optout_share < 1.0,
        "--optout-share must be between 0 and 1"
    );
    // Every n-th person opted out: spread over every file, as opt-outs are.
    let every = (1.0 / args.optout_share).round().max(1.0) as usize;
    let excluded: Vec<PersonKey> = persons
        .iter()
        .step_by(every)
        .map(|k| PersonKey::parse(k))
        .collect::<Result<_, _>>()?;
    let excluded_rows = excluded.len() as u64 * args.rows_per_person;
    let exclusion = Exclusion {
        registry_version: 1,
        persons: excluded.iter().copied().collect(),
    };
    let processing = Processing::open(
        &stores,
        lake.clone(),
        Arc::new(SystemClock),
        Arc::new(NullAudit),
        Options::default(),
        Peers {
            permits: Arc::new(InForce),
            optouts: Arc::new(InForce),
        },
    )
    .await?;
    let columns = ["code", "value_number", "effective_at"];
    let mut renkei_s = Vec::new();
    for run in 0..args.runs {
        let spec = Grant {
            // A new permit per run, so nothing is reused.
            permit: PermitId::generate(),
            delivery: Delivery::Pseudonymized,
            tables: vec![TableSelection {
                table: "observation".to_owned(),
                columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            }],
            cohort_icd10: Vec::new(),
            period_from: "2000-01-01".to_owned(),
            period_to: "2099-12-31".to_owned(),
            date_shift_days: 0,
            data_use: DataUse::default(),
            users: Vec::new(),
            workspace: WorkspaceResources {
                cpus: 1,
                memory_gib: 1,
                storage_gib: 1,
            },
        };
        let t0 = Instant::now();
        let m = processing
            .build(
                &spec,
                &exclusion,
                &InForce,
                Actor::System {
                    component: "bench".to_owned(),
                },
            )
            .await?;
        let s = t0.elapsed().as_secs_f64();
        ensure!(
            m.rows() == rows_total - excluded_rows,
            "the extract holds {} rows, not {}",
            m.rows(),
            rows_total - excluded_rows
        );
        eprintln!(
            "bench extract: renkei run {run}: {s:.2} s, {:.0} rows/s",
            rows_total as f64 / s
        );
        renkei_s.push(s);
    }
    // The peer over the same files.
    let snapshot = lake
        .latest(&table)
        .await?
        .context("the bench's observation table")?;
    let root = lake.local_root().context("a local lake")?;
    let files: Vec<String> = snapshot
        .files()
        .iter()
        .map(|f| root.join(f.path().as_ref()).display().to_string())
        .collect();
    let excluded_csv = dir.path().join("excluded.csv");
    let mut w = csv::Writer::from_path(&excluded_csv)?;
    w.write_record(["person_key"])?;
    for k in &excluded {
        w.write_record([k.to_string()])?;
    }
    w.flush()?;
    let script = super::peer_script("duckdb_extract.py")?;
    let mut peer_s = Vec::new();
    let mut peer_version = String::new();
    for run in 0..args.runs {
        let out = dir.path().join(format!("peer-{run}.parquet"));
        let v = peer_once(&args, &script, &files, &excluded_csv, &columns, &out)?;
        let rows = v["rows"].as_u64().context("peer rows")?;
        ensure!(
            rows == rows_total - excluded_rows,
            "DuckDB wrote {rows} rows"
        );
        let s = v["seconds"].as_f64().context("peer seconds")?;
        eprintln!(
            "bench extract: duckdb run {run}: {s:.2} s, {:.0} rows/s",
            rows_total as f64 / s
        );
        peer_version = v["duckdb"].as_str().unwrap_or_default().to_owned();
        peer_s.push(s);
    }
    let (r, p) = (super::median(renkei_s), super::median(peer_s));
    let (renkei_rate, peer_rate) = (rows_total as f64 / r, rows_total as f64 / p);
    println!(
        "{}",
        serde_json::json!({
            "bench": "extract",
            "metric": "rows_per_s",
            "renkei": renkei_rate.round(),
            "peer": "duckdb",
            "peer_value": peer_rate.round(),
            "speedup": (renkei_rate / peer_rate * 100.0).round() / 100.0,
            "rows": rows_total,
            "persons": args.persons,
            "excluded_persons": excluded.len(),
            "renkei_seconds": r,
            "peer_seconds": p,
            "runs": args.runs,
            "duckdb_threads": args.threads,
            "duckdb": peer_version,
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
    Ok(())
}

fn peer_once(
    args: &ExtractBenchArgs,
    script: &Path,
    files: &[String],
    excluded: &Path,
    columns: &[&str],
    out: &Path,
) -> anyhow::Result<serde_json::Value> {
    let output = Command::new(&args.python)
        .arg(script)
        .arg("--files")
        .arg(files.join(","))
        .arg("--excluded")
        .arg(excluded)
        .arg("--columns")
        .arg(columns.join(","))
        .arg("--out")
        .arg(out)
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
