//! Accounts and tokens through the API.

use renkei_core::Role;

use crate::app_test;
use crate::helpers::problem;

app_test!(
    async fn operator_creates_accounts_and_names_are_unique(app) {
        let op = app.creds(Role::Operator).clone();
        let body = serde_json::json!({
            "username": "kyoto.lab", "display_name": "京都 研究", "role": "applicant",
            "organization": "京都医学研究所", "country": "JP", "password": "a long enough password",
        });
        let resp = app.http.post(app.url("/api/v1/users")).bearer_auth(&op.token).json(&body).send().await.expect("send");
        assert_eq!(resp.status(), 201);
        let user: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(user["role"], "applicant");
        assert!(user["org_id"].is_string());
        let resp = app.http.post(app.url("/api/v1/users")).bearer_auth(&op.token).json(&body).send().await.expect("send");
        let p = problem(resp, 409).await;
        assert_eq!(p["detail"], "user name \"kyoto.lab\" is taken");
        let users: serde_json::Value = app.http.get(app.url("/api/v1/users")).bearer_auth(&op.token).send().await.expect("send").json().await.expect("json");
        assert_eq!(users.as_array().expect("array").len(), Role::ALL.len() + 1);
        app.stop().await;
    }
);

app_test!(
    async fn a_token_is_shown_once_and_only_its_hash_is_stored(app) {
        let c = app.creds(Role::Provider).clone();
        let resp = app
            .http
            .post(app.url("/api/v1/tokens"))
            .bearer_auth(&c.token)
            .json(&serde_json::json!({"name": "nightly export"}))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 201);
        let created: serde_json::Value = resp.json().await.expect("json");
        let secret = created["token"].as_str().expect("token").to_owned();
        assert!(secret.starts_with("rk_"));
        let me: serde_json::Value = app.http.get(app.url("/api/v1/me")).bearer_auth(&secret).send().await.expect("send").json().await.expect("json");
        assert_eq!(me["username"], c.username);
        let listed = app.http.get(app.url("/api/v1/tokens")).bearer_auth(&secret).send().await.expect("send").text().await.expect("text");
        assert!(listed.contains("nightly export"));
        assert!(!listed.contains(&secret), "the listing shows a secret");
        // Nothing in the accounts database holds the secret itself.
        let db = app.state.accounts().db().clone();
        let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(db.pool()).await.expect("select");
        assert!(stored.iter().all(|h| h.len() == 32 && !h.windows(secret.len().min(16)).any(|w| w == &secret.as_bytes()[..16])));
        app.stop().await;
    }
);

app_test!(
    async fn a_token_records_when_it_was_last_used(app) {
        let token = app.creds(renkei_core::Role::Auditor).token.clone();
        let tokens: serde_json::Value = app.http.get(app.url("/api/v1/tokens")).bearer_auth(&token).send().await.expect("send").json().await.expect("json");
        let used = tokens[0]["last_used_at"].as_str().expect("set by this very request").to_owned();
        // Within the minute it is not rewritten on every request.
        let again: serde_json::Value = app.http.get(app.url("/api/v1/tokens")).bearer_auth(&token).send().await.expect("send").json().await.expect("json");
        assert_eq!(again[0]["last_used_at"], used.as_str());
        app.stop().await;
    }
);
