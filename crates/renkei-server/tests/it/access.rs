//! The authorization matrix: every route of the table, every role and the
//! anonymous caller, against the route's rule.

use renkei_core::Role;
use renkei_server::policy::{Decision, Surface};
use renkei_server::routes;

use crate::app_test;

/// What the caller saw, as far as authorization goes.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Allowed,
    Refused,
    SignInFirst,
}

impl Seen {
    async fn of(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if status == 303 && (location.starts_with("/login?next=") || location == "/patient") {
            return Seen::SignInFirst;
        }
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        match (status, body["type"].as_str()) {
            (401, Some("/problems/unauthenticated")) => Seen::SignInFirst,
            (403, Some("/problems/not-permitted")) => Seen::Refused,
            _ => Seen::Allowed,
        }
    }
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-7000-8000-000000000000")
        .replace("{code}", "1311234567")
        .replace("{key}", "00000000-0000-7000-8000-000000000001")
        .replace("{receipt}", "OPT-0000-0000-00000")
}

app_test!(
    async fn every_route_answers_every_role_as_its_rule_says(app) {
        let table = routes::table();
        assert!(table.len() > 10, "the route table looks truncated");
        let mut checked = 0;
        for route in &table {
            let callers = std::iter::once(None).chain(Role::ALL.into_iter().map(Some));
            for role in callers {
                let url = app.url(&concrete(route.path));
                let mut req = app.http.request(route.method.clone(), &url);
                if let Some(r) = role {
                    let c = app.creds(r);
                    req = match route.rule.surface {
                        Surface::Api => req.bearer_auth(&c.token),
                        Surface::Page => req.header("cookie", format!("renkei_session={}", c.session)),
                    };
                }
                let resp = req.send().await.expect("request");
                let seen = Seen::of(resp).await;
                let who = role.map_or("anonymous", Role::as_str);
                let expected = match route.rule.access.decide(role) {
                    Decision::Allow => Seen::Allowed,
                    Decision::Refuse => Seen::Refused,
                    Decision::SignInFirst => Seen::SignInFirst,
                };
                assert_eq!(seen, expected, "{} {} as {who}", route.method, route.path);
                checked += 1;
            }
        }
        assert_eq!(checked, table.len() * (Role::ALL.len() + 1));
        app.stop().await;
    }
);

#[test]
fn every_api_route_is_in_the_openapi_document() {
    let described = renkei_server::api::openapi::described_routes();
    for route in routes::table() {
        if route.rule.surface != Surface::Api {
            continue;
        }
        if route.path == "/api/openapi.json" {
            continue;
        }
        let found = described
            .iter()
            .any(|(m, p)| p == route.path && *m == route.method.as_str());
        assert!(
            found,
            "{} {} is served but not in the OpenAPI document",
            route.method, route.path
        );
    }
    for (m, p) in &described {
        let served = routes::table()
            .iter()
            .any(|r| r.path == p && *m == r.method.as_str());
        assert!(served, "{m} {p} is documented but not served");
    }
}

app_test!(
    async fn bad_or_revoked_tokens_are_unauthenticated(app) {
        let resp = app.http.get(app.url("/api/v1/me")).bearer_auth("rk_not-a-token").send().await.expect("send");
        let body = crate::helpers::problem(resp, 401).await;
        assert_eq!(body["detail"], "sign-in required");
        let c = app.creds(Role::Applicant).clone();
        let tokens: serde_json::Value = app.http.get(app.url("/api/v1/tokens")).bearer_auth(&c.token).send().await.expect("send").json().await.expect("json");
        let id = tokens[0]["id"].as_str().expect("token id").to_owned();
        let resp = app.http.delete(app.url(&format!("/api/v1/tokens/{id}"))).bearer_auth(&c.token).send().await.expect("send");
        assert_eq!(resp.status(), 204);
        let resp = app.http.get(app.url("/api/v1/me")).bearer_auth(&c.token).send().await.expect("send");
        crate::helpers::problem(resp, 401).await;
        app.stop().await;
    }
);

app_test!(
    async fn a_page_cookie_does_not_authenticate_the_api(app) {
        let c = app.creds(Role::Operator);
        let resp = app
            .http
            .get(app.url("/api/v1/users"))
            .header("cookie", format!("renkei_session={}", c.session))
            .send()
            .await
            .expect("send");
        crate::helpers::problem(resp, 401).await;
        app.stop().await;
    }
);
