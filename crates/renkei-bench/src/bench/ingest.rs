//! `renkei-bench ingest`: how fast renkei takes a synthetic nation's
//! records in, against DuckDB turning the same NDJSON into Parquet. Two
//! numbers for renkei, each over the same input, in the same run:
//!
//! **pipeline** (the metric: `"renkei"`, `"speedup"` in the JSON
//! line): exactly parse + validate + split + write Parquet, on one thread
//! ([`pipeline`]): every line parsed to JSON, validated by
//! `renkei_fhir::validate` (JP Core tables; any refusal fails the run),
//! flattened by `renkei_fhir::flatten` (identifying attributes apart from
//! the lake rows, rows by table), rows written to one zstd Parquet file per
//! lake table on disk. No identity, no bookkeeping, no commits.
//!
//! **intake** (`"intake_resources_per_s"`, `"intake_speedup"`): the whole
//! intake as `POST /api/v1/submissions` runs it. A fresh data directory per
//! run (embedded SQLite, local lake), the person index and the intake;
//! every provider registered (its kind from its Organization's
//! `type[0].text`), then each provider's NDJSON files, concatenated in Bulk
//! Data order, sent as one submission. Timed from the first submission to
//! the last receipt: reading, hashing, parsing, validation, splitting,
//! identity (person index in SQLite), the version/subject/pending tables,
//! Parquet staging, receipts and the lake and database commits. Every
//! receipt must show nothing refused and nothing pending.
//!
//! Peer: `scripts/bench/duckdb_ingest.py`, DuckDB `read_json_auto` → one
//! Parquet file per resource type, with as many threads as renkei's runtime
//! has workers. It parses and writes; it does not validate, link or keep
//! versions — which is what the comparison prices.
//!
//! "One core": the pipeline runs on one thread. For the intake, `--threads
//! 1` gives the runtime one worker, but the intake hands CPU work to tokio's
//! blocking threads and SQLite runs on its own threads, so the process can
//! use more than one core at moments. Run under `taskset -c 0` to pin every
//! side to one core; the CPU seconds of each side and the CPUs the process
//! may use are reported either way.

use super::{cpu_seconds, median};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use renkei_collect::{FacilityKind, Intake, IntakeConfig, Provider};
use renkei_core::{Clock, IdentifyingAttributes, LakeTable, ProviderCode, SystemClock, Timestamp};
use renkei_fhir::flatten::{Cell, Lineage, TableBuilder};
use renkei_identity::PersonIndex;
use renkei_store::lake::TableName;
use renkei_store::{StoreConfig, Stores};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt};

mod pipeline;

/// Flags of `renkei-bench ingest`.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestBenchArgs {
    /// Persons in the synthetic nation.
    #[arg(long, default_value_t = 100_000)]
    patients: u64,
    /// Providers (each one submission per run).
    #[arg(long, default_value_t = 1000)]
    providers: u32,
    /// Seed of the synthetic nation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs of each side; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Worker threads of renkei's runtime, and DuckDB's `threads`.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Where the input and the runs' output go (kept between invocations:
    /// an input generated with the same flags is reused). Default: a
    /// temporary directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// After the runs, time the intake's phases one by one over the same
    /// input on one thread, and say what is left for the rest.
    #[arg(long)]
    breakdown: bool,
    /// The Python interpreter that runs the DuckDB peer.
    #[arg(long, default_value = "python3", env = "RENKEI_BENCH_PYTHON")]
    python: String,
}

/// A provider's part of the input.
struct ProviderInput {
    code: ProviderCode,
    name: String,
    kind: FacilityKind,
    files: Vec<PathBuf>,
}

/// The synthetic nation, on disk.
struct Input {
    dir: PathBuf,
    providers: Vec<ProviderInput>,
    types: Vec<&'static str>,
    resources: u64,
    bytes: u64,
}

struct RenkeiRun {
    seconds: f64,
    cpu_seconds: f64,
    lake_bytes: u64,
    db_bytes: u64,
}

struct PeerRun {
    seconds: f64,
    cpu_seconds: f64,
    out_bytes: u64,
    version: String,
}

/// The resource types, in Bulk Data order (Organization, Patient, Coverage,
/// then the clinical ones); no Bundles.
fn resource_types() -> Vec<&'static str> {
    renkei_synth::output::Kind::ALL
        .iter()
        .filter(|k| **k != renkei_synth::output::Kind::Bundle)
        .map(|k| k.resource_type())
        .collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The CPUs this process may run on, as the kernel lists them.
