//! Integration tests of the extract builder, each on SQLite and PostgreSQL,
//! against a real lake: who is in, under which pseudonym, which rows and
//! columns, what the manifest says, and what a stopped build leaves.

mod fixture;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use fixture::*;
use futures::future::BoxFuture;
use renkei_core::{
    DataUse, Grant, PermitAuthority, PermitId, PersonKey, Purpose, RecordId, ServiceResult,
    Standing, WorkspaceResources,
};
use renkei_deid::{Delivery, Error, Exclusion, Processing, TableSelection};
use renkei_store::test_on_both_backends;

fn spec(permit: &str, tables: &[(&str, &[&str])]) -> Grant {
    Grant {
        permit: pid(permit),
        delivery: Delivery::Pseudonymized,
        tables: tables
            .iter()
            .map(|(t, cols)| TableSelection {
                table: (*t).to_owned(),
                columns: cols.iter().map(|c| (*c).to_owned()).collect(),
            })
            .collect(),
        cohort_icd10: Vec::new(),
        period_from: "2020-01-01".to_owned(),
        period_to: "2024-12-31".to_owned(),
        date_shift_days: 0,
        data_use: DataUse::of([Purpose::Commercial]),
        users: vec!["researcher".to_owned()],
        workspace: WorkspaceResources {
            cpus: 1,
            memory_gib: 1,
            storage_gib: 1,
        },
    }
}

const PERSON: (&str, &[&str]) = ("person", &["sex", "birth_date", "municipality_code"]);
const CONDITION: (&str, &[&str]) = ("condition", &["icd10", "recorded_date"]);

fn exclusion(persons: &[PersonKey], version: u64) -> Exclusion {
    Exclusion {
        registry_version: version,
        persons: persons.iter().copied().collect(),
    }
}

test_on_both_backends! {
    async fn an_opted_out_person_is_absent_and_the_bitmap_lists_exactly_those_present(t) {
        let f = Fixture::new(t).await;
        let people = f.people(20).await;
        let out = &people[..3];
        let m = f
            .processing
            .build(&spec("permit-a", &[PERSON, CONDITION]), &exclusion(out, 7), &Allow, actor())
            .await
            .expect("extract builds");
        assert_eq!(m.registry_version, 7);
        assert_eq!(m.persons, 17);
        assert_eq!(m.opted_out_persons_left_out, 3);
        let p = f.processing.pseudonymizer(pid("permit-a")).await.expect("key alive");
        let seen = f.pseudonyms_in(&m);
        for person in out {
            assert!(!seen.contains(p.pseudonym(person).as_str()), "an opted-out person is in the extract");
        }
        let expected: BTreeSet<String> = people[3..].iter().map(|k| p.pseudonym(k).to_string()).collect();
        assert_eq!(seen, expected, "everyone else is there, under their pseudonym");
        let bitmap = Processing::persons_of(&m).expect("bitmap decodes");
        let present = f.processing.ordinals_of(&people[3..]).await.expect("ordinals");
        assert_eq!(bitmap, present, "the bitmap lists exactly the persons present");
        let absent = f.processing.ordinals_of(out).await.expect("ordinals");
        assert!(absent.is_empty() || (&bitmap & &absent).is_empty());
        // The portal's question.
        let used = f.processing.permits_including(&people[5]).await.expect("lookup");
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].0, pid("permit-a"));
        assert!(f.processing.permits_including(&people[0]).await.expect("lookup").is_empty());
        // No person_key, source id or submission id anywhere in the files.
        let text = f.file_text(&m);
        for person in &people {
            assert!(!text.contains(&person.to_string()), "a person_key leaked");
        }
        assert!(f.audit.actions().contains(&"processing.extract".to_owned()));
    }
}

