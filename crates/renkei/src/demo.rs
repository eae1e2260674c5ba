//! `renkei demo`: the whole platform as it stands, walked through over HTTP
//! exactly as its users would, then left running (or, with `--exit`, shut
//! down with an exit code). Each issue adds its step; the last line printed
//! is one JSON object with a field per step.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail, ensure};
use renkei_core::{Role, SystemClock};
use renkei_server::accounts::{NewUser, Password};
use serde_json::{Map, Value, json};

use crate::config::{self, CommonFlags};

mod analysis;
mod extract;
mod identity;
mod jpclins;
mod optout;
use analysis::step_analysis;
use extract::step_extract;
use identity::step_identity;
use optout::step_optout;

/// Flags of `renkei demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Run the walkthrough, print its summary and exit (0 when every step
    /// succeeded) instead of serving on.
    #[arg(long)]
    exit: bool,
}

/// The default demo data directory; it is wiped at each start, so it is
/// marked, and a directory without the mark is never wiped.
const DEMO_DIR: &str = "./renkei-demo";
const MARK: &str = ".renkei-demo";

fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let is_empty = std::fs::read_dir(dir)?.next().is_none();
        ensure!(
            is_empty || dir.join(MARK).exists(),
            "{} exists and is not a demo directory (no {MARK} file); choose another with --data",
            dir.display()
        );
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    renkei_store::private::create_dir(dir)?;
    renkei_store::private::create_file(&dir.join(MARK))?;
    std::fs::write(
        dir.join(MARK),
        "renkei demo data; wiped by the next `renkei demo`\n",
    )?;
    Ok(())
}

/// One demo account: who it is and how to sign in.
struct Login {
    role: Role,
    username: String,
    password: String,
    token: String,
}

/// The walkthrough's state: the server's address, an HTTP client, and the
/// summary being built.
struct Walk {
    base: String,
    http: reqwest::Client,
    summary: Map<String, Value>,
}

impl Walk {
    async fn get_json(&self, path: &str, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.with_context(|| format!("GET {path}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .json()
            .await
            .with_context(|| format!("GET {path}: body is not JSON"))?;
        Ok((status, body))
    }

    fn record(&mut self, key: &str, value: impl Into<Value>) {
        self.summary.insert(key.to_owned(), value.into());
    }
}

pub async fn run(common: &CommonFlags, args: DemoArgs) -> anyhow::Result<std::process::ExitCode> {
    let mut flags = common.clone();
    let dir = flags
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEMO_DIR));
    prepare_dir(&dir)?;
    flags.data = Some(dir.clone());
    let config = config::load(&flags)?;
    let listen = config.server.listen;

    let clock = Arc::new(SystemClock);
    let state = renkei_server::AppState::open(config, clock)
        .await
        .context("step platform: opening the stores")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!(
                "step platform: listening on {listen} (use --listen 127.0.0.1:0 for a free port)"
            )
        })?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(renkei_server::serve(listener, state.clone(), async move {
        let _ = stop_rx.await;
    }));

    let mut walk = Walk {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        summary: Map::new(),
    };
    walk.record("url", format!("http://{addr}/"));
    walk.record("data_dir", dir.display().to_string());

    let outcome = steps(&mut walk, &state).await;
    let code = match &outcome {
        Ok((logins, _)) => {
            print_logins(&walk.base, logins);
            walk.record("ok", true);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            walk.record("ok", false);
            walk.record("error", format!("{e:#}"));
            std::process::ExitCode::FAILURE
        }
    };
    println!("{}", Value::Object(walk.summary));

    if !args.exit && outcome.is_ok() {
        let shutdown = crate::shutdown_signal();
        println!("serving on http://{addr}/ — Ctrl-C to stop");
        shutdown.await;
    }
    let _ = stop_tx.send(());
    server
        .await
        .context("server task")?
        .context("serving HTTP")?;
    state.close().await;
    Ok(code)
}

/// What `bench siege` needs from a walked platform: a researcher's token
/// and two permits whose workspaces hold an extract, so that two output
/// checks can run at once.
#[derive(Debug)]
pub struct Researcher {
    pub token: String,
    pub permits: [String; 2],
}

