//! Release of outputs: the cells are computed from the data, checked, and
//! only what a reviewer releases leaves — suppressed cells without value.

use std::collections::HashMap;

use arrow::array::Float64Array;
use renkei_analysis::disclosure::dp::Epsilon;
use renkei_analysis::disclosure::{DataKind, Published, Rules};
use renkei_analysis::release::{Dimension, PrivacyRequest};
use renkei_analysis::{Output, OutputRequest, OutputStatus};

use super::peers;
use super::*;

/// Who is in the cohort: (sex, icd10, persons, cost of each).
const GROUPS: &[(&str, &str, usize)] = &[
    ("F", "E11", 25),
    ("F", "I10", 3),
    ("M", "E11", 30),
    ("M", "I10", 14),
];

fn cohort_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("pseudonym", DataType::Utf8, true),
        Field::new("sex", DataType::Utf8, true),
        Field::new("icd10", DataType::Utf8, true),
        Field::new("cost", DataType::Float64, true),
        // Unique to each person: a record, never a category.
        Field::new("detail", DataType::Utf8, true),
    ]))
}

/// One row per person of [`GROUPS`], plus a second condition row for the
/// first `doubled` persons (so they sit in two icd10 categories). Person
/// `p0`'s cost dominates its cell.
async fn cohort_workspace(doubled: usize) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let (mut ids, mut sexes, mut codes, mut costs, mut details) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut n = 0;
    for (sex, code, persons) in GROUPS {
        for _ in 0..*persons {
            ids.push(format!("p{n}"));
            sexes.push(*sex);
            codes.push(*code);
            costs.push(if n == 0 { 100_000.0 } else { 100.0 });
            details.push(format!("female|1933-12-30|01|M819 K219 #{n}"));
            n += 1;
        }
    }
    for i in 0..doubled {
        ids.push(format!("p{i}"));
        sexes.push("F");
        codes.push("I10");
        costs.push(1.0);
        details.push(format!("female|1933-12-30|01|M819 K219 #{i}"));
    }
    let batch = RecordBatch::try_new(
        cohort_schema(),
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(StringArray::from(sexes)),
            Arc::new(StringArray::from(codes)),
            Arc::new(Float64Array::from(costs)),
            Arc::new(StringArray::from(details)),
        ],
    )
    .expect("batch");
    let mut buf = Vec::new();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut buf, cohort_schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let path = ObjectPath::from("permit-r/cohort.parquet");
    store.put(&path, PutPayload::from(buf)).await.expect("put");
    let table = ExtractTable {
        name: "cohort".to_owned(),
        files: vec![path],
        schema: None,
    };
    let ws = Workspace::open(pid("permit-r"), store, &[table], limits())
        .await
        .expect("workspace");
    (dir, ws)
}

fn dims(names: &[&str]) -> Vec<Dimension> {
    names
        .iter()
        .map(|d| d.parse().expect("a dimension"))
        .collect()
}

fn by_sex_and_code(title: &str) -> OutputRequest {
    OutputRequest {
        title: title.to_owned(),
        cohort: None,
        table: "cohort".to_owned(),
        dimensions: dims(&["sex", "icd10"]),
        value: None,
        margins: true,
        kind: DataKind::General,
        privacy: None,
    }
}

/// Persons of the cohort `sql` by sex, without margins.
fn by_sex(title: &str, sql: &str) -> OutputRequest {
    OutputRequest {
        title: title.to_owned(),
        cohort: Some(sql.to_owned()),
        table: "cohort".to_owned(),
        dimensions: dims(&["sex"]),
        value: None,
        margins: false,
        kind: DataKind::General,
        privacy: None,
    }
}

/// Two outputs pending together: everyone by sex, and everyone but three
/// women (28 − 25 = 3 if both were published).
async fn all_and_fewer(env: &Environment, ws: &Workspace, rules: &Rules) -> (Output, Output) {
    let all = env
        .propose(
            ws,
            "researcher",
            actor(),
            by_sex("All by sex", "SELECT * FROM cohort"),
            rules,
        )
        .await
        .expect("first");
    let fewer = env
        .propose(
            ws,
            "researcher",
            actor(),
            by_sex(
                "Without three",
                "SELECT * FROM cohort WHERE pseudonym NOT IN ('p1', 'p2', 'p3')",
            ),
            rules,
        )
        .await
        .expect("second");
    (all, fewer)
}