test_on_both_backends! {
    async fn one_person_has_different_pseudonyms_in_two_permits(t) {
        let f = Fixture::new(t).await;
        let people = f.people(5).await;
        let a = f.processing.build(&spec("permit-a", &[PERSON]), &Exclusion::default(), &Allow, actor()).await.expect("a");
        let b = f.processing.build(&spec("permit-b", &[PERSON]), &Exclusion::default(), &Allow, actor()).await.expect("b");
        let (sa, sb) = (f.pseudonyms_in(&a), f.pseudonyms_in(&b));
        assert_eq!(sa.len(), 5);
        assert_eq!(sb.len(), 5);
        assert!(sa.is_disjoint(&sb), "pseudonyms link across permits");
        let pa = f.processing.pseudonymizer(pid("permit-a")).await.expect("key");
        assert!(sa.contains(pa.pseudonym(&people[0]).as_str()));
    }
}

test_on_both_backends! {
    async fn rows_columns_period_and_cohort_follow_the_permit(t) {
        let f = Fixture::new(t).await;
        let people = f.people(6).await;
        // people[0..2] have E11 in the period, people[2] only before it.
        f.conditions(&[
            (people[0], "E11.9", "2021-03-01"),
            (people[1], "E119", "2022-07-15"),
            (people[2], "E11.9", "2018-01-01"),
            (people[3], "I10", "2021-01-01"),
        ])
        .await;
        f.observations(&[(people[0], "3D010000001926101", 6.5, "free text about 山田さん")]).await;
        let mut s = spec("permit-c", &[PERSON, CONDITION, ("observation", &["code", "value_number", "value_text"])]);
        s.cohort_icd10 = vec!["E11".to_owned()];
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("extract");
        assert_eq!(m.persons, 2, "the cohort: E11 diagnosed in the period");
        let condition = m.tables.iter().find(|t| t.table == "condition").expect("condition");
        assert_eq!(condition.rows, 2, "only the cohort's rows in the period");
        assert_eq!(condition.columns, ["pseudonym", "icd10", "recorded_date"]);
        let observation = m.tables.iter().find(|t| t.table == "observation").expect("observation");
        assert_eq!(observation.held_back, ["value_text"]);
        assert!(!observation.columns.contains(&"value_text".to_owned()));
        assert!(!f.file_text(&m).contains("山田"), "free text left the lake");
        // A column pointing back at the provider's record is refused, by name.
        let bad = spec("permit-c", &[("condition", &["icd10", "source_id"])]);
        let err = f.processing.build(&bad, &Exclusion::default(), &Allow, actor()).await.expect_err("refused");
        assert!(err.to_string().contains("tables[0].columns[1]: source_id"), "{err}");
    }
}

test_on_both_backends! {
    async fn dates_move_by_one_offset_per_person(t) {
        let f = Fixture::new(t).await;
        let people = f.people(30).await;
        let rows: Vec<_> = people.iter().flat_map(|p| [(*p, "J45", "2021-05-01"), (*p, "J45", "2021-05-11")]).collect();
        f.conditions(&rows).await;
        let mut s = spec("permit-d", &[CONDITION]);
        s.date_shift_days = 30;
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("extract");
        let dates = f.dates_by_pseudonym(&m, "condition", "recorded_date");
        assert_eq!(dates.len(), 30);
        let original = day("2021-05-01");
        let mut offsets = HashSet::new();
        for (_, days) in dates {
            assert_eq!(days.len(), 2);
            assert_eq!(days[1] - days[0], 10, "intervals within a person survive");
            let offset = days[0] - original;
            assert!(offset != 0 && offset.abs() <= 30, "offset {offset}");
            offsets.insert(offset);
        }
        assert!(offsets.len() > 5, "offsets differ between persons: {offsets:?}");
    }
}

test_on_both_backends! {
    async fn merged_keys_are_one_person_and_an_opt_out_follows_the_merge(t) {
        let f = Fixture::new(t).await;
        let people = f.people(4).await;
        // people[1] was merged into people[0]; people[3] into people[2].
        f.merge(people[1], people[0], 1).await;
        f.merge(people[3], people[2], 2).await;
        // The opt-out was made under the retired key.
        let m = f.processing.build(&spec("permit-e", &[PERSON]), &exclusion(&[people[3]], 1), &Allow, actor()).await.expect("extract");
        assert_eq!(m.persons, 1, "two merged persons left, one opted out");
        let p = f.processing.pseudonymizer(pid("permit-e")).await.expect("key");
        let seen = f.pseudonyms_in(&m);
        assert_eq!(seen, BTreeSet::from([p.pseudonym(&people[0]).to_string()]));
        assert_eq!(m.tables[0].rows, 2, "both source rows of the survivor, under one pseudonym");
    }
}

