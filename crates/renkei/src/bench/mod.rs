//! `renkei bench NAME`: end-to-end numbers, each compared side by side with a
//! peer in the same run, each ending with one JSON line.

mod audit;
mod ingest;
mod link;
mod optout;

use clap::Subcommand;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable audit appends per second (SQLite, and PostgreSQL when
    /// --database-url or RENKEI_BENCH_DATABASE_URL is given) with group
    /// commit, against one transaction per append; then inclusion proofs per
    /// second at --entries entries.
    Audit(audit::AuditBenchArgs),
    /// Resources per second of a synthetic nation through the pipeline
    /// (parse, validate, split, Parquet; one thread) and through the whole
    /// intake (also identity, versions, receipts, commits), against DuckDB
    /// writing the same NDJSON to Parquet (scripts/bench/duckdb_ingest.py).
    /// For one core: `taskset -c 0 renkei bench ingest`.
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
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Audit(args) => audit::run(args).await,
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Link(args) => link::run(args).await,
        BenchCommand::Optout(args) => optout::run(args).await,
    }
}
