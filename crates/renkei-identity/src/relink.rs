//! The probabilistic pass over the person index: Fellegi–Sunter linkage
//! ([`crate::linkage`]) of every attribute record the index holds, to find
//! the persons the keyed tokens kept apart — a typo in an insurance number,
//! a new card and a name written another way.
//!
//! Records are compared on kana and kanji name, birth date, sex, postcode,
//! address, the normalized insurance number and the telephone, with m and u
//! estimated by EM from the index itself. Records the guarded clustering
//! puts in one entity while they belong to different persons make those
//! persons one: the smaller is merged into the larger (an audited
//! [`PersonIndex::merge`] with the probability as its reason), which is the
//! upper threshold for automatic links. Pairs in the band below go to the
//! clerical-review queue ([`crate::curation::ReviewReason::Probabilistic`]),
//! once per pair of persons. A pass changes nothing else; run it again
//! after new data arrives.
//!
//! Records whose link awaits a reviewer are left out: a record sent under
//! someone's number with another person's name must not pull that other
//! person in by likeness.
//!
//! It decrypts every attribute record into memory, so it is an operator's
//! batch job, run off the async runtime.

use std::collections::{BTreeMap, HashMap, HashSet};

use renkei_core::{PersonKey, Sex};
use serde::Serialize;
use sqlx::Row;

use crate::curation::{AttributeRecord, ReviewReason};
use crate::linkage::settings::{FieldKind, FieldSetting};
use crate::linkage::{Input, Linker, Settings, Table};
use crate::{Error, PersonIndex, Result, normalize};

/// What a pass did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RelinkReport {
    /// Attribute records compared.
    pub records: usize,
    /// Current persons before the pass.
    pub persons_before: usize,
    /// Pairs blocking gave and the model scored.
    pub pairs_compared: u64,
    /// Persons merged into another.
    pub merged: usize,
    /// Pairs of persons queued for review.
    pub queued: usize,
    /// Probability at or above which records were linked.
    pub link_threshold: f64,
    /// Lower bound of the review band.
    pub review_threshold: f64,
}

/// The columns compared, with their kinds.
const COLUMNS: [(&str, FieldKind); 8] = [
    ("kana_name", FieldKind::Name),
    ("kanji_name", FieldKind::Name),
    ("birth_date", FieldKind::Date),
    ("sex", FieldKind::Category),
    ("postal_code", FieldKind::Postcode),
    ("address", FieldKind::Address),
    ("insurance", FieldKind::Code),
    ("phone", FieldKind::Code),
];

fn row_of(r: &AttributeRecord) -> Vec<String> {
    let a = &r.attributes;
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    vec![
        r.id.clone(),
        text(&a.kana_name),
        text(&a.kanji_name),
        text(&a.birth_date),
        match a.sex {
            Some(Sex::Male) => "male".to_owned(),
            Some(Sex::Female) => "female".to_owned(),
            _ => String::new(),
        },
        text(&a.postal_code),
        text(&a.address),
        normalize::insurance_key(
            a.insurer_number.as_deref(),
            a.insured_symbol.as_deref(),
            a.insured_number.as_deref(),
            a.insured_branch.as_deref(),
        )
        .unwrap_or_default(),
        text(&a.phone),
    ]
}

/// The pass's settings: the caller's, with every column's kind filled in
/// where the caller left it open.
fn settings_for(given: &Settings) -> Settings {
    let mut s = given.clone();
    for (column, kind) in COLUMNS {
        s.fields.entry(column.to_owned()).or_insert(FieldSetting {
            kind,
            jaro_winkler: None,
        });
    }
    s
}

