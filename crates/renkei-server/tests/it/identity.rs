//! Curation of the person index over HTTP: the clerical-review queue fed by
//! the intake, attributes read only for a stated reason (and audited),
//! decisions, merges, splits and their events, and the review page.

use renkei_core::Role;

use crate::app_test;
use crate::collect::{CODE, hospital_account};
use crate::helpers::{TestApp, problem};

const KANA_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// A Patient of the hospital with an insurance number (JP-CLINS
/// `insurer:symbol:number:branch`), a kanji and a kana name.
fn insured_patient(id: &str, insurance: &str, address: &str) -> String {
    serde_json::json!({
        "resourceType": "Patient", "id": id,
        "identifier": [
            {"system": format!("urn:oid:1.2.392.100495.20.3.51.1{CODE}"), "value": format!("L-{id}")},
            {"system": "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID", "value": insurance}
        ],
        "name": [
            {"extension": [{"url": KANA_EXTENSION, "valueCode": "IDE"}], "text": "高橋 花子", "family": "高橋", "given": ["花子"]},
            {"extension": [{"url": KANA_EXTENSION, "valueCode": "SYL"}], "text": "タカハシ ハナコ", "family": "タカハシ", "given": ["ハナコ"]}
        ],
        "gender": "female", "birthDate": "1980-04-01",
        "address": [{"text": address}]
    })
    .to_string()
}

/// Two Patients whose insurance numbers differ but whose kana name, birth
/// date and sex agree: the second is linked to the first person by name,
/// birth and sex alone, and queued for review. The review item.
async fn queued_link(app: &TestApp) -> serde_json::Value {
    let (token, _) = hospital_account(app).await;
    let body = format!(
        "{}\n{}\n",
        insured_patient("a", "06139999:記号A:12345678:01", "東京都新宿区西新宿2-8-1"),
        insured_patient("b", "01130012::87654321:02", "大阪府大阪市北区中之島1-3-20"),
    );
    let resp = app
        .http
        .post(app.url("/api/v1/submissions"))
        .bearer_auth(&token)
        .body(body)
        .send()
        .await
        .expect("submit");
    assert_eq!(resp.status(), 201);
    let receipt: serde_json::Value = resp.json().await.expect("receipt");
    assert_eq!(receipt["counts"]["Patient"]["accepted"], 2, "{receipt}");
    let queue = operator_get(app, "/api/v1/identity/review").await;
    let items = queue.as_array().expect("array");
    assert_eq!(items.len(), 1, "{queue}");
    items[0].clone()
}

fn operator(app: &TestApp) -> String {
    app.creds(Role::Operator).token.clone()
}

async fn operator_get(app: &TestApp, path: &str) -> serde_json::Value {
    let resp = app
        .http
        .get(app.url(path))
        .bearer_auth(operator(app))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.expect("json")
}

async fn operator_post(app: &TestApp, path: &str, body: serde_json::Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .bearer_auth(operator(app))
        .json(&body)
        .send()
        .await
        .expect("post")
}

/// The audit entry at `index`.
async fn audit_entry(app: &TestApp, index: u64) -> serde_json::Value {
    let v: serde_json::Value = app
        .http
        .get(app.url(&format!(
            "/api/v1/audit/entries?start={index}&end={}",
            index + 1
        )))
        .bearer_auth(&app.creds(Role::Auditor).token)
        .send()
        .await
        .expect("entries")
        .json()
        .await
        .expect("json");
    v[0]["event"].clone()
}

