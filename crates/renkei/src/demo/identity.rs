//! The demo's identity step: how well the person index linked the
//! synthetic nation's Patients, scored against its ground truth
//! (truth.csv, which never entered the platform); the probabilistic pass;
//! and the clerical review (名寄せ確認) of what it queued, with the splits
//! and merges it decides carried to the lake and read back from there, as
//! an extract reads them.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, ensure};
use arrow::array::{Array, Int64Array, StringArray};
use renkei_identity::curation::{Decision, ReviewReason};
use renkei_store::lake::{Lake, TableName};

use super::Walk;

/// A lake person row the truth knows: its key, the identity record it was
/// resolved through, and the true person.
struct Linked {
    key: String,
    record: Option<String>,
    person: u64,
}

/// The lake's key maps: merges (retired key → survivor, chains followed)
/// and splits (record → the new person of its latest split).
#[derive(Default)]
struct KeyMaps {
    merges: HashMap<String, String>,
    splits: HashMap<String, String>,
}

impl KeyMaps {
    /// The current person of a row, as an extract decides it.
    fn person_of<'a>(&'a self, key: &'a str, record: Option<&str>) -> &'a str {
        let mut key = record
            .and_then(|r| self.splits.get(r))
            .map_or(key, String::as_str);
        // Chains end: a merge only ever retires a current key.
        for _ in 0..=self.merges.len() {
            match self.merges.get(key) {
                Some(next) => key = next,
                None => break,
            }
        }
        key
    }
}

/// Pairwise precision, recall, F1 and persons of `linked` with each row's
/// person decided through `maps`.
fn score(linked: &HashMap<(String, String), Linked>, maps: &KeyMaps) -> Score {
    fn pairs<K>(counts: &HashMap<K, u64>) -> u64 {
        counts.values().map(|n| n * (n - 1) / 2).sum()
    }
    let mut by_key: HashMap<&str, u64> = HashMap::new();
    let mut by_truth: HashMap<u64, u64> = HashMap::new();
    let mut by_both: HashMap<(&str, u64), u64> = HashMap::new();
    for row in linked.values() {
        let key = maps.person_of(&row.key, row.record.as_deref());
        *by_key.entry(key).or_default() += 1;
        *by_truth.entry(row.person).or_default() += 1;
        *by_both.entry((key, row.person)).or_default() += 1;
    }
    let (predicted, actual, correct) = (pairs(&by_key), pairs(&by_truth), pairs(&by_both));
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(correct, predicted), ratio(correct, actual));
    Score {
        precision,
        recall,
        f1: 2.0 * precision * recall / (precision + recall).max(f64::MIN_POSITIVE),
        persons: by_key.len(),
        true_persons: by_truth.len(),
    }
}

struct Score {
    precision: f64,
    recall: f64,
    f1: f64,
    persons: usize,
    true_persons: usize,
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The rows of a lake table (empty when the table does not exist yet).
async fn read_table(lake: &Lake, name: &str) -> anyhow::Result<Vec<arrow::array::RecordBatch>> {
    let table = TableName::parse(name)?;
    match lake.current().await?.and_then(|c| c.table(&table).cloned()) {
        Some(snapshot) => Ok(lake.read(&snapshot).await?),
        None => Ok(Vec::new()),
    }
}

fn text<'a>(
    batch: &'a arrow::array::RecordBatch,
    table: &str,
    name: &str,
) -> anyhow::Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .with_context(|| format!("{table} column {name}"))
}

/// Reads both key maps back from the lake, replaying them in event order.
async fn key_maps(lake: &Lake) -> anyhow::Result<KeyMaps> {
    let merges = key_map_rows(
        lake,
        renkei_core::PERSON_KEY_MAP_TABLE,
        "person_key",
        "merged_into",
    );
    let splits = key_map_rows(
        lake,
        renkei_core::RECORD_KEY_MAP_TABLE,
        "identity_record",
        "person_key",
    );
    Ok(KeyMaps {
        merges: merges.await?.into_iter().collect(),
        // The latest split of a record wins: inserted last.
        splits: splits.await?.into_iter().collect(),
    })
}

