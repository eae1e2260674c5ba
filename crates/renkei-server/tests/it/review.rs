//! Review over HTTP: the full journey from draft to permit through the
//! API, each actor on their own routes; refusals; conflicts of interest;
//! revocation; and the public register (JSON, page, Atom, catalogue).

use renkei_core::Role;
use serde_json::{Value, json};

use crate::app_test;
use crate::helpers::{TestApp, problem};

fn form(app: &TestApp, org: &str, country: &str, commercial: bool) -> Value {
    json!({
        "title": format!("{org}の研究"),
        "organization": {"name": org, "country": country, "kind": if commercial { "company" } else { "academic" }},
        "users": [{"username": app.creds(Role::Applicant).username, "training_completed_on": "2026-04-01", "conflict_of_interest": "none"}],
        "purpose": "治療経過の比較",
        "public_interest": "標準治療の改善",
        "commercial": commercial,
        "requested": {
            "tables": [{"table": "condition", "columns": ["icd10", "onset_date"]}],
            "cohort_criteria": "ICD-10 E11", "period_from": "2020-01-01", "period_to": "2024-12-31"
        },
        "delivery": "pseudonymized_in_environment",
        "planned_outputs": "論文", "security_measures": "ISMS", "funding": "科研費"
    })
}

async fn call(
    app: &TestApp,
    role: Role,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&app.creds(role).token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("send")
}

