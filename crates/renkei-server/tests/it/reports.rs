//! Collection's reports over HTTP: a provider reads the quality of what it
//! sent (and nobody else's), operators see who is behind, and the pages
//! show both in Japanese.

use renkei_collect::{ComplianceRules, FacilityKind, Obligation};
use renkei_core::{Role, Timestamp};
use renkei_store::testing::TestBackend;

use crate::app_test;
use crate::collect::{CODE, OTHER, hospital_account, patient};
use crate::helpers::{TestApp, problem, spawn_app_with};

const DAY_US: i64 = 86_400_000_000;

/// A lab result for `subject`, taken three days ago (so the lag from event
/// to submission is three whole days), with a JLAC10 code.
fn observation(id: &str, subject: &str, jlac10: &str) -> String {
    let three_days_ago = Timestamp::from_unix_micros(
        renkei_core::Clock::now(&renkei_core::SystemClock).unix_micros() - 3 * DAY_US,
    );
    serde_json::json!({
        "resourceType": "Observation", "id": id, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "urn:oid:1.2.392.200119.4.504", "code": jlac10}]},
        "subject": {"reference": format!("Patient/{subject}")},
        "effectiveDateTime": three_days_ago.to_rfc3339(),
        "valueQuantity": {"value": 5.5, "unit": "mg/dL"}
    })
    .to_string()
}

