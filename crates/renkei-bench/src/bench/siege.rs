//! `renkei-bench siege`: the platform's availability under the red team's
//! requests (issue 15). A platform serves on loopback; a prober asks
//! `/healthz` every 50 ms throughout; then, one after another, a 60 MiB
//! Bundle of zeros to `/fhir`, a gzip bomb to `/api/v1/submissions`, and a
//! flood of concurrent wrong sign-ins; then, on a platform the demo's walk
//! has filled, two of the largest output checks at once on two permits.
//! Reported: the prober's latencies
//! (the promise is an answer within 1 s throughout), the status each
//! attack got, and how far the process's resident memory rose above its
//! level at rest during each round, against the documented ceiling: the
//! intake's memory budget (`collect.memory_budget_bytes`).
//!
//! There is no peer: no other system here answers the same attacks, so
//! the JSON line carries `"speedup": null`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use renkei_collect::{FacilityKind, Provider};
use renkei_core::{Actor, ProviderCode, Role, SystemClock};
use renkei_server::accounts::NewUser;
use serde_json::json;

/// Arguments of `renkei-bench siege`.
#[derive(Debug, clap::Args)]
pub struct SiegeBenchArgs {
    /// Rounds of the three attacks, each on a fresh platform.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Concurrent wrong sign-ins in the flood.
    #[arg(long, default_value_t = 150)]
    sign_ins: usize,
    /// Size of the Bundle of zeros, in MiB.
    #[arg(long, default_value_t = 60)]
    zeros_mib: usize,
    /// Bytes the gzip bomb inflates to, in MiB.
    #[arg(long, default_value_t = 1024)]
    bomb_mib: usize,
    /// Where the data directories go (wiped at start). Default: a temporary
    /// directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
}

const PROVIDER: &str = "1311234567";

fn actor() -> Actor {
    Actor::System {
        component: "bench".to_owned(),
    }
}

/// Resident memory of this process now and at its peak, in MiB.
fn memory_mib() -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").context("/proc/self/status")?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} in /proc/self/status"))?;
        let kib: f64 = line
            .split_whitespace()
            .nth(1)
            .context("a number")?
            .parse()?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

pub async fn run(args: SiegeBenchArgs) -> anyhow::Result<()> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    let temp = tempfile::tempdir()?;
    let work = args.work.clone().unwrap_or_else(|| temp.path().to_owned());
    // The attack bodies are made once, before anything is measured.
    let mut zeros = br#"{"resourceType":"Bundle","type":"transaction","entry":[0"#.to_vec();
    zeros.extend(std::iter::repeat_n(&b",0"[..], args.zeros_mib << 19).flatten());
    zeros.extend_from_slice(b"]}");
    let bomb = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 20];
        for _ in 0..args.bomb_mib {
            gz.write_all(&block)?;
        }
        gz.finish()?
    };
    // Sent without a copy per request, so that the client's share of the
    // process's memory stays what it is at rest.
    let zeros: &'static [u8] = Box::leak(zeros.into_boxed_slice());
    let bomb: &'static [u8] = Box::leak(bomb.into_boxed_slice());
    let mut late = 0usize;
    let mut probes = Vec::new();
    let mut worst_per_run = Vec::new();
    let mut growth_per_run = Vec::new();
    let mut statuses = serde_json::Map::new();
    let mut rest = Vec::new();
    for run in 0..args.runs {
        let r = one_round(&work.join(format!("run{run}")), &args, zeros, bomb).await?;
        late += r.latencies.iter().filter(|ms| **ms >= 1000.0).count();
        worst_per_run.push(r.latencies.iter().copied().fold(0.0, f64::max));
        probes.extend(r.latencies);
        rest.push(r.rest_mib);
        growth_per_run.push(r.peak_mib - r.rest_mib);
        for (k, v) in r.statuses {
            statuses.insert(k, v);
        }
    }
    let mut checks = checks_round(&work.join("checks")).await?;
    checks.latencies.sort_by(f64::total_cmp);
    let checks_late = checks.latencies.iter().filter(|ms| **ms >= 1000.0).count();
    let checks_max = checks.latencies.last().copied().unwrap_or(f64::NAN);
    eprintln!(
        "bench siege: two output checks at once: {} probes of /healthz, max {checks_max:.1} ms, {checks_late} at 1 s or more; answers {}",
        checks.latencies.len(),
        serde_json::Value::Array(checks.answers.clone()),
    );
    probes.sort_by(f64::total_cmp);
    let growth_max = growth_per_run.iter().copied().fold(0.0, f64::max);
    let pct = |p: f64| probes[((probes.len() - 1) as f64 * p) as usize];
    let budget_mib =
        renkei_collect::Limits::default().memory_budget_bytes as f64 / (1 << 20) as f64;
    eprintln!(
        "bench siege: /healthz under attack, {} probes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {late} at 1 s or more; memory above rest during an attack round: median {:.0} MiB, max {growth_max:.0} MiB (ceiling: the intake's budget, {budget_mib:.0} MiB)",
        probes.len(),
        pct(0.5),
        pct(0.99),
        probes[probes.len() - 1],
        super::median(growth_per_run.clone()),
    );
    println!(
        "{}",
        json!({
            "bench": "siege",
            "runs": args.runs,
            "probes": probes.len(),
            "healthz_p50_ms": pct(0.5),
            "healthz_p99_ms": pct(0.99),
            "healthz_max_ms": probes[probes.len() - 1],
            "healthz_late": late,
            "healthz_max_ms_median_of_runs": super::median(worst_per_run.clone()),
            "rss_growth_mib_median": super::median(growth_per_run.clone()).round(),
            "rss_growth_mib_max": growth_max.round(),
            "rest_rss_mib_median": super::median(rest).round(),
            "ceiling_growth_mib": budget_mib.round(),
            "within_ceiling": growth_max <= budget_mib,
            "statuses": statuses,
            "zeros_mib": args.zeros_mib,
            "bomb_mib": args.bomb_mib,
            "sign_ins": args.sign_ins,
            "checks_probes": checks.latencies.len(),
            "checks_healthz_max_ms": checks_max,
            "checks_healthz_late": checks_late,
            "checks": checks.answers,
            "peer": null,
            "speedup": null,
        })
    );
    Ok(())
}

