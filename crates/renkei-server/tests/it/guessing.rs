//! Guessing attacks on sign-in and on patient identification, as a red
//! team made them against the release binary: each one here is the
//! attack, and the assertion that it now fails safely.

use std::net::IpAddr;

use futures::future::join_all;
use renkei_core::Role;
use renkei_store::testing::TestBackend;
use serde_json::{Value, json};

use crate::app_test;
use crate::helpers::{PASSWORD, TestApp, problem, spawn_app_with};
use crate::optout::known_person;

/// A client that connects from `ip` (any of 127.0.0.0/8 reaches the
/// server on loopback), so a test can play several addresses.
fn client_from(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().expect("address");
    reqwest::Client::builder()
        .local_address(ip)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Posts the sign-in form as an attacker does: the double-submit CSRF
/// cookie and field are the attacker's own, and they match.
async fn sign_in(http: &reqwest::Client, app: &TestApp, user: &str, password: &str) -> u16 {
    http.post(app.url("/login"))
        .header("cookie", "renkei_login_csrf=attacker-token")
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", "attacker-token"),
        ])
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

app_test!(
    async fn forty_concurrent_wrong_passwords_are_not_all_evaluated(app) {
        let http = client_from("127.0.0.1");
        let user = app.creds(Role::Operator).username.clone();
        let tries = (0..40).map(|_| sign_in(&http, &app, &user, "wrong password!"));
        let statuses = join_all(tries).await;
        let limit = app.state.config().accounts.login_max_failures as usize;
        assert!(count(&statuses, 401) <= limit, "at most {limit} evaluated: {statuses:?}");
        assert_eq!(count(&statuses, 401) + count(&statuses, 429), 40, "{statuses:?}");
        // The attacker's address is locked out of the account, even with
        // the right password…
        assert_eq!(sign_in(&http, &app, &user, PASSWORD).await, 429);
        // …but the operator elsewhere is not: the attacker cannot lock
        // someone else's account.
        let operator = client_from("127.0.0.2");
        assert_eq!(sign_in(&operator, &app, &user, PASSWORD).await, 303);
        app.stop().await;
    }
);

app_test!(
    async fn guesses_from_many_addresses_slow_an_account_but_not_its_owner(app) {
        let user = app.creds(Role::Operator).username.clone();
        let owner = client_from("127.0.0.1");
        assert_eq!(sign_in(&owner, &app, &user, PASSWORD).await, 303);
        let per_address = app.state.config().accounts.login_max_failures;
        let account_limit = app.state.config().accounts.account_max_failures;
        let addresses = account_limit.div_ceil(per_address) + 1;
        for a in 0..addresses {
            let attacker = client_from(&format!("127.0.1.{}", a + 1));
            for _ in 0..per_address {
                sign_in(&attacker, &app, &user, "wrong password!").await;
            }
        }
        // A new address waits (a short lockout, not a shutdown)…
        let fresh = client_from("127.0.2.1");
        let resp = fresh
            .post(app.url("/login"))
            .header("cookie", "renkei_login_csrf=t")
            .form(&[("username", user.as_str()), ("password", PASSWORD), ("csrf", "t")])
            .send()
            .await
            .expect("send");
        let wait: u64 = resp.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!(wait <= 60, "the account-wide lockout starts at a minute: {wait}");
        problem(resp, 429).await;
        // …and the owner's usual address is spared altogether.
        assert_eq!(sign_in(&owner, &app, &user, PASSWORD).await, 303);
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_to_ones_own_account_does_not_reset_the_address_budget() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let app = spawn_app_with(backend, |c| {
            c.accounts.login_max_failures = 3;
            c.accounts.address_max_failures = 6;
        })
        .await;
        let http = client_from("127.0.0.1");
        let mine = app.creds(Role::Applicant).username.clone();
        // Spraying: a few guesses at each of several accounts…
        for (victim, tries) in [(Role::Operator, 3), (Role::Reviewer, 2)] {
            let user = app.creds(victim).username.clone();
            for _ in 0..tries {
                assert_eq!(sign_in(&http, &app, &user, "wrong password!").await, 401);
            }
        }
        // …then a sign-in to one's own account, which used to reset the
        // address's count…
        assert_eq!(sign_in(&http, &app, &mine, PASSWORD).await, 303);
        // …no longer does: the sixth failure from the address locks it.
        let next = app.creds(Role::Auditor).username.clone();
        assert_eq!(sign_in(&http, &app, &next, "wrong password!").await, 401);
        assert_eq!(sign_in(&http, &app, &next, "wrong password!").await, 429);
        assert_eq!(
            sign_in(&http, &app, &mine, PASSWORD).await,
            429,
            "the address is locked"
        );
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_runs_only_a_few_password_checks_at_once() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let app = spawn_app_with(backend, |c| {
            c.accounts.password_checks = 2;
            c.accounts.password_checks_waiting = 2;
        })
        .await;
        let http = client_from("127.0.0.1");
        // Distinct names, so no per-account counter stops them first:
        // only the gate stands between the flood and Argon2's memory.
        let names: Vec<String> = (0..30).map(|i| format!("nobody-{i}")).collect();
        let statuses = join_all(names.iter().map(|n| sign_in(&http, &app, n, "guess guess"))).await;
        assert_eq!(
            count(&statuses, 401) + count(&statuses, 503),
            30,
            "{statuses:?}"
        );
        let peak = app.state.accounts().password_checks().peak();
        assert!(
            (1..=2).contains(&peak),
            "at most 2 Argon2 computations at once, saw {peak}"
        );
        app.stop().await;
    }
}

