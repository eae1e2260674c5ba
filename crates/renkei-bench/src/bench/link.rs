//! `renkei-bench link`: how well and how fast renkei finds the records of
//! one person in a synthetic nation, scored against the generator's ground
//! truth, beside Splink on the same records.
//!
//! Input: the Patient resources of every provider of a `renkei synth`
//! nation, flattened as the intake flattens them
//! (`renkei_fhir::flatten`), as ONE CSV of identifying attributes:
//! `record_id` (provider code / resource id), `kana_name`, `kanji_name`,
//! `birth_date`, `sex`, `address`, `insurer` (保険者番号) and
//! `insurance_number` (記号-番号-枝番), as each provider wrote them. The
//! truth (which records are one person) comes from `truth.csv` and never
//! reaches the linkers.
//!
//! Modes, each timed from reading the CSV to its decisions:
//! - **deterministic**: the person index's two token rules, in the clear
//!   and as a plain union — two records agree when their normalized
//!   insurance key (insurer + 記号 + 番号 + 枝番, `normalize::insurance_key`)
//!   agrees, or their kana name key (`normalize::name::kana_name_key`) +
//!   birth date + sex do (the index tries the name token only after the
//!   numbers, so its decisions can differ on namesakes); each rule is also
//!   scored alone;
//! - **probabilistic**: `renkei_identity::linkage` with no configuration
//!   (Fellegi–Sunter, automatic comparisons and blocking, EM, clustering);
//! - **pprl**: Bloom-filter encodings (`ClkSchema::infer`, `encode` with
//!   keyed blocking tokens for the probabilistic mode's blocking rules),
//!   then `ClkLinker::dedupe` on the filters alone; the provider's encoding
//!   and the platform's linking are timed apart and together.
//!
//! Every mode is scored on pairs: its linked pairs against the true pairs
//! (all pairs of records of one person), as precision, recall and F1.
//!
//! Peer: `scripts/bench/splink_link.py`, Splink with the DuckDB backend,
//! given the probabilistic mode's fields (its kinds and Jaro–Winkler
//! thresholds, as Splink comparisons), its blocking rules and link
//! threshold; trained the usual Splink way (prior from deterministic rules,
//! u by random sampling, one EM session per blocking rule), then predict
//! and cluster. Its pairs come back as a CSV and are scored by the same
//! code as renkei's. The speedup compares the probabilistic mode with it.

use super::median;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use renkei_core::{ProviderCode, Sex, Timestamp};
use renkei_fhir::flatten::{Lineage, flatten};
use renkei_identity::linkage::{Input, Linker, Plan, Settings, Table};
use renkei_identity::normalize::{date, insurance_key, name};
use renkei_identity::pprl::matching::DEFAULT_LINK_DICE;
use renkei_identity::pprl::{ClkKey, ClkLinker, ClkSchema, DEFAULT_BITS, MatchSettings, encode};
use serde_json::json;

/// A linkage mode of renkei.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
enum Mode {
    /// Keyed-token rules in the clear: insurance key, or kana name + birth
    /// date + sex.
    Deterministic,
    /// Zero-configuration Fellegi–Sunter.
    Probabilistic,
    /// Bloom-filter encodings linked by Dice coefficient.
    Pprl,
}

/// Flags of `renkei-bench link`.
#[derive(Debug, Clone, clap::Args)]
pub struct LinkBenchArgs {
    /// Persons in the synthetic nation (each has a Patient record at every
    /// provider it visits: about 2.6 records per person).
    #[arg(long, default_value_t = 100_000)]
    patients: u64,
    /// Providers.
    #[arg(long, default_value_t = 1000)]
    providers: u32,
    /// Seed of the synthetic nation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs of every mode and of the peer; the median time is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the nation, the CSV and the peer's output go (kept between
    /// invocations: a nation generated with the same flags is reused).
    /// Default: a temporary directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// The Python interpreter that runs the Splink peer.
    #[arg(long, default_value = "python3", env = "RENKEI_BENCH_PYTHON")]
    python: String,
    /// Do not run Splink (renkei's modes only).
    #[arg(long)]
    skip_peer: bool,
    /// The modes of renkei to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_values_t = [Mode::Deterministic, Mode::Probabilistic, Mode::Pprl]
    )]
    modes: Vec<Mode>,
}

