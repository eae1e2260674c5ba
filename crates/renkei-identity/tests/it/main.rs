//! Integration tests of the person index, each on SQLite and PostgreSQL,
//! and of linkage on the shared test data (`linkage`).

mod attacks;
mod curation;
mod linkage;
mod staging;

use std::sync::Arc;

use renkei_core::{IdentifyingAttributes, LinkMethod, ProviderCode, SystemClock};
use renkei_identity::PersonIndex;
use renkei_store::test_on_both_backends;
use renkei_store::testing::TestStores;

async fn index(t: &TestStores) -> PersonIndex {
    index_audited(t, Arc::new(Log::default())).await
}

async fn index_audited(t: &TestStores, log: Arc<Log>) -> PersonIndex {
    PersonIndex::open(&t.stores, Arc::new(SystemClock), log)
        .await
        .expect("index opens")
}

/// An audit log in memory that can be made to refuse, as a full or failed
/// log would.
#[derive(Default)]
struct Log {
    refuse: std::sync::atomic::AtomicBool,
    lines: std::sync::Mutex<Vec<String>>,
}

impl renkei_core::AuditSink for Log {
    fn append(
        &self,
        event: renkei_core::AuditEvent,
    ) -> futures::future::BoxFuture<'_, Result<renkei_core::AuditReceipt, renkei_core::Error>> {
        Box::pin(async move {
            if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(renkei_core::Error::Audit("the test log refuses".to_owned()));
            }
            let mut lines = self.lines.lock().expect("lock");
            lines.push(format!("{} {}", event.action, event.object));
            Ok(renkei_core::AuditReceipt {
                index: lines.len() as u64 - 1,
            })
        })
    }
}

/// The operator who curates in these tests.
fn ops() -> renkei_core::Actor {
    renkei_core::Actor::User {
        id: renkei_core::UserId::generate(),
        username: "ops".to_owned(),
        role: renkei_core::Role::Operator,
    }
}

fn provider(code: &str) -> ProviderCode {
    ProviderCode::parse(code).expect("valid code")
}

fn insured(number: &str, branch: &str, local: &str) -> IdentifyingAttributes {
    IdentifyingAttributes {
        local_patient_id: Some(local.to_owned()),
        insurer_number: Some("06130045".to_owned()),
        insured_symbol: Some("12".to_owned()),
        insured_number: Some(number.to_owned()),
        insured_branch: Some(branch.to_owned()),
        kanji_name: Some("髙橋 花子".to_owned()),
        kana_name: Some("タカハシ ハナコ".to_owned()),
        birth_date: Some("1961-04-02".to_owned()),
        ..Default::default()
    }
}

test_on_both_backends!(
    async fn the_same_insurance_number_links_across_providers(t) {
        let idx = index(t).await;
        let a = idx.resolve(&provider("1310000017"), &insured("3456", "01", "P-1")).await.expect("a");
        assert_eq!(a.method, LinkMethod::NewPerson);
        // Full-width digits at another provider, another local id.
        let b = idx.resolve(&provider("2740000014"), &insured("３４５６", "０１", "77")).await.expect("b");
        assert_eq!(b.person_key, a.person_key);
        assert_eq!(b.method, LinkMethod::InsuranceNumber);
        // A family member: same card, another 枝番.
        let c = idx.resolve(&provider("1310000017"), &insured("3456", "02", "P-2")).await.expect("c");
        assert_ne!(c.person_key, a.person_key);
        assert_eq!(idx.person_count().await.expect("count"), 2);
    }
);

