//! The review service on SQLite and PostgreSQL: the journey from draft to
//! permit, refusals, conflicts of interest, suspension and revocation,
//! amendments, and the register.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use renkei_core::{
    Actor, AuditEvent, AuditReceipt, AuditSink, Clock, FixedClock, Role, Timestamp, UserId,
};
use renkei_review::form::{
    DeliveryType, NamedUser, Organization, OrganizationKind, RequestedData, TableSelection,
};
use renkei_review::permit::{FeeClass, WorkspaceResources};
use renkei_review::{
    Acting, ApplicationForm, Error, PermitStatus, PermitTerms, Review, ScrutinyRules, Stage, Step,
    VoteKind,
};
use renkei_store::test_on_both_backends;
use renkei_store::testing::TestStores;

#[derive(Default)]
struct Audit(Mutex<Vec<AuditEvent>>);

impl AuditSink for Audit {
    fn append(&self, event: AuditEvent) -> BoxFuture<'_, Result<AuditReceipt, renkei_core::Error>> {
        Box::pin(async move {
            let mut events = self.0.lock().expect("lock");
            events.push(event);
            Ok(AuditReceipt {
                index: events.len() as u64 - 1,
            })
        })
    }
}

const T0: i64 = 1_800_000_000_000_000;
const DAY: i64 = 86_400_000_000;

struct Fixture {
    review: Review,
    clock: Arc<FixedClock>,
    audit: Arc<Audit>,
}

/// A lake with nobody in it: review's own tests need no figures (the
/// server's tests ask the real lake).
struct NoLake;

impl renkei_core::LakeStatistics for NoLake {
    fn cohort(
        &self,
        question: &renkei_core::CohortQuestion,
    ) -> BoxFuture<'_, renkei_core::ServiceResult<renkei_core::CohortStatistics>> {
        let stats = renkei_core::CohortStatistics {
            cohort_estimate: 0,
            cohort_from_codes: !question.cohort_icd10.is_empty(),
            quasi_identifiers: question.quasi_identifiers.clone(),
            rare_values: Vec::new(),
            uniqueness: 0.0,
            below_k: 0.0,
        };
        Box::pin(async move { Ok(stats) })
    }

    fn deceased(
        &self,
        _: renkei_core::PersonKey,
    ) -> BoxFuture<'_, renkei_core::ServiceResult<bool>> {
        Box::pin(async { Ok(false) })
    }
}

async fn fixture(t: &TestStores) -> Fixture {
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_micros(T0)));
    let audit = Arc::new(Audit::default());
    let review = Review::open(
        &t.stores,
        clock.clone(),
        audit.clone(),
        ScrutinyRules::default(),
        Arc::new(NoLake),
    )
    .await
    .expect("review opens");
    Fixture {
        review,
        clock,
        audit,
    }
}

fn acting(role: Role, name: &str) -> Acting {
    Acting {
        actor: Actor::User {
            id: UserId::generate(),
            username: name.to_owned(),
            role,
        },
        username: name.to_owned(),
    }
}

fn form(org: &str, country: &str, commercial: bool) -> ApplicationForm {
    ApplicationForm {
        title: format!("{org}: 2型糖尿病の治療経過"),
        organization: Organization {
            name: org.to_owned(),
            country: country.to_owned(),
            kind: OrganizationKind::Academic,
        },
        users: vec![NamedUser {
            username: "researcher".to_owned(),
            training_completed_on: "2026-04-01".to_owned(),
            conflict_of_interest: "none".to_owned(),
        }],
        purpose: "HbA1c trajectories after first prescription".to_owned(),
        public_interest: "better first-line treatment".to_owned(),
        commercial,
        processing_abroad: false,
        requested: RequestedData {
            tables: vec![TableSelection {
                table: "observation".to_owned(),
                columns: vec!["code".to_owned(), "value_number".to_owned()],
            }],
            cohort_criteria: "ICD-10 E11".to_owned(),
            period_from: "2020-01-01".to_owned(),
            period_to: "2024-12-31".to_owned(),
            genomic: false,
            imaging: false,
            data_categories: Vec::new(),
            cohort_icd10: vec!["E11".to_owned()],
        },
        delivery: DeliveryType::PseudonymizedInEnvironment,
        planned_outputs: "papers".to_owned(),
        security_measures: "ISMS".to_owned(),
        funding: "JSPS".to_owned(),
    }
}