test_on_both_backends! {
    async fn a_split_record_s_rows_follow_it_to_the_new_person_and_the_rest_stay(t) {
        let f = Fixture::new(t).await;
        let people = f.people(2).await;
        let (a, b) = (people[0], people[1]);
        let (stays, leaves) = (RecordId::generate(), RecordId::generate());
        f.conditions_of_record(a, stays, &["E11"]).await;
        f.conditions_of_record(a, leaves, &["I10", "J45"]).await;
        // Identity found `leaves` not to be a's: split off into n.
        let n = PersonKey::generate();
        f.split(leaves, a, n, 1).await;
        let s = spec("permit-s", &[CONDITION]);
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("extract");
        let p = f.processing.pseudonymizer(pid("permit-s")).await.expect("key");
        let (pa, pb, pn) = (p.pseudonym(&a).to_string(), p.pseudonym(&b).to_string(), p.pseudonym(&n).to_string());
        assert_eq!(f.conditions_in(&m), BTreeSet::from([
            (pa.clone(), "E11".to_owned()),
            (pn.clone(), "I10".to_owned()),
            (pn.clone(), "J45".to_owned()),
        ]), "the moved record's rows are n's, the other record's stay a's");
        assert_eq!(m.tables[0].rows, 3, "no row lost");
        assert!(!f.file_text(&m).contains(&leaves.to_string()), "identity records never leave");

        // a opts out: a's rows go, n (another patient) stays.
        let m = f.processing.build(&s, &exclusion(&[a], 2), &Allow, actor()).await.expect("extract");
        let pairs = f.conditions_in(&m);
        assert!(pairs.iter().all(|(who, _)| *who == pn), "{pairs:?}");
        assert_eq!(pairs.len(), 2);

        // A cohort of I10 holds n, not a.
        let mut cohort = spec("permit-s2", &[PERSON, CONDITION]);
        cohort.cohort_icd10 = vec!["I10".to_owned()];
        let m = f.processing.build(&cohort, &Exclusion::default(), &Allow, actor()).await.expect("cohort extract");
        let p2 = f.processing.pseudonymizer(pid("permit-s2")).await.expect("key");
        assert_eq!(f.pseudonyms_in(&m), BTreeSet::from([p2.pseudonym(&n).to_string()]));

        // Later n is merged into b: the split record's rows follow on.
        f.merge(n, b, 2).await;
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("extract");
        assert_eq!(f.conditions_in(&m), BTreeSet::from([
            (pa, "E11".to_owned()),
            (pb.clone(), "I10".to_owned()),
            (pb, "J45".to_owned()),
        ]));

        // Split again (from b into a newer person): the latest split wins.
        let newer = PersonKey::generate();
        f.split(leaves, b, newer, 3).await;
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("extract");
        let pnewer = p.pseudonym(&newer).to_string();
        assert!(f.conditions_in(&m).contains(&(pnewer, "I10".to_owned())));
    }
}

/// Allows the first `n` checks, then says the permit was revoked.
struct RevokedAfter(usize, AtomicUsize);

impl PermitAuthority for RevokedAfter {
    fn grant(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Grant>> {
        Allow.grant(permit)
    }

    fn terms(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<(Grant, Standing)>> {
        Allow.terms(permit)
    }

    fn may_check_outputs<'a>(
        &'a self,
        reviewer: &'a str,
        permit: PermitId,
    ) -> BoxFuture<'a, ServiceResult<()>> {
        Allow.may_check_outputs(reviewer, permit)
    }