app_test!(
    async fn an_operator_reads_a_queued_link_for_a_reason_and_splits_it(app) {
        let item = queued_link(&app).await;
        assert_eq!(item["reason"], "name_birth_sex_only");
        assert_eq!(item["state"], "open");
        let id = item["id"].as_str().expect("id").to_owned();
        let person = item["person_key"].as_str().expect("key").to_owned();
        let record = item["record_id"].as_str().expect("record").to_owned();
        let listed = operator_get(&app, "/api/v1/identity/review?state=all").await.to_string();
        for value in ["ハナコ", "花子", "12345678", "87654321", "新宿"] {
            assert!(!listed.contains(value), "the queue shows no attribute ({value})");
        }
        let resp = app.http.get(app.url("/api/v1/identity/review?state=closed")).bearer_auth(operator(&app)).send().await.expect("get");
        problem(resp, 400).await;

        // Attributes: never without a reason.
        let path = format!("/api/v1/identity/persons/{person}/attributes");
        for query in ["", "?reason=", "?reason=%20%20"] {
            let resp = app.http.get(app.url(&format!("{path}{query}"))).bearer_auth(operator(&app)).send().await.expect("get");
            let p = problem(resp, 400).await;
            assert!(p["detail"].as_str().unwrap_or("").contains("reason is required"), "{p}");
        }
        let before = app.state.audit().size();
        let resp = app.http.get(app.url(&format!("{path}?reason=checking%20an%20insurer%20change"))).bearer_auth(operator(&app)).send().await.expect("get");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let records: serde_json::Value = resp.json().await.expect("json");
        let records = records.as_array().expect("array");
        assert_eq!(records.len(), 2);
        let numbers: Vec<&str> = records.iter().filter_map(|r| r["attributes"]["insured_number"].as_str()).collect();
        assert_eq!(numbers, ["12345678", "87654321"]);
        assert!(records.iter().all(|r| r["attributes"]["kana_name"] == "タカハシ ハナコ" && r["provider"] == CODE));
        // The read is audited with the person's key and how much was shown;
        // the entry holds ids and counts, never a value or the free text.
        let entry = audit_entry(&app, before).await;
        assert_eq!(entry["action"], "GET /api/v1/identity/persons/{key}/attributes");
        let object = entry["object"].as_str().expect("object");
        let read = object
            .strip_prefix(&format!("{path} records=2 read="))
            .unwrap_or_else(|| panic!("the entry names the recorded read: {object}"));
        // The reason stays in identity, under the read the entry names.
        let key = renkei_core::PersonKey::parse(path.split('/').nth(5).expect("key")).expect("key");
        let reads = app.state.identity().attribute_reads(&key).await.expect("reads");
        let recorded = reads.iter().find(|r| r.id == read).expect("the read is recorded");
        assert_eq!(recorded.actor, "operator:operator-user");
        assert!(!recorded.reason.is_empty());
        assert_eq!(entry["actor"]["role"], "operator");
        assert!(!entry.to_string().contains("ハナコ") && !entry.to_string().contains("insurer change"));
        let resp = app.http.get(app.url("/api/v1/identity/persons/00000000-0000-7000-8000-000000000000/attributes?reason=x")).bearer_auth(operator(&app)).send().await.expect("get");
        problem(resp, 404).await;
        let resp = app.http.get(app.url("/api/v1/identity/persons/not-a-key/attributes?reason=x")).bearer_auth(operator(&app)).send().await.expect("get");
        problem(resp, 400).await;

        // The decision: a reason, a known decision, a known item, once.
        let decide = format!("/api/v1/identity/review/{id}");
        problem(operator_post(&app, &decide, serde_json::json!({"decision": "different", "reason": " "})).await, 400).await;
        problem(operator_post(&app, &decide, serde_json::json!({"decision": "maybe", "reason": "x"})).await, 400).await;
        problem(operator_post(&app, "/api/v1/identity/review/00000000-0000-7000-8000-000000000000", serde_json::json!({"decision": "same", "reason": "x"})).await, 404).await;
        let before = app.state.audit().size();
        let resp = operator_post(&app, &decide, serde_json::json!({"decision": "different", "reason": "another insurer and another address"})).await;
        assert_eq!(resp.status(), 200);
        let split: serde_json::Value = resp.json().await.expect("event");
        assert_eq!(split["kind"], "split", "{split}");
        assert_eq!(split["from_person"], person.as_str());
        assert_eq!(split["records"], serde_json::json!([record]));
        assert_eq!(split["actor"], "operator:operator-user");
        assert_eq!(split["reason"], "another insurer and another address");
        // Identity's entry, appended before its step committed, then the
        // request's.
        let step = audit_entry(&app, before).await;
        assert_eq!((step["action"].as_str(), step["object"].clone()), (Some("identity.decide"), serde_json::json!(format!("item={} decision=different event={} from={person} to={} records=1", decide.rsplit('/').next().expect("id"), split["id"].as_str().expect("id"), split["to_person"].as_str().expect("to")))));
        let entry = audit_entry(&app, before + 1).await;
        assert_eq!(entry["object"], format!("{decide} decision=different person={person} record={record} event={} to={}", split["id"].as_str().expect("id"), split["to_person"].as_str().expect("to")));
        let again = problem(operator_post(&app, &decide, serde_json::json!({"decision": "same", "reason": "twice"})).await, 409).await;
        assert!(again["detail"].as_str().unwrap_or("").contains("already decided"), "{again}");
        assert_eq!(operator_get(&app, "/api/v1/identity/review").await, serde_json::json!([]));
        let all = operator_get(&app, "/api/v1/identity/review?state=all").await;
        assert_eq!(all[0]["state"], "different", "{all}");
        app.stop().await;
    }
);