fn actor() -> Actor {
    Actor::System {
        component: "test".to_owned(),
    }
}

fn cell<'a>(o: &'a Output, key: &[&str]) -> &'a renkei_analysis::CheckedCell {
    o.check
        .cells
        .iter()
        .find(|c| c.key == key)
        .unwrap_or_else(|| panic!("cell {key:?} in {:?}", o.check.cells))
}

fn released_value(o: &Output, key: &[&str]) -> Published {
    let table = o.released.as_ref().expect("released");
    table
        .cells()
        .iter()
        .find(|c| {
            c.key
                .parts()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                == key
        })
        .expect("cell")
        .value
}

test_on_both_backends! {
    async fn an_output_is_computed_from_the_data_checked_and_released_by_a_reviewer(t) {
        let (_dir, ws) = cohort_workspace(0).await;
        let audit = Arc::new(Audit::default());
        let env = Environment::open(&t.stores, Arc::new(SystemClock), audit.clone(), peers::none()).await.expect("environment");
        let rules = Rules::default();
        let o = env.propose(&ws, "researcher", actor(), by_sex_and_code("Diabetes and hypertension by sex"), &rules).await.expect("propose");
        assert_eq!(o.status, OutputStatus::Pending);
        // Counted from the data, margins included.
        let expected: HashMap<[&str; 2], u64> = [
            (["F", "E11"], 25), (["F", "I10"], 3), (["M", "E11"], 30), (["M", "I10"], 14),
            (["F", "*"], 28), (["M", "*"], 44), (["*", "E11"], 55), (["*", "I10"], 17), (["*", "*"], 72),
        ].into_iter().collect();
        for (key, persons) in &expected {
            assert_eq!(cell(&o, key).persons, *persons, "{key:?}");
        }
        let small = cell(&o, &["F", "I10"]);
        assert!(!small.released);
        assert!(small.why_en.as_deref().unwrap_or_default().contains("10"), "{small:?}");
        assert!(small.why_ja.is_some());
        // No line of the table (a row or column with its total) has exactly
        // one suppressed cell: subtraction from the margin cannot recover it.
        for line in [["F", "E11", "F", "I10", "F", "*"], ["M", "E11", "M", "I10", "M", "*"],
                     ["F", "E11", "M", "E11", "*", "E11"], ["F", "I10", "M", "I10", "*", "I10"]] {
            let hidden = line.chunks(2).filter(|k| !cell(&o, k).released).count();
            assert_ne!(hidden, 1, "line {line:?}");
        }
        assert!(o.check.audit_holds);
        assert!(o.released.is_none() && o.csv().is_none(), "nothing leaves before review");
        assert_eq!(env.pending_outputs().await.expect("pending").len(), 1);

        let err = env.decide(o.id, "reviewer", actor(), true, "  ", &rules).await.expect_err("reasons are required");
        assert!(matches!(err, Error::Invalid(_)), "{err}");
        let done = env.decide(o.id, "reviewer", actor(), true, "Aggregates only; checked.", &rules).await.expect("release");
        assert_eq!(done.status, OutputStatus::Released);
        assert_eq!(released_value(&done, &["F", "I10"]), Published::Suppressed);
        assert_eq!(released_value(&done, &["*", "*"]).persons(), Some(72));
        let csv = done.csv().expect("csv");
        assert!(csv.starts_with("sex,icd10,persons\n"), "{csv}");
        assert!(csv.contains("F,I10,X\n"), "{csv}");
        assert!(!csv.lines().any(|l| l.ends_with(",3")), "the small count is not in the file: {csv}");
        let again = env.decide(o.id, "reviewer", actor(), false, "changed my mind", &rules).await.expect_err("decided once");
        assert!(matches!(again, Error::Conflict(_)), "{again}");
        assert_eq!(env.released_outputs().await.expect("released").len(), 1);
        assert!(env.pending_outputs().await.expect("pending").is_empty());
        assert_eq!(env.output(o.id).await.expect("read back"), done);
        let actions: Vec<String> = audit.0.lock().expect("lock").iter().map(|e| e.action.clone()).collect();
        assert_eq!(actions, ["analysis.output.request", "analysis.output.release"]);
    }
}

