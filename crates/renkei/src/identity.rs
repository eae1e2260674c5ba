//! `renkei identity`: what a provider runs on its own side so that the
//! platform can link without seeing names — a shared linkage key, and
//! Bloom-filter encodings (CLKs) of its records.
//!
//! The key is shared by the providers (by whatever channel they already
//! trust) and never given to the platform; the schema (which columns, how
//! many bits) is agreed once and reused, so that every provider's
//! encodings are comparable: the first provider writes it with
//! `--schema-out`, the others encode with `--schema`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use renkei_identity::linkage::{BlockingRule, Table};
use renkei_identity::pprl::{ClkKey, ClkSchema, DEFAULT_BITS, encode};

/// Subcommands of `renkei identity`.
#[derive(Debug, clap::Subcommand)]
pub enum IdentityCommand {
    /// Create a linkage key (32 random bytes, hex) in a new file readable
    /// by its owner only. Share it among providers, never with the
    /// platform.
    NewKey {
        /// The key file to create (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Encode the records of a CSV file as Bloom filters under the shared
    /// key: writes `id,clk,schema[,blocks]`, which is all the platform
    /// receives.
    Encode(EncodeArgs),
}

/// Flags of `renkei identity encode`.
#[derive(Debug, clap::Args)]
pub struct EncodeArgs {
    /// The records (CSV with a header).
    file: PathBuf,
    /// The column naming each record; copied, never encoded.
    #[arg(long, value_name = "COLUMN")]
    id: String,
    /// The shared linkage key (`renkei identity new-key`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The encoding schema agreed with the other providers. Without it,
    /// one is chosen from the columns (and printed).
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// Write the schema used here, for the other providers.
    #[arg(long, value_name = "FILE")]
    schema_out: Option<PathBuf>,
    /// Filter length in bits when choosing a schema (a multiple of 64).
    #[arg(long, default_value_t = DEFAULT_BITS)]
    bits: u32,
    /// Blocking rules (`surname[:2] & date_of_birth[:4]`), repeatable:
    /// each adds a keyed token per record, so that large files are
    /// compared only within blocks. Every provider must use the same rules.
    #[arg(long = "block-on", value_name = "RULE")]
    block_on: Vec<String>,
    /// Where to write the encodings.
    #[arg(long, value_name = "CSV")]
    out: PathBuf,
}

/// Runs `renkei identity …`.
pub fn run(cmd: IdentityCommand) -> anyhow::Result<()> {
    match cmd {
        IdentityCommand::NewKey { out } => new_key(&out),
        IdentityCommand::Encode(args) => encode_file(&args),
    }
}

fn new_key(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating the key file {}", path.display()))?;
    file.write_all(ClkKey::generate().to_file_text().as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing the key file {}", path.display()))?;
    eprintln!(
        "created {} (mode 0600): share it with the other providers, never with the platform",
        path.display()
    );
    println!(
        "{}",
        serde_json::json!({"ok": true, "key": path.display().to_string()})
    );
    Ok(())
}

fn encode_file(args: &EncodeArgs) -> anyhow::Result<()> {
    let key = ClkKey::from_file(&args.key)?;
    let table = Table::from_path(&args.file)
        .with_context(|| format!("reading records from {}", args.file.display()))?;
    let schema = match &args.schema {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the schema {}", path.display()))?;
            ClkSchema::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => ClkSchema::infer(&table, &args.id, args.bits)?,
    };
    let rules = args
        .block_on
        .iter()
        .map(|r| r.parse::<BlockingRule>())
        .collect::<Result<Vec<_>, _>>()?;
    print!("{schema}");
    let encoded = encode(&key, &schema, &table, &args.id, &rules)?;
    encoded
        .write_csv(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.schema_out {
        std::fs::write(path, schema.to_toml())
            .with_context(|| format!("writing the schema {}", path.display()))?;
    }
    println!(
        "{}",
        serde_json::json!({
            "ok": true,
            "records": encoded.ids.len(),
            "schema": encoded.schema,
            "bits": schema.bits,
            "blocking_rules": rules.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "out": args.out.display().to_string(),
        })
    );
    Ok(())
}