test_on_both_backends!(
    async fn a_provider_patient_id_links_records_without_insurance(t) {
        let idx = index(t).await;
        let first = idx.resolve(&provider("1310000017"), &insured("3456", "01", "P-1")).await.expect("first");
        let no_card = IdentifyingAttributes { local_patient_id: Some("p-1".to_owned()), ..Default::default() };
        let again = idx.resolve(&provider("1310000017"), &no_card).await.expect("again");
        assert_eq!(again.person_key, first.person_key);
        assert_eq!(again.method, LinkMethod::LocalPatientId);
        // The same local id at another provider is another patient.
        let elsewhere = idx.resolve(&provider("2740000014"), &no_card).await.expect("elsewhere");
        assert_ne!(elsewhere.person_key, first.person_key);
    }
);

test_on_both_backends!(
    async fn concurrent_records_of_one_new_person_get_one_key(t) {
        let idx = index(t).await;
        // Several rounds, each a new person whose records arrive at once
        // from two providers with distinct local ids: every round must end
        // with one key, and no token may point at a dropped candidate.
        for round in 0..6 {
            let mut tasks = Vec::new();
            for i in 0..16 {
                let idx = idx.clone();
                tasks.push(tokio::spawn(async move {
                    let code = if i % 2 == 0 { "1310000017" } else { "2740000014" };
                    let number = format!("99{round}");
                    idx.resolve(&provider(code), &insured(&number, "00", &format!("R{round}L{i}"))).await
                }));
            }
            let mut keys = Vec::new();
            for task in tasks {
                keys.push(task.await.expect("task").expect("resolve").person_key);
            }
            keys.dedup();
            assert_eq!(keys.len(), 1, "round {round}: one person got several keys");
        }
        assert_eq!(idx.person_count().await.expect("count"), 6);
    }
);

test_on_both_backends!(
    async fn attributes_are_stored_only_encrypted(t) {
        let idx = index(t).await;
        idx.resolve(&provider("1310000017"), &insured("3456", "01", "P-1")).await.expect("resolve");
        let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT ciphertext FROM attribute_records")
            .fetch_all(idx.db().pool())
            .await
            .expect("select");
        assert_eq!(rows.len(), 1);
        for needle in ["髙橋", "タカハシ", "1961-04-02", "3456"] {
            assert!(
                !rows[0].windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} stored in the clear"
            );
        }
        let tokens: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token FROM match_tokens")
            .fetch_all(idx.db().pool())
            .await
            .expect("select");
        assert_eq!(tokens.len(), 2, "insurance and local-id tokens");
        assert!(tokens.iter().all(|t| !t.windows(4).any(|w| w == b"3456")));
    }
);

test_on_both_backends!(
    async fn a_batch_agrees_with_itself_and_find_local_creates_nothing(t) {
        let idx = index(t).await;
        let here = provider("1310000017");
        let records = vec![
            insured("5001", "00", "A"),
            // The same card under another local id: the same person.
            insured("5001", "00", "B"),
            insured("5002", "00", "C"),
            IdentifyingAttributes { local_patient_id: Some("a".to_owned()), ..Default::default() },
        ];
        let answers = idx.resolve_batch(&here, &records).await.expect("batch");
        assert_eq!(answers.len(), 4);
        assert_eq!(answers[0].method, LinkMethod::NewPerson);
        assert_eq!(answers[1].person_key, answers[0].person_key);
        assert_eq!(answers[1].method, LinkMethod::InsuranceNumber);
        assert_ne!(answers[2].person_key, answers[0].person_key);
        assert_eq!(answers[3].person_key, answers[0].person_key, "local ids are normalized");
        assert_eq!(idx.person_count().await.expect("count"), 2);

        let ids = ["A", "C", "unknown", ""].map(str::to_owned);
        let found = idx.find_local(&here, &ids).await.expect("find");
        assert_eq!(found, vec![Some(answers[0].person_key), Some(answers[2].person_key), None, None]);
        let elsewhere = idx.find_local(&provider("2740000014"), &ids[..1]).await.expect("find");
        assert_eq!(elsewhere, vec![None], "a local id means nothing at another provider");
        assert_eq!(idx.person_count().await.expect("count"), 2);
    }
);