test_on_both_backends! {
    async fn a_release_is_checked_again_against_releases_made_meanwhile(t) {
        let (_dir, ws) = cohort_workspace(0).await;
        let env = Environment::open(&t.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none()).await.expect("environment");
        let rules = Rules::default();
        // Two requests pending together; the second leaves out three women.
        let (all, fewer) = all_and_fewer(&env, &ws, &rules).await;
        assert!(cell(&fewer, &["F"]).released, "alone, 25 women are safe to release");
        env.decide(all.id, "reviewer", actor(), true, "ok", &rules).await.expect("first released");
        let second = env.decide(fewer.id, "reviewer", actor(), true, "ok", &rules).await.expect("second released");
        // 28 − 25 = 3 women would be published by the two releases together.
        assert_eq!(released_value(&second, &["F"]), Published::Suppressed);
        assert_eq!(second.check.compared_with, 1);
        assert!(cell(&second, &["F"]).why_en.as_deref().unwrap_or_default().contains("output-"), "{:?}", cell(&second, &["F"]));
    }
}

test_on_both_backends! {
    async fn decisions_at_once_take_turns_and_log_only_what_was_done(t) {
        let (_dir, ws) = cohort_workspace(0).await;
        let audit = Arc::new(Audit::default());
        let env = Environment::open(&t.stores, Arc::new(SystemClock), audit.clone(), peers::none()).await.expect("environment");
        let rules = Rules::default();
        // Two reviewers release two outputs of one permit at the same time:
        // whichever goes second is checked against the first.
        let (all, fewer) = all_and_fewer(&env, &ws, &rules).await;
        let (a, b) = tokio::join!(
            env.decide(all.id, "reviewer-1", actor(), true, "ok", &rules),
            env.decide(fewer.id, "reviewer-2", actor(), true, "ok", &rules),
        );
        let (a, b) = (a.expect("released"), b.expect("released"));
        let women = [released_value(&a, &["F"]), released_value(&b, &["F"])];
        assert!(women.contains(&Published::Suppressed), "both published their women: 28 − 25 = 3 would be known ({women:?})");

        // Two reviewers decide one output at once: one decision stands, and
        // only it is in the log.
        let o = env.propose(&ws, "researcher", actor(), by_sex_and_code("Once"), &rules).await.expect("propose");
        let before = audit.0.lock().expect("lock").len();
        let (x, y) = tokio::join!(
            env.decide(o.id, "reviewer-1", actor(), true, "fine", &rules),
            env.decide(o.id, "reviewer-2", actor(), false, "not fine", &rules),
        );
        assert!(x.is_ok() != y.is_ok(), "exactly one decision: {x:?} {y:?}");
        let lost = if x.is_ok() { y } else { x };
        assert!(matches!(lost, Err(Error::Conflict(_))), "{lost:?}");
        let entries: Vec<String> = audit.0.lock().expect("lock")[before..].iter().map(|e| e.action.clone()).collect();
        assert_eq!(entries.len(), 1, "one decision, one entry: {entries:?}");
    }
}

