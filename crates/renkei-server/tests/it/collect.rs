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
        .ensure_org(&crate::helpers::setup(), "東京テスト病院", "JP")
        .await
        .expect("org");
    let user = accounts
        .create_user(
            &crate::helpers::setup(),
            NewUser {
                username: "hospital-sender".to_owned(),
                display_name: "送信担当".to_owned(),
                role: Role::Provider,
                org_id: Some(org),
                password: Some(Password::new(PASSWORD.to_owned()).expect("password")),
            },
        )
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
        let o = operation_outcome(resp, 413).await;
        assert!(o["issue"][0]["diagnostics"].as_str().unwrap_or("").contains("collect.max_document_bytes"), "{o}");
        // Broken gzip.
        let resp = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&token).body(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]).send().await.expect("post");
        let p = problem(resp, 400).await;
        assert!(p["detail"].as_str().unwrap_or("").contains("nothing"), "{p}");
        assert!(app.state.stores().lake().expect("lake").current().await.expect("current").is_none());
    }
);

// Attacks on collection's limits over HTTP (issue 15, finding 5), on a
// platform whose limits are lowered so that each attack is a few MiB.

/// Collection limits low enough for tests.
fn lowered_limits(config: &mut renkei_server::Config) {
    config.collect.max_bundle_entries = 1000;
    config.collect.max_line_bytes = 64 << 10;
}

/// The states of every submission, oldest first.
async fn states(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT state FROM submissions ORDER BY id")
        .fetch_all(app.state.intake().db().pool())
        .await
        .expect("submission states")
}

async fn nothing_in_the_lake(app: &TestApp) {
    let lake = app.state.stores().lake().expect("lake");
    assert!(
        lake.current().await.expect("current").is_none(),
        "nothing committed"
    );
}

/// An OperationOutcome answer of `status`, as FHIR JSON.
async fn operation_outcome(resp: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(resp.status(), status);
    let ty = resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    assert_eq!(ty, "application/fhir+json");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    body
}