    fn notice(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<renkei_core::PermitNotice>> {
        Allow.notice(permit)
    }

    fn standing(&self, _: PermitId) -> BoxFuture<'_, ServiceResult<Standing>> {
        let n = self.1.fetch_add(1, Ordering::SeqCst);
        let ok = n < self.0;
        Box::pin(async move {
            if ok {
                Ok(Standing::InForce)
            } else {
                Ok(Standing::Ended)
            }
        })
    }
}

test_on_both_backends! {
    async fn a_build_stopped_midway_leaves_nothing_visible_and_a_rerun_finishes_it(t) {
        let f = Fixture::new(t).await;
        let people = f.people(10).await;
        f.conditions(&[(people[0], "E11", "2021-01-01")]).await;
        let s = spec("permit-f", &[PERSON, CONDITION]);
        // Allowed at the start and after the first table, refused after
        // the second: both tables' files are written, nothing is visible.
        let err = f.processing.build(&s, &Exclusion::default(), &RevokedAfter(2, AtomicUsize::new(0)), actor()).await.expect_err("stopped");
        assert!(matches!(err, Error::NotInForce { .. }), "{err}");
        assert!(f.processing.extracts(pid("permit-f")).await.expect("list").is_empty());
        assert!(f.processing.latest(pid("permit-f")).await.expect("latest").is_none());
        assert!(f.processing.permits_including(&people[1]).await.expect("lookup").is_empty());
        assert!(!f.audit.actions().contains(&"processing.extract".to_owned()), "audited before visible");
        let written = f.file_mtimes("permit-f");
        assert!(!written.is_empty(), "the first run wrote files");
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("rerun finishes");
        assert_eq!(m.persons, 10);
        assert_eq!(f.processing.extracts(pid("permit-f")).await.expect("list").len(), 1);
        for (file, mtime) in written.iter().filter(|(f, _)| f.ends_with(".parquet")) {
            assert_eq!(f.file_mtimes("permit-f").get(file), Some(mtime), "{file} was kept, not rewritten");
        }
        // The same inputs again: the same extract, not a second one.
        let again = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("idempotent");
        assert_eq!(again.extract, m.extract);
    }
}

/// Allows the start of a build, then, asked again after the first table,
/// tells the test and never answers: the test drops the build there, as
/// when the process dies mid-extract (nothing after that point runs).
struct HangsAfterFirstTable(
    AtomicUsize,
    std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
);

impl PermitAuthority for HangsAfterFirstTable {
    fn grant(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Grant>> {
        Allow.grant(permit)
    }

    fn terms(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<(Grant, Standing)>> {
        Allow.terms(permit)
    }

    fn may_check_outputs<'a>(
        &'a self,
        reviewer: &'a str,
        permit: PermitId,
    ) -> BoxFuture<'a, ServiceResult<()>> {
        Allow.may_check_outputs(reviewer, permit)
    }

    fn notice(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<renkei_core::PermitNotice>> {
        Allow.notice(permit)
    }

    fn standing(&self, _: PermitId) -> BoxFuture<'_, ServiceResult<Standing>> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n == 0 {
                return Ok(Standing::InForce);
            }
            if let Some(tx) = self.1.lock().expect("lock").take() {
                let _ = tx.send(());
            }
            futures::future::pending().await
        })
    }
}

test_on_both_backends! {
    async fn a_build_abandoned_mid_extract_leaves_nothing_visible(t) {
        let f = Fixture::new(t).await;
        let people = f.people(10).await;
        f.conditions(&[(people[0], "E11", "2021-01-01")]).await;
        let s = spec("permit-g", &[PERSON, CONDITION]);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let guard = HangsAfterFirstTable(AtomicUsize::new(0), std::sync::Mutex::new(Some(tx)));
        let nobody = Exclusion::default();
        tokio::select! {
            r = f.processing.build(&s, &nobody, &guard, actor()) => panic!("the build was to hang: {r:?}"),
            _ = rx => {}
        }
        // The build is gone after writing its first table.
        assert!(!f.file_mtimes("permit-g").is_empty(), "the first table was written");
        assert!(f.processing.extracts(pid("permit-g")).await.expect("list").is_empty());
        assert!(f.processing.latest(pid("permit-g")).await.expect("latest").is_none());
        assert!(f.processing.permits_including(&people[1]).await.expect("lookup").is_empty());
        assert!(!f.audit.actions().contains(&"processing.extract".to_owned()));
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("a rerun finishes");
        assert_eq!(m.persons, 10);
        assert_eq!(f.processing.latest(pid("permit-g")).await.expect("latest").map(|l| l.extract), Some(m.extract));
    }
}