app_test!(
    async fn operators_merge_and_split_persons_and_read_the_events(app) {
        let item = queued_link(&app).await;
        let id = item["id"].as_str().expect("id");
        let record = item["record_id"].as_str().expect("record").to_owned();
        let hanako = item["person_key"].as_str().expect("key").to_owned();
        let resp = operator_post(&app, &format!("/api/v1/identity/review/{id}"), serde_json::json!({"decision": "different", "reason": "namesake"})).await;
        let split: serde_json::Value = resp.json().await.expect("event");
        let namesake = split["to_person"].as_str().expect("new person").to_owned();

        // On second thought, one person after all: merge them back.
        let merge = |from: &str, into: &str, reason: &str| serde_json::json!({"from": from, "into": into, "reason": reason});
        problem(operator_post(&app, "/api/v1/identity/merges", merge(&namesake, &hanako, "")).await, 400).await;
        problem(operator_post(&app, "/api/v1/identity/merges", merge(&hanako, &hanako, "x")).await, 400).await;
        problem(operator_post(&app, "/api/v1/identity/merges", merge("nobody", &hanako, "x")).await, 400).await;
        problem(operator_post(&app, "/api/v1/identity/merges", merge("00000000-0000-7000-8000-000000000000", &hanako, "x")).await, 404).await;
        let before = app.state.audit().size();
        let resp = operator_post(&app, "/api/v1/identity/merges", merge(&namesake, &hanako, "the insurer confirmed a job change")).await;
        assert_eq!(resp.status(), 201);
        let merged: serde_json::Value = resp.json().await.expect("event");
        assert_eq!((merged["kind"].as_str(), merged["from_person"].as_str(), merged["to_person"].as_str()), (Some("merge"), Some(namesake.as_str()), Some(hanako.as_str())));
        let step = audit_entry(&app, before).await;
        assert_eq!((step["action"].as_str(), step["object"].clone()), (Some("identity.merge"), serde_json::json!(format!("event={} from={namesake} to={hanako} records=0", merged["id"].as_str().expect("id")))));
        let entry = audit_entry(&app, before + 1).await;
        assert_eq!(entry["object"], format!("/api/v1/identity/merges from={namesake} into={hanako} event={}", merged["id"].as_str().expect("id")));
        let twice = problem(operator_post(&app, "/api/v1/identity/merges", merge(&namesake, &hanako, "again")).await, 409).await;
        assert!(twice["detail"].as_str().unwrap_or("").contains("was merged into"), "{twice}");
        // The merge reached the lake: person_key_map maps the old key.
        // Collection applies it on identity's hint, not inside the merging
        // request: within moments, bounded here.
        let lake = app.state.stores().lake().expect("lake");
        let table = renkei_store::lake::TableName::parse(renkei_core::PERSON_KEY_MAP_TABLE).expect("name");
        let snapshot = table_with_rows(&lake, &table, 1).await;
        let batches = lake.read(&snapshot).await.expect("rows");
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 1);
        let column = |name: &str| {
            batches[0].column_by_name(name).and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>()).expect("text").value(0).to_owned()
        };
        assert_eq!((column("person_key"), column("merged_into")), (namesake.clone(), hanako.clone()));
        // The merged-away key reads its survivor's records, both of them.
        let records = operator_get(&app, &format!("/api/v1/identity/persons/{namesake}/attributes?reason=after%20the%20merge")).await;
        assert_eq!(records.as_array().map(Vec::len), Some(2), "{records}");

        // And split the record off once more, through the splits API.
        problem(operator_post(&app, "/api/v1/identity/splits", serde_json::json!({"records": [], "reason": "x"})).await, 400).await;
        problem(operator_post(&app, "/api/v1/identity/splits", serde_json::json!({"records": ["高橋"], "reason": "x"})).await, 400).await;
        problem(operator_post(&app, "/api/v1/identity/splits", serde_json::json!({"records": ["00000000-0000-7000-8000-000000000000"], "reason": "x"})).await, 404).await;
        problem(operator_post(&app, "/api/v1/identity/splits", serde_json::json!({"records": [record], "reason": ""})).await, 400).await;
        let all: Vec<String> = records.as_array().expect("array").iter().map(|r| r["id"].as_str().expect("id").to_owned()).collect();
        let p = problem(operator_post(&app, "/api/v1/identity/splits", serde_json::json!({"records": all, "reason": "x"})).await, 409).await;
        assert!(p["detail"].as_str().unwrap_or("").contains("nothing would be left"), "{p}");
        let resp = operator_post(&app, "/api/v1/identity/splits", serde_json::json!({"records": [record], "reason": "a namesake after all"})).await;
        assert_eq!(resp.status(), 201);
        let resplit: serde_json::Value = resp.json().await.expect("event");
        assert_eq!((resplit["kind"].as_str(), resplit["from_person"].as_str()), (Some("split"), Some(hanako.as_str())));

        // Both splits reached the lake: record_key_map moves the record's
        // rows, first to the namesake, then (the latest) to the new person.
        let table = renkei_store::lake::TableName::parse(renkei_core::RECORD_KEY_MAP_TABLE).expect("name");
        let snapshot = table_with_rows(&lake, &table, 2).await;
        let mut moved = Vec::new();
        for batch in lake.read(&snapshot).await.expect("rows") {
            let text = |name: &str| batch.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>()).expect("text").clone();
            let seq = batch.column_by_name("event_seq").and_then(|c| c.as_any().downcast_ref::<arrow::array::Int64Array>()).expect("seq").clone();
            let (records, persons, from) = (text("identity_record"), text("person_key"), text("split_from"));
            for i in 0..batch.num_rows() {
                moved.push((seq.value(i), records.value(i).to_owned(), persons.value(i).to_owned(), from.value(i).to_owned()));
            }
        }
        moved.sort();
        assert_eq!(moved, vec![
            (split["seq"].as_i64().expect("seq"), record.clone(), namesake.clone(), hanako.clone()),
            (resplit["seq"].as_i64().expect("seq"), record.clone(), resplit["to_person"].as_str().expect("to").to_owned(), hanako.clone()),
        ]);
        // And the lake's rows name the record they were resolved through,
        // so the map has rows to move.
        let person_table = renkei_store::lake::TableName::parse("person").expect("name");
        let persons = lake.current().await.expect("current").and_then(|c| c.table(&person_table).cloned()).expect("person table");
        let mut of_record = 0;
        for batch in lake.read(&persons).await.expect("rows") {
            let records = batch.column_by_name("identity_record").and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>()).expect("identity_record").clone();
            of_record += records.iter().filter(|r| *r == Some(record.as_str())).count();
        }
        assert_eq!(of_record, 1, "the split record's Patient row carries it");

        // The history, in order; and from a sequence number on.
        let events = operator_get(&app, "/api/v1/identity/events").await;
        let kinds: Vec<&str> = events.as_array().expect("array").iter().filter_map(|e| e["kind"].as_str()).collect();
        assert_eq!(kinds, ["split", "merge", "split"]);
        assert_eq!(events[1]["reason"], "the insurer confirmed a job change");
        let since = operator_get(&app, &format!("/api/v1/identity/events?since={}", events[0]["seq"])).await;
        assert_eq!(since.as_array().map(Vec::len), Some(2));
        let resp = app.http.get(app.url("/api/v1/identity/events?since=-1")).bearer_auth(operator(&app)).send().await.expect("get");
        problem(resp, 400).await;

        // Operators only, whatever the role's other rights.
        for role in [Role::Auditor, Role::Provider, Role::Reviewer] {
            let resp = app.http.get(app.url("/api/v1/identity/events")).bearer_auth(&app.creds(role).token).send().await.expect("get");
            problem(resp, 403).await;
            let resp = app.http.get(app.url(&format!("/api/v1/identity/persons/{hanako}/attributes?reason=curious"))).bearer_auth(&app.creds(role).token).send().await.expect("get");
            problem(resp, 403).await;
        }
        app.stop().await;
    }
);

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("form has a CSRF field")
        .to_owned()
}