test_on_both_backends! {
    async fn a_noisy_release_spends_the_permits_budget_and_suppresses_nothing(t) {
        let (_dir, ws) = cohort_workspace(0).await;
        let audit = Arc::new(Audit::default());
        let env = Environment::open(&t.stores, Arc::new(SystemClock), audit.clone(), peers::none()).await.expect("environment");
        let eps = |s: &str| Epsilon::parse(s).expect("epsilon");
        let noisy = |title: &str, epsilon: &str| OutputRequest {
            privacy: Some(PrivacyRequest {
                epsilon: eps(epsilon),
                // "X" is on the public list but not in the data.
                categories: vec![vec!["F".to_owned(), "M".to_owned(), "X".to_owned()], vec!["E11".to_owned(), "I10".to_owned()]],
            }),
            ..by_sex_and_code(title)
        };
        // Not offered without a budget.
        let err = env.propose(&ws, "researcher", actor(), noisy("No budget", "0.5"), &Rules::default()).await.expect_err("no budget");
        assert!(matches!(&err, Error::Invalid(m) if m.contains("dp_budget")), "{err}");

        let rules = Rules { dp_budget: Some(eps("1.0")), ..Rules::default() };
        let o = env.propose(&ws, "researcher", actor(), noisy("Noisy", "0.6"), &rules).await.expect("propose");
        assert_eq!(o.check.noisy, Some(eps("0.6")));
        assert_eq!(o.check.suppressed, 0, "noise, not suppression");
        assert_eq!(o.check.cells.len(), 4 * 3, "every listed combination and its totals");
        assert_eq!(cell(&o, &["X", "E11"]).persons, 0, "a listed category absent from the data is a cell");
        assert_eq!(cell(&o, &["F", "I10"]).persons, 3, "the reviewer sees the true count");
        assert_eq!(env.dp_accountant(pid("permit-r"), &rules).await.expect("budget").spent(), eps("0"), "nothing spent before release");
        // A second one that the budget could pay for now, but not after.
        let second = env.propose(&ws, "researcher", actor(), noisy("Second", "0.6"), &rules).await.expect("0.6 of 1.0 is left");

        let released = env.decide(o.id, "reviewer", actor(), true, "noisy counts only", &rules).await.expect("release");
        let table = released.released.as_ref().expect("released table");
        assert!(table.cells().iter().all(|c| c.value != Published::Suppressed));
        let value = |key: [&str; 2]| released_value(&released, &key).persons().expect("a value");
        for sex in ["F", "M", "X"] {
            assert_eq!(value([sex, "*"]), value([sex, "E11"]) + value([sex, "I10"]), "the table adds up");
        }
        assert_eq!(value(["*", "*"]), ["F", "M", "X"].iter().map(|s| value([s, "*"])).sum::<u64>());
        assert!(!released.csv().expect("csv").contains(",X\n"), "no suppression mark");
        assert_eq!(env.dp_accountant(pid("permit-r"), &rules).await.expect("budget").spent(), eps("0.6"));

        // The budget cannot pay for the second any more: refused at
        // release, nothing spent, nothing logged, still pending.
        let before = audit.0.lock().expect("lock").len();
        let err = env.decide(second.id, "reviewer", actor(), true, "ok", &rules).await.expect_err("over budget");
        assert!(matches!(&err, Error::Conflict(m) if m.contains("budget") || m.contains("ε")), "{err}");
        assert_eq!(audit.0.lock().expect("lock").len(), before);
        assert_eq!(env.output(second.id).await.expect("read").status, OutputStatus::Pending);
        assert_eq!(env.dp_accountant(pid("permit-r"), &rules).await.expect("budget").spent(), eps("0.6"));
        // And a new request for more than is left is refused at once.
        let err = env.propose(&ws, "researcher", actor(), noisy("Third", "0.5"), &rules).await.expect_err("0.4 left");
        assert!(matches!(&err, Error::Invalid(m) if m.contains("0.4")), "{err}");
        // Bad requests name what is wrong.
        let mut sums = noisy("Sums", "0.1");
        sums.value = Some("cost".to_owned());
        assert!(matches!(env.propose(&ws, "researcher", actor(), sums, &rules).await, Err(Error::Invalid(m)) if m.contains("value")));
        // A person with two rows is still one person in one cell: one
        // person moves one count, which is what the noise is calibrated to.
        let (_dir2, overlapping) = cohort_workspace(5).await;
        let mut unmargined = noisy("Overlapping", "0.1");
        unmargined.margins = false;
        let o = env.propose(&overlapping, "researcher", actor(), unmargined, &rules).await.expect("one cell each");
        assert_eq!(o.check.several_values, 5);
        assert_eq!(o.check.cells.iter().map(|c| c.persons).sum::<u64>(), 72, "72 persons, 72 counts");
        let mut short = noisy("Short", "0.1");
        short.privacy.as_mut().expect("privacy").categories.pop();
        assert!(matches!(env.propose(&ws, "researcher", actor(), short, &rules).await, Err(Error::Invalid(m)) if m.contains("one list per dimension")));
    }
}

test_on_both_backends! {
    async fn refused_outputs_never_leave(t) {
        let (_dir, ws) = cohort_workspace(0).await;
        let env = Environment::open(&t.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none()).await.expect("environment");
        let rules = Rules::default();
        let o = env.propose(&ws, "researcher", actor(), by_sex_and_code("Refused"), &rules).await.expect("propose");
        let refused = env.decide(o.id, "reviewer", actor(), false, "Not the permit's purpose.", &rules).await.expect("refuse");
        assert_eq!(refused.status, OutputStatus::Refused);
        assert!(refused.csv().is_none());
        assert!(env.released_outputs().await.expect("released").is_empty());
        assert_eq!(env.outputs(pid("permit-r")).await.expect("outputs")[0].reason.as_deref(), Some("Not the permit's purpose."));
    }
}

