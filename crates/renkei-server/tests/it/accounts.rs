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

renkei_store::test_on_both_backends!(
    async fn a_page_session_left_idle_ends_before_it_expires(stores) {
        // A browser left signed in (a shared ward PC) stops being signed in
        // after the idle timeout, though the session had hours to run.
        use renkei_core::{FixedClock, Timestamp};
        use renkei_server::accounts::{Accounts, NewUser};
        let clock = std::sync::Arc::new(FixedClock::new(Timestamp::from_unix_micros(1_700_000_000_000_000)));
        let accounts = Accounts::open(&stores.stores, clock.clone()).await.expect("open").with_session_idle_minutes(30);
        let user = accounts
            .create_user(NewUser { username: "ward-pc".to_owned(), display_name: "病棟".to_owned(), role: Role::Operator, org_id: None, password: None })
            .await
            .expect("user");
        let (token, _) = accounts.create_session(&user, 8).await.expect("session");
        let minute = 60_000_000;
        for _ in 0..4 {
            clock.advance_micros(20 * minute);
            assert!(accounts.session(&token).await.expect("lookup").is_some(), "used every 20 minutes, it lives on");
        }
        clock.advance_micros(31 * minute);
        assert!(accounts.session(&token).await.expect("lookup").is_none(), "31 minutes idle ends it");
    }
);

renkei_store::test_on_both_backends!(
    async fn an_api_token_stops_working_when_it_expires(stores) {
        // A token left in a script or a CI log does not work for ever.
        use renkei_core::{FixedClock, Timestamp};
        use renkei_server::accounts::{Accounts, NewUser};
        let clock = std::sync::Arc::new(FixedClock::new(Timestamp::from_unix_micros(1_700_000_000_000_000)));
        let accounts = Accounts::open(&stores.stores, clock.clone()).await.expect("open").with_token_days(30);
        let user = accounts
            .create_user(NewUser { username: "nightly".to_owned(), display_name: "夜間".to_owned(), role: Role::Operator, org_id: None, password: None })
            .await
            .expect("user");
        let (info, token) = accounts.create_token_for(&user, "export", 7).await.expect("token");
        assert!(info.expires_at.is_some());
        let too_long = accounts.create_token_for(&user, "forever", 31).await.expect_err("beyond token_days");
        assert!(too_long.to_string().contains("accounts.token_days"), "{too_long}");
        let day = 86_400_000_000;
        clock.advance_micros(7 * day - 1);
        assert!(accounts.user_by_token(&token).await.expect("lookup").is_some(), "valid until the end of its 7 days");
        clock.advance_micros(1);
        assert!(accounts.user_by_token(&token).await.expect("lookup").is_none(), "expired");
    }
);

app_test!(
    async fn a_disabled_account_loses_its_tokens_sessions_and_sign_in_at_once(app) {
        // A researcher who left, or an account seen guessing: the operator
        // disables it, and everything it held stops working.
        let op = app.creds(Role::Operator).clone();
        let gone = app.creds(Role::Applicant).clone();
        let me: serde_json::Value = app.http.get(app.url("/api/v1/me")).bearer_auth(&gone.token).send().await.expect("send").json().await.expect("json");
        let id = me["id"].as_str().expect("id").to_owned();
        let by_other = app.http.post(app.url(&format!("/api/v1/users/{id}/disable"))).bearer_auth(&app.creds(Role::Reviewer).token).send().await.expect("send");
        problem(by_other, 403).await;
        let resp = app.http.post(app.url(&format!("/api/v1/users/{id}/disable"))).bearer_auth(&op.token).send().await.expect("send");
        assert_eq!(resp.status(), 204);
        let token = app.http.get(app.url("/api/v1/me")).bearer_auth(&gone.token).send().await.expect("send");
        problem(token, 401).await;
        let page = app.http.get(app.url("/account")).header("cookie", format!("renkei_session={}", gone.session)).send().await.expect("send");
        assert_eq!(page.status(), 303, "the session no longer signs in");
        let sign_in = app.http.post(app.url("/login")).header("cookie", "renkei_login_csrf=t")
            .form(&[("username", gone.username.as_str()), ("password", crate::helpers::PASSWORD), ("csrf", "t")]).send().await.expect("send");
        assert_eq!(sign_in.status(), 401);
        let again = app.http.post(app.url(&format!("/api/v1/users/{id}/disable"))).bearer_auth(&op.token).send().await.expect("send");
        problem(again, 404).await;
        let op_me: serde_json::Value = app.http.get(app.url("/api/v1/me")).bearer_auth(&op.token).send().await.expect("send").json().await.expect("json");
        let own = app.http.post(app.url(&format!("/api/v1/users/{}/disable", op_me["id"].as_str().expect("id")))).bearer_auth(&op.token).send().await.expect("send");
        problem(own, 409).await;
        app.stop().await;
    }
);
