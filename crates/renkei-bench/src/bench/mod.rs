//! `renkei-bench NAME`: end-to-end numbers, each compared side by side with a
//! peer in the same run, each ending with one JSON line.

mod anonymize;
mod audit;
mod extract;
mod ingest;
mod link;
mod optout;
mod query;
mod siege;

use anyhow::Context;
use clap::Subcommand;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Records per second of anonymization (k-anonymity, optionally l and
    /// t, with suppression) on a synthetic admissions table, and the
    /// information loss reached, against ANJANA on the same CSV and
    /// hierarchies (scripts/bench/anjana_anonymize.py).
    Anonymize(anonymize::AnonymizeBenchArgs),
    /// Durable audit appends per second (SQLite, and PostgreSQL when
    /// --database-url or RENKEI_BENCH_DATABASE_URL is given) with group
    /// commit, against one transaction per append; then inclusion proofs per
    /// second at --entries entries.
    Audit(audit::AuditBenchArgs),
    /// Rows per second of a permit extract (opt-out filter, per-permit
    /// pseudonyms, Parquet) over a lake of --persons × --rows-per-person
    /// observations, against DuckDB doing the same
    /// (scripts/bench/duckdb_extract.py).
    Extract(extract::ExtractBenchArgs),
    /// Resources per second of a synthetic nation through the pipeline
    /// (parse, validate, split, Parquet; one thread) and through the whole
    /// intake (also identity, versions, receipts, commits), against DuckDB
    /// writing the same NDJSON to Parquet (scripts/bench/duckdb_ingest.py).
    /// For one core: `taskset -c 0 renkei-bench ingest`.
    Ingest(ingest::IngestBenchArgs),
    /// Record linkage of a synthetic nation's Patients scored against its
    /// ground truth (precision, recall, F1, pairs/s) for each mode, against
    /// Splink on the same CSV (scripts/bench/splink_link.py).
    Link(link::LinkBenchArgs),
    /// Exclusion sets at --optouts opt-outs (fill, withdrawals, cold open,
    /// then `Registry::exclusion` for three uses) against the same set by
    /// SQL on the registry's SQLite database; then opt-out writes per second
    /// through the API on loopback, --concurrency clients against one.
    Optout(optout::OptOutBenchArgs),
    /// Cohort queries (counts by age band and disease, lab trends, drug
    /// prevalence, conditions joined to prescriptions) through a permit's
    /// workspace on an extract of --persons persons, with disclosure
    /// control of the counts, against DuckDB running the same SQL on the
    /// same Parquet (scripts/bench/duckdb_query.py).
    Query(query::QueryBenchArgs),
    /// /healthz latency and peak memory while the red team's requests hit
    /// a platform on loopback: a 60 MiB Bundle of zeros, a gzip bomb, a
    /// flood of wrong sign-ins (issue 15). No peer.
    Siege(siege::SiegeBenchArgs),
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Anonymize(args) => anonymize::run(args).await,
        BenchCommand::Audit(args) => audit::run(args).await,
        BenchCommand::Extract(args) => extract::run(args).await,
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Link(args) => link::run(args).await,
        BenchCommand::Optout(args) => optout::run(args).await,
        BenchCommand::Query(args) => query::run(args).await,
        BenchCommand::Siege(args) => siege::run(args).await,
    }
}

/// The median of `xs` (the upper one of an even count).
pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// A peer's script under `scripts/bench/`: beside this crate's sources, or
/// under the current directory.
pub(crate) fn peer_script(name: &str) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context as _;
    let relative = std::path::Path::new("scripts/bench").join(name);
    let candidates = [
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(&relative),
        relative.clone(),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "the peer's script is neither at {} nor at ./{}: run from the repository",
                candidates[0].display(),
                relative.display()
            )
        })
}

/// CPU seconds (user + system) this process has used, all threads.
pub(crate) fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the command name, which is in parentheses: state is
    // field 3, utime 14 and stime 15, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .context("unexpected /proc/self/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}
