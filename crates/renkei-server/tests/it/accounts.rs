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
        let accounts = Accounts::open(&stores.stores, clock.clone(), std::sync::Arc::new(renkei_audit::AuditLog::open(&stores.stores, clock.clone()).await.expect("audit"))).await.expect("open").with_session_idle_minutes(30);
        let user = accounts
            .create_user(&crate::helpers::setup(), NewUser { username: "ward-pc".to_owned(), display_name: "病棟".to_owned(), role: Role::Operator, org_id: None, password: None })
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
        let accounts = Accounts::open(&stores.stores, clock.clone(), std::sync::Arc::new(renkei_audit::AuditLog::open(&stores.stores, clock.clone()).await.expect("audit"))).await.expect("open").with_token_days(30);
        let user = accounts
            .create_user(&crate::helpers::setup(), NewUser { username: "nightly".to_owned(), display_name: "夜間".to_owned(), role: Role::Operator, org_id: None, password: None })
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

/// An audit sink that records in memory until told to refuse, as a full or
/// failed log would.
#[derive(Default)]
struct Switched {
    refuse: std::sync::atomic::AtomicBool,
    actions: std::sync::Mutex<Vec<String>>,
}

impl renkei_core::AuditSink for Switched {
    fn append(
        &self,
        event: renkei_core::AuditEvent,
    ) -> futures::future::BoxFuture<'_, Result<renkei_core::AuditReceipt, renkei_core::Error>> {
        Box::pin(async move {
            if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(renkei_core::Error::Audit("the test log refuses".to_owned()));
            }
            let mut actions = self.actions.lock().expect("lock");
            actions.push(format!("{} {}", event.action, event.object));
            Ok(renkei_core::AuditReceipt {
                index: actions.len() as u64 - 1,
            })
        })
    }
}

renkei_store::test_on_both_backends!(
    async fn an_account_change_the_log_refuses_does_not_happen(stores) {
        // The attack (issue 15, finding 8): with the audit store
        // unavailable an operator account was created; the answer was 503,
        // yet the account existed and could sign in. Every change that
        // grants or removes access is now rolled back when its entry is
        // refused.
        use renkei_server::Error;
        use renkei_server::accounts::{Accounts, NewUser, Password};
        let log = std::sync::Arc::new(Switched::default());
        let accounts = Accounts::open(&stores.stores, std::sync::Arc::new(renkei_core::SystemClock), log.clone()).await.expect("open");
        let by = crate::helpers::setup();
        let refuse = |on: bool| log.refuse.store(on, std::sync::atomic::Ordering::SeqCst);
        let new = |name: &str| NewUser { username: name.to_owned(), display_name: "運営".to_owned(), role: Role::Operator, org_id: None, password: Some(Password::new(crate::helpers::PASSWORD.to_owned()).expect("password")) };

        refuse(true);
        let err = accounts.create_user(&by, new("shadow.op")).await.expect_err("refused");
        assert!(matches!(err, Error::AuditUnavailable(_)), "{err}");
        assert!(accounts.user_by_name("shadow.op").await.expect("lookup").is_none(), "the account exists unrecorded");
        assert!(matches!(accounts.check_password("shadow.op", Password::typed(crate::helpers::PASSWORD.to_owned())).await, Err(Error::BadCredentials)));
        assert!(accounts.ensure_org(&by, "影の法人", "JP").await.is_err());
        let orgs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations").fetch_one(accounts.db().pool()).await.expect("count");
        assert_eq!(orgs, 0, "an organization exists unrecorded");

        refuse(false);
        let user = accounts.create_user(&by, new("real.op")).await.expect("created");
        let other = accounts.create_user(&by, new("other.op")).await.expect("created");
        let (info, token) = accounts.create_token(&user, "kept").await.expect("token");

        refuse(true);
        assert!(accounts.create_token(&user, "shadow").await.is_err());
        assert_eq!(accounts.list_tokens(&user).await.expect("tokens").len(), 1, "a token exists unrecorded");
        assert!(accounts.revoke_token(&user, &info.id).await.is_err());
        assert!(accounts.user_by_token(&token).await.expect("lookup").is_some(), "a revocation took effect unrecorded");
        assert!(accounts.disable_user(&other, &user.id).await.is_err());
        assert!(accounts.user_by_name("real.op").await.expect("lookup").is_some(), "a disabling took effect unrecorded");
        let reset = accounts.set_password(&by, &user.id, Password::new("a different password".to_owned()).expect("password"), None).await;
        assert!(matches!(reset, Err(Error::AuditUnavailable(_))), "{reset:?}");
        assert!(accounts.check_password("real.op", Password::typed(crate::helpers::PASSWORD.to_owned())).await.is_ok(), "a password changed unrecorded");

        // What was recorded names each change, and nothing refused.
        let actions = log.actions.lock().expect("lock").clone();
        let kinds: Vec<&str> = actions.iter().map(|a| a.split(' ').next().unwrap_or("")).collect();
        assert_eq!(kinds, ["account.create", "account.create", "token.create"], "{actions:?}");
        assert!(actions[0].contains(&format!("user={} role=operator", user.id)), "{actions:?}");
    }
);

