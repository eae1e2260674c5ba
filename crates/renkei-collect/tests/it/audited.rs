//! Logged before visible, for effects (issue 15, finding 8): a submission
//! counts only once the log holds an entry naming it, entries name the
//! lake version it landed as, and recovery that finishes a submission a
//! crash cut is logged too.

use renkei_collect::Error;
use renkei_store::test_on_both_backends;

use super::*;

fn two_patients() -> String {
    ndjson(&[
        patient("p1", "L1", "01010016:1:1:00"),
        patient("p2", "L2", "01010016:1:2:00"),
    ])
}

/// The entries about submissions (the harness registers providers too).
fn submissions(audit: &TestAudit) -> Vec<String> {
    audit
        .lines()
        .into_iter()
        .filter(|l| !l.starts_with("collect.provider "))
        .collect()
}

async fn states(intake: &Intake) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM submissions ORDER BY id")
        .fetch_all(intake.db().pool())
        .await
        .expect("states")
}

test_on_both_backends!(
    async fn a_submission_the_log_refuses_lands_nowhere(t) {
        // The attack: with the audit store unavailable, data went in
        // unrecorded. Now the sender is told, and nothing of it counts.
        let identity = Arc::new(TestIdentity::default());
        let audit = Arc::new(TestAudit::default());
        let intake = intake_audited(&t.stores, IntakeConfig::default(), identity.clone(), audit.clone()).await;
        audit.refuse(true);
        let err = intake
            .submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(two_patients().into_bytes()))
            .await
            .expect_err("the log refuses");
        assert!(matches!(err, Error::Audit(_)), "{err}");
        assert_eq!(rows(&t.stores, "person").await, 0, "rows landed unrecorded");
        assert!(t.stores.lake().expect("lake").current().await.expect("lake").is_none(), "a lake version was made");
        assert_eq!(identity.persons(), 0, "persons were made unrecorded");
        assert_eq!(identity.staged_batches(), 0);
        assert_eq!(states(&intake).await, ["failed"]);

        // With the log back, the same content goes in (the refused try
        // is not taken for an earlier copy of it).
        audit.refuse(false);
        let r = submit(&intake, HOSPITAL, two_patients()).await;
        assert_eq!(r.totals().accepted, 2);
        assert_eq!(rows(&t.stores, "person").await, 2);
    }
);

test_on_both_backends!(
    async fn each_submission_is_logged_before_it_lands_and_with_its_lake_version(t) {
        let audit = Arc::new(TestAudit::default());
        let intake = intake_audited(&t.stores, IntakeConfig::default(), Arc::new(TestIdentity::default()), audit.clone()).await;
        let r = submit(&intake, HOSPITAL, two_patients()).await;
        let version = r.lake_version.expect("rows were written");
        let id = r.submission_id.to_string();
        assert_eq!(
            submissions(&audit),
            [
                format!("collect.commit submission={id} provider={HOSPITAL} received=2 accepted=2 rejected=0 pending=0"),
                format!("collect.committed submission={id} lake_version={version}"),
            ]
        );
        let actor = audit.events.lock().expect("lock").last().expect("an entry").actor.clone();
        assert_eq!(actor, sender(), "the entry names who sent it");
    }
);

test_on_both_backends!(
    async fn a_submission_recovery_finishes_is_logged_with_its_lake_version(t) {
        // The attack: a submission finished by crash recovery (123,376 lake
        // rows) had no entry. Here identity fails after the lake commit
        // landed, twice, so the submission is left `committing` as a crash
        // would leave it; the next start finishes it.
        let identity = Arc::new(TestIdentity::default());
        identity.failing_commits.store(2, std::sync::atomic::Ordering::SeqCst);
        let audit = Arc::new(TestAudit::default());
        let intake = intake_audited(&t.stores, IntakeConfig::default(), identity.clone(), audit.clone()).await;
        intake
            .submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(two_patients().into_bytes()))
            .await
            .expect_err("identity failed");
        assert_eq!(states(&intake).await, ["committing"]);
        let version = t.stores.lake().expect("lake").current().await.expect("lake").expect("the lake commit landed").version().get();

        let restart = Arc::new(TestAudit::default());
        let restarted = intake_audited(&t.stores, IntakeConfig::default(), identity.clone(), restart.clone()).await;
        assert_eq!(states(&restarted).await, ["committed"]);
        assert_eq!(identity.persons(), 2);
        let lines = submissions(&restart);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("collect.recover submission=") && lines[0].contains(&format!("lake_version={version} ")),
            "{lines:?}"
        );
        assert_eq!(
            restart.events.lock().expect("lock")[0].actor,
            renkei_core::Actor::System { component: "collect.recovery".to_owned() }
        );
    }
);

test_on_both_backends!(
    async fn recovery_the_log_refuses_leaves_the_submission_for_the_next_start(t) {
        let identity = Arc::new(TestIdentity::default());
        identity.failing_commits.store(2, std::sync::atomic::Ordering::SeqCst);
        let intake = intake_for(&t.stores, IntakeConfig::default(), identity.clone()).await;
        intake
            .submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(two_patients().into_bytes()))
            .await
            .expect_err("identity failed");
        // A start whose log refuses does not finish it unrecorded: it does
        // not start at all.
        let refusing = Intake::open(&t.stores, identity.clone(), Arc::new(TestAudit::refusing()), Arc::new(SystemClock), IntakeConfig::default()).await;
        assert!(matches!(refusing, Err(Error::Audit(_))), "{refusing:?}");
        assert_eq!(identity.persons(), 0);
        let restarted = intake_for(&t.stores, IntakeConfig::default(), identity.clone()).await;
        assert_eq!(states(&restarted).await, ["committed"]);
        assert_eq!(identity.persons(), 2);
    }
);

test_on_both_backends!(
    async fn a_provider_registration_the_log_refuses_does_not_happen(t) {
        // Registering a provider under an organization lets that
        // organization's senders submit for it: an access grant.
        let audit = Arc::new(TestAudit::default());
        let intake = intake_audited(&t.stores, IntakeConfig::default(), Arc::new(TestIdentity::default()), audit.clone()).await;
        let newcomer = Provider {
            code: code("0112618510"),
            name: "新しい診療所".to_owned(),
            kind: FacilityKind::Clinic,
            org_id: None,
            registered_at: Timestamp::from_unix_micros(0),
        };
        audit.refuse(true);
        let err = intake.register_provider(&sender(), &newcomer).await.expect_err("refused");
        assert!(matches!(err, Error::Audit(_)), "{err}");
        assert!(intake.provider(&newcomer.code).await.expect("lookup").is_none(), "registered unrecorded");
        audit.refuse(false);
        intake.register_provider(&sender(), &newcomer).await.expect("registered");
        assert!(intake.provider(&newcomer.code).await.expect("lookup").is_some());
        assert!(audit.lines().last().expect("an entry").starts_with("collect.provider provider=0112618510 kind=clinic"), "{:?}", audit.lines());
    }
);
