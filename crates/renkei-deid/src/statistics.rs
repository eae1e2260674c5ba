//! Figures from the lake for the functions that may not read its rows
//! ([`renkei_core::LakeStatistics`]): how large an application's cohort is
//! and how identifying its quasi-identifiers are (review's risk signals),
//! and whether a death is on record (the opt-out registry's check on
//! bereaved family). Only aggregates and yes/no leave.
//!
//! Computed on demand from the current lake version (every row a source
//! sent, superseded versions included), so the figures are estimates for
//! a reviewer, not an extract's exact counts. Read whole: fine at the
//! embedded scale; a filtered scan later.

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, Date32Array, StringArray};
use futures::future::BoxFuture;
use renkei_core::{
    CohortQuestion, CohortStatistics, LakeStatistics, PersonKey, RareValues, ServiceResult,
};
use renkei_store::lake::{Lake, TableName};

use crate::{Error, Result};

/// Columns of the person table that, combined, can single a person out.
pub const QUASI_IDENTIFIERS: [&str; 4] =
    ["sex", "birth_date", "prefecture_code", "municipality_code"];

/// The lake's figures, read by processing's side of the platform.
#[derive(Clone, Debug)]
pub struct LakeFigures {
    lake: Lake,
}

impl LakeFigures {
    /// Figures over `lake`.
    pub fn new(lake: Lake) -> Self {
        Self { lake }
    }

    /// How large `question`'s cohort is and how identifying its
    /// quasi-identifiers are within it.
    pub async fn cohort(&self, question: &CohortQuestion) -> Result<CohortStatistics> {
        let prefixes: Vec<String> = question
            .cohort_icd10
            .iter()
            .map(|p| p.trim().to_uppercase().replace('.', ""))
            .filter(|p| !p.is_empty())
            .collect();
        let cohort: Option<HashSet<String>> = if prefixes.is_empty() {
            None
        } else {
            let mut set = HashSet::new();
            for batch in table(&self.lake, "condition").await? {
                let keys = text(&batch, "person_key")?;
                let codes = text(&batch, "icd10")?;
                for i in 0..batch.num_rows() {
                    if keys.is_null(i) || codes.is_null(i) {
                        continue;
                    }
                    let code = codes.value(i).replace('.', "");
                    if prefixes.iter().any(|p| code.starts_with(p.as_str())) {
                        set.insert(keys.value(i).to_owned());
                    }
                }
            }
            Some(set)
        };
        let qis: Vec<String> = question
            .quasi_identifiers
            .iter()
            .filter(|c| QUASI_IDENTIFIERS.contains(&c.as_str()))
            .cloned()
            .collect();
        let k = question.k;
        // One row per person: the first source's values.
        let mut persons: HashMap<String, Vec<String>> = HashMap::new();
        for batch in table(&self.lake, "person").await? {
            let keys = text(&batch, "person_key")?;
            let births = batch
                .column_by_name("birth_date")
                .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
                .ok_or_else(|| Error::Corrupt("lake column birth_date is not a date".to_owned()))?;
            let columns: Vec<Option<&StringArray>> = QUASI_IDENTIFIERS
                .iter()
                .map(|c| {
                    if *c == "birth_date" {
                        None
                    } else {
                        text(&batch, c).ok()
                    }
                })
                .collect();
            for i in 0..batch.num_rows() {
                if keys.is_null(i) {
                    continue;
                }
                let key = keys.value(i);
                if cohort.as_ref().is_some_and(|c| !c.contains(key)) || persons.contains_key(key) {
                    continue;
                }
                let values = QUASI_IDENTIFIERS
                    .iter()
                    .zip(&columns)
                    .filter(|(name, _)| qis.iter().any(|q| q == *name))
                    .map(|(name, col)| match (*name, col) {
                        ("birth_date", _) if !births.is_null(i) => births.value(i).to_string(),
                        (_, Some(c)) if !c.is_null(i) => c.value(i).to_owned(),
                        _ => String::new(),
                    })
                    .collect();
                persons.insert(key.to_owned(), values);
            }
        }
        let n = persons.len() as u64;
        let ordered: Vec<&String> = QUASI_IDENTIFIERS
            .iter()
            .filter_map(|q| qis.iter().find(|c| c == q))
            .collect();
        let mut rare_values = Vec::new();
        for (j, column) in ordered.iter().enumerate() {
            let mut counts: HashMap<&str, u64> = HashMap::new();
            for values in persons.values() {
                *counts.entry(values[j].as_str()).or_default() += 1;
            }
            let rare = counts.values().filter(|c| **c < k).count() as u64;
            if rare > 0 {
                rare_values.push(RareValues {
                    column: (*column).clone(),
                    rare_values: rare,
                    smallest_group: counts.values().copied().min().unwrap_or(0),
                });
            }
        }
        let (mut unique, mut small) = (0u64, 0u64);
        if !ordered.is_empty() {
            let mut classes: HashMap<&Vec<String>, u64> = HashMap::new();
            for values in persons.values() {
                *classes.entry(values).or_default() += 1;
            }
            for size in classes.values() {
                if *size == 1 {
                    unique += 1;
                }
                if *size < k {
                    small += size;
                }
            }
        }
        let share = |x: u64| {
            if n == 0 {
                0.0
            } else {
                (x as f64 / n as f64 * 10_000.0).round() / 10_000.0
            }
        };
        Ok(CohortStatistics {
            cohort_estimate: n,
            cohort_from_codes: cohort.is_some(),
            quasi_identifiers: ordered.into_iter().cloned().collect(),
            rare_values,
            uniqueness: share(unique),
            below_k: share(small),
        })
    }

    /// Whether the lake holds a death for `person` (the `death` table,
    /// from any source).
    pub async fn deceased(&self, person: &PersonKey) -> Result<bool> {
        let key = person.to_string();
        for batch in table(&self.lake, "death").await? {
            let keys = text(&batch, "person_key")?;
            if (0..keys.len()).any(|i| !keys.is_null(i) && keys.value(i) == key) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl LakeStatistics for LakeFigures {
    fn cohort(&self, question: &CohortQuestion) -> BoxFuture<'_, ServiceResult<CohortStatistics>> {
        let question = question.clone();
        Box::pin(async move { Ok(LakeFigures::cohort(self, &question).await?) })
    }

    fn deceased(&self, person: PersonKey) -> BoxFuture<'_, ServiceResult<bool>> {
        Box::pin(async move { Ok(LakeFigures::deceased(self, &person).await?) })
    }
}

fn text<'a>(batch: &'a arrow::record_batch::RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::Corrupt(format!("lake column {name} is not text")))
}

/// The current rows of a lake table; none when it does not exist yet.
async fn table(lake: &Lake, name: &str) -> Result<Vec<arrow::record_batch::RecordBatch>> {
    let table = TableName::parse(name)?;
    match lake.latest(&table).await? {
        Some(s) => Ok(lake.read(&s).await?),
        None => Ok(Vec::new()),
    }
}