fn terms(f: &Fixture) -> PermitTerms {
    PermitTerms {
        expires_at: f.clock.now().plus_micros(365 * DAY),
        fee_class: FeeClass::Academic,
        resources: WorkspaceResources {
            cpus: 4,
            memory_gib: 16,
            storage_gib: 100,
        },
        date_shift_days: 0,
        privacy: None,
    }
}

/// Draft → permit, as each actor takes their step.
async fn permitted(
    f: &Fixture,
    form: ApplicationForm,
) -> (renkei_review::Application, renkei_review::Permit) {
    let applicant = acting(Role::Applicant, "applicant");
    let operator = acting(Role::Operator, "secretariat");
    let reviewer = acting(Role::Reviewer, "reviewer-a");
    let app = f
        .review
        .create(&applicant, form, None)
        .await
        .expect("draft");
    let id = app.id;
    f.review
        .step(&applicant, &id, Step::Submit, "")
        .await
        .expect("submit");
    f.clock.advance_micros(DAY);
    f.review
        .step(&operator, &id, Step::StartScreening, "")
        .await
        .expect("screen");
    f.review
        .step(
            &operator,
            &id,
            Step::SendToReview {
                committee: "第一".to_owned(),
            },
            "complete",
        )
        .await
        .expect("to review");
    f.review
        .assign(&operator, &id, "reviewer-a")
        .await
        .expect("assign");
    f.review
        .vote(
            &reviewer,
            &id,
            VoteKind::ApproveWithConditions,
            "publish only aggregates",
        )
        .await
        .expect("vote");
    f.clock.advance_micros(DAY);
    let decided = f
        .review
        .step(
            &operator,
            &id,
            Step::Approve {
                conditions: vec!["aggregates only".to_owned()],
            },
            "sound design",
        )
        .await
        .expect("approve");
    assert_eq!(decided.stage.label_ja(), "条件付き承認");
    let permit = f
        .review
        .issue_permit(&operator, &id, terms(f))
        .await
        .expect("permit");
    (f.review.get(&id).await.expect("get"), permit)
}

test_on_both_backends!(
    async fn two_steps_at_once_leave_one_transition_and_one_log_entry(t) {
        let f = fixture(t).await;
        let applicant = acting(Role::Applicant, "applicant");
        let operator = acting(Role::Operator, "secretariat");
        let other = acting(Role::Operator, "another-secretary");
        let app = f.review.create(&applicant, form("京都大学", "JP", false), None).await.expect("draft");
        f.review.step(&applicant, &app.id, Step::Submit, "").await.expect("submit");
        let before = f.audit.0.lock().expect("lock").len();
        // Two secretaries start screening the same application at once.
        let (a, b) = tokio::join!(
            f.review.step(&operator, &app.id, Step::StartScreening, ""),
            f.review.step(&other, &app.id, Step::StartScreening, ""),
        );
        assert!(a.is_ok() != b.is_ok(), "exactly one step is taken: {a:?} {b:?}");
        let history = f.review.history(&app.id).await.expect("history");
        assert_eq!(history.iter().filter(|t| t.step == "screened").count(), 1);
        let entries: Vec<String> = f.audit.0.lock().expect("lock")[before..].iter().map(|e| e.action.clone()).collect();
        assert_eq!(entries, ["review.screened"], "the step that lost is not in the log");
    }
);

test_on_both_backends!(
    async fn an_application_goes_from_draft_to_an_active_permit(t) {
        let f = fixture(t).await;
        let (app, permit) = permitted(&f, form("京都大学", "JP", false)).await;
        assert!(matches!(app.stage, Stage::PermitActive(_)));
        assert_eq!(permit.conditions, vec!["aggregates only".to_owned()]);
        assert_eq!(permit.users, vec!["researcher".to_owned()]);
        assert_eq!(permit.tables[0].columns, vec!["code".to_owned(), "value_number".to_owned()]);
        assert!(permit.opt_out_purposes.is_empty(), "domestic, non-commercial, ordinary data");
        assert_eq!(f.review.permit_in_force(&permit.id).await.expect("in force").id, permit.id);
        let history = f.review.history(&app.id).await.expect("history");
        let steps: Vec<&str> = history.iter().map(|t| t.step.as_str()).collect();
        assert_eq!(steps, ["submitted", "screened", "sent_to_review", "approved", "permitted"]);
        assert_eq!(history[3].actor, "operator:secretariat");
        assert_eq!(history[3].reason, "sound design");
        let times = f.review.time_in_states(&app.id).await.expect("times");
        assert_eq!(times[1], ("submitted".to_owned(), 86_400), "a day between submission and screening");
        let actions: Vec<String> = f.audit.0.lock().expect("lock").iter().map(|e| e.action.clone()).collect();
        for a in ["review.create", "review.submitted", "review.assign", "review.vote", "review.approved", "review.permitted"] {
            assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
        }
        let times = f.review.decision_times().await.expect("times");
        assert_eq!(times.len(), 1);
        assert_eq!(times[0].median_days, 2.0);
    }
);

