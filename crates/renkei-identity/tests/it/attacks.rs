//! Attacks on the person index by a provider's sender, each asserting that
//! it fails safely: a patient's portal identity (insurance number with 枝番
//! and a record carrying the presented kana name, birth date and sex) can
//! be neither claimed nor extended by what a sender submits.

use renkei_core::{LinkMethod, Sex};
use renkei_identity::curation::{Decision, ReviewReason};

use super::*;

/// The victim, as their own hospital sent them.
fn victim() -> IdentifyingAttributes {
    IdentifyingAttributes {
        sex: Some(Sex::Female),
        ..insured("3456", "01", "P-1")
    }
}

/// What the victim (or anyone holding their card) types at the portal,
/// with the name, birth date and sex given.
fn presented(kana: &str, birth: &str, sex: Sex) -> IdentifyingAttributes {
    IdentifyingAttributes {
        insurer_number: Some("06130045".to_owned()),
        insured_symbol: Some("12".to_owned()),
        insured_number: Some("3456".to_owned()),
        insured_branch: Some("01".to_owned()),
        kana_name: Some(kana.to_owned()),
        birth_date: Some(birth.to_owned()),
        sex: Some(sex),
        ..Default::default()
    }
}

/// The attacker's Patient: the victim's card under an invented name,
/// birth date and sex, and the attacker's own patient id.
fn claimed_card() -> IdentifyingAttributes {
    IdentifyingAttributes {
        local_patient_id: Some("ATTACK-1".to_owned()),
        kanji_name: Some("佐藤 一郎".to_owned()),
        kana_name: Some("サトウ イチロウ".to_owned()),
        birth_date: Some("1990-01-01".to_owned()),
        sex: Some(Sex::Male),
        ..presented("", "", Sex::Male)
    }
}

test_on_both_backends!(
    async fn a_card_sent_under_an_invented_name_is_queued_and_identifies_nobody(t) {
        let idx = index(t).await;
        let victim_key = idx.resolve(&provider("1310000017"), &victim()).await.expect("victim").person_key;
        let attacker = provider("2740000014");
        let r = idx.resolve(&attacker, &claimed_card()).await.expect("attack");
        // Linked (its rows carry the key, so a split can move them), but
        // queued, not trusted.
        assert_eq!(r.person_key, victim_key);
        assert_eq!(r.method, LinkMethod::InsuranceNumber);
        let queue = idx.review_queue(true, 10).await.expect("queue");
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].reason, ReviewReason::AttributesDisagree);
        assert_eq!(queue[0].record_id, r.record.to_string());

        // The invented details do not identify; the victim's own still do.
        let invented = presented("サトウ イチロウ", "1990-01-01", Sex::Male);
        assert_eq!(idx.identify(&invented).await.expect("identify"), None, "the sender's invented name opens the victim's portal");
        let real = presented("タカハシ ハナコ", "1961-04-02", Sex::Female);
        assert_eq!(idx.identify(&real).await.expect("identify"), Some(victim_key));

        // The queued record bound no token: neither the sender's patient id
        // nor the invented name leads to the victim.
        let by_local = IdentifyingAttributes { local_patient_id: Some("ATTACK-1".to_owned()), ..Default::default() };
        assert_ne!(idx.resolve(&attacker, &by_local).await.expect("local").person_key, victim_key);
        let by_name = IdentifyingAttributes { insurer_number: None, insured_symbol: None, insured_number: None, insured_branch: None, local_patient_id: None, ..claimed_card() };
        assert_ne!(idx.resolve(&attacker, &by_name).await.expect("name").person_key, victim_key);
        assert_eq!(idx.identify(&invented).await.expect("identify"), None);

        // Sent again, it is queued again, never trusted by repetition.
        idx.resolve(&attacker, &claimed_card()).await.expect("again");
        assert_eq!(idx.review_queue(true, 10).await.expect("queue").len(), 2);
        assert_eq!(idx.identify(&invented).await.expect("identify"), None);

        // The reviewer refuses: the record leaves the victim, the card
        // stays theirs, and the invented name still identifies nobody.
        let event = idx.decide(&queue[0].id, Decision::Different, &crate::ops(), "not the card holder").await.expect("decide").expect("a split");
        assert_eq!(event.from_person, victim_key);
        assert_eq!(idx.identify(&invented).await.expect("identify"), None);
        assert_eq!(idx.identify(&real).await.expect("identify"), Some(victim_key));
        let card_only = IdentifyingAttributes { local_patient_id: None, kana_name: None, kanji_name: None, birth_date: None, sex: None, ..victim() };
        assert_eq!(idx.resolve(&attacker, &card_only).await.expect("card").person_key, victim_key);
    }
);

