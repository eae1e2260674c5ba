//! `renkei-bench audit`: how fast the audit log takes durable entries, and
//! how fast it proves one is there.
//!
//! Appends: C concurrent writers (as concurrent requests would be) each
//! await their entry's durable commit; the log groups what is pending into
//! one transaction. The peer is the same rows inserted the obvious way, one
//! durable transaction per row, with the same writers on the same engine:
//! what group commit and the Merkle tree cost or save. Proofs: the log is
//! filled to N entries, then random inclusion proofs are generated.

use super::median;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use renkei_core::{Actor, AuditEvent, Clock, Outcome, SystemClock};
use renkei_store::{DatabaseConfig, DbName, Migrations, StoreConfig, Stores};
use serde_json::json;

/// Flags of `renkei-bench audit`.
#[derive(Debug, clap::Args)]
pub struct AuditBenchArgs {
    /// Durable appends per run.
    #[arg(long, default_value_t = 50_000)]
    appends: u64,
    /// Concurrent writers.
    #[arg(long, default_value_t = 256)]
    concurrency: u64,
    /// Rows the peer inserts per run (one transaction each, so fewer).
    #[arg(long, default_value_t = 3_000)]
    peer_appends: u64,
    /// Entries in the log when proofs are measured.
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Inclusion proofs generated.
    #[arg(long, default_value_t = 100_000)]
    proofs: u64,
    /// Runs of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// PostgreSQL to measure on as well.
    #[arg(long, env = "RENKEI_BENCH_DATABASE_URL")]
    database_url: Option<String>,
}

fn event(clock: &SystemClock, i: u64) -> AuditEvent {
    AuditEvent {
        at: clock.now(),
        actor: Actor::System {
            component: "bench".to_owned(),
        },
        action: "GET /api/v1/bench".to_owned(),
        object: format!("/api/v1/bench/{i}"),
        outcome: Outcome::Success,
        status: Some(200),
        request_id: Some(uuid_like(i)),
    }
}

fn uuid_like(i: u64) -> String {
    format!("00000000-0000-7000-8000-{i:012x}")
}

async fn fresh_stores(database_url: Option<&str>) -> anyhow::Result<(Stores, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let database = match database_url {
        None => DatabaseConfig::Sqlite { max_connections: 4 },
        Some(url) => DatabaseConfig::Postgres {
            url: url.to_owned(),
            schema_prefix: format!("bench{}", std::process::id()),
            max_connections: 16,
        },
    };
    let config = StoreConfig {
        database,
        lake_url: None,
    };
    let stores = Stores::open(dir.path(), &config).await?;
    Ok((stores, dir))
}

async fn drop_schemas(url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let prefix = format!("bench{}", std::process::id());
    for name in ["audit", "bench_peer"] {
        sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS \"{prefix}_{name}\" CASCADE"
        ))
        .execute(&mut conn)
        .await?;
    }
    Ok(())
}