test_on_both_backends!(
    async fn illegal_steps_and_incomplete_forms_are_refused(t) {
        let f = fixture(t).await;
        let applicant = acting(Role::Applicant, "applicant");
        let operator = acting(Role::Operator, "secretariat");
        let mut incomplete = form("東北大学", "JP", false);
        incomplete.requested.tables[0].columns.push("patient_name".to_owned());
        let app = f.review.create(&applicant, incomplete, None).await.expect("draft");
        let err = f.review.step(&applicant, &app.id, Step::Submit, "").await.expect_err("bad column");
        assert!(err.to_string().contains("requested.tables[0].columns[2]"), "{err}");
        let err = f.review.step(&operator, &app.id, Step::Approve { conditions: vec![] }, "why not").await.expect_err("illegal");
        assert!(matches!(err, Error::IllegalTransition { state: "draft", .. }), "{err}");
        assert!(err.to_string().contains("allowed: submitted"), "{err}");
        let other = acting(Role::Applicant, "someone-else");
        let err = f.review.update(&other, &app.id, form("東北大学", "JP", false)).await.expect_err("not theirs");
        assert!(matches!(err, Error::NotYours(_)));
        f.review.update(&applicant, &app.id, form("東北大学", "JP", false)).await.expect("fixed");
        f.review.step(&applicant, &app.id, Step::Submit, "").await.expect("submit");
        let err = f.review.update(&applicant, &app.id, form("東北大学", "JP", false)).await.expect_err("no edits after submission");
        assert!(matches!(err, Error::IllegalTransition { .. }));
        f.review.step(&operator, &app.id, Step::StartScreening, "").await.expect("screen");
        let err = f.review.step(&operator, &app.id, Step::ReturnToApplicant, " ").await.expect_err("no reason");
        assert!(err.to_string().contains("reason"), "{err}");
        f.review.step(&operator, &app.id, Step::SendToReview { committee: "第一".to_owned() }, "complete").await.expect("review");
        let err = f.review.step(&operator, &app.id, Step::Reject, "weak").await.expect_err("no votes yet");
        assert!(err.to_string().contains("voted"), "{err}");
        let err = f.review.issue_permit(&operator, &app.id, terms(&f)).await.expect_err("not approved");
        assert!(matches!(err, Error::IllegalTransition { state: "in_review", .. }), "{err}");
    }
);

test_on_both_backends!(
    async fn a_reviewer_with_a_declared_conflict_cannot_be_assigned(t) {
        let f = fixture(t).await;
        let applicant = acting(Role::Applicant, "applicant");
        let operator = acting(Role::Operator, "secretariat");
        let conflicted = acting(Role::Reviewer, "reviewer-b");
        f.review.declare_conflict(&conflicted, " 大阪製薬株式会社 ").await.expect("declare");
        let app = f.review.create(&applicant, form("大阪製薬株式会社", "JP", true), None).await.expect("draft");
        f.review.step(&applicant, &app.id, Step::Submit, "").await.expect("submit");
        f.review.step(&operator, &app.id, Step::StartScreening, "").await.expect("screen");
        f.review.step(&operator, &app.id, Step::SendToReview { committee: "第二".to_owned() }, "complete").await.expect("review");
        let err = f.review.assign(&operator, &app.id, "reviewer-b").await.expect_err("conflict");
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        let err = f.review.assign(&operator, &app.id, "researcher").await.expect_err("named on it");
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        f.review.assign(&operator, &app.id, "reviewer-a").await.expect("no conflict");
        assert_eq!(f.review.assigned(&app.id).await.expect("assigned"), vec!["reviewer-a".to_owned()]);
        let err = f.review.vote(&conflicted, &app.id, VoteKind::Approve, "fine").await.expect_err("not assigned");
        assert!(matches!(err, Error::NotYours(_)));
        let app = f.review.get(&app.id).await.expect("get");
        assert!(app.scrutiny.contains(&"commercial_use".to_owned()), "{:?}", app.scrutiny);
    }
);