app_test!(
    async fn with_the_audit_log_down_an_operator_creates_no_account(app) {
        let op = app.creds(Role::Operator).clone();
        app.state.audit().close().await;
        let body = serde_json::json!({"username": "shadow.op", "display_name": "影", "role": "operator", "password": "a long enough password"});
        let resp = app.http.post(app.url("/api/v1/users")).bearer_auth(&op.token).json(&body).send().await.expect("send");
        problem(resp, 503).await;
        assert!(app.state.accounts().user_by_name("shadow.op").await.expect("lookup").is_none(), "the account exists unrecorded");
        let sign_in = app.http.post(app.url("/login")).header("cookie", "renkei_login_csrf=t")
            .form(&[("username", "shadow.op"), ("password", "a long enough password"), ("csrf", "t")]).send().await.expect("send");
        assert_ne!(sign_in.status(), 303, "the unrecorded account signs in");
        app.stop().await;
    }
);

app_test!(
    async fn an_account_changes_its_own_password_and_its_other_sessions_end(app) {
        let me = app.creds(Role::Applicant).clone();
        let change = |current: &str, new: &str| {
            app.http.post(app.url("/api/v1/me/password")).bearer_auth(&me.token)
                .json(&serde_json::json!({"current_password": current, "new_password": new})).send()
        };
        problem(change("not the password", "a brand new password").await.expect("send"), 403).await;
        problem(change(crate::helpers::PASSWORD, "short").await.expect("send"), 400).await;
        assert_eq!(change(crate::helpers::PASSWORD, "a brand new password").await.expect("send").status(), 204);
        // The old password no longer signs in; the new one does.
        let sign_in = |password: &'static str| {
            app.http.post(app.url("/login")).header("cookie", "renkei_login_csrf=t")
                .form(&[("username", me.username.as_str()), ("password", password), ("csrf", "t")]).send()
        };
        assert_eq!(sign_in(crate::helpers::PASSWORD).await.expect("send").status(), 401);
        assert_eq!(sign_in("a brand new password").await.expect("send").status(), 303);
        // Whoever held a session on the old password is signed out; the
        // token (a machine's) still works.
        let page = app.http.get(app.url("/account")).header("cookie", format!("renkei_session={}", me.session)).send().await.expect("send");
        assert_eq!(page.status(), 303, "a session on the old password lives on");
        assert_eq!(app.http.get(app.url("/api/v1/me")).bearer_auth(&me.token).send().await.expect("send").status(), 200);
        app.stop().await;
    }
);