async fn ok(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Draft → in review with a reviewer assigned; the application's id.
async fn in_review(app: &TestApp, org: &str, country: &str, commercial: bool) -> String {
    use reqwest::Method as M;
    let created = ok(
        call(
            app,
            Role::Applicant,
            M::POST,
            "/api/v1/applications",
            Some(json!({"form": form(app, org, country, commercial)})),
        )
        .await,
        201,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["state_ja"], "下書き");
    ok(
        call(
            app,
            Role::Applicant,
            M::POST,
            &format!("/api/v1/applications/{id}/submit"),
            None,
        )
        .await,
        200,
    )
    .await;
    let steps = format!("/api/v1/applications/{id}/steps");
    ok(
        call(
            app,
            Role::Operator,
            M::POST,
            &steps,
            Some(json!({"step": "start_screening"})),
        )
        .await,
        200,
    )
    .await;
    ok(call(app, Role::Operator, M::POST, &steps, Some(json!({"step": "send_to_review", "committee": "第一委員会", "reason": "書類に不備なし"}))).await, 200).await;
    let reviewer = app.creds(Role::Reviewer).username.clone();
    let resp = call(
        app,
        Role::Operator,
        M::POST,
        &format!("/api/v1/applications/{id}/assignments"),
        Some(json!({"reviewer": reviewer})),
    )
    .await;
    assert_eq!(resp.status(), 204);
    id
}

app_test!(
    async fn an_application_goes_from_draft_to_permit_and_the_register_shows_it(app) {
        use reqwest::Method as M;
        let id = in_review(&app, "京都大学", "JP", false).await;
        let queue = ok(call(&app, Role::Reviewer, M::GET, "/api/v1/review/queue", None).await, 200).await;
        assert_eq!(queue.as_array().map(Vec::len), Some(1));
        ok(call(&app, Role::Reviewer, M::POST, &format!("/api/v1/applications/{id}/votes"), Some(json!({"vote": "approve_with_conditions", "comment": "集計値のみ公表"}))).await, 204).await;
        let steps = format!("/api/v1/applications/{id}/steps");
        let decided = ok(call(&app, Role::Operator, M::POST, &steps, Some(json!({"step": "approve", "reason": "適切な計画", "conditions": ["集計値のみ公表"]}))).await, 200).await;
        assert_eq!(decided["state_ja"], "条件付き承認");
        assert_eq!(decided["votes"].as_array().map(Vec::len), Some(1));
        let permit = ok(call(&app, Role::Operator, M::POST, &format!("/api/v1/applications/{id}/permit"),
            Some(json!({"expires_at": "2030-03-31T00:00:00Z", "fee_class": "academic", "resources": {"cpus": 4, "memory_gib": 16, "storage_gib": 100}}))).await, 201).await;
        let permit_id = permit["id"].as_str().expect("permit id").to_owned();
        assert_eq!(permit["tables"][0]["columns"], json!(["icd10", "onset_date"]));
        let seen = ok(call(&app, Role::Applicant, M::GET, &format!("/api/v1/permits/{permit_id}"), None).await, 200).await;
        assert_eq!(seen["status"], "active");

        // The applicant sees their application without the votes.
        let mine = ok(call(&app, Role::Applicant, M::GET, &format!("/api/v1/applications/{id}"), None).await, 200).await;
        assert!(mine.get("votes").is_none(), "{mine}");
        assert_eq!(mine["history"].as_array().map(Vec::len), Some(5));

        // The register, public.
        let register: Value = app.http.get(app.url("/api/v1/register?q=京都")).send().await.expect("send").json().await.expect("json");
        assert_eq!(register["entries"][0]["status"], "permit_active", "{register}");
        assert_eq!(register["decision_times"][0]["decisions"], 1);
        let page = app.http.get(app.url("/register")).send().await.expect("send").text().await.expect("text");
        assert!(page.contains("京都大学の研究") && page.contains("許可中"), "{page}");
        let feed = app.http.get(app.url("/register/feed.atom")).send().await.expect("send");
        assert_eq!(feed.headers()["content-type"], "application/atom+xml; charset=utf-8");
        let feed = feed.text().await.expect("text");
        assert!(feed.starts_with("<?xml") && feed.contains("<entry>") && feed.contains(&id), "{feed}");
        let catalogue: Value = app.http.get(app.url("/api/v1/register/catalogue")).send().await.expect("send").json().await.expect("json");
        assert_eq!(catalogue["@type"], "dcat:Catalog");
        let datasets = catalogue["dcat:dataset"].as_array().expect("datasets");
        assert!(datasets.iter().any(|d| d["dct:identifier"] == "condition"), "{catalogue}");

        // Revocation takes the permit out of force at once.
        ok(call(&app, Role::Operator, M::POST, &steps, Some(json!({"step": "revoke", "reason": "条件違反"}))).await, 200).await;
        let seen = ok(call(&app, Role::Operator, M::GET, &format!("/api/v1/permits/{permit_id}"), None).await, 200).await;
        assert_eq!(seen["status"], "revoked");
        let err = app.state.review().permit_in_force(&renkei_review::PermitId::parse(&permit_id).expect("id")).await;
        assert!(err.is_err(), "a revoked permit is not in force");
        app.stop().await;
    }
);

app_test!(
    async fn illegal_steps_conflicts_and_other_applicants_are_refused(app) {
        use reqwest::Method as M;
        let created = ok(call(&app, Role::Applicant, M::POST, "/api/v1/applications", Some(json!({"form": form(&app, "大阪製薬株式会社", "JP", true)}))).await, 201).await;
        let id = created["id"].as_str().expect("id").to_owned();
        let steps = format!("/api/v1/applications/{id}/steps");
        let body = problem(call(&app, Role::Operator, M::POST, &steps, Some(json!({"step": "approve", "reason": "x"}))).await, 409).await;
        assert!(body["detail"].as_str().unwrap_or("").contains("draft"), "{body}");
        // Reviewers cannot take the secretariat's steps; applicants cannot vote.
        problem(call(&app, Role::Reviewer, M::POST, &steps, Some(json!({"step": "start_screening"}))).await, 403).await;
        problem(call(&app, Role::Applicant, M::POST, &format!("/api/v1/applications/{id}/votes"), Some(json!({"vote": "approve", "comment": "x"}))).await, 403).await;
        // A named user without an account cannot be submitted.
        let mut bad = form(&app, "大阪製薬株式会社", "JP", true);
        bad["users"][0]["username"] = json!("nobody");
        ok(call(&app, Role::Applicant, M::PUT, &format!("/api/v1/applications/{id}"), Some(json!({"form": bad}))).await, 200).await;
        let body = problem(call(&app, Role::Applicant, M::POST, &format!("/api/v1/applications/{id}/submit"), None).await, 400).await;
        assert!(body["detail"].as_str().unwrap_or("").contains("users[0].username"), "{body}");

        // A reviewer who declared a conflict with the organization is not assigned.
        ok(call(&app, Role::Reviewer, M::POST, "/api/v1/reviewers/conflicts", Some(json!({"organization": "大阪製薬株式会社"}))).await, 204).await;
        let id2 = {
            let created = ok(call(&app, Role::Applicant, M::POST, "/api/v1/applications", Some(json!({"form": form(&app, "大阪製薬株式会社", "JP", true)}))).await, 201).await;
            created["id"].as_str().expect("id").to_owned()
        };
        ok(call(&app, Role::Applicant, M::POST, &format!("/api/v1/applications/{id2}/submit"), None).await, 200).await;
        let steps2 = format!("/api/v1/applications/{id2}/steps");
        ok(call(&app, Role::Operator, M::POST, &steps2, Some(json!({"step": "start_screening"}))).await, 200).await;
        ok(call(&app, Role::Operator, M::POST, &steps2, Some(json!({"step": "send_to_review", "committee": "第二委員会", "reason": "ok"}))).await, 200).await;
        let reviewer = app.creds(Role::Reviewer).username.clone();
        let body = problem(call(&app, Role::Operator, M::POST, &format!("/api/v1/applications/{id2}/assignments"), Some(json!({"reviewer": reviewer}))).await, 409).await;
        assert!(body["detail"].as_str().unwrap_or("").contains("conflict of interest"), "{body}");
        let body = problem(call(&app, Role::Operator, M::POST, &format!("/api/v1/applications/{id2}/assignments"), Some(json!({"reviewer": app.creds(Role::Auditor).username}))).await, 400).await;
        assert!(body["detail"].as_str().unwrap_or("").contains("not a reviewer"), "{body}");
        let undecided: Value = app.http.get(app.url("/api/v1/register")).send().await.expect("send").json().await.expect("json");
        assert_eq!(undecided["entries"], json!([]), "nothing undecided is on the register");
        app.stop().await;
    }
);

app_test!(
    async fn risk_signals_come_from_the_lake(app) {
        use reqwest::Method as M;
        // Twelve diabetic patients at one hospital, eleven born the same
        // day and one born decades earlier: a rare birth date.
        let (token, _) = crate::collect::hospital_account(&app).await;
        let mut lines = Vec::new();
        for i in 0..13 {
            let birth = if i == 0 { "1931-02-03" } else { "1970-01-01" };
            lines.push(json!({
                "resourceType": "Patient", "id": format!("p{i}"),
                "identifier": [{"system": format!("urn:oid:1.2.392.100495.20.3.51.1{}", crate::collect::CODE), "value": format!("L-{i}")}],
                "name": [{"family": "山田", "given": ["太郎"]}], "gender": "male", "birthDate": birth
            }).to_string());
            // Twelve with type 2 diabetes; the thirteenth only hypertension.
            let code = if i == 12 { "I10" } else { "E11.9" };
            lines.push(json!({
                "resourceType": "Condition", "id": format!("c{i}"),
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]},
                "subject": {"reference": format!("Patient/p{i}")}, "recordedDate": "2024-05-01"
            }).to_string());
        }
        let resp = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&token).body(lines.join("\n") + "\n").send().await.expect("submit");
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());

        let mut f = form(&app, "京都大学", "JP", false);
        f["requested"]["tables"] = json!([{"table": "person", "columns": ["sex", "birth_date"]}, {"table": "condition", "columns": ["icd10"]}]);
        f["requested"]["cohort_icd10"] = json!(["E11"]);
        f["requested"]["data_categories"] = json!(["mental_health"]);
        let created = ok(call(&app, Role::Applicant, M::POST, "/api/v1/applications", Some(json!({"form": f}))).await, 201).await;
        let id = created["id"].as_str().expect("id");
        let risk = ok(call(&app, Role::Reviewer, M::GET, &format!("/api/v1/applications/{id}/risk"), None).await, 200).await;
        assert_eq!(risk["cohort_estimate"], 12, "{risk}");
        assert_eq!(risk["cohort_from_codes"], true);
        assert_eq!(risk["quasi_identifiers"], json!(["sex", "birth_date"]));
        let rare = risk["rare_values"].as_array().expect("rare values");
        assert_eq!(rare.len(), 1, "{risk}");
        assert_eq!(rare[0]["column"], "birth_date");
        assert_eq!(rare[0]["smallest_group"], 1);
        // One of twelve is unique on sex and birth date together.
        assert_eq!(risk["uniqueness"], 0.0833);
        assert_eq!(risk["special"], json!(["category:mental_health"]));
        problem(call(&app, Role::Applicant, M::GET, &format!("/api/v1/applications/{id}/risk"), None).await, 403).await;
        app.stop().await;
    }
);