test_on_both_backends!(
    async fn a_changed_name_identifies_only_after_a_reviewer_accepts_it(t) {
        let idx = index(t).await;
        let person = idx.resolve(&provider("1310000017"), &victim()).await.expect("before").person_key;
        // Married: the same card, a new surname.
        let married = IdentifyingAttributes { kana_name: Some("ヤマダ ハナコ".to_owned()), kanji_name: Some("山田 花子".to_owned()), ..victim() };
        assert_eq!(idx.resolve(&provider("1310000017"), &married).await.expect("after").person_key, person);
        let new_name = presented("ヤマダ ハナコ", "1961-04-02", Sex::Female);
        assert_eq!(idx.identify(&new_name).await.expect("identify"), None, "not before review");
        let item = idx.review_queue(true, 10).await.expect("queue").remove(0);
        assert_eq!(item.reason, ReviewReason::AttributesDisagree);
        assert!(idx.decide(&item.id, Decision::Same, &crate::ops(), "marriage, confirmed with the hospital").await.expect("decide").is_none());
        assert_eq!(idx.identify(&new_name).await.expect("identify"), Some(person));
        // Accepted, the new name is one the person is known by: sent again,
        // it links without review.
        idx.resolve(&provider("2740000014"), &married).await.expect("again");
        assert!(idx.review_queue(true, 10).await.expect("queue").is_empty());
    }
);

test_on_both_backends!(
    async fn a_name_and_birthday_alone_cannot_give_a_person_a_new_card(t) {
        let idx = index(t).await;
        let victim_key = idx.resolve(&provider("1310000017"), &victim()).await.expect("victim").person_key;
        let attacker = provider("2740000014");
        // Knowing only the victim's name, birth date and sex: first a
        // Patient with them and the sender's own patient id …
        let patient = IdentifyingAttributes {
            local_patient_id: Some("ATTACK-2".to_owned()),
            insurer_number: None, insured_symbol: None, insured_number: None, insured_branch: None,
            ..victim()
        };
        let r = idx.resolve(&attacker, &patient).await.expect("patient");
        assert_eq!(r.person_key, victim_key);
        let queue = idx.review_queue(true, 10).await.expect("queue");
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].reason, ReviewReason::NameBirthSexOnly);
        // … then a Coverage with a card of the sender's choosing under that
        // patient id, and the card with the victim's name at the portal.
        let coverage = IdentifyingAttributes {
            local_patient_id: Some("ATTACK-2".to_owned()),
            insurer_number: Some("06130045".to_owned()),
            insured_symbol: Some("12".to_owned()),
            insured_number: Some("6666".to_owned()),
            insured_branch: Some("01".to_owned()),
            ..Default::default()
        };
        assert_ne!(idx.resolve(&attacker, &coverage).await.expect("coverage").person_key, victim_key);
        let chosen = IdentifyingAttributes { insured_number: Some("6666".to_owned()), ..presented("タカハシ ハナコ", "1961-04-02", Sex::Female) };
        assert_eq!(idx.identify(&chosen).await.expect("identify"), None);
        // The same in one record: a card and the victim's name.
        let both = IdentifyingAttributes { insured_number: Some("7777".to_owned()), local_patient_id: Some("ATTACK-3".to_owned()), ..victim() };
        assert_eq!(idx.resolve(&attacker, &both).await.expect("both").person_key, victim_key);
        let chosen = IdentifyingAttributes { insured_number: Some("7777".to_owned()), ..chosen };
        assert_eq!(idx.identify(&chosen).await.expect("identify"), None);
    }
);