async fn page(app: &TestApp, path: &str, session: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .header("cookie", format!("renkei_session={session}"))
        .send()
        .await
        .expect("get page")
}

async fn page_text(app: &TestApp, path: &str, session: &str) -> String {
    let resp = page(app, path, session).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.text().await.expect("html")
}

async fn post_form(
    app: &TestApp,
    path: &str,
    session: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("cookie", format!("renkei_session={session}"))
        .form(form)
        .send()
        .await
        .expect("post form")
}

app_test!(
    async fn the_review_page_shows_attributes_only_after_a_reason_and_records_the_decision(app) {
        let item = queued_link(&app).await;
        let id = item["id"].as_str().expect("id");
        let record = item["record_id"].as_str().expect("record");
        let session = app.creds(Role::Operator).session.clone();

        // The queue: ids and keys, no attribute.
        let html = page_text(&app, "/identity/review", &session).await;
        assert!(html.contains("<html lang=\"ja\""), "Japanese first");
        for text in ["<h1>名寄せ確認</h1>", "href=\"/identity/review\"", &format!("href=\"/identity/review/{id}\""), record, "カナ氏名・生年月日・性別のみで連結", "未判定", "<caption>"] {
            assert!(html.contains(text), "queue page lacks {text}");
        }
        // The item: a form asking why, still no attribute.
        let html = page_text(&app, &format!("/identity/review/{id}"), &session).await;
        assert!(html.contains(&format!("action=\"/identity/review/{id}/attributes\"")) && html.contains("閲覧理由"), "{html}");
        for page_html in [&html, &page_text(&app, "/identity/review?state=all", &session).await] {
            for value in ["ハナコ", "花子", "12345678", "87654321", "新宿"] {
                assert!(!page_html.contains(value), "no attribute before a reason ({value})");
            }
        }
        let csrf = csrf_of(&html);

        // Reading: the session's CSRF token and a reason, or nothing.
        let attributes = format!("/identity/review/{id}/attributes");
        problem(post_form(&app, &attributes, &session, &[("csrf", "forged"), ("reason", "x")]).await, 403).await;
        problem(post_form(&app, &attributes, &session, &[("csrf", &csrf), ("reason", "  ")]).await, 400).await;
        problem(post_form(&app, &attributes, &session, &[("csrf", &csrf)]).await, 400).await;
        let before = app.state.audit().size();
        let resp = post_form(&app, &attributes, &session, &[("csrf", &csrf), ("reason", "insurer change?")]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let html = resp.text().await.expect("html");
        for text in ["タカハシ ハナコ", "高橋 花子", "12345678", "87654321", "（一致）", "（不一致）", "東京都新宿区", "value=\"same\"", "value=\"different\"", "同一人物", "別人", "判定理由", &format!("action=\"/identity/review/{id}\"")] {
            assert!(html.contains(text), "comparison lacks {text}");
        }
        let entry = audit_entry(&app, before).await;
        assert_eq!(entry["action"], "POST /identity/review/{id}/attributes");
        let object = entry["object"].as_str().expect("object");
        assert!(
            object.starts_with(&format!("{attributes} person={} records=2 read=", item["person_key"].as_str().expect("key"))),
            "{object}"
        );
        // Reloading or switching language reads nothing: back to the item.
        let resp = page(&app, &format!("{attributes}?lang=en"), &session).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(resp.headers()["location"], format!("/identity/review/{id}?lang=en"));

        // Deciding: CSRF, a reason, then back to the queue, which confirms it.
        problem(post_form(&app, &format!("/identity/review/{id}"), &session, &[("csrf", "forged"), ("decision", "same"), ("reason", "x")]).await, 403).await;
        problem(post_form(&app, &format!("/identity/review/{id}"), &session, &[("csrf", &csrf), ("decision", "same"), ("reason", "")]).await, 400).await;
        let resp = post_form(&app, &format!("/identity/review/{id}"), &session, &[("csrf", &csrf), ("decision", "same"), ("reason", "same phone, insurer changed")]).await;
        assert_eq!(resp.status(), 303);
        let location = resp.headers()["location"].to_str().expect("location").to_owned();
        assert_eq!(location, format!("/identity/review?decided={id}"));
        let html = page_text(&app, &location, &session).await;
        assert!(html.contains("判定を記録しました") && html.contains("同一人物") && html.contains("確認待ちの連結はありません"), "{html}");
        problem(post_form(&app, &attributes, &session, &[("csrf", &csrf), ("reason", "again")]).await, 409).await;
        assert_eq!(operator_get(&app, "/api/v1/identity/events").await, serde_json::json!([]), "same splits nothing");

        let en = page_text(&app, "/identity/review?lang=en", &session).await;
        assert!(en.contains("<h1>Clerical review</h1>") && en.contains("<html lang=\"en\""));
        // Only operators see it, and only operators are offered it.
        let auditor = app.creds(Role::Auditor).session.clone();
        problem(page(&app, "/identity/review", &auditor).await, 403).await;
        let menu = page_text(&app, "/collect/compliance", &auditor).await;
        assert!(!menu.contains("href=\"/identity/review\""), "an auditor's menu does not offer the review");
        assert!(!html.contains("<script"), "no JavaScript");
        app.stop().await;
    }
);

app_test!(
    async fn an_operator_runs_the_probabilistic_pass_and_it_is_audited(app) {
        // Two records the name token linked, the second waiting for review:
        // the pass leaves that one out (an untrusted record must not pull
        // anyone in by likeness), and has nothing to merge.
        let _ = queued_link(&app).await;
        let before = app.state.audit().size();
        let job = crate::processing::run_job(&app, Role::Operator, reqwest::Method::POST, "/api/v1/identity/relink", serde_json::json!({})).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        let report = &job["result"];
        assert_eq!(report["records"], 1, "{report}");
        assert_eq!(report["persons_before"], 1, "{report}");
        assert_eq!(report["merged"], 0, "{report}");
        // The request that started it, then the job's end with its counts.
        let id = job["id"].as_str().expect("id");
        let entry = audit_entry(&app, before).await;
        assert_eq!(entry["action"], "POST /api/v1/identity/relink");
        assert_eq!(entry["object"], format!("/api/v1/identity/relink index job={id}"));
        let end = audit_entry(&app, before + 1).await;
        assert_eq!(end["action"], "job.end");
        assert_eq!(end["object"], format!("job={id} kind=relink state=succeeded merged=0 queued=0"));
    }
);

/// The table's snapshot once it holds `rows` rows (waiting up to 10 s for
/// collection to apply identity's events).
async fn table_with_rows(
    lake: &renkei_store::lake::Lake,
    table: &renkei_store::lake::TableName,
    rows: usize,
) -> renkei_store::lake::Snapshot {
    for _ in 0..200 {
        if let Some(snapshot) = lake
            .current()
            .await
            .expect("current")
            .and_then(|c| c.table(table).cloned())
        {
            let n: usize = lake
                .read(&snapshot)
                .await
                .expect("rows")
                .iter()
                .map(|b| b.num_rows())
                .sum();
            if n >= rows {
                return snapshot;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{table} did not reach {rows} rows");
}