fn ndjson(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Submits `body` as the provider with `token`; the receipt.
async fn submit(app: &TestApp, token: &str, body: String) -> serde_json::Value {
    let resp = app
        .http
        .post(app.url("/api/v1/submissions"))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("submit");
    assert_eq!(resp.status(), 201);
    resp.json().await.expect("receipt")
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> serde_json::Value {
    let resp = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.expect("json")
}

async fn page(app: &TestApp, path: &str, session: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .header("cookie", format!("renkei_session={session}"))
        .send()
        .await
        .expect("get page")
}

async fn page_text(app: &TestApp, path: &str, session: &str) -> String {
    let resp = page(app, path, session).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.text().await.expect("html")
}

/// Two submissions of the hospital: two Patients, two lab results (one
/// with a code JLAC10 does not have), one lab result without its required
/// status; then one Patient again, unchanged. The second receipt.
async fn two_submissions(app: &TestApp, token: &str) -> serde_json::Value {
    let mut no_status: serde_json::Value =
        serde_json::from_str(&observation("o9", "a", "3D010000001926101")).expect("json");
    no_status.as_object_mut().expect("object").remove("status");
    let first = submit(
        app,
        token,
        ndjson(&[
            patient("a"),
            patient("b"),
            observation("o1", "a", "3D010000001926101"),
            observation("o2", "b", "9Z999000000000001"),
            no_status.to_string(),
        ]),
    )
    .await;
    assert_eq!(first["counts"]["Observation"]["accepted"], 2, "{first}");
    submit(app, token, ndjson(&[patient("a")])).await
}

app_test!(
    async fn a_provider_reads_the_quality_of_what_it_sent(app) {
        let (token, _) = hospital_account(&app).await;
        let second = two_submissions(&app, &token).await;
        assert_eq!(second["counts"]["Patient"]["unchanged"], 1, "{second}");

        let r = get_json(&app, &format!("/api/v1/providers/{CODE}/quality"), &token).await;
        assert_eq!(r["provider"], CODE);
        assert_eq!(r["overall"]["submissions"], 2);
        let p = &r["by_type"]["Patient"];
        assert_eq!((p["received"].as_u64(), p["accepted"].as_u64(), p["unchanged"].as_u64()), (Some(3), Some(2), Some(1)), "{p}");
        // Gender and birth date present, no address: two of three key elements.
        assert_eq!(p["completeness"].as_f64(), Some(2.0 / 3.0), "{p}");
        assert_eq!(p["duplicate_rate"].as_f64(), Some(1.0 / 3.0), "{p}");
        assert_eq!(p["valid_codes"], serde_json::Value::Null, "a Patient has no codings to judge");

        let o = &r["by_type"]["Observation"];
        assert_eq!((o["received"].as_u64(), o["accepted"].as_u64(), o["rejected"].as_u64()), (Some(3), Some(2), Some(1)), "{o}");
        // Code, time and value present, no encounter.
        assert_eq!(o["completeness"].as_f64(), Some(0.75), "{o}");
        // Category and code on each: four codings, one code unknown.
        assert_eq!(o["valid_codes"].as_f64(), Some(0.75), "{o}");
        assert_eq!(o["timeliness"]["mean_lag_days"].as_f64(), Some(3.0), "{o}");
        assert_eq!(o["timeliness"]["within_7d"].as_f64(), Some(1.0), "{o}");
        assert_eq!(o["rejection_reasons"], serde_json::json!([{"reason": "required at Observation.status", "count": 1}]));

        // A window from the second submission holds only the resent Patient.
        let since = second["received_at"].as_str().expect("received_at");
        let url = format!("/api/v1/providers/{CODE}/quality?since={}", since.replace('+', "%2B"));
        let recent = get_json(&app, &url, &token).await;
        assert_eq!(recent["overall"]["submissions"], 1, "{recent}");
        assert_eq!(recent["by_type"]["Patient"]["duplicate_rate"].as_f64(), Some(1.0));
        assert!(recent["by_type"].get("Observation").is_none(), "{recent}");

        // Operators and auditors read any provider's report.
        for role in [Role::Operator, Role::Auditor] {
            let seen = get_json(&app, &format!("/api/v1/providers/{CODE}/quality"), &app.creds(role).token).await;
            assert_eq!(seen, r, "{role:?} sees the same report");
        }

        let resp = app.http.get(app.url(&format!("/api/v1/providers/{CODE}/quality?since=2026-04-01T00:00:00 09:00"))).bearer_auth(&token).send().await.expect("get");
        let p = problem(resp, 400).await;
        assert!(p["detail"].as_str().unwrap_or("").contains("%2B"), "the hint names the encoding: {p}");
        let resp = app.http.get(app.url("/api/v1/providers/12/quality")).bearer_auth(&token).send().await.expect("get");
        problem(resp, 400).await;
        app.stop().await;
    }
);

app_test!(
    async fn a_provider_may_not_read_another_organizations_report(app) {
        let (token, session) = hospital_account(&app).await;
        // Another organization's provider and an unregistered code answer
        // alike, so the answer does not tell which codes are registered.
        for code in [OTHER, "1399999999"] {
            let resp = app.http.get(app.url(&format!("/api/v1/providers/{code}/quality"))).bearer_auth(&token).send().await.expect("get");
            let p = problem(resp, 404).await;
            assert!(p["detail"].as_str().unwrap_or("").contains(code), "{p}");
        }
        // A provider account of no organization has no provider at all.
        let stranger = &app.creds(Role::Provider);
        let resp = app.http.get(app.url(&format!("/api/v1/providers/{CODE}/quality"))).bearer_auth(&stranger.token).send().await.expect("get");
        problem(resp, 404).await;
        let resp = page(&app, &format!("/collect/quality?provider={OTHER}"), &session).await;
        problem(resp, 404).await;
        let html = page_text(&app, "/collect/quality", &stranger.session).await;
        assert!(html.contains("閲覧できる医療機関がありません"), "{html}");
        assert!(!html.contains(CODE), "another organization's code is not offered");
        app.stop().await;
    }
);

app_test!(
    async fn compliance_shows_a_provider_that_never_sent_as_behind(app) {
        let (token, _) = hospital_account(&app).await;
        submit(&app, &token, ndjson(&[patient("a"), observation("o1", "a", "3D010000001926101")])).await;
        let operator = app.creds(Role::Operator).token.clone();

        let r = get_json(&app, "/api/v1/compliance", &operator).await;
        // Both hospitals are 特定機能病院: labs, prescriptions and diagnoses
        // monthly; only CODE's labs have come.
        let rows = r["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 6, "{r}");
        assert_eq!(r["counts"], serde_json::json!({"ok": 1, "due_soon": 0, "overdue": 0, "never": 5}));
        let row = |code: &str, ty: &str| {
            rows.iter()
                .find(|x| x["provider"] == code && x["resource_type"] == ty)
                .unwrap_or_else(|| panic!("no row for {code} {ty}"))
                .clone()
        };
        let other = row(OTHER, "Observation");
        assert_eq!((other["status"].as_str(), other["every_days"].as_u64()), (Some("never"), Some(31)));
        assert_eq!(other["last"], serde_json::Value::Null);
        let labs = row(CODE, "Observation");
        assert_eq!((labs["status"].as_str(), labs["days_since"].as_u64()), (Some("ok"), Some(0)));
        assert_eq!(labs["last"]["accepted"], 1);
        assert_eq!(rows.last(), Some(&labs), "the one sent is due last, so listed last");

        // Forty days on, with nothing more sent, the labs are overdue and
        // come first among the rows that have been sent.
        let later = Timestamp::from_unix_micros(
            renkei_core::Clock::now(&renkei_core::SystemClock).unix_micros() + 40 * DAY_US,
        );
        let r = get_json(&app, &format!("/api/v1/compliance?at={}", later.to_rfc3339()), &app.creds(Role::Auditor).token).await;
        assert_eq!(r["counts"]["overdue"], 1, "{r}");
        assert_eq!(r["counts"]["never"], 5, "{r}");
        let resp = app.http.get(app.url("/api/v1/compliance?at=yesterday")).bearer_auth(&operator).send().await.expect("get");
        problem(resp, 400).await;
        app.stop().await;
    }
);

app_test!(
    async fn the_report_pages_render_in_japanese_for_those_who_may_see_them(app) {
        let (token, session) = hospital_account(&app).await;
        two_submissions(&app, &token).await;

        // The provider's organization has one provider: its report at once.
        let html = page_text(&app, "/collect/quality", &session).await;
        assert!(html.contains("<html lang=\"ja\""), "Japanese first");
        for text in ["<h1>品質レポート</h1>", CODE, "リソース種別ごとの件数", "品質指標", "患者（Patient）", "検査・観察（Observation）", "required at Observation.status", "<caption>", "scope=\"row\"", "66.7%"] {
            assert!(html.contains(text), "quality page lacks {text}");
        }
        assert!(html.contains("href=\"/collect/quality\"") && !html.contains("href=\"/collect/compliance\""), "a provider's menu links only what it may open");
        assert!(!html.contains("<script"), "no JavaScript");

        // An operator picks a provider first.
        let operator = app.creds(Role::Operator).session.clone();
        let html = page_text(&app, "/collect/quality", &operator).await;
        assert!(html.contains(&format!("<option value=\"{CODE}\"")) && html.contains(&format!("<option value=\"{OTHER}\"")), "{html}");
        assert!(!html.contains("品質指標"), "no report before one is picked");
        let html = page_text(&app, &format!("/collect/quality?provider={OTHER}"), &operator).await;
        assert!(html.contains("この期間の提出はありません"), "OTHER sent nothing");
        let html = page_text(&app, &format!("/collect/quality?provider={CODE}&since=2000-01-01"), &operator).await;
        assert!(html.contains("品質指標") && html.contains("value=\"2000-01-01\""));

        let html = page_text(&app, "/collect/compliance", &operator).await;
        for text in ["<h1>提出状況</h1>", "状態ごとの件数", "未提出", OTHER, "特定機能病院", "病名（Condition）", "<caption>", "scope=\"col\"", "href=\"/collect/compliance\""] {
            assert!(html.contains(text), "compliance page lacks {text}");
        }
        let behind = page_text(&app, "/collect/compliance?status=behind", &operator).await;
        assert!(behind.contains(OTHER) && !behind.contains("class=\"status-ok\""), "only rows that are behind");
        let en = page_text(&app, "/collect/compliance?lang=en", &app.creds(Role::Auditor).session).await;
        assert!(en.contains("never sent") && en.contains("<html lang=\"en\""));
        problem(page(&app, "/collect/compliance?status=late", &operator).await, 400).await;
        problem(page(&app, "/collect/compliance", &session).await, 403).await;
        app.stop().await;
    }
);

/// The rules come from configuration: a `[collect.compliance]` replaces
/// the defaults. (Configuration does not touch storage: SQLite suffices.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_compliance_rules_replace_the_defaults() {
    let app = spawn_app_with(TestBackend::Sqlite, |c| {
        c.collect.compliance = ComplianceRules {
            rules: vec![Obligation {
                kind: FacilityKind::AdvancedTreatmentHospital,
                resource_types: vec!["Procedure".to_owned()],
                every_days: 7,
            }],
        };
    })
    .await;
    hospital_account(&app).await;
    let r = get_json(&app, "/api/v1/compliance", &app.creds(Role::Operator).token).await;
    let owed: Vec<(&str, &str, u64)> = r["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|x| {
            (
                x["provider"].as_str().unwrap_or_default(),
                x["resource_type"].as_str().unwrap_or_default(),
                x["every_days"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(owed, [(CODE, "Procedure", 7), (OTHER, "Procedure", 7)]);
    app.stop().await;
}