test_on_both_backends!(
    async fn a_patient_is_identified_only_by_number_and_name_together(t) {
        let idx = index(t).await;
        let mut record = insured("3456", "01", "P-1");
        record.sex = Some(renkei_core::Sex::Female);
        let person = idx.resolve(&provider("1310000017"), &record).await.expect("resolve").person_key;
        let presented = IdentifyingAttributes {
            insurer_number: Some("06130045".to_owned()),
            insured_symbol: Some("１２".to_owned()),
            insured_number: Some("3456".to_owned()),
            insured_branch: Some("01".to_owned()),
            kana_name: Some("ﾀｶﾊｼ　ﾊﾅｺ".to_owned()),
            birth_date: Some("1961/04/02".to_owned()),
            sex: Some(renkei_core::Sex::Female),
            ..Default::default()
        };
        assert_eq!(idx.identify(&presented).await.expect("identify"), Some(person), "as typed: half-width kana, slashes");
        let wrong_birth = IdentifyingAttributes { birth_date: Some("1961-04-03".to_owned()), ..presented.clone() };
        assert_eq!(idx.identify(&wrong_birth).await.expect("identify"), None);
        let other_card = IdentifyingAttributes { insured_number: Some("3457".to_owned()), ..presented.clone() };
        assert_eq!(idx.identify(&other_card).await.expect("identify"), None);
        let no_card = IdentifyingAttributes { insured_number: None, ..presented.clone() };
        assert_eq!(idx.identify(&no_card).await.expect("identify"), None, "name and birth date alone do not identify");
        assert_eq!(idx.person_count().await.expect("count"), 1, "identification creates nobody");

        // After a merge the survivor answers.
        let mut other = insured("9999", "01", "Q-9");
        other.kana_name = Some("ヤマダ タロウ".to_owned());
        let survivor = idx.resolve(&provider("2740000014"), &other).await.expect("other").person_key;
        idx.merge(&person, &survivor, &crate::ops(), "same person, confirmed by phone").await.expect("merge");
        assert_eq!(idx.identify(&presented).await.expect("identify"), Some(survivor));
    }
);

test_on_both_backends!(
    async fn identification_does_the_same_work_whether_the_number_is_on_record_or_not(t) {
        // The portal must not tell, by its time, whether a card is on
        // record: counted, not timed (no timing asserts in tests).
        let idx = index(t).await;
        let mut record = insured("3456", "01", "P-1");
        record.sex = Some(renkei_core::Sex::Female);
        let person = idx.resolve(&provider("1310000017"), &record).await.expect("resolve").person_key;
        let right = IdentifyingAttributes {
            insurer_number: Some("06130045".to_owned()),
            insured_symbol: Some("12".to_owned()),
            insured_number: Some("3456".to_owned()),
            insured_branch: Some("01".to_owned()),
            kana_name: Some("タカハシ ハナコ".to_owned()),
            birth_date: Some("1961-04-02".to_owned()),
            sex: Some(renkei_core::Sex::Female),
            ..Default::default()
        };
        let wrong_name = IdentifyingAttributes { kana_name: Some("タカハシ ハナ".to_owned()), ..right.clone() };
        let unknown_card = IdentifyingAttributes { insured_number: Some("3457".to_owned()), ..right.clone() };
        let (found, on_record) = idx.identify_counted(&right).await.expect("identify");
        assert_eq!(found, Some(person));
        let (none, known_wrong) = idx.identify_counted(&wrong_name).await.expect("identify");
        assert_eq!(none, None);
        let (none, unknown) = idx.identify_counted(&unknown_card).await.expect("identify");
        assert_eq!(none, None);
        assert_eq!(known_wrong, unknown, "a card on record and one that is not cost the same");
        assert_eq!(on_record, unknown, "and so does a match");
        assert!(unknown.statements >= 3 && unknown.decryptions >= 1, "{unknown:?}");
    }
);
