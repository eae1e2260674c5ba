//! `renkei`: the one binary operators run. It parses the command line, reads
//! the layered configuration, sets up logging once, and hands over to the
//! library crates; `anyhow` lives here and nowhere else, so that every error
//! reaching the operator carries the step it happened in.

mod admin;
mod anonymize;
mod cluster;
mod identity;
mod ingest;
mod link;
mod synth;

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use renkei_core::SystemClock;
use tracing_subscriber::EnvFilter;

use renkei::config::{self, CommonFlags};
use renkei::{demo, shutdown_signal};

/// renkei — 医療等情報の二次利用のための情報連携基盤 (health-data linkage platform).
#[derive(Debug, Parser)]
#[command(name = "renkei", version, about)]
struct Cli {
    #[command(flatten)]
    common: CommonFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the platform (API, pages, metrics) until interrupted.
    Serve,
    /// Start the embedded platform, create demo accounts for every role,
    /// walk through every function, print the URL and logins, keep serving.
    Demo(demo::DemoArgs),
    /// Manage accounts and tokens directly in the stores.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Submit FHIR files (NDJSON, gzip, a resource or a Bundle) for a
    /// provider, into the embedded stores or to a running platform.
    Ingest(ingest::IngestArgs),
    /// Provider-side tools for privacy-preserving linkage: a shared key
    /// and Bloom-filter encodings of records.
    #[command(subcommand)]
    Identity(identity::IdentityCommand),
    /// Link the records of two CSV files, or find the duplicates within one
    /// (Fellegi–Sunter with EM); chooses comparisons and blocking from the
    /// columns unless --config says otherwise.
    Link(link::LinkArgs),
    /// Anonymize a CSV file: generalize the quasi-identifiers and suppress
    /// records until k-anonymity (and l-diversity, t-closeness) holds at
    /// the least information loss; prints the risk and utility report.
    Anonymize(anonymize::AnonymizeArgs),
    /// Run a node of the analysis cluster (Apache DataFusion Ballista):
    /// the scheduler, or an executor.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Write a deterministic synthetic population and its FHIR records
    /// (NDJSON per provider) with the ground truth in truth.csv.
    Synth(synth::SynthArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the Merkle tree from storage and check every signed tree
    /// head, and a head kept outside the data directory: --head FILE, or
    /// else the last head of `[audit] witness`. Only such a head, checked
    /// under a pinned key (--key, or `[audit] public_key`), catches a log
    /// cut back or rewritten by someone holding a copy of the directory.
    Verify {
        /// A signed tree head saved earlier: JSON as `renkei audit head`
        /// prints it or `/api/v1/audit/head` serves it, or a witness file
        /// (JSON Lines; its last head is used).
        #[arg(long, value_name = "FILE")]
        head: Option<std::path::PathBuf>,
        /// The log's public key (hex or base64), pinned: every head must be
        /// signed by it, whatever key file the data directory holds.
        #[arg(long, value_name = "PUBKEY")]
        key: Option<String>,
    },
    /// Print the latest signed tree head as JSON (save it to verify later);
    /// works while the platform runs.
    Head,
    /// Print the log's public key (hex), to pin in `[audit] public_key` or
    /// pass to `renkei audit verify --key`.
    Key,
}

/// Logs go to standard error: human-readable by default, one JSON object
/// per line with `RENKEI_LOG_FORMAT=json` (for log shippers). `RENKEI_LOG`
/// takes an `EnvFilter` directive.
fn init_tracing(default: &str) {
    let filter = EnvFilter::try_from_env("RENKEI_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("RENKEI_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The demo and benchmarks print their own story; their logs would bury
    // it. RENKEI_LOG overrides either default.
    let quiet = matches!(
        cli.command,
        Command::Demo(_)
            | Command::Synth(_)
            | Command::Ingest(_)
            | Command::Link(_)
            | Command::Anonymize(_)
            | Command::Identity(_)
    );
    init_tracing(if quiet { "warn" } else { "info,sqlx=warn" });
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve => {
            let config = config::load(&cli.common)?;
            serve(config).await?;
        }
        Command::Demo(args) => return demo::run(&cli.common, args).await,
        Command::Ingest(args) => return ingest::run(&cli.common, args).await,
        Command::Identity(cmd) => identity::run(cmd)?,
        Command::Link(args) => {
            tokio::task::spawn_blocking(move || link::run(args))
                .await
                .context("the linkage thread")??;
        }
        Command::Anonymize(args) => {
            tokio::task::spawn_blocking(move || anonymize::run(args))
                .await
                .context("the anonymization thread")??;
        }
        Command::Admin(cmd) => {
            let config = config::load(&cli.common)?;
            admin::run(config, cmd).await?;
        }
        Command::Audit(AuditCommand::Verify { head, key }) => {
            let config = config::load(&cli.common)?;
            return audit_verify(config, head.as_deref(), key.as_deref()).await;
        }
        Command::Audit(AuditCommand::Key) => {
            let config = config::load(&cli.common)?;
            let stores = renkei_store::Stores::open(&config.data_dir, &config.store).await?;
            let key = renkei_audit::stored_public_key(&stores)?
                .context("the audit log has no signing key yet: start the platform once")?;
            println!("{key}");
        }
        Command::Audit(AuditCommand::Head) => {
            let config = config::load(&cli.common)?;
            let stores = renkei_store::Stores::open(&config.data_dir, &config.store).await?;
            // Read, not open for writing: this works beside a running
            // platform, which holds the writer lock.
            let head = renkei_audit::latest_stored_head(&stores)
                .await?
                .context("the audit log has no signed tree head yet: it is empty")?;
            println!("{}", head.to_json_pretty());
        }
        Command::Cluster(cmd) => cluster::run(&cli.common, cmd).await?,
        Command::Synth(args) => synth::run(args)?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn serve(config: renkei_server::Config) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let state = renkei_server::AppState::open(config, Arc::new(SystemClock))
        .await
        .context("opening the platform's stores")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    // Before saying where we serve: whoever reads that may signal at once.
    let shutdown = shutdown_signal();
    println!("renkei serving on http://{addr}/");
    tracing::info!(%addr, "serving");
    renkei_server::serve(listener, state.clone(), shutdown)
        .await
        .context("serving HTTP")?;
    state.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn audit_verify(
    config: renkei_server::Config,
    head: Option<&std::path::Path>,
    key: Option<&str>,
) -> anyhow::Result<std::process::ExitCode> {
    let stores = renkei_store::Stores::open(&config.data_dir, &config.store).await?;
    let key: Option<renkei_audit::PublicKey> = match key {
        Some(text) => Some(text.parse().context("reading --key")?),
        None => config.audit.pinned_key()?,
    };
    let (head, source) = match head {
        Some(path) => (Some(read_head(path)?), path.display().to_string()),
        None => match config.audit.witness(&config.data_dir)? {
            Some(witness) => {
                let head = witness.latest().context("reading the audit witness")?;
                (head, witness.path().display().to_string())
            }
            None => (None, String::new()),
        },
    };
    let result = match &key {
        Some(key) => renkei_audit::verify_with_key(&stores, key, head.as_ref()).await,
        None => renkei_audit::verify(&stores, head.as_ref()).await,
    };
    match result {
        Ok(report) => {
            println!("audit log verified: {report}");
            match (&head, &key) {
                (Some(head), Some(key)) => println!(
                    "consistent with the head at size {} from {source}, under the pinned key {key}",
                    head.tree_size
                ),
                (Some(head), None) => println!(
                    "consistent with the head at size {} from {source}, whose key id {} the data directory's key matches",
                    head.tree_size, head.key_id
                ),
                (None, _) => {}
            }
            if head.is_none() || key.is_none() {
                // Said on every run, since passing this way proves less than
                // it seems to.
                eprintln!(
                    "warning: checked against {} only; a copy of the data directory holds the signing key and can cut the log back with its heads. Pass --head FILE (a head kept elsewhere, or the witness) and --key PUBKEY, or set [audit] witness and public_key",
                    if head.is_none() {
                        "the data directory's own heads"
                    } else {
                        "a saved head but no pinned key"
                    }
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("audit log verification FAILED: {e}");
            Ok(std::process::ExitCode::FAILURE)
        }
    }
}

/// A head saved as JSON, or the last head of a witness file (JSON Lines).
fn read_head(path: &std::path::Path) -> anyhow::Result<renkei_audit::SignedTreeHead> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading signed tree head {}", path.display()))?;
    match renkei_audit::SignedTreeHead::from_json(&text) {
        Ok(head) => Ok(head),
        Err(as_one) => match renkei_audit::Witness::new(path).latest() {
            Ok(Some(head)) => Ok(head),
            _ => {
                Err(as_one).with_context(|| format!("parsing signed tree head {}", path.display()))
            }
        },
    }
}
