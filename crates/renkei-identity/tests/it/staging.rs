//! Batches staged for a submission: seen only by themselves until
//! committed, gone without a trace when discarded (issue 15, finding 9).

use renkei_core::{IdentityBatch, LinkMethod, Sex};
use renkei_identity::curation::{Decision, ReviewReason};

use super::*;

fn patient(number: &str, local: &str) -> IdentifyingAttributes {
    IdentifyingAttributes {
        sex: Some(Sex::Female),
        ..insured(number, "01", local)
    }
}

fn portal(number: &str) -> IdentifyingAttributes {
    IdentifyingAttributes {
        insurer_number: Some("06130045".to_owned()),
        insured_symbol: Some("12".to_owned()),
        insured_number: Some(number.to_owned()),
        insured_branch: Some("01".to_owned()),
        kana_name: Some("タカハシ ハナコ".to_owned()),
        birth_date: Some("1961-04-02".to_owned()),
        sex: Some(Sex::Female),
        ..Default::default()
    }
}

test_on_both_backends!(
    async fn a_staged_batch_is_seen_only_by_itself_until_committed(t) {
        let idx = index(t).await;
        let hospital = provider("1310000017");
        let batch = IdentityBatch::generate();
        // Two chunks of one submission: the second sees the first.
        let first = idx.resolve_staged(&batch, &hospital, &[patient("4242", "A")]).await.expect("first chunk");
        let second = idx.resolve_staged(&batch, &hospital, &[patient("4242", "B")]).await.expect("second chunk");
        assert_eq!(first[0].method, LinkMethod::NewPerson);
        assert_eq!(second[0].person_key, first[0].person_key, "chunks of one batch agree");
        assert!(idx.staged_rows(&batch).await.expect("staged") > 0);

        // Nobody else sees it: not the count, not the portal, not a lookup,
        // not another provider's record of the same card.
        assert_eq!(idx.person_count().await.expect("count"), 0);
        assert_eq!(idx.identify(&portal("4242")).await.expect("identify"), None);
        assert_eq!(idx.find_local(&hospital, &["A".to_owned()]).await.expect("find"), vec![None]);
        let meanwhile = idx.resolve(&provider("2740000014"), &patient("4242", "Z")).await.expect("meanwhile");
        assert_eq!(meanwhile.method, LinkMethod::NewPerson);
        assert_ne!(meanwhile.person_key, first[0].person_key);

        // Committed, it becomes visible at once; the card stays with the
        // person it was committed to first, and the pair waits for review.
        idx.commit_batch(&batch).await.expect("commit");
        assert_eq!(idx.staged_rows(&batch).await.expect("staged"), 0);
        assert_eq!(idx.person_count().await.expect("count"), 2);
        assert_eq!(idx.find_local(&hospital, &["A".to_owned(), "B".to_owned()]).await.expect("find"), vec![Some(first[0].person_key); 2]);
        assert_eq!(idx.identify(&portal("4242")).await.expect("identify"), Some(meanwhile.person_key));
        let queue = idx.review_queue(true, 10).await.expect("queue");
        assert_eq!(queue.len(), 1, "{queue:?}");
        assert_eq!(queue[0].reason, ReviewReason::ConcurrentLink);
        assert_eq!((queue[0].person_key, queue[0].other_person), (first[0].person_key, Some(meanwhile.person_key)));
        // Committing again is nothing to do.
        idx.commit_batch(&batch).await.expect("again");
        assert_eq!(idx.person_count().await.expect("count"), 2);
        assert_eq!(idx.review_queue(true, 10).await.expect("queue").len(), 1);

        // The reviewer confirms: one person.
        let merge = idx.decide(&queue[0].id, Decision::Same, &crate::ops(), "one patient at two providers").await.expect("decide").expect("a merge");
        assert_eq!(idx.current(&merge.from_person).await.expect("current"), merge.to_person);
        assert_eq!(idx.identify(&portal("4242")).await.expect("identify"), Some(merge.to_person));
    }
);

test_on_both_backends!(
    async fn a_discarded_batch_leaves_no_person_token_record_or_review(t) {
        let idx = index(t).await;
        let hospital = provider("1310000017");
        let victim = idx.resolve(&hospital, &patient("3456", "P-1")).await.expect("victim").person_key;
        let batch = IdentityBatch::generate();
        // A new patient, and a sender's claim on the victim's card under an
        // invented name, in a submission that is then refused.
        let claim = IdentifyingAttributes {
            kana_name: Some("サトウ イチロウ".to_owned()),
            sex: Some(Sex::Male),
            ..patient("3456", "ATTACK-1")
        };
        let answers = idx.resolve_staged(&batch, &provider("2740000014"), &[patient("5555", "N"), claim]).await.expect("staged");
        assert_eq!(answers[1].person_key, victim);
        idx.discard_batch(&batch).await.expect("discard");

        assert_eq!(idx.staged_rows(&batch).await.expect("staged"), 0);
        assert_eq!(idx.person_count().await.expect("count"), 1, "the refused submission's new patient remains");
        assert!(idx.review_queue(false, 10).await.expect("queue").is_empty(), "the refused submission's claim is queued");
        let read = idx.attributes_of(&victim, "operator:ops", "checking the discard").await.expect("attributes");
        assert_eq!(read.records.len(), 1, "the refused submission's record reached the victim");
        let invented = IdentifyingAttributes { kana_name: Some("サトウ イチロウ".to_owned()), sex: Some(Sex::Male), ..portal("3456") };
        assert_eq!(idx.identify(&invented).await.expect("identify"), None);
        assert_eq!(idx.identify(&portal("5555")).await.expect("identify"), None);

        // Discarding again, or committing after the discard, changes nothing.
        idx.discard_batch(&batch).await.expect("again");
        idx.commit_batch(&batch).await.expect("commit after discard");
        assert_eq!(idx.person_count().await.expect("count"), 1);
    }
);
