//! `renkei-bench anonymize`: how fast renkei's anonymization engine finds
//! its generalization on a large health table, and at what information
//! loss, beside ANJANA (PyPI `anjana`) on the same CSV and hierarchies.
//!
//! Input: a synthetic table of `--rows` records (fixed seed), one per
//! admission: `age` (0–99), `sex`, `municipality` (5-digit 市区町村コード,
//! 47 prefectures × up to 40 municipalities, skewed), `admission_date`
//! (2020–2024), `icd10` (400 codes, skewed), `occupation` (12), and the
//! sensitive `outcome` (8 values, skewed). The first `--quasi` of those six
//! columns are the quasi-identifiers. Their hierarchies are built by
//! `Hierarchy::auto` (5-year age bands doubling to `*`; sex → `*`;
//! municipality → prefecture → `*`; date → month → year → `*`; ICD-10 →
//! category → chapter → `*`; occupation → `*`) and written in ARX's layout,
//! so that both engines read the same files.
//!
//! Timed, for each engine: reading the CSV and the hierarchy files, then
//! anonymizing (for renkei this includes the independent verification of
//! its output). Not timed: writing the output, then scoring it. Both outputs
//! are scored by the same code: `loss::measure` (ARX's Loss metric against
//! the input, suppressed records counting 1) and `verify::verify` (k, l and
//! t recomputed from the output CSV).
//!
//! Peer: `scripts/bench/anjana_anonymize.py`. ANJANA generalizes greedily
//! (the column with the most distinct values, one level at a time) and
//! applies `np.where` per record and level, so it is slow on large inputs:
//! `--peer-rows` runs it (and renkei again, for the side-by-side) on the
//! first rows only, and the JSON line gives both sizes.

use super::median;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use renkei_deid::anonymize::{
    Config, GroundDistance, Hierarchy, LDiversity, LKind, TCloseness, Table, anonymize, loss,
    verify,
};
use serde_json::json;

/// Flags of `renkei-bench anonymize`.
#[derive(Debug, Clone, clap::Args)]
pub struct AnonymizeBenchArgs {
    /// Records in the synthetic table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Quasi-identifiers: the first N of age, sex, municipality,
    /// admission_date, icd10, occupation.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=6))]
    quasi: u8,
    /// k-anonymity.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// Distinct l-diversity of `outcome` (both engines).
    #[arg(long)]
    l: Option<u32>,
    /// t-closeness of `outcome`, equal ground distance (both engines).
    #[arg(long)]
    t: Option<f64>,
    /// Share of records that may be suppressed.
    #[arg(long, default_value_t = 0.05)]
    max_suppression: f64,
    /// Seed of the synthetic table.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs of each engine; the median time is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Records given to the peer (the first ones); renkei is also timed at
    /// that size for the side-by-side. Default: all.
    #[arg(long)]
    peer_rows: Option<usize>,
    /// Runs of the peer (default: --runs).
    #[arg(long)]
    peer_runs: Option<usize>,
    /// Where the table, hierarchies and outputs go (kept). Default: a
    /// temporary directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// The Python interpreter that runs the peer.
    #[arg(long, default_value = "python3", env = "RENKEI_BENCH_PYTHON")]
    python: String,
    /// Do not run ANJANA (renkei only).
    #[arg(long)]
    skip_peer: bool,
}

const COLUMNS: [&str; 7] = [
    "age",
    "sex",
    "municipality",
    "admission_date",
    "icd10",
    "occupation",
    "outcome",
];
const SENSITIVE: &str = "outcome";

/// SplitMix64: a tiny, fixed, portable stream for the synthetic table.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A log-uniform pick in `0..n`: small values far more often, like
    /// populations of places or frequencies of diagnoses.
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) - 1.0) as u64 % n
    }
}

