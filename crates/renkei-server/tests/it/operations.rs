//! Health, readiness, metrics, OpenAPI, and the shape of every error.

use renkei_core::Role;
use renkei_store::testing::TestBackend;

use crate::app_test;
use crate::helpers::{get_text, problem, spawn_app_with};

app_test!(
    async fn health_and_readiness_answer_ok(app) {
        for path in ["/healthz", "/readyz"] {
            let resp = app.http.get(app.url(path)).send().await.expect("send");
            assert_eq!(resp.status(), 200, "{path}");
            assert!(resp.headers().contains_key("x-request-id"), "{path} has no request id");
            let body: serde_json::Value = resp.json().await.expect("json");
            assert_eq!(body["status"], "ok");
        }
        app.stop().await;
    }
);

app_test!(
    async fn metrics_count_requests_by_route_pattern(app) {
        let c = app.creds(Role::Applicant).clone();
        for _ in 0..3 {
            app.http.delete(app.url("/api/v1/tokens/no-such-token")).bearer_auth(&c.token).send().await.expect("send");
        }
        let op = app.creds(Role::Operator).clone();
        let text = app.http.get(app.url("/metrics")).bearer_auth(&op.token).send().await.expect("send").text().await.expect("text");
        let line = text
            .lines()
            .find(|l| l.starts_with("renkei_http_requests_total{") && l.contains("route=\"/api/v1/tokens/{id}\"") && l.contains("status=\"404\""))
            .unwrap_or_else(|| panic!("no counter for the token route in:\n{text}"));
        assert!(line.ends_with(" 3"), "{line}");
        assert!(text.contains("renkei_http_request_duration_seconds_bucket{"), "no latency histogram");
        assert!(!text.contains("no-such-token"), "raw paths leaked into labels");
        app.stop().await;
    }
);

app_test!(
    async fn unknown_routes_and_methods_are_problems(app) {
        let resp = app.http.get(app.url("/no/such/route")).send().await.expect("send");
        problem(resp, 404).await;
        let resp = app.http.put(app.url("/healthz")).send().await.expect("send");
        problem(resp, 405).await;
        app.stop().await;
    }
);

app_test!(
    async fn malformed_json_says_where(app) {
        let op = app.creds(Role::Operator).clone();
        let resp = app
            .http
            .post(app.url("/api/v1/users"))
            .bearer_auth(&op.token)
            .header("content-type", "application/json")
            .body("{\"username\": \"x\",\n \"role\": }")
            .send()
            .await
            .expect("send");
        let body = problem(resp, 400).await;
        let detail = body["detail"].as_str().expect("detail");
        assert!(detail.starts_with("the body is not valid JSON"), "{detail}");
        assert!(detail.contains("line 2"), "does not say where: {detail}");

        let resp = app
            .http
            .post(app.url("/api/v1/users"))
            .bearer_auth(&op.token)
            .json(&serde_json::json!({"username": "abc", "display_name": "A", "role": "admin"}))
            .send()
            .await
            .expect("send");
        let body = problem(resp, 400).await;
        assert_eq!(
            body["detail"],
            "unknown role \"admin\"; expected one of: provider, patient, applicant, reviewer, operator, auditor"
        );
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_problems() {
    let app = spawn_app_with(TestBackend::Sqlite, |c| c.server.max_body_bytes = 1024).await;
    let op = app.creds(Role::Operator).clone();
    let big = serde_json::json!({"name": "x".repeat(4096)});
    let resp = app
        .http
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&op.token)
        .json(&big)
        .send()
        .await
        .expect("send");
    let body = problem(resp, 413).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("max_body_bytes"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_and_docs_page_are_served() {
    let app = crate::helpers::spawn_app(TestBackend::Sqlite).await;
    let doc: serde_json::Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    assert!(doc["paths"]["/api/v1/audit/proof/inclusion"]["get"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let html = get_text(&app.http, &app.url("/api/docs")).await;
    assert!(
        html.contains("GET /api/v1/audit/head"),
        "docs page lacks an endpoint"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_and_stops_accepting() {
    let app = crate::helpers::spawn_app(TestBackend::Sqlite).await;
    let addr = app.addr;
    let url = app.url("/healthz");
    app.stop().await;
    let err = reqwest::get(&url)
        .await
        .expect_err("nothing listens after shutdown");
    assert!(err.is_connect(), "{err} (on {addr})");
}