/// The patient API's identification with `card` (number fields as typed)
/// and `kana`, from `http`.
async fn identify(
    http: &reqwest::Client,
    app: &TestApp,
    insurer: &str,
    number: &str,
    kana: &str,
) -> reqwest::Response {
    let body: Value = json!({
        "kana_name": kana, "birth_date": "1980-04-01", "sex": "female",
        "insurer_number": insurer, "insured_symbol": "記号A",
        "insured_number": number, "insured_branch": "01"
    });
    http.post(app.url("/api/v1/patient/session"))
        .json(&body)
        .send()
        .await
        .expect("send")
}

const RIGHT: &str = "タカハシ ハナコ";
const WRONG: &str = "タカハシ ハナ";
const OTHER: &str = "スズキ イチロウ";

app_test!(
    async fn spellings_of_one_card_share_one_guessing_budget(app) {
        known_person(&app, "12345678", RIGHT).await;
        let http = client_from("127.0.0.1");
        let spellings = [
            ("06139999", "12345678"),
            ("０６１３９９９９", "１２３４５６７８"),
            ("0613-9999", "1234-5678"),
            ("06139999", "1234 5678"),
        ];
        let guesses = (0..40).map(|i| {
            let (insurer, number) = spellings[i % spellings.len()];
            let http = &http;
            let app = &app;
            async move { identify(http, app, insurer, number, WRONG).await.status().as_u16() }
        });
        let statuses = join_all(guesses).await;
        let limit = app.state.config().accounts.login_max_failures as usize;
        assert!(count(&statuses, 401) <= limit, "at most {limit} evaluated: {statuses:?}");
        assert_eq!(count(&statuses, 401) + count(&statuses, 429), 40, "{statuses:?}");
        // The right name does not get through now, from anywhere: the
        // budget is the card's, not the address's.
        for from in ["127.0.0.1", "127.0.0.2"] {
            let resp = identify(&client_from(from), &app, "06139999", "12345678", RIGHT).await;
            problem(resp, 429).await;
        }
        app.stop().await;
    }
);

