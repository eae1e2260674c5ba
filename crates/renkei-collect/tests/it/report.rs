//! Quality and compliance reports over real submissions, with the clock
//! fixed so that lags and ages are exact.

use std::sync::Arc;

use renkei_collect::{
    ComplianceReport, ComplianceRules, ComplianceStatus, Error, ReasonCount, StatusCounts,
    TypeCounts,
};
use renkei_core::FixedClock;
use renkei_store::test_on_both_backends;

use super::*;

/// A second 特定機能病院.
const HOSPITAL2: &str = "1319876543";

const DAY: i64 = 86_400_000_000;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time")
}

/// An intake on `clock` with HOSPITAL and HOSPITAL2 (特定機能病院) and CLINIC
/// (診療所), all registered on 2024-01-01.
async fn intake_on(stores: &Stores, clock: &Arc<FixedClock>) -> Intake {
    let intake = Intake::open(
        stores,
        Arc::new(TestIdentity::default()),
        Arc::new(TestAudit::default()),
        clock.clone(),
        IntakeConfig::default(),
    )
    .await
    .expect("intake opens");
    for (c, kind) in [
        (HOSPITAL, FacilityKind::AdvancedTreatmentHospital),
        (HOSPITAL2, FacilityKind::AdvancedTreatmentHospital),
        (CLINIC, FacilityKind::Clinic),
    ] {
        intake
            .register_provider(
                &sender(),
                &Provider {
                    code: code(c),
                    name: format!("test {c}"),
                    kind,
                    org_id: None,
                    registered_at: at("2024-01-01T00:00:00Z"),
                },
            )
            .await
            .expect("register");
    }
    intake
}

fn condition(id: &str, subject: &str) -> String {
    serde_json::json!({
        "resourceType": "Condition",
        "id": id,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"text": "2型糖尿病"},
        "subject": {"reference": format!("Patient/{subject}")},
        "recordedDate": "2024-05-01"
    })
    .to_string()
}