/// Walks the demo against a platform served at `base`, then has a second
/// round of applications reviewed and extracted, so that the researcher
/// holds two permits for pseudonymized data in the environment.
pub async fn researcher_with_two_workspaces(
    state: &renkei_server::AppState,
    base: &str,
) -> anyhow::Result<Researcher> {
    let mut walk = Walk {
        base: base.to_owned(),
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        summary: Map::new(),
    };
    let (logins, mut permits) = steps(&mut walk, state).await?;
    let again = step_review(&mut walk, &logins)
        .await
        .context("a second review round")?;
    step_extract(&mut walk, state, &logins, &again)
        .await
        .context("its extracts")?;
    permits.extend(again);
    let mut in_environment = Vec::new();
    for id in &permits {
        let (p, _) = state
            .review()
            .permit(&renkei_review::PermitId::parse(id)?)
            .await?;
        if p.delivery == renkei_review::form::DeliveryType::PseudonymizedInEnvironment {
            in_environment.push(id.clone());
        }
    }
    let (Some(second), Some(first)) = (in_environment.pop(), in_environment.pop()) else {
        anyhow::bail!(
            "two rounds of review gave {} permits in the environment",
            in_environment.len()
        );
    };
    let token = logins
        .iter()
        .find(|l| l.role == Role::Applicant)
        .context("no researcher")?
        .token
        .clone();
    Ok(Researcher {
        token,
        permits: [first, second],
    })
}

async fn steps(
    walk: &mut Walk,
    state: &renkei_server::AppState,
) -> anyhow::Result<(Vec<Login>, Vec<String>)> {
    step_health(walk).await.context("step health")?;
    let logins = step_accounts(walk, state).await.context("step accounts")?;
    step_authorization(walk, &logins)
        .await
        .context("step authorization")?;
    step_login(walk, &logins).await.context("step login")?;
    step_collect(walk, state, &logins)
        .await
        .context("step collect")?;
    step_identity(walk, state).await.context("step identity")?;
    step_optout(walk, state, &logins)
        .await
        .context("step optout")?;
    let permits = step_review(walk, &logins).await.context("step review")?;
    step_extract(walk, state, &logins, &permits)
        .await
        .context("step extract")?;
    step_analysis(walk, state, &logins, &permits)
        .await
        .context("step analysis")?;
    step_audit(walk, state, &logins)
        .await
        .context("step audit")?;
    Ok((logins, permits))
}

async fn step_health(walk: &mut Walk) -> anyhow::Result<()> {
    for path in ["/healthz", "/readyz"] {
        let (status, body) = walk.get_json(path, None).await?;
        ensure!(
            status == 200 && body["status"] == "ok",
            "{path} answered {status} {body}"
        );
    }
    walk.record("health", "ok");
    Ok(())
}

/// The operator is created directly in the store (as `renkei admin` would);
/// everyone else is created by the operator through the API.
async fn step_accounts(
    walk: &mut Walk,
    state: &renkei_server::AppState,
) -> anyhow::Result<Vec<Login>> {
    let accounts = state.accounts();
    let demo = renkei_core::Actor::System {
        component: "demo".to_owned(),
    };
    let org = accounts.ensure_org(&demo, "renkei 運営機構", "JP").await?;
    let operator_password = "demo-operator-pass".to_owned();
    let operator = accounts
        .create_user(
            &demo,
            NewUser {
                username: "operator".to_owned(),
                display_name: "運営 太郎".to_owned(),
                role: Role::Operator,
                org_id: Some(org),
                password: Some(Password::new(operator_password.clone())?),
            },
        )
        .await?;
    let (_, operator_token) = accounts.create_token(&operator, "demo").await?;
    let mut logins = vec![Login {
        role: Role::Operator,
        username: operator.username.clone(),
        password: operator_password,
        token: operator_token.expose().to_owned(),
    }];
    let people = [
        (
            Role::Provider,
            "provider",
            "医療 花子",
            "東京中央病院",
            "JP",
        ),
        (Role::Patient, "patient", "患者 一郎", "", "JP"),
        (
            Role::Applicant,
            "applicant",
            "研究 次郎",
            "京都医学研究所",
            "JP",
        ),
        (Role::Reviewer, "reviewer", "審査 三郎", "審査委員会", "JP"),
        (Role::Auditor, "auditor", "監査 四郎", "監査法人", "JP"),
    ];
    for (role, username, display, org, country) in people {
        let password = format!("demo-{username}-pass");
        let mut body = json!({
            "username": username, "display_name": display, "role": role.as_str(),
            "password": password,
        });
        if !org.is_empty() {
            body["organization"] = json!(org);
            body["country"] = json!(country);
        }
        let resp = walk
            .http
            .post(format!("{}/api/v1/users", walk.base))
            .bearer_auth(&logins[0].token)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        ensure!(
            status == 201,
            "creating {username}: {status} {}",
            resp.text().await?
        );
        let user = accounts
            .user_by_name(username)
            .await?
            .with_context(|| format!("{username} missing after creation"))?;
        let (_, token) = accounts.create_token(&user, "demo").await?;
        logins.push(Login {
            role,
            username: username.to_owned(),
            password,
            token: token.expose().to_owned(),
        });
    }
    walk.record("accounts", logins.len());
    walk.record("tokens", logins.len());
    Ok(logins)
}