/// The `(from, to)` columns of a key-map table, in event order.
async fn key_map_rows(
    lake: &Lake,
    table: &str,
    from: &str,
    to: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut rows: Vec<(i64, String, String)> = Vec::new();
    for batch in read_table(lake, table).await? {
        let (f, t) = (text(&batch, table, from)?, text(&batch, table, to)?);
        let seq = seqs(&batch, table)?;
        for i in 0..batch.num_rows() {
            rows.push((seq.value(i), f.value(i).to_owned(), t.value(i).to_owned()));
        }
    }
    rows.sort();
    Ok(rows.into_iter().map(|(_, f, t)| (f, t)).collect())
}

fn seqs<'a>(batch: &'a arrow::array::RecordBatch, table: &str) -> anyhow::Result<&'a Int64Array> {
    batch
        .column_by_name("event_seq")
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .with_context(|| format!("{table} column event_seq"))
}

/// Scores the index, runs the probabilistic pass, then decides every
/// queued link the way an operator would and scores again.
pub(super) async fn step_identity(
    walk: &mut Walk,
    state: &renkei_server::AppState,
) -> anyhow::Result<()> {
    let truth_path = state.config().data_dir.join("synth").join("truth.csv");
    let mut truth: HashMap<(String, String), u64> = HashMap::new();
    let mut reader = csv::Reader::from_path(&truth_path)
        .with_context(|| format!("reading {}", truth_path.display()))?;
    for row in reader.records() {
        let row = row?;
        let person: u64 = row[2].parse().context("truth.csv person_number")?;
        truth.insert((row[0].to_owned(), row[1].to_owned()), person);
    }
    let lake = state.stores().lake()?;
    let persons_table = read_table(&lake, "person").await?;
    ensure!(!persons_table.is_empty(), "no person table in the lake");
    // One row per source Patient (a newer version of the same source
    // replaces the older in this count).
    let mut linked: HashMap<(String, String), Linked> = HashMap::new();
    for batch in &persons_table {
        let (keys, providers, sources, records) = (
            text(batch, "person", "person_key")?,
            text(batch, "person", "provider_code")?,
            text(batch, "person", "source_id")?,
            text(batch, "person", "identity_record")?,
        );
        for i in 0..batch.num_rows() {
            if keys.is_null(i) {
                continue;
            }
            let source = (providers.value(i).to_owned(), sources.value(i).to_owned());
            if let Some(&person) = truth.get(&source) {
                let record = records.is_valid(i).then(|| records.value(i).to_owned());
                linked.insert(
                    source,
                    Linked {
                        key: keys.value(i).to_owned(),
                        record,
                        person,
                    },
                );
            }
        }
    }
    let first = score(&linked, &KeyMaps::default());
    // A false link merges two people's histories: the worse error.
    ensure!(
        first.precision >= 0.99,
        "the person index linked records of different people: pairwise precision {:.4}",
        first.precision
    );
    walk.record("identity_patient_records", linked.len());
    walk.record("identity_persons", first.persons);
    walk.record("identity_true_persons", first.true_persons);
    walk.record("identity_precision", round(first.precision));
    walk.record("identity_recall", round(first.recall));
    walk.record("identity_f1", round(first.f1));

    // The probabilistic pass: links the tokens missed, merges above the
    // threshold, queues the band below for review. Lake rows keyed before a
    // merge are read through the merge events.
    let pass = state
        .identity()
        .probabilistic_pass(&renkei_identity::linkage::Settings::default(), &demo())
        .await?;
    // Applied here as well as by the platform's follower: applying is
    // idempotent, and the walk must not race the follower to read maps.
    state.intake().apply_person_events(state.identity()).await?;
    let maps = key_maps(&lake).await?;
    ensure!(
        maps.merges.len() >= pass.merged,
        "the lake's person_key_map holds {} keys for {} merges",
        maps.merges.len(),
        pass.merged
    );
    let after_pass = score(&linked, &maps);
    ensure!(
        after_pass.precision >= 0.99,
        "the probabilistic pass merged different people: pairwise precision {:.4}",
        after_pass.precision
    );
    walk.record("identity_pass_pairs_compared", pass.pairs_compared);
    walk.record("identity_pass_merged", pass.merged);
    walk.record("identity_pass_queued", pass.queued);
    walk.record("identity_lake_key_map_rows", maps.merges.len() as u64);
    walk.record("identity_after_pass_persons", after_pass.persons);
    walk.record("identity_after_pass_precision", round(after_pass.precision));
    walk.record("identity_after_pass_recall", round(after_pass.recall));
    walk.record("identity_after_pass_f1", round(after_pass.f1));

    // 名寄せ確認: the operator decides every queued link. Here the ground
    // truth stands in for the operator's judgement (in life: the records'
    // attributes, read for a stated reason, and a call to the hospital).
    let by_record: HashMap<&str, u64> = linked
        .values()
        .filter_map(|l| Some((l.record.as_deref()?, l.person)))
        .collect();
    let queue = state.identity().review_queue(true, 10_000).await?;
    let (mut same, mut different, mut splits, mut undecidable) = (0u64, 0u64, 0u64, 0u64);
    // The maps change only when a decision merges or splits.
    let mut maps = key_maps(&lake).await?;
    for item in &queue {
        let Some(&who) = by_record.get(item.record_id.as_str()) else {
            // A Coverage's record: no lake row to judge it by here.
            undecidable += 1;
            continue;
        };
        // The true persons of the rows now under the person the record was
        // put with (or, for a probabilistic item, the other person).
        let against = item.other_person.unwrap_or(item.person_key).to_string();
        let against = maps.person_of(&against, None).to_owned();
        let others: HashSet<u64> = linked
            .values()
            .filter(|l| l.record.as_deref() != Some(item.record_id.as_str()))
            .filter(|l| maps.person_of(&l.key, l.record.as_deref()) == against)
            .map(|l| l.person)
            .collect();
        let decision = if others.contains(&who) {
            Decision::Same
        } else {
            Decision::Different
        };
        let reason = match (item.reason, decision) {
            (ReviewReason::NameBirthSexOnly, Decision::Same) => {
                "same person: an insurer change, confirmed with the hospital"
            }
            (ReviewReason::NameBirthSexOnly, Decision::Different) => {
                "a namesake born the same day: another insurer and another address"
            }
            (ReviewReason::AttributesDisagree, Decision::Same) => {
                "same person: a changed name, confirmed with the hospital"
            }
            (ReviewReason::AttributesDisagree, Decision::Different) => {
                "another person: the number was not theirs"
            }
            (ReviewReason::ConcurrentLink, Decision::Same) => {
                "same person: two providers sent the new patient at once"
            }
            (ReviewReason::ConcurrentLink, Decision::Different) => {
                "different persons: the number was mistyped at one provider"
            }
            (ReviewReason::Probabilistic, Decision::Same) => {
                "same person: the records differ by typing errors only"
            }
            (ReviewReason::Probabilistic, Decision::Different) => {
                "different persons: similar names, other dates and places"
            }
        };
        let event = state
            .identity()
            .decide(&item.id, decision, &demo(), reason)
            .await?;
        match decision {
            Decision::Same => same += 1,
            Decision::Different => different += 1,
        }
        if let Some(event) = event {
            splits += u64::from(event.kind == "split");
            state.intake().apply_person_events(state.identity()).await?;
            maps = key_maps(&lake).await?;
        }
    }
    let after_review = score(&linked, &maps);
    ensure!(
        after_review.precision >= after_pass.precision
            && after_review.recall >= after_pass.recall - 1e-9,
        "the clerical review made linkage worse: precision {:.4} → {:.4}, recall {:.4} → {:.4}",
        after_pass.precision,
        after_review.precision,
        after_pass.recall,
        after_review.recall
    );
    let open = state.identity().review_queue(true, 10_000).await?;
    walk.record("identity_review_same", same);
    walk.record("identity_review_different", different);
    walk.record("identity_review_split", splits);
    walk.record("identity_review_undecidable", undecidable);
    walk.record("identity_lake_record_map_rows", maps.splits.len());
    walk.record("identity_after_review_persons", after_review.persons);
    walk.record(
        "identity_after_review_precision",
        round(after_review.precision),
    );
    walk.record("identity_after_review_recall", round(after_review.recall));
    walk.record("identity_after_review_f1", round(after_review.f1));
    walk.record("identity_review_open", open.len());
    Ok(())
}

/// The demo, as the audit log and identity's events name it.
fn demo() -> renkei_core::Actor {
    renkei_core::Actor::System {
        component: "demo".to_owned(),
    }
}
