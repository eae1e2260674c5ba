//! The analysis environment over HTTP: a named user proposes an output
//! from the permit's workspace, it is checked automatically, a reviewer
//! releases it, and it appears on the public register with its table —
//! the small cell as X. Revoking the permit closes the workspace at once.

use renkei_core::Role;
use renkei_server::accounts::{NewUser, Password};
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::app_test;
use crate::collect::{CODE, hospital_account};
use crate::helpers::{PASSWORD, TestApp, get_text};
use crate::processing::{condition, permit, send};

/// A reviewer account of its own, and its API token.
async fn reviewer_token(app: &TestApp, username: &str) -> String {
    token_for(app, username, Role::Reviewer).await
}

async fn token_for(app: &TestApp, username: &str, role: Role) -> String {
    let accounts = app.state.accounts();
    let user = accounts
        .create_user(
            &crate::helpers::setup(),
            NewUser {
                username: username.to_owned(),
                display_name: "審査委員".to_owned(),
                role,
                org_id: None,
                password: Some(Password::new(PASSWORD.to_owned()).expect("password")),
            },
        )
        .await
        .expect("user");
    let (_, token) = accounts.create_token(&user, "test").await.expect("token");
    token.expose().to_owned()
}

fn patient(id: &str, n: usize) -> String {
    json!({
        "resourceType": "Patient", "id": id,
        "identifier": [{"system": format!("urn:oid:1.2.392.100495.20.3.51.1{CODE}"), "value": format!("L-{id}")}],
        "name": [{"family": "山田", "given": [format!("太郎{n}")]}],
        "gender": if n.is_multiple_of(2) { "male" } else { "female" },
        "birthDate": format!("19{:02}-0{}-1{}", 40 + n, 1 + n % 9, n % 10)
    })
    .to_string()
}

/// A permit in force over the records of 18 persons with diabetes: 15
/// with E11.9 and 3 with E11.2 (a cell too small to release). Returns the
/// permit's id and its application's.
pub(crate) async fn permit_with_data(app: &TestApp) -> (String, String) {
    let (token, _) = hospital_account(app).await;
    let mut lines = Vec::new();
    for n in 0..18 {
        let id = format!("p{n}");
        lines.push(patient(&id, n));
        lines.push(condition(
            &format!("c{n}"),
            &id,
            if n < 15 { "E11.9" } else { "E11.2" },
        ));
    }
    let resp = app
        .http
        .post(app.url(&format!("/api/v1/submissions?provider={CODE}")))
        .bearer_auth(&token)
        .body(lines.join("\n"))
        .send()
        .await
        .expect("submit");
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    permit(app).await
}

