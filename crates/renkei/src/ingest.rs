//! `renkei ingest`: submit FHIR files for a provider, into the embedded
//! stores or to a running platform. Each FILE is one submission (NDJSON,
//! optionally gzip, a single resource or a Bundle, told apart by content),
//! so that a file is committed whole or not at all.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use renkei_collect::{FacilityKind, Intake, IntakeConfig, Provider, Receipt};
use renkei_core::{Actor, Clock, ProviderCode, SystemClock};
use serde_json::json;

use renkei::config;

/// Arguments of `renkei ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// The submitting provider's 医療機関コード.
    #[arg(long)]
    provider: String,
    /// Register the provider in the embedded stores with this facility kind
    /// if it is not registered yet (advanced_treatment_hospital,
    /// regional_support_hospital, hospital, clinic, pharmacy, or the
    /// Japanese names).
    #[arg(long, value_name = "KIND")]
    register: Option<String>,
    /// Send to a running platform at this URL instead of the embedded stores.
    #[arg(long, value_name = "URL", requires = "token")]
    server: Option<String>,
    /// A provider account's API token (with --server).
    #[arg(long, env = "RENKEI_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The files to submit, each as one submission.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub async fn run(
    common: &config::CommonFlags,
    args: IngestArgs,
) -> anyhow::Result<std::process::ExitCode> {
    let provider = ProviderCode::parse(&args.provider).context("--provider")?;
    let receipts = match &args.server {
        Some(url) => {
            remote(
                url,
                args.token.as_deref().unwrap_or_default(),
                &provider,
                &args.files,
            )
            .await?
        }
        None => embedded(common, &provider, args.register.as_deref(), &args.files).await?,
    };
    let mut totals = renkei_collect::TypeCounts::default();
    let mut joined = 0;
    for (file, r) in args.files.iter().zip(&receipts) {
        let t = r.totals();
        eprintln!(
            "{}: submission {} — received {}, accepted {}, rejected {}, unchanged {}, superseded {}, stale {}, deleted {}, pending {}, earlier pending joined {}",
            file.display(),
            r.submission_id,
            t.received,
            t.accepted,
            t.rejected,
            t.unchanged,
            t.superseded,
            t.stale,
            t.deleted,
            t.pending,
            r.pending_joined,
        );
        // Every refusal the receipt lists, and every notice (a record
        // held pending, a stale version ignored, a warning).
        for x in &r.rejected {
            eprintln!("  refused at {}: {}", x.location, x.outcome);
        }
        let unlisted = t.rejected.saturating_sub(r.rejected.len() as u64);
        if unlisted > 0 {
            eprintln!(
                "  … and {unlisted} more refused, not listed (a receipt lists the first {}): GET /api/v1/submissions/{} or the quality report has the counts by reason",
                renkei_collect::MAX_LISTED,
                r.submission_id
            );
        }
        for n in &r.notices {
            eprintln!("  note at {} ({}): {}", n.location, n.resource, n.message);
        }
        totals.received += t.received;
        totals.accepted += t.accepted;
        totals.rejected += t.rejected;
        totals.pending += t.pending;
        totals.unchanged += t.unchanged;
        totals.superseded += t.superseded;
        totals.stale += t.stale;
        totals.deleted += t.deleted;
        joined += r.pending_joined;
    }
    println!(
        "{}",
        json!({
            "submissions": receipts.iter().map(|r| r.submission_id.to_string()).collect::<Vec<_>>(),
            "received": totals.received, "accepted": totals.accepted, "rejected": totals.rejected,
            "unchanged": totals.unchanged, "superseded": totals.superseded, "stale": totals.stale,
            "deleted": totals.deleted, "pending": totals.pending, "pending_joined": joined,
            "lake_version": receipts.iter().filter_map(|r| r.lake_version).max(),
        })
    );
    Ok(exit_code(&totals))
}

/// Refused resources are not silent to a script: 0 when nothing was
/// refused, [`SOME_REFUSED`] when some were, [`ALL_REFUSED`] when nothing
/// sent was taken.
fn exit_code(totals: &renkei_collect::TypeCounts) -> std::process::ExitCode {
    if totals.rejected == 0 {
        std::process::ExitCode::SUCCESS
    } else if totals.rejected >= totals.received {
        std::process::ExitCode::from(ALL_REFUSED)
    } else {
        std::process::ExitCode::from(SOME_REFUSED)
    }
}

/// The exit code when some resources were refused and the rest taken.
pub const SOME_REFUSED: u8 = 3;
/// The exit code when every resource sent was refused.
pub const ALL_REFUSED: u8 = 4;

async fn embedded(
    common: &config::CommonFlags,
    provider: &ProviderCode,
    register: Option<&str>,
    files: &[PathBuf],
) -> anyhow::Result<Vec<Receipt>> {
    let config = config::load(common)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let stores = renkei_store::Stores::open(&config.data_dir, &config.store).await?;
    // Every submission is audited; the log has one writer, so this fails
    // while a platform serves the same data directory (use --server).
    let audit = renkei_audit::AuditLog::open_trusting(
        &stores,
        clock.clone(),
        &config.audit.trust(&config.data_dir)?,
    )
    .await
    .context(
        "opening the audit log (is a platform serving this data directory? then use --server)",
    )?;
    let identity =
        renkei_identity::PersonIndex::open(&stores, clock.clone(), Arc::new(audit.clone())).await?;
    let intake = Intake::open(
        &stores,
        Arc::new(identity),
        Arc::new(audit.clone()),
        clock.clone(),
        IntakeConfig {
            limits: config.collect.limits(),
            ..IntakeConfig::default()
        },
    )
    .await?;
    let by = Actor::System {
        component: "renkei ingest".to_owned(),
    };
    if intake.provider(provider).await?.is_none() {
        let Some(kind) = register else {
            bail!(
                "provider {provider} is not registered; pass --register KIND to register it (kinds: advanced_treatment_hospital, regional_support_hospital, hospital, clinic, pharmacy)"
            );
        };
        let kind: FacilityKind = kind.parse()?;
        intake
            .register_provider(
                &by,
                &Provider {
                    code: provider.clone(),
                    name: provider.to_string(),
                    kind,
                    org_id: None,
                    registered_at: clock.now(),
                },
            )
            .await?;
    }
    let mut out = Vec::new();
    for file in files {
        let body = tokio::fs::File::open(file)
            .await
            .with_context(|| format!("opening {}", file.display()))?;
        // The intake records each submission in the log before it takes
        // effect; a refused file left nothing to record.
        let result = intake.submit(&by, provider, body).await;
        out.push(result.with_context(|| format!("{}", file.display()))?);
    }
    audit.close().await;
    stores.close().await;
    Ok(out)
}

async fn remote(
    url: &str,
    token: &str,
    provider: &ProviderCode,
    files: &[PathBuf],
) -> anyhow::Result<Vec<Receipt>> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for file in files {
        let body = tokio::fs::File::open(file)
            .await
            .with_context(|| format!("opening {}", file.display()))?;
        let stream = tokio_util_stream(body);
        let resp = http
            .post(format!(
                "{}/api/v1/submissions?provider={provider}",
                url.trim_end_matches('/')
            ))
            .bearer_auth(token)
            .header("content-type", "application/fhir+ndjson")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .with_context(|| format!("sending {} to {url}", file.display()))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{}: the platform answered {status}: {text}", file.display());
        }
        out.push(
            serde_json::from_str(&text)
                .with_context(|| format!("{}: reading the receipt", file.display()))?,
        );
    }
    Ok(out)
}

/// A file as a stream of chunks, so a multi-GB file is never in memory.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> {
    futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}