test_on_both_backends! {
    async fn a_person_known_only_to_a_prefecture_counts_in_it(t) {
        let f = Fixture::new(t).await;
        // Every fifth person's municipality is unknown, their prefecture
        // known: as "unknown" they would form classes of their own.
        let people = f.varied_people(60).await;
        let rows: Vec<_> = people.iter().enumerate().map(|(i, p)| (*p, ["E11.9", "I10"][i % 2], "2022-02-02")).collect();
        f.conditions(&rows).await;
        let mut s = spec("permit-pref", &[("person", &["sex", "municipality_code"]), ("condition", &["icd10"])]);
        s.delivery = Delivery::Anonymized(renkei_deid::PrivacyTerms { k: 5, l: None, t: None, max_suppression: 0.1 });
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("anonymized extract");
        let (classes, rows) = f.classes_in(&m.tables[0].file, &["sex", "municipality_code"], "icd10");
        assert_eq!(rows, 60, "nobody suppressed");
        let places: BTreeSet<String> = classes.keys().map(|q| q[1].clone()).collect();
        // Three of each sex and prefecture are known only to it: too few at
        // the municipality level, so all are generalized to the prefecture.
        assert_eq!(places, BTreeSet::from(["13".to_owned(), "27".to_owned()]));
        assert!(classes.values().all(|(n, _)| *n >= 5), "{classes:?}");
    }
}

test_on_both_backends! {
    async fn an_ended_permit_has_no_key_and_no_extract(t) {
        let f = Fixture::new(t).await;
        f.people(3).await;
        let s = spec("permit-g", &[PERSON]);
        let m = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect("extract");
        let refused = f.processing.build(&spec("permit-g2", &[PERSON]), &Exclusion::default(), &RevokedAfter(0, AtomicUsize::new(0)), actor()).await.expect_err("not in force");
        assert!(matches!(refused, Error::NotInForce { .. }));
        let ended = f.processing.end_permit(pid("permit-g"), actor()).await.expect("ended");
        assert!(ended.key_destroyed);
        assert_eq!(ended.extracts_closed, 1);
        assert!(f.processing.latest(pid("permit-g")).await.expect("latest").is_none());
        assert!(f.file_mtimes("permit-g").keys().all(|k| !k.ends_with(".parquet")), "files deleted");
        assert!(f.processing.extracts(pid("permit-g")).await.expect("list")[0].closed_at.is_some());
        let err = f.processing.build(&s, &Exclusion::default(), &Allow, actor()).await.expect_err("key destroyed");
        assert!(matches!(err, Error::KeyDestroyed(_)), "{err}");
        assert!(f.processing.pseudonymizer(pid("permit-g")).await.is_err());
        let _ = m;
    }
}

test_on_both_backends! {
    async fn an_extract_the_audit_log_refuses_is_not_made(t) {
        let f = Fixture::refusing_audit(t).await;
        f.people(3).await;
        let err = f.processing.build(&spec("permit-h", &[PERSON]), &Exclusion::default(), &Allow, actor()).await.expect_err("refused");
        assert!(matches!(err, Error::Audit(_)), "{err}");
        assert!(f.processing.extracts(pid("permit-h")).await.expect("list").is_empty());
    }
}