async fn limits_hold_over_http(backend: renkei_store::testing::TestBackend) {
    use std::io::Write;
    let app = crate::helpers::spawn_app_with(backend, lowered_limits).await;
    let token = hospital(&app).await;
    let post = |path: &str, body: Vec<u8>| {
        app.http
            .post(app.url(path))
            .bearer_auth(&token)
            .body(body)
            .send()
    };

    // The red team's Bundle, `entry: [0,0,…]`, 4 MiB.
    let mut zeros = br#"{"resourceType":"Bundle","type":"transaction","entry":[0"#.to_vec();
    zeros.extend(std::iter::repeat_n(&b",0"[..], 2_000_000).flatten());
    zeros.extend_from_slice(b"]}");
    let o = operation_outcome(post("/fhir", zeros).await.expect("post"), 413).await;
    let text = o["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        text.contains("Bundle.entry[1000]") && text.contains("collect.max_bundle_entries = 1000"),
        "{o}"
    );
    assert_eq!(o["issue"][0]["code"], "too-long");

    // A gzip bomb: 64 KiB that inflate to 64 MiB of zeros.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mib = vec![b'0'; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&mib).expect("gzip");
    }
    let bomb = gz.finish().expect("gzip");
    let p = problem(post("/api/v1/submissions", bomb).await.expect("post"), 413).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or("")
            .contains("collect.max_gzip_ratio = 100"),
        "{p}"
    );

    // A line over the limit, named by its number.
    let long = format!(
        "{}\n{{\"resourceType\":\"Basic\",\"id\":\"b\",\"x\":\"{}\"}}\n",
        patient("a"),
        "x".repeat(1 << 20)
    );
    let p = problem(
        post("/api/v1/submissions", long.into_bytes())
            .await
            .expect("post"),
        413,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or("")
            .starts_with("line 2 is over the limit collect.max_line_bytes = 65536 bytes"),
        "{p}"
    );
    nothing_in_the_lake(&app).await;
    assert_eq!(states(&app).await, ["failed", "failed", "failed"]);

    // A name over the attribute limit: refused where it is, and as nothing
    // was taken, /fhir answers 400 with the OperationOutcome.
    let mut named: serde_json::Value = serde_json::from_str(&patient("n")).expect("json");
    named["name"][0]["text"] = "山".repeat(300).into();
    let o = operation_outcome(
        post("/fhir", named.to_string().into_bytes())
            .await
            .expect("post"),
        400,
    )
    .await;
    assert_eq!(o["issue"][0]["expression"][0], "Patient.name", "{o}");
    assert!(!o.to_string().contains('山'), "the name is not echoed: {o}");
    nothing_in_the_lake(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_over_http_on_sqlite() {
    limits_hold_over_http(renkei_store::testing::TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_over_http_on_postgres() {
    limits_hold_over_http(renkei_store::testing::TestBackend::Postgres).await;
}

app_test!(
    async fn fhir_answers_400_with_an_operation_outcome_for_what_is_not_fhir_json(app) {
        let token = hospital(&app).await;
        let post = |body: Vec<u8>| app.http.post(app.url("/fhir")).bearer_auth(&token).body(body).send();
        for (body, says) in [
            (Vec::new(), "empty"),
            (b"<?xml version=\"1.0\"?>\n<Patient xmlns=\"http://hl7.org/fhir\"/>".to_vec(), "malformed JSON"),
            (b"hello".to_vec(), "malformed JSON"),
            (b"[1, 2]".to_vec(), "not a FHIR resource"),
            // "山田" in Shift_JIS, then in UTF-16 with its byte order mark.
            (b"{\"resourceType\":\"Patient\",\"id\":\"s\",\"name\":[{\"text\":\"\x8eR\x93c\"}]}".to_vec(), "iconv -f CP932 -t UTF-8"),
            (b"\xff\xfe{\0\"\0r\0".to_vec(), "iconv -f UTF-16LE -t UTF-8"),
        ] {
            let o = operation_outcome(post(body).await.expect("post"), 400).await;
            assert!(o["issue"][0]["diagnostics"].as_str().unwrap_or("").contains(says), "{says}: {o}");
        }
        nothing_in_the_lake(&app).await;
        // A UTF-8 byte order mark before the JSON is fine.
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(patient("b").as_bytes());
        let resp = post(bom).await.expect("post");
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
    }
);

app_test!(
    async fn a_client_that_hangs_up_mid_body_leaves_nothing_committed(app) {
        let token = hospital(&app).await;
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        let sending = {
            let request = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&token).body(reqwest::Body::wrap_stream(rx));
            tokio::spawn(request.send())
        };
        use futures::SinkExt;
        tx.send(Ok(format!("{}\n{}\n", patient("a"), patient("b")).into_bytes())).await.expect("send");
        // Wait (by the database, not the clock) until the platform is
        // reading the submission; then hang up without ending the body.
        while !states(&app).await.iter().any(|s| s == "receiving") {
            tokio::task::yield_now().await;
        }
        sending.abort();
        assert!(sending.await.expect_err("aborted").is_cancelled());
        // The provider's next submission waits for the rollback.
        let resp = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&token).body(format!("{}\n", patient("c"))).send().await.expect("submit");
        assert_eq!(resp.status(), 201);
        assert_eq!(states(&app).await, ["failed", "committed"]);
        let persons = app.state.stores().lake().expect("lake").current().await.expect("current").expect("a version").version().get();
        assert_eq!(persons, 1, "one lake version: the second submission's");
        drop(tx);
    }
);

/// Issue 15, finding 10: a 1.3 GB NDJSON was cut by the 60 s request
/// timeout after 85 MB. A submission now streams for as long as data
/// flows, here for longer than the request timeout, and is cut only when
/// it pauses.
async fn a_submission_streams_while_data_flows(backend: renkei_store::testing::TestBackend) {
    use futures::SinkExt;
    let app = crate::helpers::spawn_app_with(backend, |c| {
        c.server.request_timeout_secs = 1;
        c.server.body_idle_secs = 2;
        // Five small lines in two seconds: above this floor.
        c.server.body_min_bytes_per_window = 512;
    })
    .await;
    let token = hospital(&app).await;
    let send = |rx| {
        app.http
            .post(app.url("/api/v1/submissions"))
            .bearer_auth(&token)
            .body(reqwest::Body::wrap_stream(rx))
            .send()
    };

    // Five lines, one every 400 ms: two seconds of flow, twice the
    // request timeout, with no pause as long as the idle limit.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let sending = tokio::spawn(send(rx));
    for i in 0..5 {
        tx.send(Ok(
            format!("{}\n", patient(&format!("flow{i}"))).into_bytes()
        ))
        .await
        .expect("send");
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    drop(tx);
    let resp = sending.await.expect("task").expect("answered");
    assert_eq!(resp.status(), 201, "a flowing submission was cut");
    let receipt: serde_json::Value = resp.json().await.expect("receipt");
    assert_eq!(receipt["counts"]["Patient"]["accepted"], 5, "{receipt}");

    // A sender that stops sending mid-body is cut after the idle time,
    // told why, and nothing of it is kept.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let sending = tokio::spawn(send(rx));
    tx.send(Ok(format!("{}\n", patient("stalled")).into_bytes()))
        .await
        .expect("send");
    let resp = sending.await.expect("task").expect("answered");
    let p = problem(resp, 408).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or("")
            .contains("server.body_idle_secs"),
        "{p}"
    );
    app.state.intake().settled().await;
    assert_eq!(states(&app).await, ["committed", "failed"]);
    drop(tx);

    // A sender that trickles — a few bytes now and then, never pausing as
    // long as the idle time — is cut at the end of a window that brought
    // less than the floor.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let sending = tokio::spawn(send(rx));
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            if tx.send(Ok(b" ".to_vec())).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    });
    let p = problem(sending.await.expect("task").expect("answered"), 408).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or("")
            .contains("server.body_min_bytes_per_window = 512"),
        "{p}"
    );
    trickle.abort();
    app.state.intake().settled().await;
    assert_eq!(states(&app).await, ["committed", "failed", "failed"]);

    // Other routes keep the request timeout: a body that trickles into
    // an ordinary route (slowloris) is answered 408 at one second.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let op = app.creds(renkei_core::Role::Operator).token.clone();
    let slow = tokio::spawn(
        app.http
            .post(app.url("/api/v1/users"))
            .bearer_auth(&op)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(rx))
            .send(),
    );
    tx.send(Ok(b"{\"username\": ".to_vec()))
        .await
        .expect("send");
    let p = problem(slow.await.expect("task").expect("answered"), 408).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or("")
            .contains("server.request_timeout_secs"),
        "{p}"
    );
    drop(tx);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_streams_while_data_flows_on_sqlite() {
    a_submission_streams_while_data_flows(renkei_store::testing::TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_streams_while_data_flows_on_postgres() {
    a_submission_streams_while_data_flows(renkei_store::testing::TestBackend::Postgres).await;
}
