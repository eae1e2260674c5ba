//! Collection over HTTP: a provider account submits for its own
//! organization's provider code only; receipts, 413 and broken bodies.

use renkei_core::Role;
use renkei_server::accounts::{NewUser, Password};

use crate::app_test;
use crate::helpers::{PASSWORD, TestApp, problem};

pub(crate) const CODE: &str = "1311234567";
pub(crate) const OTHER: &str = "2710000019";

pub(crate) fn patient(id: &str) -> String {
    serde_json::json!({
        "resourceType": "Patient", "id": id,
        "identifier": [{"system": format!("urn:oid:1.2.392.100495.20.3.51.1{CODE}"), "value": format!("L-{id}")}],
        "name": [{"family": "山田", "given": ["太郎"]}],
        "gender": "male", "birthDate": "1970-01-01"
    })
    .to_string()
}

/// A provider account of a hospital whose code is registered to its
/// organization, and another hospital's code registered to no one of ours.
async fn hospital(app: &TestApp) -> String {
    hospital_account(app).await.0
}

/// As [`hospital`], with the account's API token and a page session.
pub(crate) async fn hospital_account(app: &TestApp) -> (String, String) {
    let accounts = app.state.accounts();
    let org = accounts
        .ensure_org("東京テスト病院", "JP")
        .await
        .expect("org");
    let user = accounts
        .create_user(NewUser {
            username: "hospital-sender".to_owned(),
            display_name: "送信担当".to_owned(),
            role: Role::Provider,
            org_id: Some(org),
            password: Some(Password::new(PASSWORD.to_owned()).expect("password")),
        })
        .await
        .expect("user");
    let (_, token) = accounts.create_token(&user, "upload").await.expect("token");
    let (session, _) = accounts.create_session(&user, 1).await.expect("session");
    let operator = &app.creds(Role::Operator).token;
    for (code, org_id) in [(CODE, Some(org.to_string())), (OTHER, None)] {
        let resp = app
            .http
            .post(app.url("/api/v1/providers"))
            .bearer_auth(operator)
            .json(&serde_json::json!({"code": code, "name": "病院", "kind": "特定機能病院", "org_id": org_id}))
            .send()
            .await
            .expect("register");
        assert_eq!(
            resp.status(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );
    }
    (token.expose().to_owned(), session.expose().to_owned())
}

app_test!(
    async fn a_provider_submits_ndjson_and_reads_its_receipt(app) {
        let token = hospital(&app).await;
        let body = format!("{}\n{}\n{{\"resourceType\": \"Patient\"}}\n", patient("a"), patient("b"));
        let resp = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&token).body(body.clone()).send().await.expect("submit");
        assert_eq!(resp.status(), 201);
        let location = resp.headers()["content-location"].to_str().expect("header").to_owned();
        let receipt: serde_json::Value = resp.json().await.expect("receipt");
        assert_eq!(receipt["counts"]["Patient"]["accepted"], 2, "{receipt}");
        assert_eq!(receipt["counts"]["Patient"]["rejected"], 1, "{receipt}");
        assert_eq!(receipt["rejected"][0]["location"]["line"], 3);
        assert_eq!(receipt["rejected"][0]["outcome"]["resourceType"], "OperationOutcome");

        let again = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&token).body(body).send().await.expect("resubmit");
        assert_eq!(again.status(), 200, "the same content answers with the first receipt");
        let again: serde_json::Value = again.json().await.expect("receipt");
        assert_eq!(again["submission_id"], receipt["submission_id"]);

        let shown: serde_json::Value = app.http.get(app.url(&location)).bearer_auth(&token).send().await.expect("get").json().await.expect("json");
        assert_eq!(shown, receipt);
        // Another provider account (no organization) cannot see it.
        let other = app.http.get(app.url(&location)).bearer_auth(&app.creds(Role::Provider).token).send().await.expect("get");
        problem(other, 404).await;
        let listed: Vec<serde_json::Value> = app.http.get(app.url("/api/v1/submissions")).bearer_auth(&app.creds(Role::Operator).token).send().await.expect("list").json().await.expect("json");
        assert_eq!(listed.len(), 1);
    }
);

app_test!(
    async fn a_provider_may_not_submit_for_another_organizations_code(app) {
        let token = hospital(&app).await;
        let resp = app.http.post(app.url(&format!("/api/v1/submissions?provider={OTHER}"))).bearer_auth(&token).body(patient("a")).send().await.expect("submit");
        let p = problem(resp, 409).await;
        assert!(p["detail"].as_str().unwrap_or("").contains("another organization"), "{p}");
        let resp = app.http.post(app.url("/api/v1/submissions?provider=12")).bearer_auth(&token).body(patient("a")).send().await.expect("submit");
        problem(resp, 400).await;
    }
);

app_test!(
    async fn a_transaction_bundle_goes_to_fhir(app) {
        let token = hospital(&app).await;
        let bundle = serde_json::json!({
            "resourceType": "Bundle", "type": "transaction",
            "entry": [{"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
                       "resource": serde_json::from_str::<serde_json::Value>(&patient("z")).expect("json"),
                       "request": {"method": "PUT", "url": "Patient/z"}}]
        });
        let resp = app.http.post(app.url("/fhir")).bearer_auth(&token).header("content-type", "application/fhir+json").body(bundle.to_string()).send().await.expect("post");
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
    }
);

app_test!(
    async fn oversized_and_broken_bodies_commit_nothing(app) {
        let token = hospital(&app).await;
        // Over collect.max_document_bytes for /fhir.
        let huge = format!("{{\n\"resourceType\": \"Basic\", \"id\": \"x\", \"pad\": \"{}\"}}", "x".repeat(70 << 20));
        let resp = app.http.post(app.url("/fhir")).bearer_auth(&token).body(huge).send().await.expect("post");
        problem(resp, 413).await;
        // Broken gzip.
        let resp = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&token).body(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]).send().await.expect("post");
        let p = problem(resp, 400).await;
        assert!(p["detail"].as_str().unwrap_or("").contains("nothing"), "{p}");
        assert!(app.state.stores().lake().expect("lake").current().await.expect("current").is_none());
    }
);