test_on_both_backends! {
    async fn an_anonymized_delivery_meets_k_on_the_written_file_and_names_nobody(t) {
        let f = Fixture::new(t).await;
        let people = f.varied_people(60).await;
        let rows: Vec<_> = people
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, ["E11.9", "I10", "J45", "C50"][i % 4], "2022-02-02"))
            .collect();
        f.conditions(&rows).await;
        let mut s = spec("permit-anon", &[
            ("person", &["sex", "birth_date", "municipality_code"]),
            ("condition", &["icd10"]),
        ]);
        s.delivery = Delivery::Anonymized(renkei_deid::PrivacyTerms {
            k: 5,
            l: Some(2),
            t: None,
            max_suppression: 0.1,
        });
        let out = &people[..4];
        let m = f.processing.build(&s, &exclusion(out, 3), &Allow, actor()).await.expect("anonymized extract");
        assert_eq!(m.tables.len(), 1);
        let t = &m.tables[0];
        assert_eq!(t.table, "anonymized");
        assert!(!t.columns.contains(&"pseudonym".to_owned()), "an anonymized dataset links to nothing");
        // k and l counted here from the file, not taken from the report.
        let (classes, rows) = f.classes_in(&t.file, &["age", "sex", "municipality_code"], "icd10");
        assert!(rows > 0);
        assert!(classes.values().all(|(n, _)| *n >= 5), "a class below k=5: {classes:?}");
        assert!(classes.values().all(|(_, dx)| dx.len() >= 2), "a class below l=2");
        let report = m.anonymization.as_ref().expect("a report");
        assert!(report["k_achieved"].as_u64().expect("k") >= 5);
        assert_eq!(report["records"].as_u64(), Some(rows as u64));
        assert!(report["risk"]["prosecutor_highest"].as_f64().expect("risk") <= 0.2 + 1e-9);
        // The journalist's population is the whole lake, the opted-out
        // included: its classes are at least as large, so the risk at most
        // the prosecutor's — and lower here, where four persons are out.
        assert_eq!(report["risk"]["population"].as_u64(), Some(60));
        let journalist = report["risk"]["journalist_average"].as_f64().expect("journalist");
        let prosecutor = report["risk"]["prosecutor_average"].as_f64().expect("prosecutor");
        assert!(journalist < prosecutor, "journalist {journalist} < prosecutor {prosecutor}");
        // The bitmap holds the persons kept, none of the opted-out.
        let bitmap = Processing::persons_of(&m).expect("bitmap");
        assert_eq!(bitmap.len(), rows as u64);
        let absent = f.processing.ordinals_of(out).await.expect("ordinals");
        assert!((&bitmap & &absent).is_empty());
    }
}

test_on_both_backends! {
    async fn rows_written_before_a_column_was_added_still_extract(t) {
        let f = Fixture::new(t).await;
        // A lake from before identity_record existed: the condition table's
        // schema without its last column.
        let people = f.people(1).await;
        let full = renkei_core::LakeTable::Condition.schema();
        let older = std::sync::Arc::new(arrow::datatypes::Schema::new(
            full.fields()[..full.fields().len() - 1].iter().map(|f| f.as_ref().clone()).collect::<Vec<_>>(),
        ));
        assert_eq!(full.fields().last().map(|f| f.name().as_str()), Some("identity_record"));
        let batch = f.batch(renkei_core::LakeTable::Condition, 1, vec![
            ("person_key", std::sync::Arc::new(arrow::array::StringArray::from(vec![people[0].to_string()]))),
            ("icd10", std::sync::Arc::new(arrow::array::StringArray::from(vec!["E11"]))),
            ("recorded_date", std::sync::Arc::new(arrow::array::Date32Array::from(vec![day("2021-03-01")]))),
        ]);
        let old = arrow::array::RecordBatch::try_new(older, batch.columns()[..batch.num_columns() - 1].to_vec()).expect("old batch");
        f.append("condition", old).await;
        // Then the new schema, with a split of a later record.
        let record = RecordId::generate();
        f.conditions_of_record(people[0], record, &["I10"]).await;
        let n = PersonKey::generate();
        f.split(record, people[0], n, 1).await;
        let m = f.processing.build(&spec("permit-old", &[CONDITION]), &Exclusion::default(), &Allow, actor()).await.expect("extract");
        let p = f.processing.pseudonymizer(pid("permit-old")).await.expect("key");
        assert_eq!(f.conditions_in(&m), BTreeSet::from([
            (p.pseudonym(&people[0]).to_string(), "E11".to_owned()),
            (p.pseudonym(&n).to_string(), "I10".to_owned()),
        ]), "the older row keeps its person, the split one moves");
    }
}

