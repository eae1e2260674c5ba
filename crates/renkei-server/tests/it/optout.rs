//! Opt-out over HTTP: a patient identifies, opts out and withdraws through
//! the patient API; operators enter paper forms and read exclusion sets;
//! the register and the provider notice are public.

use renkei_core::{IdentifyingAttributes, PersonKey, ProviderCode, Role, Sex};
use serde_json::{Value, json};

use crate::app_test;
use crate::collect::{CODE, hospital_account};
use crate::helpers::{TestApp, problem};

/// A person the platform holds, as identity resolved a provider's record.
pub(crate) async fn known_person(app: &TestApp, number: &str, kana: &str) -> PersonKey {
    let attributes = IdentifyingAttributes {
        local_patient_id: Some(format!("L-{number}")),
        insurer_number: Some("06139999".to_owned()),
        insured_symbol: Some("記号A".to_owned()),
        insured_number: Some(number.to_owned()),
        insured_branch: Some("01".to_owned()),
        kana_name: Some(kana.to_owned()),
        birth_date: Some("1980-04-01".to_owned()),
        sex: Some(Sex::Female),
        ..Default::default()
    };
    let provider = ProviderCode::parse(CODE).expect("code");
    app.state
        .identity()
        .resolve(&provider, &attributes)
        .await
        .expect("resolve")
        .person_key
}

fn card(number: &str, kana: &str) -> Value {
    json!({
        "kana_name": kana, "birth_date": "1980/04/01", "sex": "female",
        "insurer_number": "06139999", "insured_symbol": "記号A",
        "insured_number": number, "insured_branch": "01"
    })
}

async fn patient_token(app: &TestApp, number: &str, kana: &str) -> String {
    let resp = app
        .http
        .post(app.url("/api/v1/patient/session"))
        .json(&card(number, kana))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["token"].as_str().expect("token").starts_with("rkp_"),
        "{body}"
    );
    body["token"].as_str().expect("token").to_owned()
}

