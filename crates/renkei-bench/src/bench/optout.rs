//! `renkei-bench optout`: how fast the opt-out registry answers who is out,
//! and how fast it takes opt-outs through the API.
//!
//! Exclusion sets: a fresh data directory (embedded SQLite, the audit log as
//! the registry's audit sink) is filled with N opt-outs through
//! `Registry::import` in chunks — distinct persons (one opt-out in twenty is
//! a second one of a person already met), scopes mixed as the form's
//! choices might be (40% all, 20% commercial, 15% genomic, 10% imaging, 10%
//! foreign, 5% a data category; some naming two purposes), one in fifty
//! taking effect a month later — then every `--withdraw-every`-th opt-out
//! is withdrawn through `Registry::withdraw`, as patients would. The
//! registry is closed and opened again (timed: loading the history from the
//! database into memory), then `Registry::exclusion` is timed for three
//! uses. **Peer:** the same set computed by SQL on the registry's own
//! database in the same run (`SELECT DISTINCT ordinal` over
//! `optout_changes`: in effect, scope covering the use, no withdrawal in
//! effect), fetched into a `Vec<i64>`. The two answers must be the same set.
//!
//! Writes: the real server on loopback in a fresh data directory; an
//! operator's API token; `--concurrency` tasks sharing one HTTP client POST
//! `/api/v1/optouts` until `--writes` are answered, then the same with one
//! task, to show what the registry's group commit buys. Every 201 must be
//! on record afterwards (`Registry::version`). The load generator runs in
//! the server's process and runtime, so both share the machine's cores.

use super::{cpu_seconds, median};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::StreamExt;
use renkei_core::{Actor, AuditSink, Clock, PersonKey, Role, SystemClock, Timestamp};
use renkei_optout::{
    Channel, DataUse, OptOutRequest, Policy, Receipt, Registry, Scope, Submitter, WithdrawalRequest,
};
use renkei_server::accounts::{NewUser, Password};
use renkei_store::{StoreConfig, Stores};
use serde_json::json;
use sqlx::Row;

/// Flags of `renkei-bench optout`.
#[derive(Debug, Clone, clap::Args)]
pub struct OptOutBenchArgs {
    /// Opt-outs on record when exclusion sets are timed.
    #[arg(long, default_value_t = 10_000_000)]
    optouts: u64,
    /// Opt-outs per `Registry::import` call while filling.
    #[arg(long, default_value_t = 200_000)]
    chunk: u64,
    /// Withdraw every Nth opt-out through `Registry::withdraw` (0: none).
    #[arg(long, default_value_t = 100)]
    withdraw_every: u64,
    /// Runs of each timed exclusion set; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Runs of each peer query (default: --runs).
    #[arg(long)]
    peer_runs: Option<usize>,
    /// Opt-outs POSTed through the API under load.
    #[arg(long, default_value_t = 20_000)]
    writes: u64,
    /// Opt-outs POSTed one at a time afterwards (default: --writes).
    #[arg(long)]
    serial_writes: Option<u64>,
    /// Concurrent clients POSTing (and concurrent withdrawals while filling).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Where the data directories go (wiped at start). Default: a temporary
    /// directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// Measure only the exclusion sets, not the writes through the API.
    #[arg(long)]
    no_writes: bool,
}

/// The uses timed: an ordinary study (only opt-outs from all secondary use
/// keep a person out), a genomic one, and one touching every purpose.
const USES: [(&str, &str); 3] = [
    ("ordinary", ""),
    ("genomic", "genomic"),
    (
        "every_purpose",
        "commercial,foreign,genomic,imaging,category:mental_health",
    ),
];

/// Scopes by weight out of 100: 40 all, 20 commercial, 15 genomic, 10
/// imaging, 10 foreign, 5 a data category (two-purpose scopes count under
/// their first purpose).
const SCOPES: [(u64, &str); 8] = [
    (40, "all"),
    (15, "commercial"),
    (5, "commercial,foreign"),
    (10, "genomic"),
    (5, "genomic,imaging"),
    (10, "imaging"),
    (10, "foreign"),
    (5, "category:mental_health"),
];