fn cpus_allowed() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

fn fresh_dir(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))?;
    }
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))
}

const MARKER: &str = "bench-input.json";

/// Generates the nation into `dir` (or reuses one generated there with the
/// same flags), then lists each provider's files.
fn prepare(args: &IngestBenchArgs, dir: &Path) -> anyhow::Result<Input> {
    let wanted = json!({
        "patients": args.patients,
        "providers": args.providers,
        "seed": args.seed,
        "bundles": false,
    });
    let marker = dir.join(MARKER);
    let previous: Option<serde_json::Value> = std::fs::read(&marker)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let resources = match previous {
        Some(p) if p["input"] == wanted => {
            eprintln!("bench ingest: reusing the input in {}", dir.display());
            p["resources"]
                .as_u64()
                .context("the input marker has no resource count")?
        }
        _ => {
            if dir.exists() {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("removing {}", dir.display()))?;
            }
            eprintln!(
                "bench ingest: generating {} persons at {} providers (seed {}) into {}",
                args.patients,
                args.providers,
                args.seed,
                dir.display()
            );
            let started = Instant::now();
            let options = renkei_synth::Options {
                patients: args.patients,
                providers: args.providers,
                seed: args.seed,
                rates: renkei_synth::VariantRates::default(),
                bundles: false,
            };
            let summary = renkei_synth::generate(&options, dir)
                .with_context(|| format!("generating the input into {}", dir.display()))?;
            eprintln!(
                "bench ingest: generated {} resources in {:.1} s",
                summary.total(),
                started.elapsed().as_secs_f64()
            );
            let resources = summary.total();
            std::fs::write(
                &marker,
                serde_json::to_vec(&json!({ "input": wanted, "resources": resources }))?,
            )?;
            resources
        }
    };

    let types = resource_types();
    let mut providers = Vec::new();
    let mut bytes = 0;
    let mut present: Vec<&'static str> = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries.into_iter().filter(|p| p.is_dir()) {
        let code_text = path
            .file_name()
            .and_then(|n| n.to_str())
            .context("a provider directory without a UTF-8 name")?;
        let code = ProviderCode::parse(code_text)
            .with_context(|| format!("{}: not a 医療機関コード", path.display()))?;
        let mut files = Vec::new();
        for ty in &types {
            let file = path.join(format!("{ty}.ndjson"));
            if let Ok(meta) = std::fs::metadata(&file) {
                bytes += meta.len();
                files.push(file);
                if !present.contains(ty) {
                    present.push(ty);
                }
            }
        }
        let (name, kind) = organization(&path.join("Organization.ndjson"));
        providers.push(ProviderInput {
            code,
            name: name.unwrap_or_else(|| code_text.to_owned()),
            kind,
            files,
        });
    }
    ensure!(!providers.is_empty(), "no provider in {}", dir.display());
    let types = types.into_iter().filter(|t| present.contains(t)).collect();
    Ok(Input {
        dir: dir.to_owned(),
        providers,
        types,
        resources,
        bytes,
    })
}

/// The provider's name and facility kind from its Organization resource;
/// a Hospital when the type is missing or unknown.
fn organization(path: &Path) -> (Option<String>, FacilityKind) {
    let first = std::fs::File::open(path).ok().and_then(|f| {
        let mut line = String::new();
        BufReader::new(f).read_line(&mut line).ok()?;
        serde_json::from_str::<serde_json::Value>(&line).ok()
    });
    let Some(org) = first else {
        return (None, FacilityKind::Hospital);
    };
    let kind = org["type"][0]["text"]
        .as_str()
        .and_then(|t| FacilityKind::from_str(t).ok())
        .unwrap_or(FacilityKind::Hospital);
    (org["name"].as_str().map(str::to_owned), kind)
}

/// One provider's files as one body.
async fn body(files: &[PathBuf]) -> anyhow::Result<Box<dyn AsyncRead + Unpin + Send>> {
    let mut body: Box<dyn AsyncRead + Unpin + Send> = Box::new(tokio::io::empty());
    for f in files {
        let file = tokio::fs::File::open(f)
            .await
            .with_context(|| format!("opening {}", f.display()))?;
        body = Box::new(body.chain(file));
    }
    Ok(body)
}

async fn open_stores(data: &Path) -> anyhow::Result<Stores> {
    fresh_dir(data)?;
    Ok(Stores::open(data, &StoreConfig::default()).await?)
}

