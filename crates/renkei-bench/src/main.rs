//! `renkei-bench NAME`: renkei's benchmarks, apart from the product binary
//! (as DataFusion keeps its `benchmarks/`). Each builds its own input,
//! measures renkei and a peer (DuckDB, Splink, ANJANA, PostgreSQL) side by
//! side in the same run, and ends with one JSON line; BENCHMARKS.md records
//! them. The peers' scripts are in `scripts/bench/`, found from the build
//! tree, which is why they live here and not in `renkei`.

mod bench;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// renkei-bench — reproducible benchmarks of renkei against its peers.
#[derive(Debug, Parser)]
#[command(name = "renkei-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: bench::BenchCommand,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The benchmarks print their own story; logs would bury it.
    // RENKEI_LOG overrides.
    let filter = EnvFilter::try_from_env("RENKEI_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match bench::run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