const MONTH_US: i64 = 30 * 86_400_000_000;

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn fresh_dir(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))?;
    }
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))
}

/// A fixed-seed LCG: every run draws the same scopes and effective times.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn scope(&mut self) -> &'static str {
        let mut r = self.next() % 100;
        for (weight, scope) in SCOPES {
            if r < weight {
                return scope;
            }
            r -= weight;
        }
        "all"
    }
}

fn bench_actor() -> Actor {
    Actor::System {
        component: "bench".to_owned(),
    }
}

/// One chunk of opt-outs to import.
fn chunk_requests(rng: &mut Lcg, n: u64, later: Timestamp) -> anyhow::Result<Vec<OptOutRequest>> {
    let mut out: Vec<OptOutRequest> = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        // One in twenty is a second opt-out of a person met just before.
        let person = if i % 20 == 19 {
            out[i - 7].person
        } else {
            PersonKey::generate()
        };
        let scope = Scope::parse(rng.scope()).context("bench scope")?;
        let effective_from = rng.next().is_multiple_of(50).then_some(later);
        out.push(OptOutRequest {
            person,
            scope,
            effective_from,
            submitter: Submitter::Person,
            channel: Channel::Paper,
        });
    }
    Ok(out)
}

struct Opened {
    stores: Stores,
    audit: Arc<renkei_audit::AuditLog>,
    registry: Registry,
}

async fn open_registry(data: &Path) -> anyhow::Result<Opened> {
    let stores = Stores::open(data, &StoreConfig::default())
        .await
        .with_context(|| format!("opening the stores in {}", data.display()))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = Arc::new(renkei_audit::AuditLog::open(&stores, clock.clone()).await?);
    let sink: Arc<dyn AuditSink> = audit.clone();
    let figures = Arc::new(renkei_deid::LakeFigures::new(stores.lake()?));
    let registry = Registry::open(&stores, clock, sink, Policy::default(), figures).await?;
    Ok(Opened {
        stores,
        audit,
        registry,
    })
}

async fn close(opened: Opened) {
    drop(opened.registry);
    opened.audit.close().await;
    opened.stores.close().await;
}

/// The peer: the same exclusion set by SQL on the registry's database.
fn peer_sql(used: &DataUse) -> String {
    let mut covers = vec!["o.scope = 'all'".to_owned()];
    for p in &used.purposes {
        // Scopes are stored as purposes joined by commas; slugs are
        // [a-z0-9_:], so the literal needs no escaping.
        covers.push(format!("instr(',' || o.scope || ',', ',{p},') > 0"));
    }
    format!(
        "SELECT DISTINCT o.ordinal FROM optout_changes o \
         WHERE o.kind = 'opt_out' AND o.effective_us <= $1 AND ({}) \
         AND NOT EXISTS (SELECT 1 FROM optout_changes w \
                         WHERE w.withdraws = o.version AND w.effective_us <= $2)",
        covers.join(" OR ")
    )
}

struct UseNumbers {
    name: &'static str,
    renkei_ms: f64,
    renkei_cpu_ms: f64,
    peer_ms: f64,
    excluded: u64,
}

struct ExclusionNumbers {
    fill_per_s: f64,
    fill_s: f64,
    withdrawals: u64,
    withdrawals_per_s: f64,
    reopen_s: f64,
    version: u64,
    uses: Vec<UseNumbers>,
}