test_on_both_backends! {
    #[cfg(unix)]
    async fn nothing_under_the_data_directory_is_readable_by_group_or_others(t) {
        let f = Fixture::new(t).await;
        f.people(5).await;
        let m = f.processing.build(&spec("permit-modes", &[PERSON, CONDITION]), &Exclusion::default(), &Allow, actor()).await.expect("extract");
        assert_eq!(m.persons, 5);
        let (loose, files) = renkei_store::testing::loose_paths(t.stores.data_dir());
        assert!(loose.is_empty(), "readable by group or others: {loose:?}");
        // The walk saw what matters: the lake's and the extract's Parquet,
        // the master key, and on SQLite the database with its WAL.
        let seen = |needle: &str| files.iter().any(|f| f.contains(needle));
        assert!(seen("/lake/person/data/") && seen(".parquet"), "{files:?}");
        assert!(seen(&format!("/extracts/{}/", pid("permit-modes"))), "{files:?}");
        assert!(seen("/keys/"), "{files:?}");
        if t.stores.backend() == renkei_store::Backend::Sqlite {
            assert!(seen("/db/processing.sqlite-wal"), "{files:?}");
        }
    }
}

/// Whether `needle` occurs anywhere in `haystack`.
fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The raw bytes of processing's SQLite database and its -wal and -shm.
fn database_file_bytes(data_dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in [
        "processing.sqlite",
        "processing.sqlite-wal",
        "processing.sqlite-shm",
    ] {
        if let Ok(b) = std::fs::read(data_dir.join("db").join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

test_on_both_backends! {
    async fn a_destroyed_key_leaves_no_byte_in_the_database_files(t) {
        let f = Fixture::new(t).await;
        f.people(3).await;
        f.processing.build(&spec("permit-k", &[PERSON]), &Exclusion::default(), &Allow, actor()).await.expect("extract");
        let db = t
            .stores
            .database(
                renkei_store::DbName::new("processing"),
                &renkei_store::Migrations {
                    sqlite: sqlx::migrate!("migrations/sqlite"),
                    postgres: sqlx::migrate!("migrations/postgres"),
                },
            )
            .await
            .expect("processing database");
        let sealed_key = || async {
            let row: (Option<Vec<u8>>, Option<Vec<u8>>) =
                sqlx::query_as("SELECT nonce, sealed FROM permit_keys WHERE permit_id = $1")
                    .bind(pid("permit-k").to_string())
                    .fetch_one(db.pool())
                    .await
                    .expect("key row");
            row
        };
        let (_, sealed) = sealed_key().await;
        let sealed = sealed.expect("a live key is sealed");
        assert_eq!(sealed.len(), 48, "32 key bytes and the GCM tag");
        let sqlite = t.stores.backend() == renkei_store::Backend::Sqlite;
        if sqlite {
            // The attack: the sealed bytes are in the files (so the check
            // below can fail) ...
            assert!(contains_bytes(&database_file_bytes(t.stores.data_dir()), &sealed));
        }
        let ended = f.processing.end_permit(pid("permit-k"), actor()).await.expect("ended");
        assert!(ended.key_destroyed);
        assert_eq!(sealed_key().await, (None, None));
        if sqlite {
            // ... and after destruction no copy of them is left in the
            // database, its WAL or its shared memory file.
            let files = database_file_bytes(t.stores.data_dir());
            assert!(!files.is_empty());
            assert!(!contains_bytes(&files, &sealed), "the destroyed key can be read back from the files");
            assert!(!contains_bytes(&files, &sealed[..16]), "part of the destroyed key is left");
        }
    }
}