/// Writes the synthetic table as CSV.
fn generate(path: &Path, rows: usize, seed: u64) -> anyhow::Result<()> {
    let mut rng = SplitMix(seed);
    let letters = b"ABCDEFGIJKLMNRSTZ";
    let icd: Vec<String> = (0..400)
        .map(|i| {
            format!(
                "{}{:02}.{}",
                letters[i % letters.len()] as char,
                (i * 7) % 100,
                i % 10
            )
        })
        .collect();
    let occupations = [
        "clerical",
        "sales",
        "service",
        "agriculture",
        "manufacturing",
        "transport",
        "construction",
        "professional",
        "management",
        "student",
        "retired",
        "none",
    ];
    let outcomes = [
        "recovered",
        "improved",
        "unchanged",
        "worsened",
        "died",
        "transferred",
        "readmitted",
        "unknown",
    ];
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(COLUMNS)?;
    for _ in 0..rows {
        let age = ((rng.below(80) + rng.below(40)) % 100).to_string();
        let sex = if rng.below(2) == 0 { "F" } else { "M" };
        let prefecture = 1 + rng.skewed(47);
        let municipality = format!("{prefecture:02}{:03}", 100 + 2 * rng.skewed(40));
        let day = rng.below(5 * 365);
        let date = format!(
            "{}-{:02}-{:02}",
            2020 + day / 365,
            1 + (day % 365) / 31 % 12,
            1 + day % 28
        );
        let dx = &icd[rng.skewed(400) as usize];
        let occupation = occupations[rng.below(12) as usize];
        let outcome = outcomes[rng.skewed(8) as usize];
        w.write_record([&age, sex, &municipality, &date, dx, occupation, outcome])?;
    }
    w.flush()?;
    Ok(())
}

/// Writes the first `rows` records of a CSV to another.
fn head(from: &Path, to: &Path, rows: usize) -> anyhow::Result<()> {
    let mut r = csv::Reader::from_path(from)?;
    let mut w = csv::Writer::from_path(to)?;
    w.write_record(r.headers()?)?;
    for record in r.records().take(rows) {
        w.write_record(&record?)?;
    }
    w.flush()?;
    Ok(())
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// One engine's result at one size.
#[derive(Debug, Clone)]
struct Run {
    seconds: f64,
    loss: f64,
    suppressed: usize,
    verified_k: Option<usize>,
    /// Why the output fails the requirements, if it does.
    violation: Option<String>,
    levels: String,
}

/// Scores an output CSV with renkei's measure and verifier.
fn score(
    input: &Table,
    output: &Path,
    config: &Config,
) -> anyhow::Result<(loss::Measured, Result<verify::Verified, verify::Violation>)> {
    let out = Table::from_csv_path(output)
        .with_context(|| format!("reading the output {}", output.display()))?;
    let measured = loss::measure(input, &out, &config.quasi, &config.hierarchies)
        .with_context(|| format!("measuring the loss of {}", output.display()))?;
    let dist = verify::distribution(input, SENSITIVE);
    let verified = verify::verify(
        &out,
        &verify::Requirements {
            quasi: &config.quasi,
            sensitive: Some(SENSITIVE),
            k: config.k,
            l: config.l,
            t: config.t,
            input_rows: input.rows(),
            max_suppression: config.max_suppression,
            input_sensitive: dist.as_ref(),
        },
    );
    Ok((measured, verified))
}

/// renkei: read the CSV and hierarchy files, anonymize (timed); write and
/// score (not timed).
fn renkei_once(
    csv_path: &Path,
    files: &[(String, PathBuf)],
    template: &Config,
    out: &Path,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let table = Table::from_csv_path(csv_path)?;
    let mut config = template.clone();
    for (column, file) in files {
        config
            .hierarchies
            .insert(column.clone(), Hierarchy::from_arx_path(file)?);
    }
    let outcome = anonymize(&table, &config).context("renkei anonymizing")?;
    let seconds = started.elapsed().as_secs_f64();
    outcome.table.write_csv_path(out)?;
    let (measured, verified) = score(&table, out, &config)?;
    if (measured.loss - outcome.report.information_loss).abs() > 1e-9 {
        bail!(
            "renkei reported loss {} but its output measures {}",
            outcome.report.information_loss,
            measured.loss
        );
    }
    Ok(Run {
        seconds,
        loss: measured.loss,
        suppressed: measured.suppressed,
        verified_k: verified.as_ref().ok().map(|v| v.k),
        violation: verified.err().map(|e| e.to_string()),
        levels: outcome
            .report
            .generalization
            .iter()
            .map(|g| format!("{}={}", g.column, g.level))
            .collect::<Vec<_>>()
            .join(","),
    })
}

/// One run of ANJANA, its output scored here.
#[allow(clippy::too_many_arguments)]
fn peer_once(
    args: &AnonymizeBenchArgs,
    script: &Path,
    csv_path: &Path,
    files: &[(String, PathBuf)],
    config: &Config,
    input: &Table,
    work: &Path,
    run: usize,
) -> anyhow::Result<(Run, serde_json::Value)> {
    let out = work.join("anjana-out.csv");
    let log_path = work.join(format!("anjana-run{run}.log"));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = Command::new(&args.python);
    cmd.arg(script)
        .arg("--input")
        .arg(csv_path)
        .arg("--quasi")
        .arg(config.quasi.join(","))
        .arg("--sensitive")
        .arg(SENSITIVE)
        .arg("--k")
        .arg(config.k.to_string())
        .arg("--suppression")
        .arg(config.max_suppression.to_string())
        .arg("--out")
        .arg(&out);
    if let Some(l) = config.l {
        cmd.arg("--l").arg(l.l.to_string());
    }
    if let Some(t) = config.t {
        cmd.arg("--t").arg(t.t.to_string());
    }
    for (column, file) in files {
        cmd.arg("--hierarchy")
            .arg(format!("{column}={}", file.display()));
    }
    let output = cmd
        .stdin(Stdio::null())
        .stderr(log)
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "{} not found: the ANJANA peer needs Python 3 (give another interpreter with --python, or --skip-peer)",
                    args.python
                )
            } else {
                anyhow::anyhow!("running {}: {e}", args.python)
            }
        })?;
    if !output.status.success() {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        bail!(
            "the ANJANA peer failed ({}); the end of {}:\n{}",
            output.status,
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| {
            format!(
                "the ANJANA peer printed no JSON line (log: {})",
                log_path.display()
            )
        })?;
    let report: serde_json::Value =
        serde_json::from_str(last).context("reading the ANJANA peer's JSON line")?;
    let seconds = report["seconds"]
        .as_f64()
        .context("the ANJANA peer's JSON line has no seconds")?;
    let (measured, verified) = score(input, &out, config)?;
    let levels = measured
        .per_column
        .iter()
        .map(|(c, l)| format!("{c}:{:.3}", l))
        .collect::<Vec<_>>()
        .join(",");
    Ok((
        Run {
            seconds,
            loss: measured.loss,
            suppressed: measured.suppressed,
            verified_k: verified.as_ref().ok().map(|v| v.k),
            violation: verified.err().map(|e| e.to_string()),
            levels,
        },
        report,
    ))
}