/// One run of the intake over the whole input, in a fresh data directory.
async fn renkei_once(input: &Input, data: &Path) -> anyhow::Result<RenkeiRun> {
    let stores = open_stores(data).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The real log: renkei as it runs, two entries per submission.
    let audit = renkei_audit::AuditLog::open(&stores, clock.clone()).await?;
    let index = PersonIndex::open(&stores, clock.clone(), Arc::new(audit.clone())).await?;
    let intake = Intake::open(
        &stores,
        Arc::new(index),
        Arc::new(audit.clone()),
        clock.clone(),
        IntakeConfig::default(),
    )
    .await?;
    let sender = renkei_core::Actor::System {
        component: "bench".to_owned(),
    };
    for p in &input.providers {
        intake
            .register_provider(
                &sender,
                &Provider {
                    code: p.code.clone(),
                    name: p.name.clone(),
                    kind: p.kind,
                    org_id: None,
                    registered_at: clock.now(),
                },
            )
            .await
            .with_context(|| format!("registering provider {}", p.code))?;
    }

    let cpu_before = cpu_seconds()?;
    let started = Instant::now();
    let mut accepted = 0;
    for p in &input.providers {
        let receipt = intake
            .submit(&sender, &p.code, body(&p.files).await?)
            .await
            .with_context(|| format!("submitting provider {}'s records", p.code))?;
        let totals = receipt.totals();
        if totals.rejected > 0 {
            bail!(
                "provider {}: {} of {} synthetic resources refused; the first: {}",
                p.code,
                totals.rejected,
                totals.received,
                serde_json::to_string(&receipt.rejected.first())?
            );
        }
        if totals.pending > 0 {
            bail!(
                "provider {}: {} synthetic resources held pending; the first notice: {}",
                p.code,
                totals.pending,
                serde_json::to_string(&receipt.notices.first())?
            );
        }
        accepted += totals.accepted;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds()? - cpu_before;
    ensure!(
        accepted == input.resources,
        "the intake accepted {accepted} resources of {}",
        input.resources
    );
    stores.close().await;
    let run = RenkeiRun {
        seconds,
        cpu_seconds,
        lake_bytes: dir_size(&data.join("lake")),
        db_bytes: dir_size(&data.join("db")),
    };
    std::fs::remove_dir_all(data)?;
    Ok(run)
}

/// One run of DuckDB over the whole input.
fn duckdb_once(
    args: &IngestBenchArgs,
    input: &Input,
    script: &Path,
    out: &Path,
) -> anyhow::Result<PeerRun> {
    fresh_dir(out)?;
    let output = Command::new(&args.python)
        .arg(script)
        .arg("--input")
        .arg(&input.dir)
        .arg("--out")
        .arg(out)
        .arg("--threads")
        .arg(args.threads.to_string())
        .arg("--types")
        .arg(input.types.join(","))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "{} not found: the DuckDB peer of this benchmark needs Python 3 (give another interpreter with --python)",
                    args.python
                )
            } else {
                anyhow::anyhow!("running {}: {e}", args.python)
            }
        })?;
    ensure!(
        output.status.success(),
        "the DuckDB peer failed ({}); its message is above",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .last()
        .context("the DuckDB peer printed nothing")?;
    let v: serde_json::Value =
        serde_json::from_str(last).with_context(|| format!("the DuckDB peer printed {last:?}"))?;
    let rows = v["rows"].as_u64().context("no rows in the peer's answer")?;
    ensure!(
        rows == input.resources,
        "DuckDB wrote {rows} rows for {} resources",
        input.resources
    );
    let run = PeerRun {
        seconds: v["seconds"]
            .as_f64()
            .context("no seconds in the peer's answer")?,
        cpu_seconds: v["cpu_seconds"].as_f64().unwrap_or(f64::NAN),
        out_bytes: v["out_bytes"].as_u64().unwrap_or(0),
        version: v["duckdb"].as_str().unwrap_or("?").to_owned(),
    };
    std::fs::remove_dir_all(out)?;
    Ok(run)
}

/// Time spent per phase when the intake's steps are run one by one.
#[derive(Default)]
struct Phases {
    read: Duration,
    sha256: Duration,
    parse: Duration,
    validate: Duration,
    hash: Duration,
    flatten: Duration,
    identity: Duration,
    arrow: Duration,
    parquet: Duration,
}