impl PersonIndex {
    /// Runs the probabilistic pass (see the module documentation) as
    /// `actor`, with `settings` for thresholds, blocking and training.
    pub async fn probabilistic_pass(
        &self,
        settings: &Settings,
        actor: &renkei_core::Actor,
    ) -> Result<RelinkReport> {
        let rows = sqlx::query(
            "SELECT id, person_key, provider_code, nonce, ciphertext, link_state FROM attribute_records \
             WHERE link_state = 'linked' ORDER BY created_us, id",
        )
        .fetch_all(self.db().pool())
        .await?;
        let records: Vec<AttributeRecord> = rows
            .iter()
            .map(|r| self.decrypt_row(r))
            .collect::<Result<_>>()?;
        let merged_into: HashMap<String, String> = sqlx::query(
            "SELECT person_key, merged_into FROM persons WHERE merged_into IS NOT NULL",
        )
        .fetch_all(self.db().pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("person_key")?, r.try_get("merged_into")?)))
        .collect::<Result<_>>()?;
        let current: Vec<PersonKey> = records
            .iter()
            .map(|r| {
                let stored = r.stored_under.to_string();
                match merged_into.get(&stored) {
                    Some(survivor) => crate::index::parse_key(survivor),
                    None => Ok(r.stored_under),
                }
            })
            .collect::<Result<_>>()?;
        let persons_before = current.iter().collect::<HashSet<_>>().len();
        if records.len() < 2 {
            // No pair to compare (an index holding one trusted record, the
            // rest awaiting review): nothing to train or link.
            let (link_threshold, review_threshold) = settings.thresholds()?;
            return Ok(RelinkReport {
                records: records.len(),
                persons_before,
                pairs_compared: 0,
                merged: 0,
                queued: 0,
                link_threshold,
                review_threshold,
            });
        }

        let settings = settings_for(settings);
        let (report, merges, reviews) = tokio::task::spawn_blocking(move || {
            link(&records, &current, &settings).map(|(r, m, q)| (r, m, q, records))
        })
        .await
        .map_err(|e| Error::Corrupt(format!("the linkage thread failed: {e}")))?
        .map(|(mut report, merges, reviews, records)| {
            report.records = records.len();
            (report, merges, reviews)
        })?;

        let mut merged = 0;
        for (from, into, probability) in merges {
            // Earlier merges of this pass may have moved either side.
            let (from, into) = (self.current(&from).await?, self.current(&into).await?);
            if from == into {
                continue;
            }
            self.merge(
                &from,
                &into,
                actor,
                &format!("probabilistic pass: match probability {probability:.4}"),
            )
            .await?;
            merged += 1;
        }
        let mut queued = 0;
        let now = self.clock().now().unix_micros();
        for (record, person, other, probability) in reviews {
            let (person, other) = (self.current(&person).await?, self.current(&other).await?);
            if person == other {
                continue;
            }
            let open: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM review_queue WHERE reason = $1 AND \
                 ((person_key = $2 AND other_person = $3) OR (person_key = $3 AND other_person = $2))",
            )
            .bind(ReviewReason::Probabilistic.as_str())
            .bind(person.to_string())
            .bind(other.to_string())
            .fetch_one(self.db().pool())
            .await?;
            if open > 0 {
                continue;
            }
            sqlx::query(
                "INSERT INTO review_queue (id, record_id, person_key, other_person, reason, score, \
                 state, created_us) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(record.as_str())
            .bind(person.to_string())
            .bind(other.to_string())
            .bind(ReviewReason::Probabilistic.as_str())
            .bind(probability)
            .bind(now)
            .execute(self.db().pool())
            .await?;
            queued += 1;
        }
        tracing::info!(merged, queued, "probabilistic pass over the person index");
        Ok(RelinkReport {
            persons_before,
            merged,
            queued,
            ..report
        })
    }
}

/// Merges `(from, into, probability)` and review pairs `(record, person,
/// other person, probability)` from linking `records`.
type Found = (
    RelinkReport,
    Vec<(PersonKey, PersonKey, f64)>,
    Vec<(String, PersonKey, PersonKey, f64)>,
);

fn link(records: &[AttributeRecord], current: &[PersonKey], settings: &Settings) -> Result<Found> {
    let mut columns = vec!["record".to_owned()];
    columns.extend(COLUMNS.iter().map(|(c, _)| (*c).to_owned()));
    let table = Table::new(columns, records.iter().map(row_of).collect());
    let linker = Linker::new(Input::Dedupe(&table), "record", settings)?;
    let outcome = linker.run();
    let plan = linker.plan();

    // Persons per entity, with the records each brings and the strongest
    // link probability seen inside the entity.
    let mut entities: BTreeMap<u32, BTreeMap<PersonKey, usize>> = BTreeMap::new();
    for (r, entity) in outcome.clusters.of_record.iter().enumerate() {
        *entities
            .entry(*entity)
            .or_default()
            .entry(current[r])
            .or_default() += 1;
    }
    let mut best: HashMap<u32, f64> = HashMap::new();
    for p in &outcome.links {
        let e = outcome.clusters.of_record[p.left as usize];
        if outcome.clusters.of_record[p.right as usize] == e {
            let b = best.entry(e).or_default();
            *b = b.max(p.probability);
        }
    }
    let mut merges = Vec::new();
    for (entity, persons) in &entities {
        if persons.len() < 2 {
            continue;
        }
        // The person with the most records survives (ties: the smaller key,
        // so the choice is deterministic).
        let (&survivor, _) = persons
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .expect("at least two persons");
        for &p in persons.keys().filter(|p| **p != survivor) {
            merges.push((
                p,
                survivor,
                best.get(entity).copied().unwrap_or(plan.link_threshold),
            ));
        }
    }
    let mut reviews = Vec::new();
    let mut seen = HashSet::new();
    for p in &outcome.review {
        let (a, b) = (p.left as usize, p.right as usize);
        if outcome.clusters.of_record[a] == outcome.clusters.of_record[b]
            || current[a] == current[b]
        {
            continue;
        }
        let key = if current[a] < current[b] {
            (current[a], current[b])
        } else {
            (current[b], current[a])
        };
        if seen.insert(key) {
            reviews.push((records[a].id.clone(), current[a], current[b], p.probability));
        }
    }
    Ok((
        RelinkReport {
            records: records.len(),
            persons_before: 0,
            pairs_compared: outcome.stats.pairs_compared,
            merged: 0,
            queued: 0,
            link_threshold: plan.link_threshold,
            review_threshold: plan.review_threshold,
        },
        merges,
        reviews,
    ))
}