/// Every role sees itself; only the operator lists accounts; nobody unsigned
/// gets in.
async fn step_authorization(walk: &mut Walk, logins: &[Login]) -> anyhow::Result<()> {
    let mut checks = 0;
    let mut refused = 0;
    for login in logins {
        let (status, me) = walk.get_json("/api/v1/me", Some(&login.token)).await?;
        ensure!(
            status == 200 && me["role"] == login.role.as_str(),
            "/api/v1/me as {}: {status} {me}",
            login.role
        );
        let (status, _) = walk.get_json("/api/v1/users", Some(&login.token)).await?;
        let expected = if login.role == Role::Operator {
            200
        } else {
            403
        };
        ensure!(
            status == expected,
            "/api/v1/users as {}: {status}, expected {expected}",
            login.role
        );
        checks += 2;
        refused += usize::from(status == 403);
    }
    let (status, _) = walk.get_json("/api/v1/me", None).await?;
    ensure!(status == 401, "/api/v1/me unsigned: {status}, expected 401");
    walk.record("authz_checks", checks + 1);
    walk.record("authz_refused", refused + 1);
    Ok(())
}

/// The patient signs in through the page, with its CSRF token.
async fn step_login(walk: &mut Walk, logins: &[Login]) -> anyhow::Result<()> {
    let patient = logins
        .iter()
        .find(|l| l.role == Role::Patient)
        .context("no patient login")?;
    let page = walk
        .http
        .get(format!("{}/login", walk.base))
        .send()
        .await?
        .text()
        .await?;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("sign-in page has no CSRF field")?
        .to_owned();
    let resp = walk
        .http
        .post(format!("{}/login", walk.base))
        .form(&[
            ("username", patient.username.as_str()),
            ("password", patient.password.as_str()),
            ("csrf", csrf.as_str()),
            ("next", "/account"),
        ])
        .send()
        .await?;
    ensure!(resp.status() == 303, "sign-in answered {}", resp.status());
    let account = walk
        .http
        .get(format!("{}/account", walk.base))
        .send()
        .await?;
    ensure!(
        account.status() == 200,
        "account page answered {}",
        account.status()
    );
    let html = account.text().await?;
    ensure!(
        html.contains(&patient.username),
        "account page does not show the patient"
    );
    walk.record("login", "ok");
    Ok(())
}