/// The id column of the CSV.
const ID: &str = "record_id";
/// The CSV's columns, in order.
const COLUMNS: [&str; 8] = [
    ID,
    "kana_name",
    "kanji_name",
    "birth_date",
    "sex",
    "address",
    "insurer",
    "insurance_number",
];
/// The rules of the deterministic mode, as Splink's deterministic rules
/// for its prior.
const DETERMINISTIC_RULES: [&str; 2] =
    ["insurer & insurance_number", "kana_name & birth_date & sex"];

/// The records to link and the truth about them.
struct Records {
    csv: PathBuf,
    /// Record ids, in CSV order.
    ids: Vec<String>,
    /// The true person of each record, in CSV order.
    persons: Vec<u64>,
    /// Pairs of records of one person.
    true_pairs: u64,
    providers: usize,
}

/// Pairwise quality of a set of linked pairs.
#[derive(Clone, Copy, Debug, Default)]
struct Score {
    links: u64,
    precision: f64,
    recall: f64,
    f1: f64,
}

/// One run of one mode.
struct ModeRun {
    seconds: f64,
    /// Pairs whose attributes were compared (none for the deterministic
    /// mode, which only groups keys).
    pairs_compared: Option<u64>,
    score: Score,
    /// Part-scores or part-times worth printing, by name.
    parts: Vec<(&'static str, f64)>,
    sub_scores: Vec<(&'static str, Score)>,
}

/// One run of the peer.
struct PeerRun {
    seconds: f64,
    pairs_compared: u64,
    score: Score,
    report: serde_json::Value,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// `a < b` packed as one number.
fn pack(a: u32, b: u32) -> u64 {
    let (x, y) = if a < b { (a, b) } else { (b, a) };
    u64::from(x) << 32 | u64::from(y)
}

/// Scores linked pairs (record indices, either order, duplicates allowed)
/// against the truth.
fn score(pairs: impl IntoIterator<Item = (u32, u32)>, records: &Records) -> Score {
    let mut packed: Vec<u64> = pairs.into_iter().map(|(a, b)| pack(a, b)).collect();
    packed.sort_unstable();
    packed.dedup();
    let true_positives = packed
        .iter()
        .filter(|&&p| records.persons[(p >> 32) as usize] == records.persons[p as u32 as usize])
        .count() as u64;
    let links = packed.len() as u64;
    let precision = true_positives as f64 / links.max(1) as f64;
    let recall = true_positives as f64 / records.true_pairs.max(1) as f64;
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Score {
        links,
        precision,
        recall,
        f1,
    }
}

const MARKER: &str = "bench-input.json";

/// Generates the nation into `dir`, or reuses one generated there with the
/// same flags (the marker is the one `bench ingest` writes, so both
/// benchmarks can share a --work directory).
fn prepare_nation(args: &LinkBenchArgs, dir: &Path) -> anyhow::Result<()> {
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
    if previous.is_some_and(|p| p["input"] == wanted) {
        eprintln!("bench link: reusing the nation in {}", dir.display());
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    eprintln!(
        "bench link: generating {} persons at {} providers (seed {}) into {}",
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
        .with_context(|| format!("generating the nation into {}", dir.display()))?;
    eprintln!(
        "bench link: generated {} resources in {:.1} s",
        summary.total(),
        started.elapsed().as_secs_f64()
    );
    std::fs::write(
        &marker,
        serde_json::to_vec(&json!({ "input": wanted, "resources": summary.total() }))?,
    )?;
    Ok(())
}

fn sex_text(sex: Option<Sex>) -> &'static str {
    match sex {
        Some(Sex::Male) => "male",
        Some(Sex::Female) => "female",
        Some(Sex::Other) => "other",
        Some(Sex::Unknown) | None => "",
    }
}

/// Flattens every provider's Patients into `csv` and reads their true
/// persons from `truth.csv`.
fn flatten_records(nation: &Path, csv_path: &Path) -> anyhow::Result<Records> {
    let truth_path = nation.join("truth.csv");
    let mut truth: HashMap<String, u64> = HashMap::new();
    let mut reader = csv::Reader::from_path(&truth_path)
        .with_context(|| format!("reading {}", truth_path.display()))?;
    for row in reader.records() {
        let row = row.with_context(|| format!("reading {}", truth_path.display()))?;
        let (Some(provider), Some(id), Some(person)) = (row.get(0), row.get(1), row.get(2)) else {
            bail!("{}: a row without three fields", truth_path.display());
        };
        let person: u64 = person
            .parse()
            .with_context(|| format!("{}: person number {person:?}", truth_path.display()))?;
        truth.insert(format!("{provider}/{id}"), person);
    }

    let mut dirs: Vec<PathBuf> = std::fs::read_dir(nation)
        .with_context(|| format!("listing {}", nation.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    dirs.retain(|p| p.is_dir());
    dirs.sort();

    let mut out = csv::Writer::from_path(csv_path)
        .with_context(|| format!("creating {}", csv_path.display()))?;
    out.write_record(COLUMNS)?;
    let mut ids = Vec::new();
    let mut persons = Vec::new();
    for dir in &dirs {
        let code_text = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("a provider directory without a UTF-8 name")?;
        let lineage = Lineage {
            provider: ProviderCode::parse(code_text)
                .with_context(|| format!("{}: not a 医療機関コード", dir.display()))?,
            submission_id: "bench-link".to_owned(),
            ingested_at: Timestamp::from_unix_micros(0),
        };
        let path = dir.join("Patient.ndjson");
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            let value: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", path.display(), n + 1))?;
            let flat = flatten(&value, &lineage)
                .with_context(|| format!("flattening {} line {}", path.display(), n + 1))?;
            let a = flat
                .identity
                .with_context(|| format!("{} line {}: no identity", path.display(), n + 1))?;
            let id = format!("{code_text}/{}", flat.source_id);
            let person = *truth
                .get(&id)
                .with_context(|| format!("{id} is not in {}", truth_path.display()))?;
            let insurance_number = a
                .insured_number
                .as_deref()
                .map(|number| {
                    format!(
                        "{}-{number}-{}",
                        a.insured_symbol.as_deref().unwrap_or(""),
                        a.insured_branch.as_deref().unwrap_or("")
                    )
                })
                .unwrap_or_default();
            out.write_record([
                id.as_str(),
                a.kana_name.as_deref().unwrap_or(""),
                a.kanji_name.as_deref().unwrap_or(""),
                a.birth_date.as_deref().unwrap_or(""),
                sex_text(a.sex),
                a.address.as_deref().unwrap_or(""),
                a.insurer_number.as_deref().unwrap_or(""),
                &insurance_number,
            ])?;
            ids.push(id);
            persons.push(person);
        }
    }
    out.flush()?;
    ensure!(!ids.is_empty(), "no Patient in {}", nation.display());
    let mut per_person: HashMap<u64, u64> = HashMap::new();
    for p in &persons {
        *per_person.entry(*p).or_default() += 1;
    }
    let true_pairs = per_person.values().map(|k| k * (k - 1) / 2).sum();
    Ok(Records {
        csv: csv_path.to_owned(),
        ids,
        persons,
        true_pairs,
        providers: dirs.len(),
    })
}

fn read_table(path: &Path) -> anyhow::Result<Table> {
    Table::from_path(path).with_context(|| format!("reading {}", path.display()))
}

/// The pairs of records sharing a key.
fn pairs_sharing_a_key(groups: &HashMap<String, Vec<u32>>, out: &mut Vec<(u32, u32)>) {
    for members in groups.values() {
        for (i, &a) in members.iter().enumerate() {
            for &b in &members[i + 1..] {
                out.push((a, b));
            }
        }
    }
}

/// The deterministic mode: the index's token rules, in the clear.
fn deterministic(records: &Records) -> anyhow::Result<ModeRun> {
    let started = Instant::now();
    let table = read_table(&records.csv)?;
    let column = |c: &str| table.require_column(c, "input");
    let (kana, birth, sex) = (column("kana_name")?, column("birth_date")?, column("sex")?);
    let (insurer, number) = (column("insurer")?, column("insurance_number")?);
    let mut by_insurance: HashMap<String, Vec<u32>> = HashMap::new();
    let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
    for r in 0..table.len() {
        let record = r as u32;
        let mut parts = table.value(r, number).splitn(3, '-');
        let (symbol, number, branch) = (parts.next(), parts.next(), parts.next());
        if let Some(key) = insurance_key(Some(table.value(r, insurer)), symbol, number, branch) {
            by_insurance.entry(key).or_default().push(record);
        }
        let kana = name::kana_name_key(table.value(r, kana));
        let birth = date::date_iso(table.value(r, birth));
        let sex = table.value(r, sex);
        if let (false, Ok(birth), false) = (kana.is_empty(), birth, sex.is_empty()) {
            by_name
                .entry(format!("{kana}|{birth}|{sex}"))
                .or_default()
                .push(record);
        }
    }
    let mut insurance_pairs = Vec::new();
    pairs_sharing_a_key(&by_insurance, &mut insurance_pairs);
    let mut name_pairs = Vec::new();
    pairs_sharing_a_key(&by_name, &mut name_pairs);
    let union: Vec<(u32, u32)> = insurance_pairs.iter().chain(&name_pairs).copied().collect();
    let union_score = score(union, records);
    let seconds = started.elapsed().as_secs_f64();
    Ok(ModeRun {
        seconds,
        pairs_compared: None,
        score: union_score,
        parts: Vec::new(),
        sub_scores: vec![
            ("insurance key only", score(insurance_pairs, records)),
            (
                "kana name + birth date + sex only",
                score(name_pairs, records),
            ),
        ],
    })
}

/// The probabilistic mode with no configuration.
fn probabilistic(records: &Records, verbose: bool) -> anyhow::Result<ModeRun> {
    let started = Instant::now();
    let table = read_table(&records.csv)?;
    let read_seconds = started.elapsed().as_secs_f64();
    let linker =
        Linker::new(Input::Dedupe(&table), ID, &Settings::default()).context("planning")?;
    let outcome = linker.run();
    let seconds = started.elapsed().as_secs_f64();
    if verbose {
        eprintln!("bench link: probabilistic model\n{}", outcome.model);
        for session in &outcome.training.sessions {
            eprintln!(
                "bench link: EM on {}: {} pairs, {:.0} expected matches, recall {}",
                session.rule,
                session.pairs,
                session.matches,
                session
                    .recall
                    .map_or("not estimated".to_owned(), |r| format!("{r:.3}"))
            );
        }
    }
    let mut parts = vec![("read", read_seconds)];
    parts.extend(outcome.stats.seconds);
    Ok(ModeRun {
        seconds,
        pairs_compared: Some(outcome.stats.pairs_compared),
        score: score(outcome.links.iter().map(|p| (p.left, p.right)), records),
        parts,
        sub_scores: Vec::new(),
    })
}

/// The PPRL mode: encode (the providers' side), then link the filters (the
/// platform's side). With `dice_csv`, also writes (untimed) the histogram
/// of the candidates' Dice coefficients, true pairs apart from the others.
fn pprl(records: &Records, plan: &Plan, dice_csv: Option<&Path>) -> anyhow::Result<ModeRun> {
    let started = Instant::now();
    let table = read_table(&records.csv)?;
    let schema = ClkSchema::infer(&table, ID, DEFAULT_BITS).context("inferring the schema")?;
    // A fixed key: the benchmark is reproducible; the platform never sees it.
    let key = ClkKey::new([0x5a; 32]);
    let encoded = encode(&key, &schema, &table, ID, &plan.blocking).context("encoding")?;
    drop(table);
    let encode_seconds = started.elapsed().as_secs_f64();
    let linked = Instant::now();
    let linker = ClkLinker::dedupe(&encoded);
    let outcome = linker
        .run(&MatchSettings::default())
        .context("linking the encodings")?;
    let link_seconds = linked.elapsed().as_secs_f64();
    let seconds = started.elapsed().as_secs_f64();
    // Untimed: the same filters at the fixed default threshold, to show
    // what the automatic threshold costs or gains.
    let fixed = linker
        .run(&MatchSettings {
            link_threshold: Some(DEFAULT_LINK_DICE),
            ..MatchSettings::default()
        })
        .context("linking the encodings at the default threshold")?;
    if let Some(path) = dice_csv {
        write_dice_histogram(&linker, records, path)?;
    }
    Ok(ModeRun {
        seconds,
        pairs_compared: Some(outcome.stats.pairs_compared),
        score: score(outcome.links.iter().map(|p| (p.left, p.right)), records),
        parts: vec![
            ("encode", encode_seconds),
            ("link", link_seconds),
            ("dice threshold", outcome.stats.link_threshold),
        ],
        sub_scores: vec![(
            "at the default Dice 0.8 instead",
            score(fixed.links.iter().map(|p| (p.left, p.right)), records),
        )],
    })
}

/// Writes `bin,dice,non_matches,matches`: the candidate pairs of PPRL per
/// 0.001 of Dice coefficient, scored against the truth — what the
/// automatic threshold has to separate.
fn write_dice_histogram(
    linker: &ClkLinker<'_>,
    records: &Records,
    path: &Path,
) -> anyhow::Result<()> {
    // Every candidate comes back: the links at exactly 1, the rest as
    // "review" down to the smallest Dice coefficient allowed.
    let all = linker
        .run(&MatchSettings {
            link_threshold: Some(1.0),
            review_threshold: Some(f64::MIN_POSITIVE),
            ..MatchSettings::default()
        })
        .context("scoring every candidate pair")?;
    let mut bins = vec![[0u64; 2]; 1001];
    for p in all.links.iter().chain(&all.review) {
        let same = records.persons[p.left as usize] == records.persons[p.right as usize];
        bins[((p.dice * 1000.0) as usize).min(1000)][usize::from(same)] += 1;
    }
    let mut out =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    out.write_record(["bin", "dice", "non_matches", "matches"])?;
    for (i, [non, same]) in bins.iter().enumerate() {
        if non + same > 0 {
            out.write_record([
                i.to_string(),
                format!("{:.3}", i as f64 / 1000.0),
                non.to_string(),
                same.to_string(),
            ])?;
        }
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "bench link: PPRL's Dice histogram by truth in {}",
        path.display()
    );
    Ok(())
}

/// One run of Splink on the same CSV, its pairs scored here.
fn splink_once(
    args: &LinkBenchArgs,
    records: &Records,
    plan: &Plan,
    script: &Path,
    work: &Path,
    run: usize,
) -> anyhow::Result<PeerRun> {
    let pairs_path = work.join("splink-pairs.csv");
    let log_path = work.join(format!("splink-run{run}.log"));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = Command::new(&args.python);
    cmd.arg(script)
        .arg("--input")
        .arg(&records.csv)
        .arg("--id")
        .arg(ID)
        .arg("--out")
        .arg(&pairs_path)
        .arg("--threshold")
        .arg(plan.link_threshold.to_string());
    for f in &plan.fields {
        let [t1, t2] = f.jaro_winkler;
        cmd.arg("--field")
            .arg(format!("{}={}:{t1},{t2}", f.column, f.kind.as_str()));
    }
    for rule in &plan.blocking {
        cmd.arg("--rule").arg(rule.to_string());
    }
    for rule in DETERMINISTIC_RULES {
        cmd.arg("--deterministic").arg(rule);
    }
    let output = cmd
        .stdin(Stdio::null())
        .stderr(log)
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "{} not found: the Splink peer of this benchmark needs Python 3 (give another interpreter with --python, or --skip-peer)",
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
            "the Splink peer failed ({}); the end of {}:\n{}",
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
                "the Splink peer printed no JSON line (log: {})",
                log_path.display()
            )
        })?;
    let report: serde_json::Value =
        serde_json::from_str(last).context("reading the Splink peer's JSON line")?;
    let seconds = report["seconds"]
        .as_f64()
        .context("the Splink peer's JSON line has no seconds")?;
    let pairs_compared = report["pairs_compared"]
        .as_u64()
        .context("the Splink peer's JSON line has no pairs_compared")?;

    let index: HashMap<&str, u32> = records
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect();
    let mut reader = csv::Reader::from_path(&pairs_path)
        .with_context(|| format!("reading {}", pairs_path.display()))?;
    let mut pairs = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("reading {}", pairs_path.display()))?;
        let (Some(a), Some(b)) = (row.get(0), row.get(1)) else {
            bail!("{}: a row without two ids", pairs_path.display());
        };
        let (Some(&a), Some(&b)) = (index.get(a), index.get(b)) else {
            bail!(
                "{}: an id not in the input: {a} or {b}",
                pairs_path.display()
            );
        };
        pairs.push((a, b));
    }
    Ok(PeerRun {
        seconds,
        pairs_compared,
        score: score(pairs, records),
        report,
    })
}