fn median_run(runs: Vec<Run>) -> Run {
    let seconds = median(runs.iter().map(|r| r.seconds).collect());
    let mut last = runs.into_iter().last().expect("at least one run");
    last.seconds = seconds;
    last
}

pub async fn run(args: AnonymizeBenchArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run_blocking(&args))
        .await
        .context("the benchmark thread")?
}

fn run_blocking(args: &AnonymizeBenchArgs) -> anyhow::Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let temp;
    let work = match &args.work {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary directory")?;
            temp.path().to_owned()
        }
    };
    let quasi: Vec<String> = COLUMNS[..usize::from(args.quasi)]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let csv_path = work.join(format!("admissions-{}-{}.csv", args.rows, args.seed));
    if !csv_path.is_file() {
        let t = Instant::now();
        generate(&csv_path, args.rows, args.seed)
            .with_context(|| format!("writing {}", csv_path.display()))?;
        eprintln!(
            "generated {} records in {:.1}s: {}",
            args.rows,
            t.elapsed().as_secs_f64(),
            csv_path.display()
        );
    }
    let input = Table::from_csv_path(&csv_path)?;

    let mut config = Config::new(quasi.clone(), args.k);
    config.sensitive = Some(SENSITIVE.into());
    config.max_suppression = args.max_suppression;
    config.l = args.l.map(|l| LDiversity {
        l,
        kind: LKind::Distinct,
    });
    config.t = args.t.map(|t| TCloseness {
        t,
        distance: GroundDistance::Equal,
    });
    let mut files = Vec::new();
    for q in &quasi {
        let column = input.column(q).context("a generated column")?;
        let h = Hierarchy::auto(q, column.dictionary().iter().map(String::as_str))?;
        let path = work.join(format!("hierarchy-{q}.csv"));
        let file = std::fs::File::create(&path)?;
        h.write_arx(std::io::BufWriter::new(file), &path.display().to_string())?;
        println!("  {q}: {} → {}", h.description(), path.display());
        config.hierarchies.insert(q.clone(), h);
        files.push((q.clone(), path));
    }
    println!(
        "bench anonymize: {} records, quasi-identifiers {}, {}, at most {} suppressed",
        args.rows,
        quasi.join(", "),
        config.models(),
        args.max_suppression
    );
    let template = {
        let mut c = config.clone();
        c.hierarchies.clear();
        c
    };

    let out = work.join("renkei-out.csv");
    let mut runs = Vec::new();
    for i in 0..args.runs {
        let r = renkei_once(&csv_path, &files, &template, &out)?;
        eprintln!("renkei run {}: {:.3}s", i + 1, r.seconds);
        runs.push(r);
    }
    let full = median_run(runs);
    println!(
        "renkei at {} records: {:.3}s ({:.0} records/s), loss {:.4}, suppressed {}, levels {}, k {}",
        args.rows,
        full.seconds,
        args.rows as f64 / full.seconds,
        full.loss,
        full.suppressed,
        full.levels,
        full.verified_k.map_or("FAILED".into(), |k| k.to_string()),
    );
    if let Some(v) = &full.violation {
        bail!("renkei's output fails verification: {v}");
    }

    // The side-by-side size.
    let peer_rows = args.peer_rows.unwrap_or(args.rows).min(args.rows);
    let (side_csv, side_input, side) = if peer_rows < args.rows {
        let path = work.join(format!("admissions-{peer_rows}-{}.csv", args.seed));
        head(&csv_path, &path, peer_rows)?;
        let t = Table::from_csv_path(&path)?;
        // Hierarchies were built from all records; a subset's values are
        // all in them.
        let mut runs = Vec::new();
        for _ in 0..args.runs {
            runs.push(renkei_once(&path, &files, &template, &out)?);
        }
        let r = median_run(runs);
        println!(
            "renkei at {peer_rows} records: {:.3}s, loss {:.4}, suppressed {}, levels {}",
            r.seconds, r.loss, r.suppressed, r.levels
        );
        (path, t, r)
    } else {
        (csv_path.clone(), input, full.clone())
    };

    let mut peer: Option<(Run, serde_json::Value)> = None;
    let mut peer_error: Option<String> = None;
    if !args.skip_peer {
        let script = super::peer_script("anjana_anonymize.py")?;
        let mut runs = Vec::new();
        let mut report = serde_json::Value::Null;
        for i in 0..args.peer_runs.unwrap_or(args.runs).max(1) {
            match peer_once(
                args,
                &script,
                &side_csv,
                &files,
                &config,
                &side_input,
                &work,
                i,
            ) {
                Ok((r, rep)) => {
                    eprintln!("anjana run {}: {:.3}s", i + 1, r.seconds);
                    runs.push(r);
                    report = rep;
                }
                Err(e) => {
                    eprintln!("the peer did not run: {e:#}");
                    peer_error = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        if !runs.is_empty() {
            peer = Some((median_run(runs), report));
        }
    }
    if let Some((p, report)) = &peer {
        println!(
            "anjana at {peer_rows} records: {:.3}s, loss {:.4}, suppressed {}, k {} (pyCANON {}), loss by column {}{}",
            p.seconds,
            p.loss,
            p.suppressed,
            p.verified_k.map_or("-".into(), |k| k.to_string()),
            report["k"],
            p.levels,
            p.violation
                .as_ref()
                .map_or(String::new(), |v| format!("; FAILS the requirements: {v}")),
        );
    }

    let rate = |rows: usize, s: f64| (rows as f64 / s).round();
    let line = json!({
        "bench": "anonymize",
        "metric": "rows_per_s",
        "renkei": rate(args.rows, full.seconds),
        "peer": "anjana",
        "peer_value": peer.as_ref().map(|(p, _)| rate(peer_rows, p.seconds)),
        "speedup": peer.as_ref().map(|(p, _)| round4(p.seconds / side.seconds)),
        "info_loss": round4(side.loss),
        "peer_info_loss": peer.as_ref().map(|(p, _)| round4(p.loss)),
        "k": args.k,
        "l": args.l,
        "t": args.t,
        "max_suppression": args.max_suppression,
        "quasi": quasi,
        "rows": args.rows,
        "peer_rows": peer_rows,
        "renkei_s": round4(full.seconds),
        "renkei_info_loss_at_rows": round4(full.loss),
        "renkei_s_at_peer_rows": round4(side.seconds),
        "renkei_rows_per_s_at_peer_rows": rate(peer_rows, side.seconds),
        "suppressed": side.suppressed,
        "levels": side.levels,
        "peer_s": peer.as_ref().map(|(p, _)| round4(p.seconds)),
        "peer_suppressed": peer.as_ref().map(|(p, _)| p.suppressed),
        "peer_verified": peer.as_ref().map(|(p, _)| p.violation.is_none()),
        "peer_k_pycanon": peer.as_ref().map(|(_, r)| r["k"].clone()),
        "peer_error": peer_error,
        "anjana": peer.as_ref().map(|(_, r)| r["anjana"].clone()),
        "runs": args.runs,
    });
    println!("{line}");
    Ok(())
}