test_on_both_backends! {
    async fn requests_that_cannot_be_made_into_a_safe_table_are_refused_with_the_reason(t) {
        let (_dir, ws) = cohort_workspace(5).await;
        let env = Environment::open(&t.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none()).await.expect("environment");
        let rules = Rules::default();
        // Five persons have two conditions: each still counts once, under
        // their first, and the check says so.
        let o = env.propose(&ws, "researcher", actor(), by_sex_and_code("Overlapping"), &rules).await.expect("one cell each");
        assert_eq!(o.check.several_values, 5);
        assert_eq!(cell(&o, &["*", "*"]).persons, 72);
        let mut outside = by_sex_and_code("Outside");
        outside.cohort = Some("SELECT * FROM '/etc/passwd'".to_owned());
        assert!(env.propose(&ws, "researcher", actor(), outside, &rules).await.is_err());
        for (field, bad) in [("table", "nosuch"), ("table", "cohort; DROP")] {
            let mut r = by_sex_and_code("Bad table");
            r.table = bad.to_owned();
            let err = env.propose(&ws, "researcher", actor(), r, &rules).await.expect_err("bad table");
            assert!(matches!(&err, Error::Invalid(m) if m.contains(field)), "{err}");
        }
        let mut missing = by_sex_and_code("No such column");
        missing.dimensions = dims(&["age"]);
        let err = env.propose(&ws, "researcher", actor(), missing, &rules).await.expect_err("no column");
        assert!(matches!(&err, Error::Invalid(m) if m.contains("icd10")), "the valid columns are named: {err}");
        assert!("sex; DROP".parse::<Dimension>().is_err());
        let mut microdata = by_sex_and_code("Microdata");
        microdata.dimensions = dims(&["pseudonym"]);
        assert!(env.propose(&ws, "researcher", actor(), microdata, &rules).await.is_err(), "the person cannot be a dimension");
        let mut year = by_sex_and_code("Year of text");
        year.dimensions = dims(&["sex:year"]);
        assert!(matches!(env.propose(&ws, "researcher", actor(), year, &rules).await, Err(Error::Invalid(m)) if m.contains("date")));
        assert_eq!(env.pending_outputs().await.expect("pending").len(), 1, "nothing refused is recorded");
    }
}

// ---------------------------------------------------------------- attacks

test_on_both_backends! {
    async fn padding_persons_in_the_cohort_counts_nobody_twice(t) {
        // The attack: each person ten times over (as `pseudonym || '#' || n`
        // or as the same pseudonym repeated) to lift small cells over the
        // minimum. Only the extract's own pseudonyms count, each once.
        let (_dir, ws) = cohort_workspace(0).await;
        let env = Environment::open(&t.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none()).await.expect("environment");
        let rules = Rules::default();
        let tens = "(VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) AS ten(n)";
        // Made-up pseudonyms are nobody.
        let mut padded = by_sex_and_code("Padded");
        padded.cohort = Some(format!("SELECT pseudonym || '#' || CAST(n AS VARCHAR) AS pseudonym FROM cohort CROSS JOIN {tens}"));
        let o = env.propose(&ws, "researcher", actor(), padded, &rules).await.expect("propose");
        assert!(o.check.cells.iter().all(|c| c.persons == 0), "{:?}", o.check.cells);
        // Real pseudonyms ten times over are each one person.
        let mut repeated = by_sex_and_code("Repeated");
        repeated.cohort = Some(format!("SELECT pseudonym FROM cohort CROSS JOIN {tens}"));
        let o = env.propose(&ws, "researcher", actor(), repeated, &rules).await.expect("propose");
        let small = cell(&o, &["F", "I10"]);
        assert!(small.persons == 3 && !small.released, "{small:?}");
        assert_eq!(cell(&o, &["*", "*"]).persons, 72);
    }
}