/// Anyone can check the log: fetch a signed head, check its signature, prove
/// an entry is in it, prove the next head extends it, then recompute the
/// whole tree from storage.
/// Collection: a synthetic nation's providers each submit their NDJSON
/// over the API; receipts are checked, a resend is recognised, and the
/// lake holds person-keyed rows.
async fn step_collect(
    walk: &mut Walk,
    state: &renkei_server::AppState,
    logins: &[Login],
) -> anyhow::Result<()> {
    let synth_dir = state.config().data_dir.join("synth");
    if !synth_dir.exists() {
        let options = renkei_synth::Options {
            patients: 300,
            providers: 12,
            seed: 2026,
            rates: renkei_synth::VariantRates::default(),
            bundles: false,
        };
        renkei_synth::generate(&options, &synth_dir)?;
    }
    // The synthetic records carry names and card numbers like real ones:
    // kept as private as the rest of the data directory.
    renkei_store::private::tighten_tree(&synth_dir)?;
    let operator = logins
        .iter()
        .find(|l| l.role == Role::Operator)
        .context("no operator login")?;
    // One provider organization owns the synthetic facilities, and its
    // sender account submits for each of them.
    let accounts = state.accounts();
    let demo = renkei_core::Actor::System {
        component: "demo".to_owned(),
    };
    let org = accounts.ensure_org(&demo, "デモ医療連携法人", "JP").await?;
    let sender = accounts
        .create_user(
            &demo,
            NewUser {
                username: "hospital-sender".to_owned(),
                display_name: "データ送信 担当".to_owned(),
                role: Role::Provider,
                org_id: Some(org),
                password: None,
            },
        )
        .await?;
    let (_, sender_token) = accounts.create_token(&sender, "demo upload").await?;
    let sender_token = sender_token.expose().to_owned();

    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&synth_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut submissions, mut accepted, mut rejected, mut pending) = (0u64, 0u64, 0u64, 0u64);
    let mut first: Option<(String, Vec<u8>, String)> = None;
    for dir in &dirs {
        let code = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("provider dir")?
            .to_owned();
        let organization =
            std::fs::read_to_string(dir.join("Organization.ndjson")).unwrap_or_default();
        let org_json: Value = serde_json::from_str(organization.lines().next().unwrap_or("{}"))?;
        let kind = org_json["type"][0]["text"]
            .as_str()
            .unwrap_or("一般病院")
            .to_owned();
        let name = org_json["name"].as_str().unwrap_or(&code).to_owned();
        let resp = walk
            .http
            .post(format!("{}/api/v1/providers", walk.base))
            .bearer_auth(&operator.token)
            .json(&serde_json::json!({"code": code, "name": name, "kind": kind, "org_id": org.to_string()}))
            .send()
            .await?;
        ensure!(
            resp.status() == 201,
            "registering {code}: {}",
            resp.text().await?
        );
        // Bulk Data order: who the patients are before what happened to them.
        let mut body = Vec::new();
        for ty in [
            "Organization",
            "Patient",
            "Coverage",
            "Encounter",
            "Condition",
            "Observation",
            "MedicationRequest",
            "MedicationDispense",
            "Procedure",
            "AllergyIntolerance",
            "ImagingStudy",
        ] {
            if let Ok(bytes) = std::fs::read(dir.join(format!("{ty}.ndjson"))) {
                body.extend(bytes);
            }
        }
        let resp = walk
            .http
            .post(format!("{}/api/v1/submissions?provider={code}", walk.base))
            .bearer_auth(&sender_token)
            .body(body.clone())
            .send()
            .await?;
        let status = resp.status();
        let receipt: Value = resp.json().await?;
        ensure!(
            status == 201,
            "submission for {code} answered {status}: {receipt}"
        );
        submissions += 1;
        for counts in receipt["counts"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            accepted += counts["accepted"].as_u64().unwrap_or(0);
            rejected += counts["rejected"].as_u64().unwrap_or(0);
            pending += counts["pending"].as_u64().unwrap_or(0);
        }
        if first.is_none() {
            first = Some((
                code.clone(),
                body,
                receipt["submission_id"].as_str().unwrap_or("").to_owned(),
            ));
        }
    }
    ensure!(rejected == 0, "{rejected} synthetic resources were refused");
    let (code, body, id) = first.context("no provider submitted")?;
    // What the national service's hospitals send: a JP-CLINS document and
    // the six information naming the patient by insurance identifier.
    let (jpclins_accepted, jpclins_refused) =
        jpclins::send(walk, &sender_token, &code, &synth_dir.join(&code)).await?;
    ensure!(
        jpclins_accepted > 0 && jpclins_refused == 0,
        "JP-CLINS records: {jpclins_accepted} accepted, {jpclins_refused} refused"
    );
    walk.record("jpclins_accepted", jpclins_accepted);
    walk.record("jpclins_refused", jpclins_refused);
    let resend = walk
        .http
        .post(format!("{}/api/v1/submissions?provider={code}", walk.base))
        .bearer_auth(&sender_token)
        .body(body)
        .send()
        .await?;
    let resend_status = resend.status().as_u16();
    let resent: Value = resend.json().await?;
    ensure!(
        resend_status == 200 && resent["submission_id"] == id,
        "a resend was not recognised: {resend_status} {resent}"
    );

    let lake = state.stores().lake()?;
    let current = lake
        .current()
        .await?
        .context("the lake is empty after collection")?;
    let mut lake_rows = Map::new();
    for snapshot in current.tables() {
        lake_rows.insert(snapshot.table().to_string(), snapshot.total_rows().into());
    }
    walk.record("collect_providers", dirs.len());
    walk.record("collect_submissions", submissions);
    walk.record("collect_accepted", accepted);
    walk.record("collect_rejected", rejected);
    walk.record("collect_pending", pending);
    walk.record("collect_resend_recognised", true);
    walk.record("lake_version", current.version().get());
    walk.record("lake_rows", Value::Object(lake_rows));
    walk.record("persons", state.identity().person_count().await?);
    Ok(())
}

