//! Hardening against a red team's moves that were not guesses: sign-in
//! redirects off-site or into a header, pages without security headers,
//! text of an attacker's choosing on a page, request ids made to mislead
//! the logs.

use renkei_core::Role;
use renkei_store::testing::TestBackend;
use serde_json::{Value, json};

use crate::app_test;
use crate::helpers::{PASSWORD, TestApp, get_text, spawn_app_with};
use crate::optout::known_person;

/// Signs in with the right password and `next` (as the form sends it:
/// URL-encoded by the client, decoded by the server); the status and
/// where it sends the browser.
async fn sign_in_to(app: &TestApp, next: &str) -> (u16, String) {
    let user = app.creds(Role::Reviewer).username.clone();
    let resp = app
        .http
        .post(app.url("/login"))
        .header("cookie", "renkei_login_csrf=t")
        .form(&[
            ("username", user.as_str()),
            ("password", PASSWORD),
            ("csrf", "t"),
            ("next", next),
        ])
        .send()
        .await
        .expect("send");
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (resp.status().as_u16(), location)
}

app_test!(
    async fn sign_in_sends_the_browser_only_to_a_path_on_this_site(app) {
        for hostile in [
            "/\t/evil.example", // `next=/%09/evil.example`: browsers drop the TAB
            "/\n/evil.example",
            "/\r\nSet-Cookie: renkei_session=attacker", // used to panic (500)
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/ok\u{3000}/evil",
            "",
        ] {
            let (status, location) = sign_in_to(&app, hostile).await;
            assert_eq!((status, location.as_str()), (303, "/"), "next={hostile:?}");
        }
        let (status, location) = sign_in_to(&app, "/applications/42?tab=votes").await;
        assert_eq!((status, location.as_str()), (303, "/applications/42?tab=votes"));
        // The form page does not carry a hostile `next` along either.
        let page = get_text(&app.http, &app.url("/login?next=%0D%0A%2F%2Fevil.example")).await;
        assert!(page.contains("name=\"next\" value=\"/\""), "{page}");
        app.stop().await;
    }
);

/// Asserts the security headers on one response.
fn assert_hardened(resp: &reqwest::Response, what: &str) {
    let h = resp.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_owned()
    };
    let csp = get("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app_with(TestBackend::Sqlite, |_| {}).await;
    let session = format!("renkei_session={}", app.creds(Role::Operator).session);
    let requests = [
        ("page", app.http.get(app.url("/"))),
        ("sign-in page", app.http.get(app.url("/login"))),
        (
            "signed-in page",
            app.http.get(app.url("/account")).header("cookie", session),
        ),
        ("stylesheet", app.http.get(app.url("/assets/style.css"))),
        ("API", app.http.get(app.url("/api/v1/register/optouts"))),
        ("401", app.http.get(app.url("/api/v1/me"))),
        (
            "403 (CSRF)",
            app.http.post(app.url("/login")).form(&[
                ("username", "x"),
                ("password", "y"),
                ("csrf", "z"),
            ]),
        ),
        ("404", app.http.get(app.url("/no/such/route"))),
        ("405", app.http.delete(app.url("/login"))),
        ("redirect", app.http.get(app.url("/account"))),
    ];
    for (what, request) in requests {
        let resp = request.send().await.expect("send");
        assert_hardened(&resp, what);
        assert!(
            resp.headers().get("strict-transport-security").is_none(),
            "{what}: no HSTS over plain http"
        );
    }
    app.stop().await;

    let tls = spawn_app_with(TestBackend::Sqlite, |c| {
        c.server.public_url = Some("https://renkei.example.jp".to_owned());
    })
    .await;
    let resp = tls.http.get(tls.url("/")).send().await.expect("send");
    assert_hardened(&resp, "page behind TLS");
    let hsts = resp.headers()["strict-transport-security"]
        .to_str()
        .expect("ascii");
    assert!(hsts.starts_with("max-age="), "{hsts}");
    tls.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_is_kept_only_if_short_and_plain() {
    let app = spawn_app_with(TestBackend::Sqlite, |_| {}).await;
    let echoed = |id: &str| {
        let request = app.http.get(app.url("/healthz")).header("x-request-id", id);
        async move {
            let resp = request.send().await.expect("send");
            resp.headers()["x-request-id"]
                .to_str()
                .expect("ascii")
                .to_owned()
        }
    };
    assert_eq!(echoed("lb-7f3a:0001").await, "lb-7f3a:0001");
    for hostile in [
        "a".repeat(10_000),
        "x\" level=ERROR msg=\"forged".to_owned(),
    ] {
        let id = echoed(&hostile).await;
        assert_ne!(id, hostile);
        assert_eq!(id.len(), 36, "a fresh UUID instead: {id}");
    }
    app.stop().await;
}

app_test!(
    async fn the_patient_status_page_shows_no_text_from_the_url(app) {
        known_person(&app, "12345678", "タカハシ ハナコ").await;
        let body: Value = json!({
            "kana_name": "タカハシ ハナコ", "birth_date": "1980-04-01", "sex": "female",
            "insurer_number": "06139999", "insured_symbol": "記号A",
            "insured_number": "12345678", "insured_branch": "01"
        });
        let created: Value = app.http.post(app.url("/api/v1/patient/session")).json(&body).send().await.expect("send").json().await.expect("json");
        let cookie = format!("renkei_patient={}", created["token"].as_str().expect("token"));
        let page = |query: &str| {
            let request = app.http.get(app.url(&format!("/patient/optouts?{query}"))).header("cookie", cookie.clone());
            async move { request.send().await.expect("send").text().await.expect("text") }
        };
        let phished = page("error=%E8%A7%A3%E9%99%A4%E3%81%AB%E3%81%AF%200120-000-000%20%E3%81%B8").await;
        assert!(!phished.contains("0120-000-000"), "text from the URL is not shown");
        assert!(!phished.contains("role=\"alert\""), "nor any alert for an unknown code");
        let known = page("error=past-date").await;
        assert!(known.contains("過去の日付は指定できません。"), "a known code shows its fixed message");
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_not_on_loopback_marks_its_session_cookie_secure() {
    // Listening on every interface without a public_url, the platform is
    // most likely behind a TLS proxy: its session cookie must never travel
    // in the clear. (Here the listener is still loopback; only the
    // configured address decides.)
    let app = spawn_app_with(TestBackend::Sqlite, |c| {
        c.server.listen = "0.0.0.0:0".parse().expect("address");
    })
    .await;
    let user = app.creds(Role::Reviewer).username.clone();
    let resp = app
        .http
        .post(app.url("/login"))
        .header("cookie", "renkei_login_csrf=t")
        .form(&[
            ("username", user.as_str()),
            ("password", PASSWORD),
            ("csrf", "t"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 303);
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("renkei_session="))
        .expect("session cookie")
        .to_owned();
    assert!(session.contains("; Secure"), "{session}");
    app.stop().await;
}