test_on_both_backends! {
    async fn a_record_cannot_be_released_as_a_category_label(t) {
        // The attack: a dimension whose every value is one person's record
        // (`female|1933-12-30|01|M819 K219`). Its cells are suppressed, but
        // the labels would be public. Labels shared by fewer persons than
        // the minimum become その他.
        let (_dir, ws) = cohort_workspace(0).await;
        let env = Environment::open(&t.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none()).await.expect("environment");
        let rules = Rules::default();
        let mut r = by_sex_and_code("Records as labels");
        r.dimensions = dims(&["detail", "sex"]);
        let o = env.propose(&ws, "researcher", actor(), r, &rules).await.expect("propose");
        assert_eq!(o.check.recoded, 72, "every record is a category of one");
        assert!(o.check.cells.iter().all(|c| !c.key[0].contains("M819")), "{:?}", o.check.cells);
        let done = env.decide(o.id, "reviewer", actor(), true, "ok", &rules).await.expect("release");
        let csv = done.csv().expect("csv");
        assert!(!csv.contains("1933") && csv.contains(renkei_analysis::release::OTHER), "{csv}");
    }
}

test_on_both_backends! {
    async fn duplicating_persons_does_not_weaken_a_noisy_release(t) {
        // The attack: each person 1000 times in a noisy release, so that
        // noise calibrated to one person is drowned. The true counts the
        // noise is added to are those of distinct extract persons.
        let (_dir, ws) = cohort_workspace(0).await;
        let env = Environment::open(&t.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none()).await.expect("environment");
        let rules = Rules { dp_budget: Some(Epsilon::parse("1.0").expect("ε")), ..Rules::default() };
        let thousand = "SELECT c.pseudonym FROM cohort AS c CROSS JOIN cohort AS a CROSS JOIN (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14)) AS k(n)";
        let mut r = by_sex("Duplicated", thousand);
        r.privacy = Some(PrivacyRequest {
            epsilon: Epsilon::parse("0.1").expect("ε"),
            categories: vec![vec!["F".to_owned(), "M".to_owned()]],
        });
        let o = env.propose(&ws, "researcher", actor(), r, &rules).await.expect("propose");
        assert_eq!(cell(&o, &["F"]).persons, 28);
        assert_eq!(cell(&o, &["M"]).persons, 44);
    }
}

test_on_both_backends! {
    async fn the_same_persons_under_another_name_are_differenced(t) {
        // The attack: release "by sex", then the same cohort minus one
        // woman under another table and dimension; compared by names the
        // second is new, compared by persons it differs by one.
        let (_dir, ws) = cohort_workspace(0).await;
        let env = Environment::open(&t.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none()).await.expect("environment");
        let rules = Rules::default();
        let first = env.propose(&ws, "researcher", actor(), by_sex("By sex", "SELECT pseudonym FROM cohort"), &rules).await.expect("first");
        env.decide(first.id, "reviewer", actor(), true, "ok", &rules).await.expect("released");
        let mut second = by_sex("By code, women but one", "SELECT pseudonym FROM cohort WHERE sex = 'F' AND pseudonym <> 'p7'");
        second.dimensions = dims(&["icd10"]);
        second.margins = true;
        let o = env.propose(&ws, "researcher", actor(), second, &rules).await.expect("second");
        let total = cell(&o, &["*"]);
        assert_eq!(total.persons, 27);
        assert!(!total.released, "27 of the 28 women released before: {total:?}");
        assert!(total.why_en.as_deref().unwrap_or_default().contains("output-"), "{total:?}");
    }
}

test_on_both_backends! {
    async fn a_sum_dominated_by_one_person_is_suppressed(t) {
        let (_dir, ws) = cohort_workspace(0).await;
        let env = Environment::open(&t.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none()).await.expect("environment");
        let rules = Rules::default();
        let o = env
            .propose(&ws, "researcher", actor(), OutputRequest {
                title: "Cost by sex".to_owned(),
                cohort: None,
                table: "cohort".to_owned(),
                dimensions: dims(&["sex"]),
                value: Some("cost".to_owned()),
                margins: false,
                kind: DataKind::General,
                privacy: None,
            }, &rules)
            .await
            .expect("propose");
        let women = cell(&o, &["F"]);
        assert_eq!(women.sum, Some(100_000.0 + 27.0 * 100.0));
        assert!(!women.released, "p0's cost dominates the women's sum");
        assert!(women.why_en.as_deref().unwrap_or_default().to_lowercase().contains("largest"), "{women:?}");
        assert!(cell(&o, &["M"]).released);
    }
}