/// The identifying attributes of every synthetic Patient, as a provider
/// sent them (what a patient would type from their insurance card).
fn synthetic_patients(
    state: &renkei_server::AppState,
) -> anyhow::Result<Vec<renkei_core::IdentifyingAttributes>> {
    let synth_dir = state.config().data_dir.join("synth");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&synth_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let code = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("provider dir")?;
        let lineage = renkei_fhir::flatten::Lineage {
            provider: renkei_core::ProviderCode::parse(code)?,
            submission_id: "demo".to_owned(),
            ingested_at: state.clock().now(),
        };
        let Ok(text) = std::fs::read_to_string(dir.join("Patient.ndjson")) else {
            continue;
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let value: Value = serde_json::from_str(line)?;
            if let Some(a) = renkei_fhir::flatten::flatten(&value, &lineage)?.identity {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// POSTs (or PUTs) JSON as `token` and insists on `status`.
async fn send(
    walk: &Walk,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
    status: u16,
) -> anyhow::Result<Value> {
    send_as(walk, method, path, Some(token), body, status).await
}

/// Sends a request that starts a job (202), waits for the job to end and
/// returns its result, or fails with its problem.
async fn run_job(
    walk: &Walk,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let job = send(walk, method.clone(), path, token, body, 202).await?;
    let id = job["id"].as_str().context("the job's id")?.to_owned();
    loop {
        let job = send(
            walk,
            reqwest::Method::GET,
            &format!("/api/v1/jobs/{id}"),
            token,
            Value::Null,
            200,
        )
        .await?;
        match job["state"].as_str() {
            Some("running") => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            Some("succeeded") => return Ok(job["result"].clone()),
            _ => bail!(
                "{method} {path}: the job ended without its result: {}",
                job["problem"]
            ),
        }
    }
}

/// [`send`], signed in or (`None`) not.
async fn send_as(
    walk: &Walk,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Value,
    status: u16,
) -> anyhow::Result<Value> {
    let mut request = walk
        .http
        .request(method.clone(), format!("{}{path}", walk.base))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let resp = request
        .send()
        .await
        .with_context(|| format!("{method} {path}"))?;
    let got = resp.status().as_u16();
    let text = resp.text().await?;
    ensure!(got == status, "{method} {path} answered {got}: {text}");
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Three applications go through review: academic research on
/// pseudonymized data, a company's anonymized dataset, and statistics for
/// a foreign organization, which the committee rejects with its reasons.
/// Permits the public register lists as active.
async fn active_permits(walk: &Walk) -> anyhow::Result<usize> {
    let (status, register) = walk.get_json("/api/v1/register", None).await?;
    ensure!(status == 200, "register answered {status}");
    let entries = register["entries"].as_array().context("register entries")?;
    Ok(entries
        .iter()
        .filter(|e| e["status"] == "permit_active")
        .count())
}

async fn step_review(walk: &mut Walk, logins: &[Login]) -> anyhow::Result<Vec<String>> {
    use reqwest::Method as M;
    // Counted from here, so that `bench siege` can review a second round.
    let active_before = active_permits(walk).await?;
    let login = |role: Role| {
        logins
            .iter()
            .find(|l| l.role == role)
            .with_context(|| format!("no {} login", role.as_str()))
    };
    let (applicant, reviewer, operator) = (
        login(Role::Applicant)?,
        login(Role::Reviewer)?,
        login(Role::Operator)?,
    );
    let form = |title: &str,
                org: &str,
                country: &str,
                kind: &str,
                commercial: bool,
                delivery: &str,
                tables: Value| {
        json!({
            "title": title,
            "organization": {"name": org, "country": country, "kind": kind},
            "users": [{"username": applicant.username, "training_completed_on": "2026-04-01",
                       "conflict_of_interest": "none"}],
            "purpose": "2型糖尿病の初回処方後のHbA1c推移の比較",
            "public_interest": "標準治療の改善",
            "commercial": commercial,
            "processing_abroad": country != "JP",
            "requested": {
                "tables": tables,
                "cohort_criteria": "ICD-10 E11 (2020–2024 に診断)",
                "cohort_icd10": ["E11"],
                "period_from": "2020-01-01", "period_to": "2024-12-31"
            },
            "delivery": delivery,
            "planned_outputs": "論文・集計表", "security_measures": "ISMS認証、解析環境内のみで処理",
            "funding": "自己資金"
        })
    };
    let cases = [
        (
            form(
                "糖尿病治療の経過研究",
                "京都大学",
                "JP",
                "academic",
                false,
                "pseudonymized_in_environment",
                json!([{"table": "person", "columns": ["sex", "birth_date", "prefecture_code"]},
                       {"table": "condition", "columns": ["icd10", "onset_date", "recorded_date"]},
                       {"table": "observation", "columns": ["code", "value_number", "value_unit", "effective_at"]},
                       {"table": "medication_request", "columns": ["code", "authored_at"]}]),
            ),
            "approve",
            vec!["集計値のみを公表すること"],
            "公益性が高く、安全管理措置が十分",
        ),
        (
            form(
                "処方実態の匿名データセット",
                "株式会社メディカルデータ",
                "JP",
                "company",
                true,
                "anonymized_dataset",
                json!([{"table": "person", "columns": ["sex", "birth_date", "municipality_code"]},
                       {"table": "condition", "columns": ["icd10"]}]),
            ),
            "approve",
            vec![],
            "匿名加工の基準を満たす計画",
        ),
        (
            form(
                "国際比較統計",
                "Global Health Analytics Inc.",
                "US",
                "company",
                true,
                "statistics_only",
                json!([{"table": "condition", "columns": ["icd10", "onset_date"]}]),
            ),
            "reject",
            vec![],
            "国外での処理に対する安全管理措置の説明が不十分",
        ),
    ];
    let (mut permits, mut rejected) = (0u64, 0u64);
    let mut permit_ids = Vec::new();
    for (form, decision, conditions, reason) in cases {
        let created = send(
            walk,
            M::POST,
            "/api/v1/applications",
            &applicant.token,
            json!({"form": form}),
            201,
        )
        .await?;
        let id = created["id"].as_str().context("application id")?.to_owned();
        send(
            walk,
            M::POST,
            &format!("/api/v1/applications/{id}/submit"),
            &applicant.token,
            json!({}),
            200,
        )
        .await?;
        let steps = format!("/api/v1/applications/{id}/steps");
        send(
            walk,
            M::POST,
            &steps,
            &operator.token,
            json!({"step": "start_screening"}),
            200,
        )
        .await?;
        send(walk, M::POST, &steps, &operator.token,
             json!({"step": "send_to_review", "committee": "第一審査委員会", "reason": "書類に不備なし"}), 200).await?;
        send(
            walk,
            M::POST,
            &format!("/api/v1/applications/{id}/assignments"),
            &operator.token,
            json!({"reviewer": reviewer.username}),
            204,
        )
        .await?;
        let vote = if decision == "reject" {
            "reject"
        } else if conditions.is_empty() {
            "approve"
        } else {
            "approve_with_conditions"
        };
        send(
            walk,
            M::POST,
            &format!("/api/v1/applications/{id}/votes"),
            &reviewer.token,
            json!({"vote": vote, "comment": reason}),
            204,
        )
        .await?;
        send(
            walk,
            M::POST,
            &steps,
            &operator.token,
            json!({"step": decision, "reason": reason, "conditions": conditions}),
            200,
        )
        .await?;
        if decision == "approve" {
            // Pseudonymized research data gets its dates shifted by up to
            // a month per person; the anonymized dataset must meet k = 5.
            let commercial = form["commercial"] == true;
            let permit = send(walk, M::POST, &format!("/api/v1/applications/{id}/permit"), &operator.token,
                 json!({"expires_at": "2029-03-31T15:00:00Z",
                        "fee_class": if commercial { "commercial" } else { "academic" },
                        "resources": {"cpus": 4, "memory_gib": 16, "storage_gib": 100},
                        "date_shift_days": if commercial { 0 } else { 30 },
                        "privacy": if commercial { json!({"k": 5, "max_suppression": 0.05}) } else { Value::Null }}), 201).await?;
            permit_ids.push(permit["id"].as_str().context("permit id")?.to_owned());
            permits += 1;
        } else {
            rejected += 1;
        }
    }
    let (status, register) = walk.get_json("/api/v1/register", None).await?;
    ensure!(status == 200, "register answered {status}");
    let entries = register["entries"].as_array().context("register entries")?;
    let active = entries
        .iter()
        .filter(|e| e["status"] == "permit_active")
        .count()
        - active_before;
    ensure!(
        active as u64 == permits,
        "the register shows {active} new active permits, not {permits}"
    );
    walk.record("applications", entries.len());
    walk.record("permits_active", active);
    walk.record("rejected", rejected);
    walk.record(
        "review_median_days",
        register["decision_times"][0]["median_days"].clone(),
    );
    Ok(permit_ids)
}

async fn step_audit(
    walk: &mut Walk,
    state: &renkei_server::AppState,
    logins: &[Login],
) -> anyhow::Result<()> {
    let (_, key) = walk.get_json("/api/v1/audit/key", None).await?;
    let key: renkei_audit::PublicKey = key["public_key_hex"]
        .as_str()
        .context("key has no public_key_hex")?
        .parse()?;
    let (_, first) = walk.get_json("/api/v1/audit/head", None).await?;
    let first: renkei_audit::SignedTreeHead = serde_json::from_value(first)?;
    first.verify(&key).context("first head's signature")?;
    ensure!(
        first.tree_size > 0,
        "the log is empty after the walkthrough so far"
    );

    let auditor = logins
        .iter()
        .find(|l| l.role == Role::Auditor)
        .context("no auditor login")?;
    let (status, entries) = walk
        .get_json("/api/v1/audit/entries?start=0&end=1", Some(&auditor.token))
        .await?;
    ensure!(status == 200, "entries answered {status}: {entries}");
    let entry: renkei_audit::StoredEntry = serde_json::from_value(entries[0].clone())?;
    let (_, proof) = walk
        .get_json(
            &format!(
                "/api/v1/audit/proof/inclusion?index=0&tree_size={}",
                first.tree_size
            ),
            None,
        )
        .await?;
    let proof: renkei_audit::InclusionProof = serde_json::from_value(proof)?;
    proof
        .verify(&entry.leaf_hash, &first.root_hash)
        .context("inclusion proof of entry 0")?;
    walk.record("audit_inclusion_verified", true);

    let (_, second) = walk.get_json("/api/v1/audit/head", None).await?;
    let second: renkei_audit::SignedTreeHead = serde_json::from_value(second)?;
    second.verify(&key).context("second head's signature")?;
    let (_, proof) = walk
        .get_json(
            &format!(
                "/api/v1/audit/proof/consistency?first={}&second={}",
                first.tree_size, second.tree_size
            ),
            None,
        )
        .await?;
    let proof: renkei_audit::ConsistencyProof = serde_json::from_value(proof)?;
    proof
        .verify(&first.root_hash, &second.root_hash)
        .context("consistency proof between the two heads")?;
    walk.record("audit_consistency_verified", true);

    let report = renkei_audit::verify(state.stores(), Some(&second))
        .await
        .context("recomputing the log from storage")?;
    let size = state.audit().size();
    if size < second.tree_size {
        bail!("the log shrank from {} to {size}", second.tree_size);
    }
    walk.record("audit_entries", size);
    walk.record("audit_root", second.root_hash.to_hex());
    walk.record("audit_verified", report.to_string());
    Ok(())
}

fn print_logins(base: &str, logins: &[Login]) {
    println!();
    println!("renkei demo is running at {base}/");
    println!(
        "{:<10} {:<10} {:<24} API token",
        "role", "username", "password"
    );
    for l in logins {
        println!(
            "{:<10} {:<10} {:<24} {}",
            l.role.as_str(),
            l.username,
            l.password,
            l.token
        );
    }
    println!();
}