/// The operator builds the permit's extract; its manifest.
pub(crate) async fn build_extract(app: &TestApp, permit: &str) -> Value {
    let job = crate::processing::run_job(
        app,
        Role::Operator,
        M::POST,
        &format!("/api/v1/permits/{permit}/extracts"),
        Value::Null,
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    job["result"].clone()
}

app_test!(
    async fn an_output_is_checked_released_by_a_reviewer_and_listed_on_the_register(app) {
        let (permit, application) = permit_with_data(&app).await;
        let ws = format!("/api/v1/workspaces/{permit}");
        // No extract yet: the workspace is not open.
        send(&app, Role::Applicant, M::POST, &format!("{ws}/queries"), json!({"sql": "SELECT 1"}), 409).await;
        let m = build_extract(&app, &permit).await;
        assert_eq!(m["persons"], 18, "{m}");

        let request = json!({"title": "2型糖尿病の病型別人数", "table": "condition", "dimensions": ["icd10"]});
        let o = send(&app, Role::Applicant, M::POST, &format!("{ws}/outputs"), request, 201).await;
        assert_eq!(o["status"], "pending");
        let cells = o["check"]["cells"].as_array().expect("cells");
        // E11.2 has 3 persons: too few for its label to be shown.
        assert!(!cells.iter().any(|c| c["key"][0] == "E11.2"), "{cells:?}");
        let small = cells.iter().find(|c| c["key"][0] == "その他").expect("その他 cell");
        assert_eq!(small["persons"], 3);
        assert_eq!(small["released"], false);
        assert!(small["why_ja"].as_str().unwrap_or_default().contains("10"), "{small}");
        let id = o["id"].as_i64().expect("id");

        // Only reviewers decide; nothing is public before.
        send(&app, Role::Applicant, M::POST, &format!("/api/v1/outputs/{id}/decision"), json!({"release": true, "reason": "自分で"}), 403).await;
        let csv_url = app.url(&format!("/register/outputs/{id}/table.csv"));
        assert_eq!(app.http.get(&csv_url).send().await.expect("csv").status(), 404);
        let queue = send(&app, Role::Reviewer, M::GET, "/api/v1/outputs", Value::Null, 200).await;
        assert_eq!(queue.as_array().map(Vec::len), Some(1));
        // The attack: a reviewer who declared a conflict with the holder's
        // organization releases its output anyway. Refused, and nothing
        // changes.
        let conflicted = reviewer_token(&app, "conflicted-reviewer").await;
        let declared = app.http.post(app.url("/api/v1/reviewers/conflicts")).bearer_auth(&conflicted)
            .json(&json!({"organization": "京都大学"})).send().await.expect("declare");
        assert_eq!(declared.status(), 204);
        let refused = app.http.post(app.url(&format!("/api/v1/outputs/{id}/decision"))).bearer_auth(&conflicted)
            .json(&json!({"release": true, "reason": "利益相反を無視"})).send().await.expect("decide");
        assert_eq!(refused.status(), 409, "{}", refused.text().await.unwrap_or_default());
        let still = send(&app, Role::Reviewer, M::GET, &format!("/api/v1/outputs/{id}"), Value::Null, 200).await;
        let outsider = token_for(&app, "outsider", Role::Applicant).await;
        let resp = app.http.get(app.url(&format!("/api/v1/outputs/{id}"))).bearer_auth(&outsider).send().await.expect("get");
        assert_eq!(resp.status(), 404, "a researcher not named on the permit, while it is in force");
        assert_eq!(still["status"], "pending");
        let done = send(&app, Role::Reviewer, M::POST, &format!("/api/v1/outputs/{id}/decision"), json!({"release": true, "reason": "集計値のみ、秘匿済み"}), 200).await;
        assert_eq!(done["status"], "released");
        send(&app, Role::Reviewer, M::POST, &format!("/api/v1/outputs/{id}/decision"), json!({"release": false, "reason": "再考"}), 409).await;

        // The register lists it with its permit; the table has X, never 3.
        let listed: Value = app.http.get(app.url("/api/v1/register/outputs")).send().await.expect("register").json().await.expect("json");
        assert_eq!(listed[0]["permit"], permit.as_str());
        assert_eq!(listed[0]["suppressed"], 1, "{listed}");
        let csv = app.http.get(&csv_url).send().await.expect("csv").text().await.expect("text");
        assert!(csv.contains("E11.9,15") && csv.contains("その他,X") && !csv.contains("E11.2"), "{csv}");
        let page = app.http.get(app.url("/register")).send().await.expect("page").text().await.expect("html");
        assert!(page.contains("2型糖尿病の病型別人数"), "the register page lists the output");
        let found = app.http.get(app.url("/register?q=病型別")).send().await.expect("search").text().await.expect("html");
        assert!(found.contains("2型糖尿病の病型別人数"), "the search finds the output");
        let missed = app.http.get(app.url("/register?q=zzz-nothing")).send().await.expect("search").text().await.expect("html");
        assert!(!missed.contains("2型糖尿病の病型別人数"), "the search filters outputs");

        // Revoked: the workspace is closed at once, for queries and outputs.
        send(&app, Role::Operator, M::POST, &format!("/api/v1/applications/{application}/steps"), json!({"step": "revoke", "reason": "条件違反"}), 200).await;
        let closed = send(&app, Role::Applicant, M::POST, &format!("{ws}/queries"), json!({"sql": "SELECT count(*) FROM condition"}), 409).await;
        assert!(closed["detail"].as_str().unwrap_or_default().contains("revoked"), "{closed}");
        send(&app, Role::Applicant, M::GET, &format!("{ws}/outputs"), Value::Null, 409).await;
        send(&app, Role::Applicant, M::GET, &format!("/api/v1/outputs/{id}"), Value::Null, 409).await;
        // A researcher the permit does not name learns nothing of its
        // outputs, in force or not: the same 404 as a number never issued.
        let stranger = token_for(&app, "stranger", Role::Applicant).await;
        for probe in [id, id + 1000] {
            let resp = app.http.get(app.url(&format!("/api/v1/outputs/{probe}"))).bearer_auth(&stranger).send().await.expect("get");
            assert_eq!(resp.status(), 404, "output {probe}");
        }
        // What was released stays public.
        assert_eq!(app.http.get(&csv_url).send().await.expect("csv").status(), 200);
        app.stop().await;
    }
);

/// A platform that gives each permit a differential-privacy budget of
/// ε = 1.
pub(crate) fn with_dp_budget(config: &mut renkei_server::Config) {
    config.analysis.disclosure.dp_budget =
        Some(renkei_analysis::disclosure::dp::Epsilon::parse("1").expect("epsilon"));
}

/// A noisy release over HTTP, on a platform with a budget of ε = 1 per
/// permit: the request names the categories, the reviewer releases it, the
/// register says it carries noise, and the budget cannot pay for more.
async fn a_noisy_release(backend: renkei_store::testing::TestBackend) {
    let app = crate::helpers::spawn_app_with(backend, with_dp_budget).await;
    let (permit, _) = permit_with_data(&app).await;
    build_extract(&app, &permit).await;
    let ws = format!("/api/v1/workspaces/{permit}");
    let request = |epsilon: &str| {
        json!({
            "title": "病型別（ノイズ付き）", "table": "condition",
            "dimensions": ["icd10"],
            "privacy": {"epsilon": epsilon, "categories": [["E11.2", "E11.9", "E10"]]}
        })
    };
    let bad = send(
        &app,
        Role::Applicant,
        M::POST,
        &format!("{ws}/outputs"),
        request("-1"),
        400,
    )
    .await;
    assert!(
        bad["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("decimal"),
        "{bad}"
    );
    let o = send(
        &app,
        Role::Applicant,
        M::POST,
        &format!("{ws}/outputs"),
        request("0.8"),
        201,
    )
    .await;
    assert_eq!(o["check"]["noisy"], "0.8");
    assert_eq!(o["check"]["suppressed"], 0);
    assert_eq!(
        o["check"]["cells"].as_array().map(Vec::len),
        Some(3),
        "E10 is listed, not in the data"
    );
    let id = o["id"].as_i64().expect("id");
    send(
        &app,
        Role::Reviewer,
        M::POST,
        &format!("/api/v1/outputs/{id}/decision"),
        json!({"release": true, "reason": "ノイズ付き集計"}),
        200,
    )
    .await;
    let listed: Value =
        serde_json::from_str(&get_text(&app.http, &app.url("/api/v1/register/outputs")).await)
            .expect("json");
    assert_eq!(listed[0]["noise_epsilon"], "0.8", "{listed}");
    let csv = get_text(
        &app.http,
        &app.url(&format!("/register/outputs/{id}/table.csv")),
    )
    .await;
    assert!(
        csv.lines().count() == 4 && !csv.contains(",X"),
        "three noisy rows, nothing suppressed: {csv}"
    );
    let page = get_text(&app.http, &app.url("/register")).await;
    assert!(
        page.contains("ノイズ付き ε = 0.8"),
        "the register page says the counts carry noise"
    );
    // ε = 0.2 is left.
    let over = send(
        &app,
        Role::Applicant,
        M::POST,
        &format!("{ws}/outputs"),
        request("0.5"),
        400,
    )
    .await;
    assert!(
        over["detail"].as_str().unwrap_or_default().contains("0.2"),
        "{over}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_release_spends_the_budget_and_says_so_on_the_register_sqlite() {
    a_noisy_release(renkei_store::testing::TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_release_spends_the_budget_and_says_so_on_the_register_postgres() {
    a_noisy_release(renkei_store::testing::TestBackend::Postgres).await;
}