async fn operator_get(app: &TestApp, path: &str) -> Value {
    let resp = app
        .http
        .get(app.url(path))
        .bearer_auth(&app.creds(Role::Operator).token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.expect("json")
}

app_test!(
    async fn a_patient_identifies_opts_out_and_withdraws_over_the_api(app) {
        let person = known_person(&app, "12345678", "タカハシ ハナコ").await;
        let wrong = app.http.post(app.url("/api/v1/patient/session")).json(&card("12345678", "タカハシ ハナ")).send().await.expect("send");
        let body = problem(wrong, 401).await;
        assert!(body["detail"].as_str().unwrap_or("").contains("do not match"), "{body}");
        let missing = app.http.post(app.url("/api/v1/patient/session")).json(&json!({"kana_name": "タカハシ ハナコ"})).send().await.expect("send");
        problem(missing, 400).await;

        let token = patient_token(&app, "12345678", "ﾀｶﾊｼ ﾊﾅｺ").await;
        let view: Value = app.http.get(app.url("/api/v1/patient/optouts")).bearer_auth(&token).send().await.expect("send").json().await.expect("json");
        assert_eq!(view["standing"], json!([]), "{view}");
        assert_eq!(view["used_by"], json!([]));

        let resp = app.http.post(app.url("/api/v1/patient/optouts")).bearer_auth(&token).json(&json!({"scope": "genomic"})).send().await.expect("send");
        assert_eq!(resp.status(), 201);
        let change: Value = resp.json().await.expect("json");
        let receipt = change["receipt"].as_str().expect("receipt").to_owned();
        assert_eq!(change["person"], person.to_string());
        assert_eq!(change["channel"], "portal");

        let set = operator_get(&app, "/api/v1/optouts/exclusion?use=genomic&keys=true").await;
        assert_eq!(set["person_keys"], json!([person.to_string()]), "{set}");
        assert_eq!(set["registry_version"], change["version"]);
        let ordinary = operator_get(&app, "/api/v1/optouts/exclusion?keys=true").await;
        assert_eq!(ordinary["excluded"], 0, "a genomic opt-out does not touch an ordinary study");

        // A patient cannot act as someone else: no route takes a person.
        let refused = app.http.post(app.url("/api/v1/patient/optouts")).bearer_auth(&token)
            .json(&json!({"scope": "all", "submitter": {"kind": "representative", "relation": "親権者"}})).send().await.expect("send");
        problem(refused, 400).await;
        // Tokens do not cross: a patient token is no account, an account is no patient.
        let resp = app.http.get(app.url("/api/v1/optouts/exclusion")).bearer_auth(&token).send().await.expect("send");
        problem(resp, 401).await;
        let resp = app.http.get(app.url("/api/v1/patient/optouts")).bearer_auth(&app.creds(Role::Patient).token).send().await.expect("send");
        problem(resp, 401).await;

        let path = format!("/api/v1/patient/optouts/{receipt}/withdraw");
        let resp = app.http.post(app.url(&path)).bearer_auth(&token).send().await.expect("send");
        assert_eq!(resp.status(), 201);
        let again = app.http.post(app.url(&path)).bearer_auth(&token).send().await.expect("send");
        problem(again, 409).await;
        let set = operator_get(&app, "/api/v1/optouts/exclusion?use=genomic").await;
        assert_eq!(set["excluded"], 0, "the withdrawal re-includes");

        // Another patient cannot withdraw it, and is told it does not exist.
        known_person(&app, "99990000", "ヤマダ ハナコ").await;
        let other = patient_token(&app, "99990000", "ヤマダ ハナコ").await;
        let theirs = app.http.post(app.url(&path)).bearer_auth(&other).send().await.expect("send");
        problem(theirs, 404).await;

        let entries = operator_get(&app, "/api/v1/audit/entries?start=0&end=1000").await;
        let text = entries.to_string();
        assert!(text.contains("optout.opt_out") && text.contains(&receipt), "the registry audits the change");
        assert!(text.contains(&format!("\"person_key\":\"{person}\"")), "patient actions are audited as the patient");

        let resp = app.http.delete(app.url("/api/v1/patient/session")).bearer_auth(&token).send().await.expect("send");
        assert_eq!(resp.status(), 204);
        let after = app.http.get(app.url("/api/v1/patient/optouts")).bearer_auth(&token).send().await.expect("send");
        problem(after, 401).await;
        app.stop().await;
    }
);

/// Noon in Japan on a day of the test's.
const NOON_JST: &str = "2026-12-06T03:00:00Z";

async fn paper_forms_and_the_register(backend: renkei_store::testing::TestBackend) {
    let clock = std::sync::Arc::new(renkei_core::FixedClock::new(
        renkei_core::Timestamp::parse_rfc3339(NOON_JST).expect("time"),
    ));
    let app = crate::helpers::spawn_app_clocked(backend, |_| {}, clock.clone()).await;
    let operator = app.creds(Role::Operator).token.clone();
    let mut people = Vec::new();
    for i in 0..12 {
        let person = PersonKey::generate();
        let scope = if i < 11 {
            "all"
        } else {
            "commercial,category:mental_health"
        };
        let resp = app
            .http
            .post(app.url("/api/v1/optouts"))
            .bearer_auth(&operator)
            .json(&json!({"person_key": person.to_string(), "scope": scope,
                              "submitter": {"kind": "representative", "relation": "親権者"}}))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 201);
        let change: Value = resp.json().await.expect("json");
        assert_eq!(change["channel"], "paper");
        people.push((
            person,
            change["receipt"].as_str().expect("receipt").to_owned(),
        ));
    }
    let bad = app
        .http
        .post(app.url("/api/v1/optouts"))
        .bearer_auth(&operator)
        .json(&json!({"person_key": PersonKey::generate().to_string(), "scope": "marketing"}))
        .send()
        .await
        .expect("send");
    let body = problem(bad, 400).await;
    assert!(
        body["detail"].as_str().unwrap_or("").contains("marketing"),
        "{body}"
    );
    let (person, receipt) = &people[0];
    let resp = app
        .http
        .post(app.url(&format!("/api/v1/optouts/{receipt}/withdraw")))
        .bearer_auth(&operator)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 201);
    let history = operator_get(&app, &format!("/api/v1/optouts/persons/{person}")).await;
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");

    // The attack: poll the register around one patient's change and
    // watch a count go up by one. Today's changes are not published
    // until midnight in Japan, and no live version is shown.
    let today: Value = app
        .http
        .get(app.url("/api/v1/register/optouts"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(today.get("version").is_none(), "{today}");
    let at = |v: &Value| {
        renkei_core::Timestamp::parse_rfc3339(v.as_str().unwrap_or_default()).expect("an instant")
    };
    assert_eq!(
        at(&today["published_at"]),
        renkei_core::Timestamp::parse_rfc3339("2026-12-05T15:00:00Z").expect("time"),
        "{today}"
    );
    assert!(
        today["in_force"]
            .as_array()
            .expect("in force")
            .contains(&json!(["all", 0])),
        "{today}"
    );
    assert!(
        today["months"].as_array().expect("months").is_empty(),
        "{today}"
    );
    clock.advance_micros(24 * 3_600_000_000);
    let stats: Value = app
        .http
        .get(app.url("/api/v1/register/optouts"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        at(&stats["published_at"]),
        renkei_core::Timestamp::parse_rfc3339("2026-12-06T15:00:00Z").expect("time"),
        "{stats}"
    );
    let in_force = stats["in_force"].as_array().expect("in force");
    assert!(in_force.contains(&json!(["all", 10])), "{stats}");
    assert!(
        in_force.contains(&json!(["commercial", {"below": 10}])),
        "{stats}"
    );
    let page = app
        .http
        .get(app.url("/register/optouts"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("全ての二次利用") && page.contains("&lt;10"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_enter_paper_forms_and_the_register_counts_them_a_day_later_sqlite() {
    paper_forms_and_the_register(renkei_store::testing::TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_enter_paper_forms_and_the_register_counts_them_a_day_later_postgres() {
    paper_forms_and_the_register(renkei_store::testing::TestBackend::Postgres).await;
}

app_test!(
    async fn each_provider_renders_its_notice_from_the_configuration(app) {
        hospital_account(&app).await;
        let page = app.http.get(app.url(&format!("/notice/{CODE}"))).send().await.expect("send").text().await.expect("text");
        assert!(page.contains("医療情報の二次利用に関するお知らせ") && page.contains(CODE), "{page}");
        assert!(page.contains("ゲノムデータの利用") && page.contains("/patient"), "{page}");
        assert!(page.contains("ご遺族が申し出ることができます"), "the default policy lets bereaved family act");
        assert!(page.contains("optout.contact"), "an unset contact is shown as unset");
        let print = app.http.get(app.url(&format!("/notice/{CODE}?print=1"))).send().await.expect("send").text().await.expect("text");
        assert!(print.contains("class=\"document\"") && !print.contains("<nav"), "{print}");
        let english = app.http.get(app.url(&format!("/notice/{CODE}?lang=en"))).send().await.expect("send").text().await.expect("text");
        assert!(english.contains("Notice on the secondary use"), "{english}");
        let unknown = app.http.get(app.url("/notice/1399999999")).send().await.expect("send");
        assert_eq!(unknown.status(), 404);
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_can_refuse_bereaved_family() {
    let app = crate::helpers::spawn_app_with(renkei_store::testing::TestBackend::Sqlite, |c| {
        c.optout.bereaved_family_may_act = false;
    })
    .await;
    let resp = app
        .http
        .post(app.url("/api/v1/optouts"))
        .bearer_auth(&app.creds(Role::Operator).token)
        .json(
            &json!({"person_key": PersonKey::generate().to_string(), "scope": "all",
                      "submitter": {"kind": "bereaved_family", "relation": "配偶者"}}),
        )
        .send()
        .await
        .expect("send");
    let body = problem(resp, 403).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("bereaved_family_may_act"),
        "{body}"
    );
    app.stop().await;
}

app_test!(
    async fn bereaved_family_act_only_for_a_person_whose_death_is_on_record(app) {
        let (token, _) = hospital_account(&app).await;
        let oid = format!("urn:oid:1.2.392.100495.20.3.51.1{CODE}");
        let body = [
            json!({"resourceType": "Patient", "id": "dead", "identifier": [{"system": oid, "value": "L-dead"}],
                   "name": [{"family": "山田", "given": ["一郎"]}], "gender": "male", "birthDate": "1930-01-01",
                   "deceasedDateTime": "2026-10-01"}).to_string(),
            json!({"resourceType": "Patient", "id": "alive", "identifier": [{"system": oid, "value": "L-alive"}],
                   "name": [{"family": "山田", "given": ["二郎"]}], "gender": "male", "birthDate": "1960-01-01"}).to_string(),
        ].join("\n") + "\n";
        let resp = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&token).body(body).send().await.expect("submit");
        assert_eq!(resp.status(), 201);
        let provider = ProviderCode::parse(CODE).expect("code");
        let keys = app.state.identity().find_local(&provider, &["L-dead".to_owned(), "L-alive".to_owned()]).await.expect("keys");
        let (dead, alive) = (keys[0].expect("dead"), keys[1].expect("alive"));
        let family = json!({"kind": "bereaved_family", "relation": "配偶者"});
        let operator = app.creds(Role::Operator).token.clone();
        let resp = app.http.post(app.url("/api/v1/optouts")).bearer_auth(&operator)
            .json(&json!({"person_key": alive.to_string(), "scope": "all", "submitter": family})).send().await.expect("send");
        let refused = problem(resp, 409).await;
        assert!(refused["detail"].as_str().unwrap_or("").contains("no death is on record"), "{refused}");
        let resp = app.http.post(app.url("/api/v1/optouts")).bearer_auth(&operator)
            .json(&json!({"person_key": dead.to_string(), "scope": "all", "submitter": family})).send().await.expect("send");
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
        app.stop().await;
    }
);

// A provider's sender submits a Patient with the victim's insurance
// number under an invented kana name, birth date and sex, then presents
// those at the portal as the victim's identification. It must not open
// the victim's portal (their opt-outs, who used their data, a withdrawal
// that would put them back in the next extract), and the record must wait
// for a reviewer.
app_test!(
    async fn a_sender_cannot_take_over_a_patients_portal_with_their_card(app) {
        let victim = known_person(&app, "12345678", "タカハシ ハナコ").await;
        let (sender, _) = hospital_account(&app).await;
        let claimed = json!({
            "resourceType": "Patient", "id": "takeover",
            "identifier": [
                {"system": format!("urn:oid:1.2.392.100495.20.3.51.1{CODE}"), "value": "L-takeover"},
                {"system": "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID", "value": "06139999:記号A:12345678:01"}
            ],
            "name": [
                {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "SYL"}],
                 "text": "サトウ イチロウ", "family": "サトウ", "given": ["イチロウ"]}
            ],
            "gender": "male", "birthDate": "1990-01-01"
        });
        let invented = json!({
            "kana_name": "サトウ イチロウ", "birth_date": "1990-01-01", "sex": "male",
            "insurer_number": "06139999", "insured_symbol": "記号A",
            "insured_number": "12345678", "insured_branch": "01"
        });

        // First inside a submission that is refused (its last line cut
        // off): nothing of it may reach identity.
        let cut = format!("{claimed}\n{}", &claimed.to_string()[..30]);
        let resp = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&sender).body(cut).send().await.expect("submit");
        assert_eq!(resp.status(), 400, "a cut body is refused");
        assert_eq!(app.state.identity().person_count().await.expect("count"), 1, "a refused submission left persons");
        assert_eq!(operator_get(&app, "/api/v1/identity/review").await, json!([]));
        let resp = app.http.post(app.url("/api/v1/patient/session")).json(&invented).send().await.expect("send");
        problem(resp, 401).await;

        let resp = app.http.post(app.url("/api/v1/submissions")).bearer_auth(&sender).body(claimed.to_string()).send().await.expect("submit");
        assert_eq!(resp.status(), 201);
        let receipt: Value = resp.json().await.expect("receipt");
        assert_eq!(receipt["counts"]["Patient"]["accepted"], 1, "{receipt}");
        let resp = app.http.post(app.url("/api/v1/patient/session")).json(&invented).send().await.expect("send");
        problem(resp, 401).await;

        let queue = operator_get(&app, "/api/v1/identity/review").await;
        let items = queue.as_array().expect("array");
        assert_eq!(items.len(), 1, "{queue}");
        assert_eq!(items[0]["reason"], "attributes_disagree");
        assert_eq!(items[0]["person_key"], victim.to_string());
        assert_eq!(items[0]["state"], "open");

        // The victim still identifies with their own details.
        patient_token(&app, "12345678", "タカハシ ハナコ").await;
        app.stop().await;
    }
);