test_on_both_backends!(
    async fn quality_counts_each_submission_figure_exactly(t) {
        // The observations' event is 2024-04-01T00:00Z: ten days before.
        let clock = Arc::new(FixedClock::new(at("2024-04-11T00:00:00Z")));
        let intake = intake_on(&t.stores, &clock).await;
        let mut no_status: serde_json::Value = serde_json::from_str(&observation("o9", "p1", 1.0, None)).expect("json");
        no_status.as_object_mut().expect("object").remove("status");
        submit(&intake, HOSPITAL, ndjson(&[
            patient("p1", "L1", "01010016:1:2:00"),
            observation("o1", "p1", 5.5, None),
            observation("o2", "p2", 6.0, None), // waits for Patient/p2
            no_status.to_string(),              // required at Observation.status
            "{\"resourceType\": ".to_owned(),   // malformed: type unknown
        ])).await;
        let cut = format!("{}{}", ndjson(&[patient("p4", "L4", "01010016:1:4:00")]), &observation("o4", "p4", 1.0, None)[..40]);
        let failed = intake.submit(&sender(), &code(HOSPITAL), std::io::Cursor::new(cut.into_bytes())).await;
        assert!(matches!(failed, Err(Error::Incomplete { .. })), "{failed:?}");

        clock.advance_micros(DAY);
        let second = submit(&intake, HOSPITAL, ndjson(&[
            patient("p1", "L1", "01010016:1:2:00"),  // unchanged
            observation("o1", "p1", 5.5, None),       // unchanged
            observation("o3", "p1", 7.0, None),
            // A code JLAC10 does not have: accepted with a warning.
            observation("o5", "p1", 7.0, None).replace("3D010000001926101", "9Z999000000000001"),
        ])).await;
        assert_eq!(second.totals().accepted, 2, "{second:#?}");

        let r = intake.quality(&code(HOSPITAL), None).await.expect("report");
        assert_eq!((r.overall.submissions, r.failed_submissions, r.pending_joined), (2, 1, 0), "the failed one counts apart");
        let o = &r.by_type["Observation"];
        assert_eq!(o.submissions, 2);
        assert_eq!(o.counts, TypeCounts { received: 6, accepted: 3, rejected: 1, unchanged: 1, pending: 1, ..TypeCounts::default() });
        assert_eq!(o.pending_now, 1);
        // o1, o2 (pending resources are taken in too), o3, o5: code, time
        // and value present, no encounter.
        assert_eq!((o.figures.key_present, o.figures.key_expected), (12, 16));
        assert_eq!(o.completeness, Some(0.75));
        // Two codings each (category, code); o5's code is unknown.
        assert_eq!((o.figures.codings, o.figures.codes_unknown, o.figures.warnings), (8, 1, 1));
        assert_eq!(o.valid_codes, Some(0.875));
        // Lags 10, 10 (first submission), 11, 11 (a day later).
        assert_eq!((o.figures.dated, o.figures.lag_days_sum), (4, 42));
        assert_eq!(o.timeliness.mean_lag_days, Some(10.5));
        assert_eq!((o.timeliness.within_7d, o.timeliness.within_30d), (Some(0.0), Some(1.0)));
        assert_eq!(o.duplicate_rate, Some(1.0 / 6.0));
        assert_eq!(o.rejection_reasons, [ReasonCount { reason: "required at Observation.status".into(), count: 1 }]);
        assert_eq!(o.last_submission_at, Some(second.received_at));

        let p = &r.by_type["Patient"];
        assert_eq!(p.counts, TypeCounts { received: 2, accepted: 1, unchanged: 1, ..TypeCounts::default() });
        assert_eq!((p.completeness, p.duplicate_rate), (Some(1.0), Some(0.5)));
        assert_eq!(p.valid_codes, None, "no codings: no share, not 0 or 1");
        assert_eq!(p.timeliness.mean_lag_days, None, "a Patient records no event");

        let u = &r.by_type["(unknown)"];
        assert_eq!((u.counts.received, u.counts.rejected), (1, 1));
        assert_eq!(u.rejection_reasons, [ReasonCount { reason: "structure".into(), count: 1 }]);

        let all = &r.overall;
        assert_eq!(all.counts, TypeCounts { received: 9, accepted: 4, rejected: 2, unchanged: 2, pending: 1, ..TypeCounts::default() });
        assert_eq!((all.completeness, all.duplicate_rate), (Some(15.0 / 19.0), Some(2.0 / 9.0)));
        assert_eq!(all.rejection_reasons.len(), 2);
        assert_eq!(all.last_submission_at, Some(second.received_at));
        let json = serde_json::to_value(&r).expect("serializes");
        assert_eq!(json["by_type"]["Patient"]["valid_codes"], serde_json::Value::Null);
        assert_eq!(json["by_type"]["Observation"]["received"], 6, "counts sit beside the ratios");

        // A window from the second submission: its figures only; what is
        // pending now is pending whenever it came.
        let recent = intake.quality(&code(HOSPITAL), Some(second.received_at)).await.expect("report");
        let o = &recent.by_type["Observation"];
        assert_eq!((recent.overall.submissions, recent.failed_submissions), (1, 0));
        assert_eq!(o.counts, TypeCounts { received: 3, accepted: 2, unchanged: 1, ..TypeCounts::default() });
        assert_eq!((o.completeness, o.timeliness.mean_lag_days), (Some(0.75), Some(11.0)));
        assert_eq!(o.pending_now, 1);
        assert!(!recent.by_type.contains_key("(unknown)"));

        // The Patient arrives: the pending Observation joins.
        clock.advance_micros(DAY);
        submit(&intake, HOSPITAL, ndjson(&[patient("p2", "L2", "01010016:1:3:00")])).await;
        let r = intake.quality(&code(HOSPITAL), None).await.expect("report");
        assert_eq!((r.pending_joined, r.overall.pending_now), (1, 0));
        assert_eq!(r.by_type["Observation"].counts.pending, 1, "it was held pending when it came");

        let other = intake.quality(&code(CLINIC), None).await.expect("report");
        assert_eq!((other.overall.submissions, other.overall.completeness), (0, None), "another provider's figures are its own");
        let err = intake.quality(&code("1300000000"), None).await.expect_err("unregistered");
        assert!(matches!(err, Error::Provider(..)), "{err}");
    }
);

/// (provider, type, status, days since) per row, in report order.
fn summary(r: &ComplianceReport) -> Vec<(&str, &str, ComplianceStatus, Option<u64>)> {
    r.rows
        .iter()
        .map(|x| {
            (
                x.provider.as_str(),
                x.resource_type.as_str(),
                x.status,
                x.days_since,
            )
        })
        .collect()
}