test_on_both_backends!(
    async fn a_suspended_or_revoked_permit_is_not_in_force_at_once(t) {
        let f = fixture(t).await;
        let operator = acting(Role::Operator, "secretariat");
        let (app, permit) = permitted(&f, form("京都大学", "JP", false)).await;
        f.review.step(&operator, &app.id, Step::Suspend, "audit finding").await.expect("suspend");
        let err = f.review.permit_in_force(&permit.id).await.expect_err("suspended");
        assert!(matches!(err, Error::NotInForce { status: "suspended", .. }), "{err}");
        f.review.step(&operator, &app.id, Step::Reinstate, "remedied").await.expect("reinstate");
        f.review.permit_in_force(&permit.id).await.expect("in force again");
        f.review.step(&operator, &app.id, Step::Revoke, "data shared outside the environment").await.expect("revoke");
        let err = f.review.permit_in_force(&permit.id).await.expect_err("revoked");
        assert!(matches!(err, Error::NotInForce { status: "revoked", .. }), "{err}");
        let err = f.review.step(&operator, &app.id, Step::Reinstate, "mistake").await.expect_err("final");
        assert!(matches!(err, Error::IllegalTransition { state: "revoked", .. }));
        // A permit past its term is not in force either.
        let (_, other) = permitted(&f, form("九州大学", "JP", false)).await;
        f.clock.advance_micros(366 * DAY);
        let (_, status) = f.review.permit(&other.id).await.expect("permit");
        assert_eq!(status, PermitStatus::Expired);
        assert!(f.review.permit_in_force(&other.id).await.is_err());
    }
);

test_on_both_backends!(
    async fn an_amendment_is_reviewed_again_and_replaces_the_permit(t) {
        let f = fixture(t).await;
        let applicant = acting(Role::Applicant, "applicant");
        let (_, first) = permitted(&f, form("京都大学", "JP", false)).await;
        let mut wider = form("京都大学", "JP", false);
        wider.requested.period_to = "2025-12-31".to_owned();
        let stranger = acting(Role::Applicant, "stranger");
        let err = f.review.create(&stranger, wider.clone(), Some(first.id)).await.expect_err("not their permit");
        assert!(matches!(err, Error::NotYours(_)));
        let amendment = f.review.create(&applicant, wider, Some(first.id)).await.expect("amendment");
        assert_eq!(amendment.amends, Some(first.id));
        // The old permit stays in force while the amendment is reviewed.
        f.review.permit_in_force(&first.id).await.expect("still in force");
        let (_, second) = {
            let operator = acting(Role::Operator, "secretariat");
            let reviewer = acting(Role::Reviewer, "reviewer-a");
            let id = amendment.id;
            f.review.step(&applicant, &id, Step::Submit, "").await.expect("submit");
            f.review.step(&operator, &id, Step::StartScreening, "").await.expect("screen");
            f.review.step(&operator, &id, Step::SendToReview { committee: "第一".to_owned() }, "amendment").await.expect("review");
            f.review.assign(&operator, &id, "reviewer-a").await.expect("assign");
            f.review.vote(&reviewer, &id, VoteKind::Approve, "same design, one more year").await.expect("vote");
            f.review.step(&operator, &id, Step::Approve { conditions: vec![] }, "approved").await.expect("approve");
            let p = f.review.issue_permit(&operator, &id, terms(&f)).await.expect("permit");
            (id, p)
        };
        assert_eq!(second.rows.period_to, "2025-12-31");
        assert!(f.review.permit_in_force(&second.id).await.is_ok());
        let (_, status) = f.review.permit(&first.id).await.expect("first");
        assert_eq!(status, PermitStatus::Expired, "the amended permit ends when its replacement starts");
    }
);