/// Asks `/healthz` every 50 ms, on its own client so that the attacks'
/// connections do not queue its requests, until told to stop; yields the
/// latencies in ms (infinite for a failed probe).
fn probe(
    base: &str,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Vec<f64>>,
) {
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let url = format!("{base}/healthz");
    let prober = tokio::spawn(async move {
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client");
        let mut latencies = Vec::new();
        loop {
            let started = Instant::now();
            let ok = probe
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            latencies.push(if ok { ms } else { f64::INFINITY });
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = done_rx.changed() => break,
            }
        }
        latencies
    });
    (done_tx, prober)
}

/// Two output checks at once on two permits, each the widest table the
/// demo's person table allows (sex × birth decade × prefecture, with
/// margins), while `/healthz` is probed. The demo's walk sets the platform
/// up: data sent, linked, reviewed, extracted. At the demo's size (a
/// cohort of about thirty persons) the tables collapse to a dozen cells:
/// this shows the checks run concurrently with the prober on a live
/// platform, not the solver's worst case, which needs a cohort of
/// thousands (BENCHMARKS.md says so with the numbers).
async fn checks_round(data: &Path) -> anyhow::Result<ChecksRound> {
    if data.exists() {
        std::fs::remove_dir_all(data)?;
    }
    std::fs::create_dir_all(data)?;
    let mut config = renkei_server::Config {
        data_dir: data.to_owned(),
        ..renkei_server::Config::default()
    };
    config.server.listen = "127.0.0.1:0".parse()?;
    let state = renkei_server::AppState::open(config, Arc::new(SystemClock))
        .await
        .context("opening the platform")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(renkei_server::serve(listener, state.clone(), async move {
        let _ = stop_rx.await;
    }));
    let researcher = renkei::demo::researcher_with_two_workspaces(&state, &base)
        .await
        .context("walking the demo to two workspaces")?;
    let (done_tx, prober) = probe(&base);
    let http = reqwest::Client::new();
    let started = Instant::now();
    let proposals: Vec<_> = researcher
        .permits
        .iter()
        .map(|permit| {
            let request = http
                .post(format!("{base}/api/v1/workspaces/{permit}/outputs"))
                .bearer_auth(&researcher.token)
                .json(&json!({
                    "title": "対象者数（性別・生年の年代・都道府県）",
                    "table": "person",
                    "dimensions": ["sex", "birth_date:year10", "prefecture_code"],
                    "margins": true,
                }));
            tokio::spawn(async move {
                let resp = request.send().await?;
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                anyhow::Ok((status, body, started.elapsed().as_secs_f64()))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for p in proposals {
        let (status, body, seconds) = p.await??;
        answers.push(json!({
            "status": status,
            "seconds": (seconds * 10.0).round() / 10.0,
            "cells": body["check"]["cells"].as_array().map(Vec::len),
            "suppressed": body["check"]["suppressed"],
            "problem": body["title"],
        }));
    }
    let _ = done_tx.send(true);
    let latencies = prober.await?;
    let _ = stop_tx.send(());
    server.await??;
    state.close().await;
    Ok(ChecksRound { latencies, answers })
}

struct ChecksRound {
    latencies: Vec<f64>,
    answers: Vec<serde_json::Value>,
}

struct Round {
    latencies: Vec<f64>,
    /// Resident memory before the attacks.
    rest_mib: f64,
    /// Peak resident memory during them.
    peak_mib: f64,
    statuses: Vec<(String, serde_json::Value)>,
}

async fn one_round(
    data: &Path,
    args: &SiegeBenchArgs,
    zeros: &'static [u8],
    bomb: &'static [u8],
) -> anyhow::Result<Round> {
    if data.exists() {
        std::fs::remove_dir_all(data)?;
    }
    std::fs::create_dir_all(data)?;
    let mut config = renkei_server::Config {
        data_dir: data.to_owned(),
        ..renkei_server::Config::default()
    };
    config.server.listen = "127.0.0.1:0".parse()?;
    let state = renkei_server::AppState::open(config, Arc::new(SystemClock))
        .await
        .context("opening the platform")?;
    let org = state
        .accounts()
        .ensure_org(&actor(), "包囲試験病院", "JP")
        .await?;
    let sender = state
        .accounts()
        .create_user(
            &actor(),
            NewUser {
                username: "siege-sender".to_owned(),
                display_name: "送信".to_owned(),
                role: Role::Provider,
                org_id: Some(org),
                password: None,
            },
        )
        .await?;
    let (_, token) = state.accounts().create_token(&sender, "bench").await?;
    let token = token.expose().to_owned();
    state
        .intake()
        .register_provider(
            &actor(),
            &Provider {
                code: ProviderCode::parse(PROVIDER)?,
                name: "包囲試験病院".to_owned(),
                kind: FacilityKind::Hospital,
                org_id: Some(org),
                registered_at: renkei_core::Clock::now(&SystemClock),
            },
        )
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(renkei_server::serve(listener, state.clone(), async move {
        let _ = stop_rx.await;
    }));
    let http = reqwest::Client::new();
    // The peak is counted from here: writing 5 to clear_refs resets VmHWM
    // (Linux), so each round's peak is its own.
    std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak RSS")?;
    let (rest_mib, _) = memory_mib()?;

    let (done_tx, prober) = probe(&base);

    let mut statuses = Vec::new();
    let fhir = http
        .post(format!("{base}/fhir?provider={PROVIDER}"))
        .bearer_auth(&token)
        .body(zeros)
        .send()
        .await?;
    statuses.push(("zeros_bundle".to_owned(), json!(fhir.status().as_u16())));
    let bombed = http
        .post(format!("{base}/api/v1/submissions?provider={PROVIDER}"))
        .bearer_auth(&token)
        .body(bomb)
        .send()
        .await?;
    statuses.push(("gzip_bomb".to_owned(), json!(bombed.status().as_u16())));
    let flood: Vec<_> = (0..args.sign_ins)
        .map(|i| {
            let http = http.clone();
            let url = format!("{base}/login");
            tokio::spawn(async move {
                http.post(url)
                    .header("cookie", "renkei_login_csrf=t")
                    .form(&[
                        ("username", format!("nobody{i}")),
                        ("password", "a wrong password".to_owned()),
                        ("csrf", "t".to_owned()),
                    ])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for f in flood {
        *by_status.entry(f.await?).or_default() += 1;
    }
    statuses.push(("sign_in_flood".to_owned(), json!(by_status)));

    let _ = done_tx.send(true);
    let latencies = prober.await?;
    let (_, peak_mib) = memory_mib()?;
    let _ = stop_tx.send(());
    server.await??;
    state.close().await;
    Ok(Round {
        latencies,
        rest_mib,
        peak_mib,
        statuses,
    })
}
