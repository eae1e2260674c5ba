//! The demo's analysis step (解析環境): the researcher named on the
//! academic permit runs cohort queries in its workspace and asks to take
//! out two tables; the automatic check suppresses the small cells of one;
//! a reviewer releases both, and they appear on the public register.

use anyhow::{Context, ensure};
use renkei_core::Role;
use renkei_review::PermitId;
use renkei_review::form::DeliveryType;
use serde_json::{Value, json};

use super::{Login, Walk, send};

/// Typical cohort queries: counts by sex and birth decade, the most
/// prescribed drugs, lab results per year, and a join of conditions and
/// prescriptions.
const QUERIES: &[&str] = &[
    "SELECT sex, count(DISTINCT pseudonym) AS persons FROM person GROUP BY sex ORDER BY sex",
    "SELECT substr(CAST(birth_date AS VARCHAR), 1, 3) || '0s' AS birth_decade, count(*) AS persons \
     FROM person GROUP BY 1 ORDER BY 1",
    "SELECT code, count(DISTINCT pseudonym) AS persons FROM medication_request \
     GROUP BY code ORDER BY persons DESC LIMIT 10",
    "SELECT substr(CAST(effective_at AS VARCHAR), 1, 4) AS year, count(*) AS results, avg(value_number) AS mean \
     FROM observation GROUP BY 1 ORDER BY 1",
    "SELECT count(DISTINCT c.pseudonym) AS treated FROM condition c \
     JOIN medication_request m ON m.pseudonym = c.pseudonym WHERE c.icd10 LIKE 'E11%'",
];

pub(super) async fn step_analysis(
    walk: &mut Walk,
    state: &renkei_server::AppState,
    logins: &[Login],
    permits: &[String],
) -> anyhow::Result<()> {
    use reqwest::Method as M;
    let login = |role: Role| {
        logins
            .iter()
            .find(|l| l.role == role)
            .with_context(|| format!("no {} login", role.as_str()))
    };
    let (researcher, reviewer) = (login(Role::Applicant)?, login(Role::Reviewer)?);
    let mut permit = None;
    for id in permits {
        let (p, _) = state.review().permit(&PermitId::parse(id)?).await?;
        if p.delivery == DeliveryType::PseudonymizedInEnvironment {
            permit = Some(id.clone());
        }
    }
    let permit = permit.context("no permit for pseudonymized data in the environment")?;
    let ws = format!("/api/v1/workspaces/{permit}");
    for sql in QUERIES {
        send(
            walk,
            M::POST,
            &format!("{ws}/queries"),
            &researcher.token,
            json!({"sql": sql}),
            200,
        )
        .await
        .with_context(|| format!("query {sql}"))?;
    }
    // A query outside the extract is refused, and kept in the history.
    send(
        walk,
        M::POST,
        &format!("{ws}/queries"),
        &researcher.token,
        json!({"sql": "SELECT * FROM '/etc/passwd'"}),
        400,
    )
    .await?;
    let history = send(
        walk,
        M::GET,
        &format!("{ws}/queries"),
        &researcher.token,
        Value::Null,
        200,
    )
    .await?;
    let queries = history.as_array().map_or(0, Vec::len);

    // Tables are declared, never handed in: the person table's columns,
    // computed by the platform. A person has a record from each hospital
    // that treated them, and the hospitals do not always agree: the
    // platform counts each person once, under their most frequent values.
    let requests = [
        json!({"title": "対象者数（性別）", "table": "person",
               "dimensions": ["sex"], "margins": true}),
        json!({"title": "対象者数（生年の年代・性別）", "table": "person",
               "dimensions": ["birth_date:year10", "sex"], "margins": true}),
    ];
    let mut ids = Vec::new();
    let mut needs_suppression = 0;
    for r in requests {
        let o = send(
            walk,
            M::POST,
            &format!("{ws}/outputs"),
            &researcher.token,
            r,
            201,
        )
        .await?;
        if o["check"]["suppressed"].as_u64().unwrap_or(0) > 0 {
            needs_suppression += 1;
        }
        ids.push(o["id"].as_i64().context("output id")?);
    }
    ensure!(
        needs_suppression >= 1,
        "one of the demo's outputs needs suppression"
    );
    let queue = send(
        walk,
        M::GET,
        "/api/v1/outputs",
        &reviewer.token,
        Value::Null,
        200,
    )
    .await?;
    ensure!(
        queue.as_array().map_or(0, Vec::len) == ids.len(),
        "the reviewer sees both outputs: {queue}"
    );
    let mut cells_suppressed = 0;
    for id in &ids {
        let o = send(
            walk,
            M::POST,
            &format!("/api/v1/outputs/{id}/decision"),
            &reviewer.token,
            json!({"release": true, "reason": "集計表のみ。最小セル数と補完秘匿を確認した。"}),
            200,
        )
        .await?;
        ensure!(o["status"] == "released", "output {id}: {o}");
        cells_suppressed += o["check"]["suppressed"].as_u64().unwrap_or(0);
    }
    // Released outputs are public, and no released file carries a value
    // below the minimum.
    let register = walk
        .http
        .get(format!("{}/api/v1/register/outputs", walk.base))
        .send()
        .await?
        .json::<Value>()
        .await?;
    let listed = register.as_array().map_or(0, Vec::len);
    ensure!(
        listed == ids.len(),
        "the register lists {listed} outputs: {register}"
    );
    let min = state.config().analysis.disclosure.min_count;
    for entry in register.as_array().into_iter().flatten() {
        let url = format!(
            "{}{}",
            walk.base,
            entry["download"].as_str().context("download")?
        );
        let csv = walk.http.get(url).send().await?.text().await?;
        for line in csv.lines().skip(1) {
            if let Some(Ok(n)) = line.rsplit(',').next().map(str::parse::<u64>) {
                ensure!(n == 0 || n >= min, "a released cell below {min}: {line}");
            }
        }
    }
    walk.record("queries", queries);
    walk.record("outputs_released", ids.len());
    walk.record("cells_suppressed", cells_suppressed);
    Ok(())
}