test_on_both_backends!(
    async fn the_register_lists_decisions_and_nothing_undecided(t) {
        let f = fixture(t).await;
        let applicant = acting(Role::Applicant, "applicant");
        let operator = acting(Role::Operator, "secretariat");
        let reviewer = acting(Role::Reviewer, "reviewer-a");
        permitted(&f, form("京都大学", "JP", false)).await;
        f.review.create(&applicant, form("未提出大学", "JP", false), None).await.expect("draft");
        let foreign = f.review.create(&applicant, form("Foreign Analytics Ltd", "GB", true), None).await.expect("draft");
        let id = foreign.id;
        f.review.step(&applicant, &id, Step::Submit, "").await.expect("submit");
        f.review.step(&operator, &id, Step::StartScreening, "").await.expect("screen");
        f.review.step(&operator, &id, Step::SendToReview { committee: "第二".to_owned() }, "complete").await.expect("review");
        f.review.assign(&operator, &id, "reviewer-a").await.expect("assign");
        f.review.vote(&reviewer, &id, VoteKind::Reject, "no safeguards for transfer abroad").await.expect("vote");
        f.review.step(&operator, &id, Step::Reject, "no adequate safeguards for processing abroad").await.expect("reject");
        let register = f.review.register(None).await.expect("register");
        assert_eq!(register.len(), 2, "the draft is not on the register");
        let rejected = register.iter().find(|e| e.status == "rejected").expect("rejected entry");
        assert_eq!(rejected.decision_reason.as_deref(), Some("no adequate safeguards for processing abroad"));
        assert_eq!(rejected.status_ja, "不承認");
        assert!(f.review.get(&id).await.expect("get").form.opt_out_purposes().contains(&renkei_core::Purpose::ForeignOrganization));
        assert_eq!(f.review.register(Some("foreign")).await.expect("search").len(), 1);
        assert_eq!(f.review.register(Some("京都")).await.expect("search").len(), 1);
    }
);

test_on_both_backends!(
    async fn the_permit_contract_answers_as_review_decides(t) {
        use renkei_core::{ErrorKind, PermitAuthority, PermitId, Purpose, Standing};
        let f = fixture(t).await;
        let authority: &dyn PermitAuthority = &f.review;
        let operator = acting(Role::Operator, "secretariat");
        let (app, permit) = permitted(&f, form("Acme Pharma", "US", true)).await;
        // What it grants is the permit's own terms, and its purposes are
        // those the opt-out registry answers for: a foreign, commercial use.
        let grant = authority.grant(permit.id).await.expect("in force");
        assert_eq!(grant, permit.grant());
        assert_eq!(grant.permit, permit.id);
        assert_eq!(grant.tables, permit.tables);
        assert!(grant.data_use.purposes.contains(&Purpose::Commercial));
        assert!(grant.data_use.purposes.contains(&Purpose::ForeignOrganization));
        assert_eq!(authority.standing(permit.id).await.expect("standing"), Standing::InForce);
        // Suspended: no grant, said as "not permitted", and reinstatable.
        // Whoever follows the permit hears of each change as it commits.
        let mut changes = authority.changes();
        f.review.step(&operator, &app.id, Step::Suspend, "audit finding").await.expect("suspend");
        assert_eq!(futures::StreamExt::next(&mut changes).await, Some(permit.id));
        let err = authority.grant(permit.id).await.expect_err("suspended");
        assert_eq!(err.kind, ErrorKind::NotPermitted, "{err}");
        assert!(err.message.contains("suspended"), "{err}");
        assert_eq!(authority.standing(permit.id).await.expect("standing"), Standing::Suspended);
        f.review.step(&operator, &app.id, Step::Reinstate, "remedied").await.expect("reinstate");
        assert_eq!(authority.standing(permit.id).await.expect("standing"), Standing::InForce);
        // Revoked, and another past its term: ended for good.
        f.review.step(&operator, &app.id, Step::Revoke, "misuse").await.expect("revoke");
        assert_eq!(futures::StreamExt::next(&mut changes).await, Some(permit.id), "reinstated");
        assert_eq!(futures::StreamExt::next(&mut changes).await, Some(permit.id), "revoked");
        assert_eq!(authority.standing(permit.id).await.expect("standing"), Standing::Ended);
        assert_eq!(authority.grant(permit.id).await.expect_err("revoked").kind, ErrorKind::NotPermitted);
        let (_, other) = permitted(&f, form("九州大学", "JP", false)).await;
        assert!(authority.grant(other.id).await.expect("in force").data_use.purposes.is_empty());
        f.clock.advance_micros(366 * DAY);
        assert_eq!(authority.standing(other.id).await.expect("standing"), Standing::Ended);
        // A permit nobody issued is not found, not "not in force".
        let unknown = PermitId::generate();
        let err = authority.grant(unknown).await.expect_err("unknown");
        assert_eq!(err.kind, ErrorKind::NotFound);
        // Said once, however many hops it takes: the message names the
        // thing, each side adds "not found".
        assert_eq!(err.message, format!("permit {unknown}"));
        assert_eq!(err.to_string(), format!("review: permit {unknown} not found"));
        assert_eq!(authority.standing(unknown).await.expect_err("unknown").kind, ErrorKind::NotFound);
    }
);