impl Phases {
    fn list(&self) -> [(&'static str, Duration); 9] {
        [
            ("read lines", self.read),
            ("SHA-256 of the body", self.sha256),
            ("parse to serde_json::Value", self.parse),
            ("validate", self.validate),
            ("content hash", self.hash),
            ("flatten", self.flatten),
            ("identity (PersonIndex)", self.identity),
            ("arrow rows", self.arrow),
            ("parquet staging", self.parquet),
        ]
    }
}

fn timed<T>(into: &mut Duration, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    *into += t.elapsed();
    out
}

/// The intake's steps run one after another over the input on this
/// thread, each timed: reading as `Source` reads, processing as `process`
/// does, identity in batches of a chunk, rows into Arrow, Parquet staged to
/// a lake (then discarded). What it leaves out is the intake's own
/// bookkeeping in SQLite, the commits and the hand-offs between threads.
async fn breakdown(input: &Input, data: &Path) -> anyhow::Result<Phases> {
    use sha2::Digest;

    let config = IntakeConfig::default();
    let stores = open_stores(data).await?;
    let clock: Arc<dyn renkei_core::Clock> = Arc::new(SystemClock);
    let audit = renkei_audit::AuditLog::open(&stores, clock.clone()).await?;
    let index = PersonIndex::open(&stores, clock, Arc::new(audit)).await?;
    let lake = stores.lake()?;
    let mut t = Phases::default();
    let mut staged = Vec::new();
    let person = "00000000-0000-7000-8000-000000000000";
    for p in &input.providers {
        let lineage = Lineage {
            provider: p.code.clone(),
            submission_id: "breakdown".to_owned(),
            ingested_at: Timestamp::from_unix_micros(0),
        };
        let mut sha = sha2::Sha256::new();
        let mut builders: HashMap<LakeTable, TableBuilder> = HashMap::new();
        let mut local_ids: HashMap<String, String> = HashMap::new();
        let mut who: Vec<IdentifyingAttributes> = Vec::new();
        let mut in_chunk = 0;
        for file in &p.files {
            let mut reader = BufReader::with_capacity(256 * 1024, std::fs::File::open(file)?);
            loop {
                let mut line = Vec::new();
                let n = timed(&mut t.read, || reader.read_until(b'\n', &mut line))?;
                if n == 0 {
                    break;
                }
                timed(&mut t.sha256, || sha.update(&line));
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                let value: serde_json::Value =
                    timed(&mut t.parse, || serde_json::from_slice(&line))?;
                let outcome = timed(&mut t.validate, || renkei_fhir::validate(&value));
                ensure!(outcome.is_accepted(), "a synthetic resource is refused");
                std::hint::black_box(timed(&mut t.hash, || sha2::Sha256::digest(&line)));
                let flat = timed(&mut t.flatten, || {
                    renkei_fhir::flatten::flatten(&value, &lineage)
                })?;
                if let Some(mut a) = flat.identity {
                    if flat.resource_type == "Patient"
                        && let Some(local) = &a.local_patient_id
                    {
                        local_ids.insert(flat.source_id.clone(), local.clone());
                        who.push(a);
                    } else if let Some(local) = flat.subject.as_ref().and_then(|s| local_ids.get(s))
                    {
                        a.local_patient_id = Some(local.clone());
                        who.push(a);
                    }
                }
                in_chunk += 1;
                if in_chunk == config.chunk_resources {
                    let t0 = Instant::now();
                    index.resolve_batch(&p.code, &who).await?;
                    t.identity += t0.elapsed();
                    who.clear();
                    in_chunk = 0;
                }
                let mut full = Vec::new();
                timed(&mut t.arrow, || -> anyhow::Result<()> {
                    for (table, mut row) in flat.rows {
                        row.set("person_key", Cell::Text(person.to_owned()));
                        let b = builders
                            .entry(table)
                            .or_insert_with(|| TableBuilder::new(table));
                        b.append(&row)?;
                        if b.len() >= config.rows_per_file {
                            full.push(table);
                        }
                    }
                    Ok(())
                })?;
                for table in full {
                    let batch = builders
                        .get_mut(&table)
                        .context("a builder just filled")?
                        .finish();
                    let t0 = Instant::now();
                    staged.extend(
                        lake.stage(&TableName::parse(table.name())?, vec![batch])
                            .await?,
                    );
                    t.parquet += t0.elapsed();
                }
            }
        }
        std::hint::black_box(sha.finalize());
        let t0 = Instant::now();
        index.resolve_batch(&p.code, &who).await?;
        t.identity += t0.elapsed();
        for (table, mut b) in builders {
            if b.is_empty() {
                continue;
            }
            let batch = b.finish();
            let t0 = Instant::now();
            staged.extend(
                lake.stage(&TableName::parse(table.name())?, vec![batch])
                    .await?,
            );
            t.parquet += t0.elapsed();
        }
    }
    lake.discard(staged).await;
    stores.close().await;
    std::fs::remove_dir_all(data)?;
    Ok(t)
}

pub async fn run(args: IngestBenchArgs) -> anyhow::Result<()> {
    // The runtime this benchmark measures has --threads workers; it cannot
    // be started from inside the binary's own runtime, so it lives on a
    // thread of its own.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bench-ingest".to_owned())
        .spawn(move || {
            let _ = tx.send(run_on_own_runtime(&args));
        })?;
    rx.await
        .context("the benchmark's thread stopped without an answer (a panic, above)")?
}

fn run_on_own_runtime(args: &IngestBenchArgs) -> anyhow::Result<()> {
    ensure!(
        args.runs > 0 && args.threads > 0 && args.patients > 0 && args.providers > 0,
        "runs, threads, patients and providers must be positive"
    );
    let script = super::peer_script("duckdb_ingest.py")?;
    let temp;
    let work = match &args.work {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_owned()
        }
    };
    let input_dir = work.join(format!(
        "synth-p{}-v{}-s{}",
        args.patients, args.providers, args.seed
    ));
    let input = prepare(args, &input_dir)?;
    let mb = input.bytes as f64 / 1e6;
    let cpus = cpus_allowed();
    eprintln!(
        "bench ingest: {} resources, {mb:.1} MB of NDJSON, {} providers; {} runtime worker(s), CPUs allowed: {cpus}",
        input.resources,
        input.providers.len(),
        args.threads
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .thread_name("bench-ingest-worker")
        .enable_all()
        .build()?;
    let data = work.join("run-renkei");
    let out = work.join("run-duckdb");
    let pipeline_out = work.join("run-pipeline");
    let batch_rows = IntakeConfig::default().rows_per_file;
    let mut pipes = Vec::new();
    let mut ours = Vec::new();
    let mut peers = Vec::new();
    for run in 0..args.runs {
        let q = pipeline::run(&input, &pipeline_out, batch_rows)
            .with_context(|| format!("renkei pipeline, run {run}"))?;
        eprintln!(
            "bench ingest: run {run}: renkei pipeline {:.1} s ({:.0} resources/s, {:.1} CPU s)",
            q.seconds,
            input.resources as f64 / q.seconds,
            q.cpu_seconds
        );
        pipes.push(q);
        let r = runtime
            .block_on(renkei_once(&input, &data))
            .with_context(|| format!("renkei, run {run}"))?;
        eprintln!(
            "bench ingest: run {run}: renkei intake {:.1} s ({:.0} resources/s, {:.1} CPU s)",
            r.seconds,
            input.resources as f64 / r.seconds,
            r.cpu_seconds
        );
        let p = duckdb_once(args, &input, &script, &out)
            .with_context(|| format!("DuckDB, run {run}"))?;
        eprintln!(
            "bench ingest: run {run}: DuckDB {:.1} s ({:.0} resources/s, {:.1} CPU s)",
            p.seconds,
            input.resources as f64 / p.seconds,
            p.cpu_seconds
        );
        ours.push(r);
        peers.push(p);
    }

    let per_s = |s: f64| input.resources as f64 / s;
    let pipe_s = median(pipes.iter().map(|q| q.seconds).collect());
    let renkei_s = median(ours.iter().map(|r| r.seconds).collect());
    let peer_s = median(peers.iter().map(|p| p.seconds).collect());
    let pipe_cpu = median(pipes.iter().map(|q| q.cpu_seconds).collect());
    let renkei_cpu = median(ours.iter().map(|r| r.cpu_seconds).collect());
    let peer_cpu = median(peers.iter().map(|p| p.cpu_seconds).collect());
    let pipe_rate = per_s(pipe_s);
    let renkei_rate = per_s(renkei_s);
    let peer_rate = per_s(peer_s);
    let speedup = pipe_rate / peer_rate;
    let intake_speedup = renkei_rate / peer_rate;
    let duckdb_version = peers.last().map(|p| p.version.clone()).unwrap_or_default();
    let verdict = |x: f64| {
        if x >= 1.0 {
            "renkei faster"
        } else {
            "DuckDB faster"
        }
    };

    println!(
        "ingest of {} resources ({mb:.1} MB NDJSON, {} persons, {} providers), median of {} runs, {} worker thread(s), CPUs allowed {cpus}:",
        input.resources,
        args.patients,
        input.providers.len(),
        args.runs,
        args.threads
    );
    let last_pipe = pipes.last();
    println!(
        "  renkei pipeline {pipe_s:>8.1} s  {pipe_rate:>10.0} resources/s  {:>7.1} MB/s  {pipe_cpu:>7.1} CPU s  (Parquet {:.1} MB, {} rows; {} identities split off)",
        mb / pipe_s,
        last_pipe.map_or(0, |q| q.out_bytes) as f64 / 1e6,
        last_pipe.map_or(0, |q| q.rows),
        last_pipe.map_or(0, |q| q.identities),
    );
    println!(
        "  renkei intake   {renkei_s:>8.1} s  {renkei_rate:>10.0} resources/s  {:>7.1} MB/s  {renkei_cpu:>7.1} CPU s  (lake {:.1} MB, SQLite {:.1} MB)",
        mb / renkei_s,
        ours.last().map_or(0, |r| r.lake_bytes) as f64 / 1e6,
        ours.last().map_or(0, |r| r.db_bytes) as f64 / 1e6,
    );
    println!(
        "  DuckDB {duckdb_version:<8} {peer_s:>8.1} s  {peer_rate:>10.0} resources/s  {:>7.1} MB/s  {peer_cpu:>7.1} CPU s  (Parquet {:.1} MB)",
        mb / peer_s,
        peers.last().map_or(0, |p| p.out_bytes) as f64 / 1e6,
    );
    println!(
        "  pipeline (parse + validate + split + Parquet) vs DuckDB: {speedup:.2}× ({}); per CPU second {:.2}×",
        verdict(speedup),
        peer_cpu / pipe_cpu
    );
    println!(
        "  intake (+ identity, versions, receipts, commits) vs DuckDB: {intake_speedup:.2}× ({}); per CPU second {:.2}×",
        verdict(intake_speedup),
        peer_cpu / renkei_cpu
    );

    if args.breakdown {
        eprintln!("bench ingest: timing the phases one by one");
        let phases = runtime
            .block_on(breakdown(&input, &data))
            .context("breakdown")?;
        let list = phases.list();
        let sum: f64 = list.iter().map(|(_, d)| d.as_secs_f64()).sum();
        println!(
            "  breakdown (phases run one by one on one thread; share of the intake's median {renkei_s:.1} s):"
        );
        for (name, d) in list {
            let s = d.as_secs_f64();
            println!(
                "    {name:<28} {s:>8.1} s  {:>5.1}%  {:>10.0} resources/s",
                100.0 * s / renkei_s,
                per_s(s)
            );
        }
        let rest = renkei_s - sum;
        println!(
            "    {:<28} {rest:>8.1} s  {:>5.1}%  (SQLite bookkeeping, commits, hand-offs)",
            "rest of the intake",
            100.0 * rest / renkei_s
        );
    }
    runtime.shutdown_timeout(Duration::from_secs(10));

    // Keys in this order (serde_json's map would sort them).
    let line: Vec<(&str, serde_json::Value)> = vec![
        ("bench", json!("ingest")),
        ("metric", json!("pipeline_resources_per_s")),
        ("renkei", json!(pipe_rate.round())),
        ("peer", json!("duckdb")),
        ("peer_value", json!(peer_rate.round())),
        ("speedup", json!(round2(speedup))),
        ("mb_per_s", json!(round2(mb / pipe_s))),
        ("peer_mb_per_s", json!(round2(mb / peer_s))),
        ("cpu_s", json!(round2(pipe_cpu))),
        ("peer_cpu_s", json!(round2(peer_cpu))),
        ("intake_resources_per_s", json!(renkei_rate.round())),
        ("intake_speedup", json!(round2(intake_speedup))),
        ("intake_mb_per_s", json!(round2(mb / renkei_s))),
        ("intake_cpu_s", json!(round2(renkei_cpu))),
        ("resources", json!(input.resources)),
        ("bytes", json!(input.bytes)),
        ("runs", json!(args.runs)),
        ("threads", json!(args.threads)),
        ("patients", json!(args.patients)),
        ("providers", json!(input.providers.len())),
        ("cpus_allowed", json!(cpus)),
        ("duckdb", json!(duckdb_version)),
    ];
    let line = line
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(k)))
        .collect::<Vec<_>>()
        .join(",");
    println!("{{{line}}}");
    Ok(())
}