test_on_both_backends!(
    async fn compliance_shows_who_is_behind_as_of_a_given_day(t) {
        use ComplianceStatus as S;
        let t0 = at("2024-05-01T00:00:00Z");
        let clock = Arc::new(FixedClock::new(t0));
        let intake = intake_on(&t.stores, &clock).await;
        let labs = |pid: &str| ndjson(&[patient(pid, pid, &format!("01010016:1:{pid}:00")), observation(&format!("o{pid}"), pid, 1.0, None)]);
        // HOSPITAL sends labs on day 0, HOSPITAL2 on day 30.
        submit(&intake, HOSPITAL, labs("1")).await;
        clock.advance_micros(30 * DAY);
        submit(&intake, HOSPITAL2, labs("2")).await;
        // CLINIC sends a diagnosis on day 35 before its Patient (held
        // pending), and the Patient on day 38: the diagnosis counts then.
        clock.advance_micros(5 * DAY);
        let c = submit(&intake, CLINIC, ndjson(&[condition("c1", "q1")])).await;
        assert_eq!(c.counts["Condition"].pending, 1, "{c:#?}");
        clock.advance_micros(3 * DAY);
        let joined = submit(&intake, CLINIC, ndjson(&[patient("q1", "Q1", "01010016:7:1:00")])).await;
        assert_eq!(joined.pending_joined, 1, "{joined:#?}");

        let rules = ComplianceRules::default();
        let now = t0.plus_micros(40 * DAY);
        let r = intake.compliance(&rules, now).await.expect("report");
        assert_eq!(summary(&r), [
            // Never sent: due 31 days after registration, long ago.
            (HOSPITAL, "Condition", S::Never, None),
            (HOSPITAL, "MedicationRequest", S::Never, None),
            (HOSPITAL2, "Condition", S::Never, None),
            (HOSPITAL2, "MedicationRequest", S::Never, None),
            // Labs 40 days ago, every 31: overdue since day 31.
            (HOSPITAL, "Observation", S::Overdue, Some(40)),
            // Labs 10 days ago: due on day 61.
            (HOSPITAL2, "Observation", S::Ok, Some(10)),
            // Diagnoses 2 days ago (when the Patient came), every 92.
            (CLINIC, "Condition", S::Ok, Some(2)),
        ]);
        assert_eq!(r.counts, StatusCounts { ok: 2, due_soon: 0, overdue: 1, never: 4 });
        let row = |p: &str, ty: &str| r.rows.iter().find(|x| x.provider.as_str() == p && x.resource_type == ty).expect("row");
        assert_eq!(row(HOSPITAL, "Observation").due_at, t0.plus_micros(31 * DAY));
        assert_eq!(row(HOSPITAL, "Condition").due_at, at("2024-02-01T00:00:00Z"), "registered 2024-01-01, plus 31 days");
        let clinic = row(CLINIC, "Condition");
        assert_eq!(clinic.every_days, 92);
        let last = clinic.last.as_ref().expect("sent");
        assert_eq!((&last.submission_id, last.at), (&joined.submission_id, joined.received_at));
        assert_eq!((last.accepted, last.joined_from_pending), (0, 1));
        let lab = row(HOSPITAL2, "Observation").last.as_ref().expect("sent");
        assert_eq!((lab.accepted, lab.joined_from_pending), (1, 0));

        // As of day 30: HOSPITAL is in the last fifth of its period (from
        // day 24.8), and HOSPITAL2's sending of that very instant counts.
        let day30 = intake.compliance(&rules, t0.plus_micros(30 * DAY)).await.expect("report");
        let labs_of = |r: &ComplianceReport| -> Vec<(String, ComplianceStatus)> {
            r.rows.iter().filter(|x| x.resource_type == "Observation").map(|x| (x.provider.to_string(), x.status)).collect()
        };
        assert_eq!(labs_of(&day30), [(HOSPITAL.to_owned(), S::DueSoon), (HOSPITAL2.to_owned(), S::Ok)]);
        // As of day 20 HOSPITAL2 had sent nothing yet; the clinic neither.
        let day20 = intake.compliance(&rules, t0.plus_micros(20 * DAY)).await.expect("report");
        assert_eq!(labs_of(&day20), [(HOSPITAL2.to_owned(), S::Never), (HOSPITAL.to_owned(), S::Ok)]);
        assert_eq!(day20.counts, StatusCounts { ok: 1, due_soon: 0, overdue: 0, never: 6 });
        // Exactly at the due instant it is still due; a microsecond later, overdue.
        let due = t0.plus_micros(31 * DAY);
        let status = |r: &ComplianceReport| r.rows.iter().find(|x| x.provider.as_str() == HOSPITAL && x.resource_type == "Observation").expect("row").status;
        assert_eq!(status(&intake.compliance(&rules, due).await.expect("report")), S::DueSoon);
        assert_eq!(status(&intake.compliance(&rules, due.plus_micros(1)).await.expect("report")), S::Overdue);

        // Configured rules replace the defaults: a clinic owing labs monthly.
        let strict: ComplianceRules = serde_json::from_str(r#"{"rules": [{"kind": "clinic", "resource_types": ["Observation"], "every_days": 31}]}"#).expect("rules");
        let r = intake.compliance(&strict, now).await.expect("report");
        assert_eq!(summary(&r), [(CLINIC, "Observation", S::Never, None)]);
    }
);