app_test!(
    async fn wrong_tries_for_one_patient_do_not_shut_out_the_next_at_a_kiosk(app) {
        known_person(&app, "11110000", RIGHT).await;
        // Another patient, not a namesake: a namesake's record with a new
        // card waits for clerical review and identifies nobody until then.
        known_person(&app, "22220000", OTHER).await;
        let kiosk = client_from("127.0.0.1");
        let limit = app.state.config().accounts.login_max_failures;
        for _ in 0..limit {
            let resp = identify(&kiosk, &app, "06139999", "11110000", WRONG).await;
            problem(resp, 401).await;
        }
        let locked = identify(&kiosk, &app, "06139999", "11110000", RIGHT).await;
        problem(locked, 429).await;
        let next_patient = identify(&kiosk, &app, "06139999", "22220000", OTHER).await;
        assert_eq!(next_patient.status(), 201, "another patient at the same address");
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patients_success_resets_neither_another_card_nor_the_address() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let app = spawn_app_with(backend, |c| c.accounts.address_max_failures = 6).await;
        known_person(&app, "11110000", RIGHT).await;
        // Another patient, not a namesake: a namesake's record with a new
        // card waits for clerical review and identifies nobody until then.
        known_person(&app, "22220000", OTHER).await;
        let http = client_from("127.0.0.1");
        let status = |r: reqwest::Response| r.status().as_u16();
        for _ in 0..4 {
            assert_eq!(
                status(identify(&http, &app, "06139999", "22220000", WRONG).await),
                401
            );
        }
        // A succeeds…
        assert_eq!(
            status(identify(&http, &app, "06139999", "11110000", RIGHT).await),
            201
        );
        // …and B's budget is as it was: its fifth failure locks it.
        assert_eq!(
            status(identify(&http, &app, "06139999", "22220000", WRONG).await),
            401
        );
        assert_eq!(
            status(identify(&http, &app, "06139999", "22220000", RIGHT).await),
            429
        );
        // Nor was the address's count reset: its sixth failure locks it.
        assert_eq!(
            status(identify(&http, &app, "06139999", "33330000", WRONG).await),
            401
        );
        assert_eq!(
            status(identify(&http, &app, "06139999", "11110000", RIGHT).await),
            429
        );
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_cards_cannot_grow_the_throttle_without_bound() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let app = spawn_app_with(backend, |c| {
            c.accounts.throttle_entries = 64;
            c.accounts.address_max_failures = 10_000;
        })
        .await;
        let http = client_from("127.0.0.1");
        for i in 0..300 {
            let resp = identify(
                &http,
                &app,
                "06139999",
                &format!("{:08}", 50_000_000 + i),
                WRONG,
            )
            .await;
            problem(resp, 401).await;
        }
        let held = app.state.throttle().len();
        assert!(held <= 64, "{held} counters held for 300 spoofed cards");
        let metrics = http
            .get(app.url("/metrics"))
            .bearer_auth(&app.creds(Role::Operator).token)
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text");
        assert!(
            metrics.contains("renkei_guess_failures_total{kind=\"identification\"} 300"),
            "failures are counted for alerting"
        );
        app.stop().await;
    }
}

/// Posts the sign-in form with an `X-Forwarded-For` header.
async fn sign_in_as(app: &TestApp, forwarded_for: &str, user: &str, password: &str) -> u16 {
    client_from("127.0.0.1")
        .post(app.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .header("cookie", "renkei_login_csrf=attacker-token")
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", "attacker-token"),
        ])
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

/// With no proxy configured, `X-Forwarded-For` is the client's own claim:
/// an attacker naming a new address on every guess is still one address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_does_not_escape_the_sign_in_throttle() {
    let app = spawn_app_with(TestBackend::Sqlite, |_| {}).await;
    let user = app.creds(Role::Operator).username.clone();
    let limit = app.state.config().accounts.login_max_failures;
    let mut statuses = Vec::new();
    for i in 0..limit + 3 {
        statuses.push(sign_in_as(&app, &format!("198.51.100.{i}"), &user, "wrong password!").await);
    }
    assert_eq!(count(&statuses, 401), limit as usize, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 3, "{statuses:?}");
    app.stop().await;
}

/// Behind a trusted proxy every request comes from the proxy: the
/// throttle counts the client the proxy names, so one attacker locks out
/// only themselves, and cannot escape by writing addresses of their own
/// to the left of what the proxy appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_is_counted_apart() {
    let app = spawn_app_with(TestBackend::Sqlite, |c| {
        c.server.trusted_proxies = vec!["127.0.0.1".parse().expect("address")];
    })
    .await;
    let user = app.creds(Role::Operator).username.clone();
    let limit = app.state.config().accounts.login_max_failures;
    let mut statuses = Vec::new();
    for i in 0..limit + 3 {
        // The proxy appended 203.0.113.7; the rest is the attacker's.
        let header = format!("198.51.100.{i}, 203.0.113.7");
        statuses.push(sign_in_as(&app, &header, &user, "wrong password!").await);
    }
    assert_eq!(count(&statuses, 401), limit as usize, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 3, "{statuses:?}");
    assert_eq!(sign_in_as(&app, "203.0.113.7", &user, PASSWORD).await, 429);
    // The account's owner, behind the same proxy, is not locked out.
    assert_eq!(sign_in_as(&app, "203.0.113.8", &user, PASSWORD).await, 303);
    app.stop().await;
}
