//! The per-batch stage of an extract: decide each row's person once, drop
//! the persons who are out, put the pseudonym where the person_key was and
//! shift the dates.
//!
//! Decisions are cached per lake key, so the HMAC, the key map and the
//! set lookups run once per person, not once per row; a batch then costs a
//! hash lookup per row and Arrow's filter and array kernels.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, RecordBatch, StringBuilder,
    TimestampMicrosecondArray,
};
use arrow::compute::filter;
use arrow::datatypes::{
    DataType, Date32Type, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use renkei_core::PersonKey;

use crate::pseudonym::Pseudonymizer;
use crate::{Error, Result};

const OUT: u32 = u32::MAX;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The maps consulted once per person: a million persons are millions of
/// lookups, where SipHash (std's default) was a tenth of an extract's time.
/// aHash keeps a random per-process key, so lake keys cannot be chosen to
/// collide.
type Map<K, V> = HashMap<K, V, ahash::RandomState>;

/// A person in the extract.
#[derive(Debug)]
pub(crate) struct Included {
    pub key: PersonKey,
    pub pseudonym: String,
    pub offset_days: i32,
}

/// Who is in and who is out, decided once per lake key.
#[derive(Debug)]
pub(crate) struct Persons {
    pseudonymizer: Pseudonymizer,
    date_shift_days: u16,
    /// Retired lake keys → the person they now belong to (merges).
    key_map: HashMap<PersonKey, PersonKey>,
    /// Persons out, as opted out and as the merges map them.
    excluded: HashSet<PersonKey, ahash::RandomState>,
    cohort: Option<HashSet<PersonKey>>,
    /// Lake key → its person's slot, or [`OUT`].
    slots: Map<PersonKey, u32>,
    /// Current key → slot; only needed when merges map several lake keys
    /// onto one person (else it is `slots`).
    by_key: Map<PersonKey, u32>,
    pub included: Vec<Included>,
    /// Lake keys seen that were left out because they opted out.
    pub excluded_seen: HashSet<PersonKey>,
}

impl Persons {
    pub(crate) fn new(
        pseudonymizer: Pseudonymizer,
        date_shift_days: u16,
        key_map: HashMap<PersonKey, PersonKey>,
        opted_out: &HashSet<PersonKey>,
        cohort: Option<HashSet<PersonKey>>,
    ) -> Self {
        // An opt-out made under a key later merged away covers the
        // surviving person, and one made under the survivor covers rows
        // still keyed by a retired key: both directions end at the
        // current person.
        let mut excluded: HashSet<PersonKey, ahash::RandomState> =
            opted_out.iter().copied().collect();
        excluded.extend(opted_out.iter().map(|k| current(&key_map, *k)));
        Self {
            pseudonymizer,
            date_shift_days,
            key_map,
            excluded,
            cohort,
            slots: Map::default(),
            by_key: Map::default(),
            included: Vec::new(),
            excluded_seen: HashSet::new(),
        }
    }

    /// The current person of a lake key.
    pub(crate) fn current(&self, key: PersonKey) -> PersonKey {
        current(&self.key_map, key)
    }

    /// Whether the person (a current key) is in the extract.
    pub(crate) fn is_included(&self, key: &PersonKey) -> bool {
        if self.key_map.is_empty() {
            self.slots.get(key).is_some_and(|s| *s != OUT)
        } else {
            self.by_key.contains_key(key)
        }
    }

    /// The slot of the person a lake key belongs to, or `None` when that
    /// person is out (opted out, or outside the cohort).
    pub(crate) fn decide(&mut self, raw: &str) -> Result<Option<u32>> {
        let slot = self.slot(raw)?;
        Ok((slot != OUT).then_some(slot))
    }

    fn slot(&mut self, raw: &str) -> Result<u32> {
        let key = PersonKey::parse(raw)
            .map_err(|e| Error::Corrupt(format!("lake row with person_key {raw:?}: {e}")))?;
        if let Some(slot) = self.slots.get(&key) {
            return Ok(*slot);
        }
        let merged = !self.key_map.is_empty();
        let now = if merged { self.current(key) } else { key };
        let slot = if self.excluded.contains(&key) || (now != key && self.excluded.contains(&now)) {
            self.excluded_seen.insert(now);
            OUT
        } else if self.cohort.as_ref().is_some_and(|c| !c.contains(&now)) {
            OUT
        } else if let Some(i) = merged.then(|| self.by_key.get(&now)).flatten() {
            *i
        } else {
            let i = u32::try_from(self.included.len())
                .map_err(|_| Error::Invalid("more than 4 billion persons in one extract".into()))?;
            self.included.push(Included {
                key: now,
                pseudonym: self.pseudonymizer.pseudonym(&now).as_str().to_owned(),
                offset_days: self
                    .pseudonymizer
                    .date_offset_days(&now, self.date_shift_days),
            });
            if merged {
                self.by_key.insert(now, i);
            }
            i
        };
        self.slots.insert(key, slot);
        Ok(slot)
    }
}

fn current(map: &HashMap<PersonKey, PersonKey>, key: PersonKey) -> PersonKey {
    map.get(&key).copied().unwrap_or(key)
}

/// The schema of an extract table: `pseudonym` in place of `person_key`,
/// then the selected columns as the lake types them.
pub(crate) fn output_schema(input: &SchemaRef) -> SchemaRef {
    let mut fields = vec![Field::new("pseudonym", DataType::Utf8, true)];
    fields.extend(input.fields().iter().skip(1).map(|f| f.as_ref().clone()));
    Arc::new(Schema::new(fields))
}

/// Transforms one batch whose first column is `person_key`; the persons in
/// it of the batch's rows that stay, in row order, are pushed on `kept`.
pub(crate) fn transform(
    persons: &mut Persons,
    batch: &RecordBatch,
    schema: &SchemaRef,
    shift_dates: bool,
    kept: &mut Vec<u32>,
) -> Result<Option<RecordBatch>> {
    let keys = batch
        .column(0)
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::Corrupt("person_key of a lake table is not text".to_owned()))?;
    let start = kept.len();
    let mut mask = Vec::with_capacity(batch.num_rows());
    let mut all = true;
    // A person's rows mostly arrive together (a provider sends a patient's
    // resources in one bundle), so the previous row's decision is tried
    // before the hash lookup.
    let mut last: Option<(&str, u32)> = None;
    for i in 0..keys.len() {
        if keys.is_null(i) {
            // Resources about no patient (raw_resource): nobody to exclude.
            mask.push(true);
            kept.push(OUT);
            continue;
        }
        let raw = keys.value(i);
        let slot = match last {
            Some((k, s)) if k == raw => s,
            _ => {
                let s = persons.slot(raw)?;
                last = Some((raw, s));
                s
            }
        };
        let keep = slot != OUT;
        all &= keep;
        mask.push(keep);
        if keep {
            kept.push(slot);
        }
    }
    let slots = &kept[start..];
    if slots.is_empty() {
        return Ok(None);
    }
    let mask = BooleanArray::from(mask);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    // Pseudonyms are 32 hex digits: the builder is sized once.
    let mut pseudonyms = StringBuilder::with_capacity(slots.len(), slots.len() * 32);
    for s in slots {
        match persons.included.get(*s as usize) {
            Some(p) => pseudonyms.append_value(&p.pseudonym),
            None => pseudonyms.append_null(),
        }
    }
    columns.push(Arc::new(pseudonyms.finish()));
    for column in batch.columns().iter().skip(1) {
        let column = if all {
            column.clone()
        } else {
            filter(column, &mask)?
        };
        let column = if shift_dates {
            shift(&column, slots, persons)?
        } else {
            column
        };
        columns.push(column);
    }
    Ok(Some(RecordBatch::try_new(schema.clone(), columns)?))
}

fn offset(persons: &Persons, slot: u32) -> i32 {
    persons
        .included
        .get(slot as usize)
        .map_or(0, |p| p.offset_days)
}

fn shift(column: &ArrayRef, slots: &[u32], persons: &Persons) -> Result<ArrayRef> {
    Ok(match column.data_type() {
        DataType::Date32 => {
            let days = column.as_primitive::<Date32Type>();
            let shifted: Date32Array = days
                .iter()
                .zip(slots)
                .map(|(d, s)| d.map(|d| d + offset(persons, *s)))
                .collect();
            Arc::new(shifted)
        }
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let micros = column.as_primitive::<TimestampMicrosecondType>();
            let shifted: TimestampMicrosecondArray = micros
                .iter()
                .zip(slots)
                .map(|(t, s)| t.map(|t| t + i64::from(offset(persons, *s)) * MICROS_PER_DAY))
                .collect();
            Arc::new(shifted.with_timezone_opt(tz.clone()))
        }
        _ => column.clone(),
    })
}
