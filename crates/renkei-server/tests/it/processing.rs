//! Processing over HTTP: an operator builds a permit's extract from what a
//! hospital sent; revocation stops extraction at once and closes the
//! extract; the patient portal then lists the project.

use std::sync::Arc;

use renkei_core::{Clock, PermitId, Role};
use serde_json::{Value, json};

use crate::app_test;
use crate::collect::{CODE, hospital_account, patient};
use crate::helpers::TestApp;

pub(crate) fn condition(id: &str, subject: &str, icd10: &str) -> String {
    json!({
        "resourceType": "Condition", "id": id,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": icd10}], "text": "2型糖尿病"},
        "subject": {"reference": format!("Patient/{subject}")},
        "recordedDate": "2021-05-01"
    })
    .to_string()
}

pub(crate) async fn send(
    app: &TestApp,
    role: Role,
    method: reqwest::Method,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let resp = app
        .http
        .request(method.clone(), app.url(path))
        .bearer_auth(&app.creds(role).token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let got = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Sends a request that starts a job (202 with its `Location`), waits for
/// every job to end, and returns the job as `role` then reads it.
pub(crate) async fn run_job(
    app: &TestApp,
    role: Role,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let resp = app
        .http
        .request(method.clone(), app.url(path))
        .bearer_auth(&app.creds(role).token)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 202, "{method} {path}");
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let started: Value = resp.json().await.expect("job");
    assert_eq!(
        location,
        format!("/api/v1/jobs/{}", started["id"].as_str().expect("id"))
    );
    app.state.jobs().settled().await;
    send(app, role, reqwest::Method::GET, &location, Value::Null, 200).await
}

/// A permit in force over `condition`; its id and its application's.
pub(crate) async fn permit(app: &TestApp) -> (String, String) {
    use reqwest::Method as M;
    let applicant = app.creds(Role::Applicant).username.clone();
    let form = json!({
        "title": "糖尿病の研究", "organization": {"name": "京都大学", "country": "JP", "kind": "academic"},
        "users": [{"username": applicant, "training_completed_on": "2026-04-01", "conflict_of_interest": "none"}],
        "purpose": "治療経過", "public_interest": "標準治療の改善", "commercial": false,
        "requested": {"tables": [{"table": "condition", "columns": ["icd10", "recorded_date"]}],
            "cohort_criteria": "E11", "cohort_icd10": ["E11"], "period_from": "2020-01-01", "period_to": "2024-12-31"},
        "delivery": "pseudonymized_in_environment",
        "planned_outputs": "論文", "security_measures": "ISMS", "funding": "科研費"
    });
    let created = send(
        app,
        Role::Applicant,
        M::POST,
        "/api/v1/applications",
        json!({"form": form}),
        201,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    send(
        app,
        Role::Applicant,
        M::POST,
        &format!("/api/v1/applications/{id}/submit"),
        json!({}),
        200,
    )
    .await;
    let steps = format!("/api/v1/applications/{id}/steps");
    send(
        app,
        Role::Operator,
        M::POST,
        &steps,
        json!({"step": "start_screening"}),
        200,
    )
    .await;
    send(
        app,
        Role::Operator,
        M::POST,
        &steps,
        json!({"step": "send_to_review", "committee": "第一委員会", "reason": "不備なし"}),
        200,
    )
    .await;
    let reviewer = app.creds(Role::Reviewer).username.clone();
    send(
        app,
        Role::Operator,
        M::POST,
        &format!("/api/v1/applications/{id}/assignments"),
        json!({"reviewer": reviewer}),
        204,
    )
    .await;
    send(
        app,
        Role::Reviewer,
        M::POST,
        &format!("/api/v1/applications/{id}/votes"),
        json!({"vote": "approve", "comment": "可"}),
        204,
    )
    .await;
    send(
        app,
        Role::Operator,
        M::POST,
        &steps,
        json!({"step": "approve", "reason": "適切"}),
        200,
    )
    .await;
    let permit = send(app, Role::Operator, M::POST, &format!("/api/v1/applications/{id}/permit"),
        json!({"expires_at": "2030-03-31T00:00:00Z", "fee_class": "academic",
               "resources": {"cpus": 2, "memory_gib": 8, "storage_gib": 10}, "date_shift_days": 14}), 201).await;
    (permit["id"].as_str().expect("permit id").to_owned(), id)
}

app_test!(
    async fn an_extract_follows_the_permit_and_revocation_stops_it_at_once(app) {
        use reqwest::Method as M;
        let (token, _) = hospital_account(&app).await;
        let body = [
            patient("a"), patient("b"), patient("c"),
            condition("c1", "a", "E11.9"), condition("c2", "b", "E11.9"), condition("c3", "c", "I10"),
        ]
        .join("\n");
        let resp = app.http.post(app.url(&format!("/api/v1/submissions?provider={CODE}"))).bearer_auth(&token).body(body).send().await.expect("submit");
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
        let (permit, application) = permit(&app).await;

        // Researchers never reach extracts through the API.
        send(&app, Role::Applicant, M::POST, &format!("/api/v1/permits/{permit}/extracts"), Value::Null, 403).await;
        let job = run_job(&app, Role::Operator, M::POST, &format!("/api/v1/permits/{permit}/extracts"), Value::Null).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        let m = job["result"].clone();
        assert_eq!(m["persons"], 2, "the E11 cohort: {m}");
        assert_eq!(m["tables"][0]["rows"], 2);
        assert_eq!(m["date_shift_days"], 14);
        let listed = send(&app, Role::Auditor, M::GET, &format!("/api/v1/permits/{permit}/extracts"), Value::Null, 200).await;
        assert_eq!(listed.as_array().map(Vec::len), Some(1));
        assert!(listed[0]["closed_at"].is_null());

        // Revoked: no more extraction, and the extract is closed.
        send(&app, Role::Operator, M::POST, &format!("/api/v1/applications/{application}/steps"), json!({"step": "revoke", "reason": "条件違反"}), 200).await;
        let refused = send(&app, Role::Operator, M::POST, &format!("/api/v1/permits/{permit}/extracts"), Value::Null, 409).await;
        assert!(refused["detail"].as_str().unwrap_or_default().contains("revoked"), "{refused}");
        assert_eq!(refused["detail"].as_str().unwrap_or_default().matches("not in force").count(), 1, "said once: {refused}");
        // Processing ends it on review's hint, not inside the revoking
        // request: within moments, bounded here.
        let mut listed = Value::Null;
        for _ in 0..100 {
            listed = send(&app, Role::Operator, M::GET, &format!("/api/v1/permits/{permit}/extracts"), Value::Null, 200).await;
            if !listed[0]["closed_at"].is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(!listed[0]["closed_at"].is_null(), "closed with the permit: {listed}");
        assert!(app.state.processing().latest(PermitId::parse(&permit).expect("permit id")).await.expect("latest").is_none());
        let ending = app.state.audit().entries(0, app.state.audit().size()).await.expect("entries");
        assert!(
            ending.iter().any(|e| e.event.action == "processing.end_permit"
                && e.event.object == format!("permit={permit}")
                && matches!(&e.event.actor, renkei_core::Actor::System { component } if component == "permit-follower")),
            "the ending is audited, by the follower"
        );
        app.stop().await;
    }
);

/// A permit that reaches its expiry changes no row; the sweeper must still
/// end it: its key destroyed, its extract closed and deleted, audited.
async fn an_expired_permit_is_ended_by_the_sweeper(backend: renkei_store::testing::TestBackend) {
    use renkei_core::{FixedClock, Timestamp};
    use reqwest::Method as M;
    // 2026-12-01; the permit expires 2030-03-31.
    let clock = Arc::new(FixedClock::new(
        Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").expect("time"),
    ));
    // The periodic sweep runs only at start here: the test sweeps itself.
    let app = crate::helpers::spawn_app_clocked(
        backend,
        |c| {
            c.review.permit_sweep_secs = 365 * 86_400;
        },
        clock.clone(),
    )
    .await;
    let (token, _) = hospital_account(&app).await;
    let body = [
        patient("a"),
        patient("b"),
        condition("c1", "a", "E11.9"),
        condition("c2", "b", "E11.9"),
    ]
    .join("\n");
    let resp = app
        .http
        .post(app.url(&format!("/api/v1/submissions?provider={CODE}")))
        .bearer_auth(&token)
        .body(body)
        .send()
        .await
        .expect("submit");
    assert_eq!(
        resp.status(),
        201,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let (permit, _) = permit(&app).await;
    let job = run_job(
        &app,
        Role::Operator,
        M::POST,
        &format!("/api/v1/permits/{permit}/extracts"),
        Value::Null,
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let extract = app
        .state
        .processing()
        .latest(PermitId::parse(&permit).expect("permit id"))
        .await
        .expect("latest")
        .expect("an extract");
    let files = app._dir.path().join("extracts").join(&permit);
    assert!(files.exists());

    // Before its expiry, a sweep leaves the permit alone.
    assert!(
        app.state
            .processing()
            .end_permits_over(sweeper())
            .await
            .expect("sweep")
            .is_empty()
    );
    assert!(
        app.state
            .processing()
            .pseudonymizer(PermitId::parse(&permit).expect("permit id"))
            .await
            .is_ok()
    );

    // A day after it, the sweep ends it.
    let expiry = Timestamp::parse_rfc3339("2030-04-01T00:00:00Z").expect("time");
    clock.advance_micros(expiry.unix_micros() - clock.now().unix_micros());
    let ended = app
        .state
        .processing()
        .end_permits_over(sweeper())
        .await
        .expect("sweep");
    assert_eq!(
        ended.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![permit.clone()]
    );
    assert!(
        app.state
            .processing()
            .latest(PermitId::parse(&permit).expect("permit id"))
            .await
            .expect("latest")
            .is_none(),
        "extract closed"
    );
    let err = app
        .state
        .processing()
        .pseudonymizer(PermitId::parse(&permit).expect("permit id"))
        .await
        .expect_err("key destroyed");
    assert!(matches!(err, renkei_deid::Error::KeyDestroyed(_)), "{err}");
    for t in &extract.tables {
        assert!(
            !app._dir.path().join("extracts").join(&t.file).exists(),
            "{} left behind",
            t.file
        );
    }
    // Audited, by the sweeper.
    let size = app.state.audit().size();
    let entries = app
        .state
        .audit()
        .entries(size.saturating_sub(20), size)
        .await
        .expect("entries");
    let ending = entries
        .iter()
        .find(|e| {
            e.event.action == "processing.end_permit"
                && e.event.object == format!("permit={permit}")
        })
        .expect("the ending is in the audit log");
    assert!(
        matches!(&ending.event.actor, renkei_core::Actor::System { component } if component == "permit-sweeper"),
        "{:?}",
        ending.event.actor
    );
    // Ended once: a later sweep finds nothing and logs nothing.
    assert!(
        app.state
            .processing()
            .end_permits_over(sweeper())
            .await
            .expect("sweep")
            .is_empty()
    );
    assert_eq!(app.state.audit().size(), size);
    app.stop().await;
}

mod an_expired_permit_is_ended_by_the_sweeper {
    use renkei_store::testing::TestBackend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::an_expired_permit_is_ended_by_the_sweeper(TestBackend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::an_expired_permit_is_ended_by_the_sweeper(TestBackend::Postgres).await;
    }
}

/// The actor the platform's sweeper ends permits as.
fn sweeper() -> renkei_core::Actor {
    renkei_core::Actor::System {
        component: "permit-sweeper".to_owned(),
    }
}
