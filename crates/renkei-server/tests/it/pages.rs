//! The pages over HTTP: sign-in with CSRF, throttling, the language switch.
//! (Browser-driven tests arrive with the portals' forms.)

use renkei_core::Role;
use renkei_store::testing::TestBackend;

use crate::helpers::{PASSWORD, get_text, problem, spawn_app, spawn_app_with};

pub(crate) fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("form has a CSRF field")
        .to_owned()
}

pub(crate) fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_hardened_session_cookie_and_shows_the_account() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let http = cookie_client();
    let page = get_text(&http, &app.url("/login")).await;
    assert!(page.contains("<html lang=\"ja\""), "Japanese first");
    assert!(page.contains("ログイン"));
    let csrf = csrf_of(&page);
    let user = app.creds(Role::Patient).username.clone();
    let resp = http
        .post(app.url("/login"))
        .form(&[
            ("username", user.as_str()),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/account"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/account");
    let set_cookie: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("renkei_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(
        !session.contains("Secure"),
        "no TLS configured here, so no Secure flag"
    );
    let account = get_text(&http, &app.url("/account")).await;
    assert!(account.contains(&user));
    assert!(account.contains("患者"), "role shown in Japanese");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_the_right_csrf_token_is_refused() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let http = cookie_client();
    http.get(app.url("/login")).send().await.expect("send");
    let user = app.creds(Role::Patient).username.clone();
    let resp = http
        .post(app.url("/login"))
        .form(&[
            ("username", user.as_str()),
            ("password", PASSWORD),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .expect("send");
    let body = problem(resp, 403).await;
    assert_eq!(body["type"], "/problems/csrf");
    // A signed-in form (new token) with a wrong token is refused as well.
    let c = app.creds(Role::Applicant).clone();
    let resp = app
        .http
        .post(app.url("/account/tokens"))
        .header("cookie", format!("renkei_session={}", c.session))
        .form(&[("csrf", "forged"), ("name", "x")])
        .send()
        .await
        .expect("send");
    problem(resp, 403).await;
    app.stop().await;
}

/// Fetches the sign-in form (for its CSRF token) and submits it.
async fn sign_in(
    http: &reqwest::Client,
    app: &crate::helpers::TestApp,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let page = get_text(http, &app.url("/login")).await;
    let form = [
        ("username", user),
        ("password", password),
        ("csrf", &csrf_of(&page)),
    ];
    http.post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .expect("send")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_passwords_are_throttled() {
    let app = spawn_app_with(TestBackend::Sqlite, |c| c.accounts.login_max_failures = 3).await;
    let http = cookie_client();
    let user = app.creds(Role::Reviewer).username.clone();
    for attempt in 0..3 {
        let resp = sign_in(&http, &app, &user, "wrong password!").await;
        assert_eq!(resp.status(), 401, "attempt {attempt}");
    }
    let resp = sign_in(&http, &app, &user, PASSWORD).await;
    assert!(resp.headers().contains_key("retry-after"));
    let body = problem(resp, 429).await;
    assert_eq!(body["type"], "/problems/throttled");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_switch_is_remembered() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let http = cookie_client();
    let en = get_text(&http, &app.url("/?lang=en")).await;
    assert!(en.contains("<html lang=\"en\"") && en.contains("Sign in"));
    let again = get_text(&http, &app.url("/")).await;
    assert!(again.contains("<html lang=\"en\""), "choice not remembered");
    let ja = get_text(&http, &app.url("/?lang=ja")).await;
    assert!(ja.contains("情報連携基盤"));
    app.stop().await;
}