app_test!(
    async fn a_stolen_session_cannot_guess_the_password_behind_it(app) {
        // Someone holding a session (or a token) tries current passwords
        // through the change form: throttled like sign-ins.
        let me = app.creds(Role::Reviewer).clone();
        let mut statuses = Vec::new();
        for i in 0..12 {
            let resp = app.http.post(app.url("/api/v1/me/password")).bearer_auth(&me.token)
                .json(&serde_json::json!({"current_password": format!("guess number {i}"), "new_password": "a brand new password"}))
                .send().await.expect("send");
            statuses.push(resp.status().as_u16());
        }
        assert!(statuses.contains(&429), "never throttled: {statuses:?}");
        // Even the right password is refused while locked out.
        let right = app.http.post(app.url("/api/v1/me/password")).bearer_auth(&me.token)
            .json(&serde_json::json!({"current_password": crate::helpers::PASSWORD, "new_password": "a brand new password"}))
            .send().await.expect("send");
        problem(right, 429).await;
        app.stop().await;
    }
);

app_test!(
    async fn an_operator_resets_a_password_and_the_accounts_sessions_end(app) {
        let op = app.creds(Role::Operator).clone();
        let them = app.creds(Role::Auditor).clone();
        let me: serde_json::Value = app.http.get(app.url("/api/v1/me")).bearer_auth(&them.token).send().await.expect("send").json().await.expect("json");
        let id = me["id"].as_str().expect("id").to_owned();
        let url = app.url(&format!("/api/v1/users/{id}/password"));
        let body = serde_json::json!({"password": "handed over in person"});
        let not_op = app.http.post(&url).bearer_auth(&app.creds(Role::Reviewer).token).json(&body).send().await.expect("send");
        problem(not_op, 403).await;
        assert_eq!(app.http.post(&url).bearer_auth(&op.token).json(&body).send().await.expect("send").status(), 204);
        let page = app.http.get(app.url("/account")).header("cookie", format!("renkei_session={}", them.session)).send().await.expect("send");
        assert_eq!(page.status(), 303, "the session lives on after a reset");
        let sign_in = app.http.post(app.url("/login")).header("cookie", "renkei_login_csrf=t")
            .form(&[("username", them.username.as_str()), ("password", "handed over in person"), ("csrf", "t")]).send().await.expect("send");
        assert_eq!(sign_in.status(), 303);
        // The change is in the log, naming the account and who reset it.
        let audit = app.state.audit();
        let entries = audit.entries(0, audit.size()).await.expect("entries");
        let reset = entries.iter().find(|e| e.event.action == "account.password").expect("an account.password entry");
        assert!(reset.event.object.starts_with(&format!("user={id} ")), "{:?}", reset.event);
        assert_eq!(reset.event.actor.role(), Some(Role::Operator));
        app.stop().await;
    }
);

app_test!(
    async fn the_account_page_changes_the_password_and_keeps_this_session(app) {
        let me = app.creds(Role::Reviewer).clone();
        let cookie = format!("renkei_session={}", me.session);
        let page = app.http.get(app.url("/account")).header("cookie", &cookie).send().await.expect("send").text().await.expect("text");
        assert!(page.contains("パスワードの変更"), "no form on the account page");
        let csrf = crate::pages::csrf_of(&page);
        let post = |current: &str, new: &str, confirm: &str| {
            app.http.post(app.url("/account/password")).header("cookie", &cookie)
                .form(&[("csrf", csrf.as_str()), ("current_password", current), ("new_password", new), ("confirm_password", confirm)]).send()
        };
        let differ = post(crate::helpers::PASSWORD, "a brand new password", "a brand new passw0rd").await.expect("send").text().await.expect("text");
        assert!(differ.contains("確認欄と一致しません"), "{differ}");
        let wrong = post("not my password", "a brand new password", "a brand new password").await.expect("send").text().await.expect("text");
        assert!(wrong.contains("現在のパスワードが違います"), "{wrong}");
        let done = post(crate::helpers::PASSWORD, "a brand new password", "a brand new password").await.expect("send");
        assert_eq!(done.status(), 200);
        assert!(done.text().await.expect("text").contains("パスワードを変更しました"));
        // This session stays signed in.
        let again = app.http.get(app.url("/account")).header("cookie", &cookie).send().await.expect("send");
        assert_eq!(again.status(), 200, "the session that changed the password was signed out");
        app.stop().await;
    }
);