/// Median time of a mode's runs and its (deterministic) quality.
struct Summary {
    seconds: f64,
    pairs_compared: Option<u64>,
    score: Score,
    parts: Vec<(&'static str, f64)>,
    sub_scores: Vec<(&'static str, Score)>,
}

fn summarize(runs: &[ModeRun]) -> Summary {
    let last = runs.last().expect("at least one run");
    Summary {
        seconds: median(runs.iter().map(|r| r.seconds).collect()),
        pairs_compared: last.pairs_compared,
        score: last.score,
        parts: last
            .parts
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (*name, median(runs.iter().map(|r| r.parts[i].1).collect())))
            .collect(),
        sub_scores: last.sub_scores.clone(),
    }
}

fn print_row(label: &str, records: usize, seconds: f64, pairs: Option<u64>, s: &Score) {
    let (pairs_text, rate_text) = match pairs {
        Some(p) => (p.to_string(), format!("{:.0}", p as f64 / seconds)),
        None => ("—".to_owned(), "—".to_owned()),
    };
    println!(
        "  {label:<28} {seconds:>9.2} {:>11.0} {pairs_text:>14} {rate_text:>12} {:>10} {:>9.4} {:>9.4} {:>9.4}",
        records as f64 / seconds,
        s.links,
        s.precision,
        s.recall,
        s.f1
    );
}

pub async fn run(args: LinkBenchArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run_blocking(&args))
        .await
        .context("the benchmark's thread stopped without an answer (a panic, above)")?
}