async fn exclusion_part(args: &OptOutBenchArgs, data: &Path) -> anyhow::Result<ExclusionNumbers> {
    fresh_dir(data)?;
    let opened = open_registry(data).await?;
    let registry = opened.registry.clone();
    let mut rng = Lcg(0x9E37_79B9_7F4A_7C15);
    let later = SystemClock.now().plus_micros(MONTH_US);

    let started = Instant::now();
    let mut made = 0;
    let mut reported = 0;
    while made < args.optouts {
        let n = args.chunk.min(args.optouts - made);
        let requests = chunk_requests(&mut rng, n, later)?;
        registry
            .import(requests, bench_actor())
            .await
            .with_context(|| format!("importing opt-outs {}..{}", made, made + n))?;
        made += n;
        if made - reported >= 1_000_000 || made == args.optouts {
            reported = made;
            eprintln!(
                "bench optout: filled {made} opt-outs in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let fill = started.elapsed();

    // Withdrawals: every Nth opt-out, through the writer as patients'
    // would go (group commit, a check per withdrawal).
    let mut targets = Vec::new();
    if args.withdraw_every > 0 {
        let rows = sqlx::query(
            "SELECT receipt, person_key FROM optout_changes \
             WHERE kind = 'opt_out' AND version % $1 = 0 ORDER BY version",
        )
        .bind(args.withdraw_every as i64)
        .fetch_all(registry.db().pool())
        .await
        .context("reading the opt-outs to withdraw")?;
        for r in &rows {
            let receipt: String = r.try_get("receipt")?;
            let person: String = r.try_get("person_key")?;
            targets.push(WithdrawalRequest {
                person: PersonKey::parse(&person).context("stored person_key")?,
                opt_out: Receipt::parse(&receipt).context("stored receipt")?,
                submitter: Submitter::Person,
                channel: Channel::Paper,
            });
        }
    }
    let withdrawals = targets.len() as u64;
    let started = Instant::now();
    let mut answers = futures::stream::iter(targets.into_iter().map(|w| {
        let registry = registry.clone();
        async move { registry.withdraw(w, bench_actor()).await }
    }))
    .buffer_unordered(args.concurrency.max(1));
    while let Some(answer) = answers.next().await {
        answer.context("withdrawing an opt-out")?;
    }
    drop(answers);
    let withdraw_time = started.elapsed();
    eprintln!(
        "bench optout: filled {} opt-outs at {:.0}/s ({:.1} s); withdrew {withdrawals} at {:.0}/s",
        args.optouts,
        args.optouts as f64 / fill.as_secs_f64(),
        fill.as_secs_f64(),
        withdrawals as f64 / withdraw_time.as_secs_f64().max(1e-9)
    );
    let version = registry.version().await?;
    ensure!(
        version == args.optouts + withdrawals,
        "registry at version {version}, expected {} changes",
        args.optouts + withdrawals
    );
    drop(registry);
    close(opened).await;

    // Cold open: the history read from the database into memory (the
    // operating system's page cache is warm).
    let started = Instant::now();
    let opened = open_registry(data).await?;
    let reopen = started.elapsed();
    let registry = opened.registry.clone();
    ensure!(
        registry.version().await? == version,
        "reopened registry is not at version {version}"
    );
    eprintln!(
        "bench optout: reopened (stores, audit log, registry) in {:.2} s",
        reopen.as_secs_f64()
    );

    let at = SystemClock.now();
    let peer_runs = args.peer_runs.unwrap_or(args.runs).max(1);
    let mut uses = Vec::new();
    for (name, text) in USES {
        let used = DataUse::parse(text).context("bench use")?;
        let mut times = Vec::with_capacity(args.runs);
        let cpu0 = cpu_seconds()?;
        let mut set = None;
        for _ in 0..args.runs {
            let t = Instant::now();
            let s = registry.exclusion(&used, at).await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            set = Some(s);
        }
        let cpu_ms = (cpu_seconds()? - cpu0) * 1e3 / args.runs as f64;
        let set = set.context("no run")?;
        let sql = peer_sql(&used);
        let mut peer_times = Vec::with_capacity(peer_runs);
        let mut peer = Vec::new();
        for _ in 0..peer_runs {
            let t = Instant::now();
            peer = sqlx::query_scalar::<_, i64>(&sql)
                .bind(at.unix_micros())
                .bind(at.unix_micros())
                .fetch_all(registry.db().pool())
                .await
                .with_context(|| format!("peer query for use {name:?}"))?;
            peer_times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        peer.sort_unstable();
        let ours: Vec<i64> = set.bitmap().iter().map(i64::from).collect();
        ensure!(
            ours.len() == peer.len(),
            "use {name:?}: the registry excludes {} persons, SQL {}",
            ours.len(),
            peer.len()
        );
        ensure!(
            ours == peer,
            "use {name:?}: the registry and SQL exclude the same number of persons ({}), but not the same ones",
            ours.len()
        );
        let n = UseNumbers {
            name,
            renkei_ms: median(times.clone()),
            renkei_cpu_ms: cpu_ms,
            peer_ms: median(peer_times.clone()),
            excluded: set.len(),
        };
        eprintln!(
            "bench optout: exclusion {name:<13} {} excluded at version {}: renkei median {:.1} ms (runs {}; {:.1} CPU ms/run), SQL median {:.0} ms (runs {}), {:.0}x",
            n.excluded,
            set.version(),
            n.renkei_ms,
            times
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            n.renkei_cpu_ms,
            n.peer_ms,
            peer_times
                .iter()
                .map(|t| format!("{t:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            n.peer_ms / n.renkei_ms
        );
        uses.push(n);
    }
    drop(registry);
    close(opened).await;
    Ok(ExclusionNumbers {
        fill_per_s: args.optouts as f64 / fill.as_secs_f64(),
        fill_s: fill.as_secs_f64(),
        withdrawals,
        withdrawals_per_s: withdrawals as f64 / withdraw_time.as_secs_f64().max(1e-9),
        reopen_s: reopen.as_secs_f64(),
        version,
        uses,
    })
}

struct WritePhase {
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_s: f64,
}

/// POSTs `writes` opt-outs with `concurrency` tasks; every one must be
/// answered 201.
async fn post_optouts(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    writes: u64,
    concurrency: usize,
) -> anyhow::Result<WritePhase> {
    let next = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_seconds()?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (http, url, token, next) =
            (http.clone(), url.to_owned(), token.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(0x2545_F491_4F6C_DD1D);
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= writes {
                    break;
                }
                let body = json!({
                    "person_key": PersonKey::generate().to_string(),
                    "scope": rng.scope(),
                    "submitter": {"kind": "self"},
                });
                let t = Instant::now();
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .with_context(|| format!("POST {url}"))?;
                let status = resp.status();
                let text = resp.text().await?;
                latencies.push(t.elapsed());
                ensure!(status == 201, "POST {url} answered {status}: {text}");
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(writes as usize);
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed();
    let cpu_s = cpu_seconds()? - cpu0;
    ensure!(
        latencies.len() as u64 == writes,
        "{} answers to {writes} writes",
        latencies.len()
    );
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    Ok(WritePhase {
        per_s: writes as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        cpu_s,
    })
}

struct WriteNumbers {
    concurrent: WritePhase,
    serial: WritePhase,
    serial_writes: u64,
}

async fn writes_part(args: &OptOutBenchArgs, data: &Path) -> anyhow::Result<WriteNumbers> {
    fresh_dir(data)?;
    let mut config = renkei_server::Config {
        data_dir: data.to_owned(),
        ..renkei_server::Config::default()
    };
    config.server.listen = "127.0.0.1:0".parse()?;
    let state = renkei_server::AppState::open(config, Arc::new(SystemClock))
        .await
        .context("opening the platform")?;
    let operator = state
        .accounts()
        .create_user(
            &bench_actor(),
            NewUser {
                username: "bench-operator".to_owned(),
                display_name: "ベンチ 運営".to_owned(),
                role: Role::Operator,
                org_id: None,
                password: Some(Password::new("bench-operator-pass".to_owned())?),
            },
        )
        .await?;
    let (_, token) = state.accounts().create_token(&operator, "bench").await?;
    let token = token.expose().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(renkei_server::serve(listener, state.clone(), async move {
        let _ = stop_rx.await;
    }));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(1))
        .build()?;
    let url = format!("http://{addr}/api/v1/optouts");

    let concurrent = post_optouts(&http, &url, &token, args.writes, args.concurrency).await?;
    let version = state.optout().version().await?;
    ensure!(
        version == args.writes,
        "{} opt-outs answered 201 under load, but the registry is at version {version}",
        args.writes
    );
    eprintln!(
        "bench optout: API writes, {} clients: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms ({:.1} CPU s for {} writes); registry at version {version}",
        args.concurrency,
        concurrent.per_s,
        concurrent.p50_ms,
        concurrent.p99_ms,
        concurrent.cpu_s,
        args.writes
    );
    let serial_writes = args.serial_writes.unwrap_or(args.writes);
    let serial = post_optouts(&http, &url, &token, serial_writes, 1).await?;
    let version = state.optout().version().await?;
    ensure!(
        version == args.writes + serial_writes,
        "{} opt-outs answered 201 in all, but the registry is at version {version}",
        args.writes + serial_writes
    );
    eprintln!(
        "bench optout: API writes, 1 client: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms ({:.1} CPU s for {serial_writes} writes); registry at version {version}",
        serial.per_s, serial.p50_ms, serial.p99_ms, serial.cpu_s
    );
    let _ = stop_tx.send(());
    server.await.context("server task")??;
    state.close().await;
    Ok(WriteNumbers {
        concurrent,
        serial,
        serial_writes,
    })
}

pub async fn run(args: OptOutBenchArgs) -> anyhow::Result<()> {
    ensure!(
        args.runs > 0 && args.optouts > 0 && args.chunk > 0 && args.concurrency > 0,
        "runs, optouts, chunk and concurrency must be positive"
    );
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
    let ex = exclusion_part(&args, &work.join("registry"))
        .await
        .context("exclusion sets")?;
    let writes = if args.no_writes {
        None
    } else {
        Some(
            writes_part(&args, &work.join("server"))
                .await
                .context("writes through the API")?,
        )
    };

    // The headline is the widest use: every opt-out in force covers it, so
    // its set is the largest.
    let head = ex
        .uses
        .iter()
        .find(|u| u.name == "every_purpose")
        .context("no every_purpose use")?;
    let mut line = serde_json::Map::new();
    line.insert("bench".into(), json!("optout"));
    line.insert("metric".into(), json!("exclusion_ms"));
    line.insert("renkei".into(), json!(round3(head.renkei_ms)));
    line.insert("peer".into(), json!("sqlite-sql"));
    line.insert("peer_value".into(), json!(round3(head.peer_ms)));
    line.insert(
        "speedup".into(),
        json!(round2(head.peer_ms / head.renkei_ms)),
    );
    line.insert("optouts".into(), json!(args.optouts));
    line.insert("withdrawals".into(), json!(ex.withdrawals));
    line.insert("registry_version".into(), json!(ex.version));
    for u in &ex.uses {
        line.insert(format!("excluded_{}", u.name), json!(u.excluded));
        line.insert(format!("renkei_ms_{}", u.name), json!(round3(u.renkei_ms)));
        line.insert(
            format!("renkei_cpu_ms_{}", u.name),
            json!(round2(u.renkei_cpu_ms)),
        );
        line.insert(format!("peer_ms_{}", u.name), json!(round3(u.peer_ms)));
    }
    line.insert("fill_per_s".into(), json!(ex.fill_per_s.round()));
    line.insert("fill_s".into(), json!(round2(ex.fill_s)));
    line.insert(
        "withdrawals_per_s".into(),
        json!(ex.withdrawals_per_s.round()),
    );
    line.insert("reopen_s".into(), json!(round2(ex.reopen_s)));
    if let Some(w) = &writes {
        line.insert("writes".into(), json!(args.writes));
        line.insert("writes_per_s".into(), json!(w.concurrent.per_s.round()));
        line.insert("writes_p50_ms".into(), json!(round2(w.concurrent.p50_ms)));
        line.insert("writes_p99_ms".into(), json!(round2(w.concurrent.p99_ms)));
        line.insert("writes_cpu_s".into(), json!(round2(w.concurrent.cpu_s)));
        line.insert("serial_writes".into(), json!(w.serial_writes));
        line.insert("writes_per_s_serial".into(), json!(w.serial.per_s.round()));
        line.insert(
            "writes_p50_ms_serial".into(),
            json!(round2(w.serial.p50_ms)),
        );
        line.insert(
            "writes_p99_ms_serial".into(),
            json!(round2(w.serial.p99_ms)),
        );
        line.insert("concurrency".into(), json!(args.concurrency));
    }
    line.insert("runs".into(), json!(args.runs));
    println!("{}", serde_json::Value::Object(line));
    Ok(())
}
