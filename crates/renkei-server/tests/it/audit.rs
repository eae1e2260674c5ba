//! Every authenticated request is in the audit log before its answer
//! arrives, and the log's proofs check out over the API.

use renkei_core::Role;

use crate::app_test;

async fn entries(app: &crate::helpers::TestApp, start: u64, end: u64) -> Vec<serde_json::Value> {
    let a = app.creds(Role::Auditor).clone();
    let v: serde_json::Value = app
        .http
        .get(app.url(&format!("/api/v1/audit/entries?start={start}&end={end}")))
        .bearer_auth(&a.token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    v.as_array().expect("array").clone()
}

app_test!(
    async fn an_authenticated_request_is_logged_before_its_answer(app) {
        let before = app.state.audit().size();
        let c = app.creds(Role::Reviewer).clone();
        let resp = app.http.get(app.url("/api/v1/me")).bearer_auth(&c.token).send().await.expect("send");
        assert_eq!(resp.status(), 200);
        // The answer has arrived, so its entry must already be durable.
        assert_eq!(app.state.audit().size(), before + 1);
        let got = entries(&app, before, before + 1).await;
        let event = &got[0]["event"];
        assert_eq!(event["actor"]["kind"], "user");
        assert_eq!(event["actor"]["role"], "reviewer");
        assert_eq!(event["action"], "GET /api/v1/me");
        assert_eq!(event["outcome"], "success");
        assert!(event["request_id"].is_string());
        app.stop().await;
    }
);

app_test!(
    async fn refusals_of_signed_in_callers_are_logged_too(app) {
        let before = app.state.audit().size();
        let c = app.creds(Role::Patient).clone();
        let resp = app.http.get(app.url("/api/v1/audit/entries?start=0&end=1")).bearer_auth(&c.token).send().await.expect("send");
        assert_eq!(resp.status(), 403);
        let got = entries(&app, before, before + 1).await;
        assert_eq!(got[0]["event"]["outcome"], "refused");
        assert_eq!(got[0]["event"]["status"], 403);
        app.stop().await;
    }
);

app_test!(
    async fn proofs_from_the_api_verify(app) {
        let c = app.creds(Role::Provider).clone();
        for _ in 0..5 {
            app.http.get(app.url("/api/v1/me")).bearer_auth(&c.token).send().await.expect("send");
        }
        let key: serde_json::Value = app.http.get(app.url("/api/v1/audit/key")).send().await.expect("send").json().await.expect("json");
        let key: renkei_audit::PublicKey = key["public_key_hex"].as_str().expect("hex").parse().expect("key");
        let first: renkei_audit::SignedTreeHead = app.http.get(app.url("/api/v1/audit/head")).send().await.expect("send").json().await.expect("json");
        first.verify(&key).expect("signature");
        for _ in 0..3 {
            app.http.get(app.url("/api/v1/me")).bearer_auth(&c.token).send().await.expect("send");
        }
        let second: renkei_audit::SignedTreeHead = app.http.get(app.url("/api/v1/audit/head")).send().await.expect("send").json().await.expect("json");
        second.verify(&key).expect("signature");
        assert!(second.tree_size > first.tree_size);
        let proof: renkei_audit::ConsistencyProof = app
            .http
            .get(app.url(&format!("/api/v1/audit/proof/consistency?first={}&second={}", first.tree_size, second.tree_size)))
            .send().await.expect("send").json().await.expect("json");
        proof.verify(&first.root_hash, &second.root_hash).expect("consistent");
        let got = entries(&app, 2, 3).await;
        let entry: renkei_audit::StoredEntry = serde_json::from_value(got[0].clone()).expect("entry");
        let proof: renkei_audit::InclusionProof = app
            .http
            .get(app.url(&format!("/api/v1/audit/proof/inclusion?index=2&tree_size={}", second.tree_size)))
            .send().await.expect("send").json().await.expect("json");
        proof.verify(&entry.leaf_hash, &second.root_hash).expect("included");
        let resp = app
            .http
            .get(app.url(&format!("/api/v1/audit/proof/inclusion?index={}&tree_size={}", second.tree_size + 10, second.tree_size)))
            .send().await.expect("send");
        crate::helpers::problem(resp, 400).await;
        app.stop().await;
    }
);