fn run_blocking(args: &LinkBenchArgs) -> anyhow::Result<()> {
    ensure!(
        args.runs > 0 && args.patients > 0 && args.providers > 1,
        "runs and patients must be positive, providers at least 2"
    );
    let script = if args.skip_peer {
        None
    } else {
        Some(super::peer_script("splink_link.py")?)
    };
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
    let nation = work.join(format!(
        "synth-p{}-v{}-s{}",
        args.patients, args.providers, args.seed
    ));
    prepare_nation(args, &nation)?;
    let csv_path = work.join(format!(
        "link-p{}-v{}-s{}.csv",
        args.patients, args.providers, args.seed
    ));
    let dice_csv = work.join(format!(
        "pprl-dice-p{}-v{}-s{}.csv",
        args.patients, args.providers, args.seed
    ));
    let started = Instant::now();
    let records = flatten_records(&nation, &csv_path)?;
    let n = records.ids.len();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "bench link: {n} Patient records of {} persons at {} providers, {} true pairs; flattened into {} in {:.1} s; {cpus} CPUs",
        args.patients,
        records.providers,
        records.true_pairs,
        csv_path.display(),
        started.elapsed().as_secs_f64()
    );

    // The plan (untimed): printed, and given to PPRL's blocking tokens and
    // to the peer.
    let plan = {
        let table = read_table(&records.csv)?;
        Linker::new(Input::Dedupe(&table), ID, &Settings::default())
            .context("planning")?
            .plan()
            .clone()
    };
    eprintln!("bench link: the zero-config plan\n{plan}");

    let mut runs: HashMap<Mode, Vec<ModeRun>> = HashMap::new();
    let mut peers: Vec<PeerRun> = Vec::new();
    for run in 0..args.runs {
        for &mode in &args.modes {
            let r = match mode {
                Mode::Deterministic => deterministic(&records),
                Mode::Probabilistic => probabilistic(&records, run == 0),
                Mode::Pprl => pprl(&records, &plan, (run == 0).then_some(dice_csv.as_path())),
            }
            .with_context(|| format!("{mode:?}, run {run}"))?;
            eprintln!(
                "bench link: run {run}: {mode:?} {:.2} s, F1 {:.4} (precision {:.4}, recall {:.4})",
                r.seconds, r.score.f1, r.score.precision, r.score.recall
            );
            runs.entry(mode).or_default().push(r);
        }
        if let Some(script) = &script {
            let p = splink_once(args, &records, &plan, script, &work, run)
                .with_context(|| format!("Splink, run {run}"))?;
            eprintln!(
                "bench link: run {run}: Splink {:.2} s, F1 {:.4} (precision {:.4}, recall {:.4})",
                p.seconds, p.score.f1, p.score.precision, p.score.recall
            );
            peers.push(p);
        }
    }

    let summaries: Vec<(Mode, Summary)> = args
        .modes
        .iter()
        .filter_map(|m| runs.get(m).map(|r| (*m, summarize(r))))
        .collect();
    let peer = (!peers.is_empty()).then(|| {
        let last = peers.last().expect("not empty");
        (
            median(peers.iter().map(|p| p.seconds).collect()),
            last.pairs_compared,
            last.score,
            last.report.clone(),
        )
    });

    println!(
        "link (dedupe) of {n} records ({} persons, {} providers, {} true pairs), median of {} runs, {cpus} CPUs:",
        args.patients, records.providers, records.true_pairs, args.runs
    );
    println!(
        "  {:<28} {:>9} {:>11} {:>14} {:>12} {:>10} {:>9} {:>9} {:>9}",
        "mode",
        "seconds",
        "records/s",
        "pairs compared",
        "pairs/s",
        "links",
        "precision",
        "recall",
        "F1"
    );
    for (mode, s) in &summaries {
        let label = match mode {
            Mode::Deterministic => "renkei deterministic",
            Mode::Probabilistic => "renkei probabilistic",
            Mode::Pprl => "renkei pprl (encode + link)",
        };
        print_row(label, n, s.seconds, s.pairs_compared, &s.score);
        for (name, sub) in &s.sub_scores {
            println!(
                "    {name:<34} links {:>10}  precision {:.4}  recall {:.4}  F1 {:.4}",
                sub.links, sub.precision, sub.recall, sub.f1
            );
        }
        if !s.parts.is_empty() {
            let parts: Vec<String> = s
                .parts
                .iter()
                .map(|(name, v)| {
                    if *name == "dice threshold" {
                        format!("{name} {v:.3}")
                    } else {
                        format!("{name} {v:.2} s")
                    }
                })
                .collect();
            println!("    {}", parts.join(", "));
        }
    }
    if let Some((seconds, pairs, score, report)) = &peer {
        let label = format!(
            "Splink {} (DuckDB {})",
            report["splink"].as_str().unwrap_or("?"),
            report["duckdb"].as_str().unwrap_or("?")
        );
        print_row(&label, n, *seconds, Some(*pairs), score);
        println!(
            "    read {:.2} s, train {:.2} s, predict {:.2} s, cluster {:.2} s (last run); {} threads",
            report["read_seconds"].as_f64().unwrap_or(0.0),
            report["train_seconds"].as_f64().unwrap_or(0.0),
            report["predict_seconds"].as_f64().unwrap_or(0.0),
            report["cluster_seconds"].as_f64().unwrap_or(0.0),
            report["threads"]
        );
        if let Some(failed) = report["failed_em_sessions"].as_array()
            && !failed.is_empty()
        {
            let failed: Vec<&str> = failed.iter().filter_map(|f| f.as_str()).collect();
            println!("    EM sessions Splink lost: {}", failed.join("; "));
        }
    }
    let probabilistic = summaries
        .iter()
        .find(|(m, _)| *m == Mode::Probabilistic)
        .map(|(_, s)| s);
    let speedup = match (probabilistic, &peer) {
        (Some(p), Some((peer_seconds, ..))) => Some(peer_seconds / p.seconds),
        _ => None,
    };
    if let Some(x) = speedup {
        println!(
            "  speedup {x:.2}× (probabilistic against Splink; {})",
            if x >= 1.0 {
                "renkei faster"
            } else {
                "Splink faster"
            }
        );
    }

    // Keys in this order (serde_json's map would sort them).
    let rate = |s: f64| json!((n as f64 / s).round());
    let mut line: Vec<(String, serde_json::Value)> = vec![
        ("bench".into(), json!("link")),
        ("metric".into(), json!("records_per_s")),
        (
            "renkei".into(),
            probabilistic.map_or(json!(null), |p| rate(p.seconds)),
        ),
        ("peer".into(), json!("splink")),
        (
            "peer_value".into(),
            peer.as_ref().map_or(json!(null), |(s, ..)| rate(*s)),
        ),
        (
            "speedup".into(),
            speedup.map_or(json!(null), |x| json!(round2(x))),
        ),
        (
            "f1".into(),
            probabilistic.map_or(json!(null), |p| json!(round4(p.score.f1))),
        ),
        (
            "peer_f1".into(),
            peer.as_ref()
                .map_or(json!(null), |(_, _, s, _)| json!(round4(s.f1))),
        ),
        ("records".into(), json!(n)),
        ("true_pairs".into(), json!(records.true_pairs)),
    ];
    for (mode, s) in &summaries {
        let m = match mode {
            Mode::Deterministic => "deterministic",
            Mode::Probabilistic => "probabilistic",
            Mode::Pprl => "pprl",
        };
        line.push((format!("{m}_s"), json!(round2(s.seconds))));
        line.push((format!("{m}_precision"), json!(round4(s.score.precision))));
        line.push((format!("{m}_recall"), json!(round4(s.score.recall))));
        line.push((format!("{m}_f1"), json!(round4(s.score.f1))));
        line.push((format!("{m}_links"), json!(s.score.links)));
        if let Some(p) = s.pairs_compared {
            line.push((format!("{m}_pairs"), json!(p)));
            line.push((
                format!("{m}_pairs_per_s"),
                json!((p as f64 / s.seconds).round()),
            ));
        }
    }
    if let Some((seconds, pairs, score, report)) = &peer {
        line.push(("peer_s".into(), json!(round2(*seconds))));
        line.push(("peer_precision".into(), json!(round4(score.precision))));
        line.push(("peer_recall".into(), json!(round4(score.recall))));
        line.push(("peer_links".into(), json!(score.links)));
        line.push(("peer_pairs".into(), json!(pairs)));
        line.push((
            "peer_pairs_per_s".into(),
            json!((*pairs as f64 / seconds).round()),
        ));
        line.push(("splink".into(), report["splink"].clone()));
        line.push(("duckdb".into(), report["duckdb"].clone()));
    }
    line.push(("runs".into(), json!(args.runs)));
    line.push(("patients".into(), json!(args.patients)));
    line.push(("providers".into(), json!(records.providers)));
    line.push(("cpus".into(), json!(cpus)));
    let line = line
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(k)))
        .collect::<Vec<_>>()
        .join(",");
    println!("{{{line}}}");
    Ok(())
}