/// Appends per second through the log with `concurrency` writers.
async fn renkei_appends(database_url: Option<&str>, args: &AuditBenchArgs) -> anyhow::Result<f64> {
    if let Some(url) = database_url {
        drop_schemas(url).await?;
    }
    let (stores, _dir) = fresh_stores(database_url).await?;
    let log = renkei_audit::AuditLog::open(&stores, Arc::new(SystemClock)).await?;
    let per_writer = args.appends / args.concurrency.max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let clock = SystemClock;
            for i in 0..per_writer {
                log.append(event(&clock, w * per_writer + i)).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed();
    let n = per_writer * args.concurrency;
    anyhow::ensure!(
        log.size() == n,
        "log holds {} entries, expected {n}",
        log.size()
    );
    log.close().await;
    stores.close().await;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Rows per second inserted one durable transaction each.
async fn peer_appends(database_url: Option<&str>, args: &AuditBenchArgs) -> anyhow::Result<f64> {
    if let Some(url) = database_url {
        drop_schemas(url).await?;
    }
    let (stores, _dir) = fresh_stores(database_url).await?;
    let migrations = Migrations {
        sqlite: sqlx::migrate!("migrations/bench_peer/sqlite"),
        postgres: sqlx::migrate!("migrations/bench_peer/postgres"),
    };
    let db = stores
        .database(DbName::new("bench_peer"), &migrations)
        .await?;
    let per_writer = args.peer_appends / args.concurrency.max(1);
    let per_writer = per_writer.max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let clock = SystemClock;
            for i in 0..per_writer {
                let idx = w * per_writer + i;
                let data = serde_json::to_vec(&event(&clock, idx))?;
                let leaf = renkei_audit::merkle::leaf_hash(&data);
                sqlx::query(
                    "INSERT INTO rows (idx, at_us, data, leaf_hash) VALUES ($1, $2, $3, $4)",
                )
                .bind(i64::try_from(idx)?)
                .bind(clock.now().unix_micros())
                .bind(data)
                .bind(leaf.as_bytes().to_vec())
                .execute(db.pool())
                .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed();
    stores.close().await;
    Ok((per_writer * args.concurrency) as f64 / elapsed.as_secs_f64())
}

struct ProofNumbers {
    fill_per_s: f64,
    proofs_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

async fn proofs(args: &AuditBenchArgs) -> anyhow::Result<ProofNumbers> {
    let (stores, _dir) = fresh_stores(None).await?;
    let log = renkei_audit::AuditLog::open(&stores, Arc::new(SystemClock)).await?;
    let clock = SystemClock;
    let started = Instant::now();
    let chunk = 10_000;
    let mut i = 0;
    while i < args.entries {
        let n = chunk.min(args.entries - i);
        let batch: Vec<AuditEvent> = (i..i + n).map(|k| event(&clock, k)).collect();
        log.append_many(batch).await?;
        i += n;
    }
    let fill = started.elapsed();
    let size = log.size();
    // A fixed-seed LCG picks indices, so every run proves the same entries.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lat = Vec::with_capacity(args.proofs as usize);
    let started = Instant::now();
    for _ in 0..args.proofs {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let index = (x >> 11) % size;
        let t = Instant::now();
        let proof = log.inclusion_proof(index, size)?;
        lat.push(t.elapsed());
        std::hint::black_box(proof);
    }
    let total = started.elapsed();
    lat.sort();
    let pct = |p: f64| -> Duration { lat[((lat.len() as f64 - 1.0) * p) as usize] };
    log.close().await;
    stores.close().await;
    Ok(ProofNumbers {
        fill_per_s: size as f64 / fill.as_secs_f64(),
        proofs_per_s: args.proofs as f64 / total.as_secs_f64(),
        p50_us: pct(0.5).as_secs_f64() * 1e6,
        p99_us: pct(0.99).as_secs_f64() * 1e6,
    })
}

pub async fn run(args: AuditBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.runs > 0 && args.entries > 0 && args.proofs > 0,
        "runs, entries and proofs must be positive"
    );
    let mut out = serde_json::Map::new();
    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Some(url) = &args.database_url {
        backends.push(("postgres", Some(url.clone())));
    } else {
        eprintln!(
            "bench audit: PostgreSQL not measured (give --database-url or RENKEI_BENCH_DATABASE_URL)"
        );
    }
    for (name, url) in &backends {
        let mut ours = Vec::new();
        let mut peer = Vec::new();
        for run in 0..args.runs {
            let r = renkei_appends(url.as_deref(), &args)
                .await
                .with_context(|| format!("{name}: renkei appends, run {run}"))?;
            let p = peer_appends(url.as_deref(), &args)
                .await
                .with_context(|| format!("{name}: peer appends, run {run}"))?;
            eprintln!(
                "bench audit: {name} run {run}: renkei {r:.0} appends/s, one-txn-per-row peer {p:.0} rows/s"
            );
            ours.push(r);
            peer.push(p);
        }
        out.insert(format!("{name}_appends_per_s"), json!(median(ours).round()));
        out.insert(
            format!("{name}_peer_rows_per_s"),
            json!(median(peer).round()),
        );
        if let Some(u) = url {
            drop_schemas(u).await?;
        }
    }
    let mut proof_runs = Vec::new();
    for run in 0..args.runs {
        let p = proofs(&args)
            .await
            .with_context(|| format!("proofs, run {run}"))?;
        eprintln!(
            "bench audit: proofs run {run}: filled {} entries at {:.0}/s; {:.0} inclusion proofs/s, p50 {:.2} µs, p99 {:.2} µs",
            args.entries, p.fill_per_s, p.proofs_per_s, p.p50_us, p.p99_us
        );
        proof_runs.push(p);
    }
    let ours = out["sqlite_appends_per_s"].as_f64().unwrap_or(0.0);
    let peer = out["sqlite_peer_rows_per_s"].as_f64().unwrap_or(f64::NAN);
    let mut line = serde_json::Map::new();
    line.insert("bench".into(), json!("audit"));
    line.insert("metric".into(), json!("durable_appends_per_s"));
    line.insert("renkei".into(), json!(ours));
    line.insert("peer".into(), json!("sqlite_one_txn_per_row"));
    line.insert("peer_value".into(), json!(peer));
    line.insert(
        "speedup".into(),
        json!(((ours / peer) * 100.0).round() / 100.0),
    );
    line.append(&mut out);
    line.insert("concurrency".into(), json!(args.concurrency));
    line.insert("entries".into(), json!(args.entries));
    line.insert(
        "fill_entries_per_s".into(),
        json!(median(proof_runs.iter().map(|p| p.fill_per_s).collect()).round()),
    );
    line.insert(
        "inclusion_proofs_per_s".into(),
        json!(median(proof_runs.iter().map(|p| p.proofs_per_s).collect()).round()),
    );
    line.insert(
        "inclusion_proof_p50_us".into(),
        json!(median(proof_runs.iter().map(|p| p.p50_us).collect())),
    );
    line.insert(
        "inclusion_proof_p99_us".into(),
        json!(median(proof_runs.iter().map(|p| p.p99_us).collect())),
    );
    line.insert("runs".into(), json!(args.runs));
    println!("{}", serde_json::Value::Object(line));
    Ok(())
}
