//! Risk signals (リスク指標) the platform computes for reviewers from the
//! lake itself: how large the cohort is, which requested
//! quasi-identifiers have rare values, how many persons the requested
//! combination singles out, and which special categories are asked for.
//!
//! Computed on demand from the current lake version (every row a source
//! sent, superseded versions included), so the figures are estimates for
//! a reviewer, not the extract's exact counts.

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, Date32Array, StringArray};
use renkei_store::lake::{Lake, TableName};
use serde::Serialize;

use crate::{ApplicationId, Error, Result, Review};

/// Columns of the person table that, combined, can single a person out.
pub const QUASI_IDENTIFIERS: [&str; 4] =
    ["sex", "birth_date", "prefecture_code", "municipality_code"];

/// A requested quasi-identifier with values rarer than k.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RareValues {
    /// The column.
    pub column: String,
    /// How many of its values occur fewer than k times in the cohort.
    pub rare_values: u64,
    /// The fewest persons sharing one value.
    pub smallest_group: u64,
}

/// What a reviewer sees next to an application.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiskSignals {
    /// The k used for "rare".
    pub k: u64,
    /// Persons in the lake matching the cohort's ICD-10 prefixes (all
    /// persons when the application gives none).
    pub cohort_estimate: u64,
    /// Whether the cohort was estimated from codes (false: everyone).
    pub cohort_from_codes: bool,
    /// The quasi-identifiers requested.
    pub quasi_identifiers: Vec<String>,
    /// Requested quasi-identifiers with rare values.
    pub rare_values: Vec<RareValues>,
    /// Share of the cohort unique on the requested quasi-identifiers
    /// together (0 when none is requested).
    pub uniqueness: f64,
    /// Share of the cohort in groups smaller than k on them.
    pub below_k: f64,
    /// Special categories and data types requested.
    pub special: Vec<String>,
}

fn text<'a>(batch: &'a arrow::record_batch::RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::Corrupt(format!("lake column {name} is not text")))
}

async fn table(lake: &Lake, name: &str) -> Result<Vec<arrow::record_batch::RecordBatch>> {
    let table = TableName::parse(name).map_err(Error::Store)?;
    match lake.latest(&table).await? {
        Some(s) => Ok(lake.read(&s).await?),
        None => Ok(Vec::new()),
    }
}

impl Review {
    /// The risk signals of application `id` against the lake, with `k`
    /// the smallest group size thought safe.
    pub async fn risk_signals(
        &self,
        lake: &Lake,
        id: &ApplicationId,
        k: u64,
    ) -> Result<RiskSignals> {
        let app = self.get(id).await?;
        let requested = &app.form.requested;
        let prefixes: Vec<String> = requested
            .cohort_icd10
            .iter()
            .map(|p| p.trim().to_uppercase().replace('.', ""))
            .filter(|p| !p.is_empty())
            .collect();
        let cohort: Option<HashSet<String>> = if prefixes.is_empty() {
            None
        } else {
            let mut set = HashSet::new();
            for batch in table(lake, "condition").await? {
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
        let qis: Vec<String> = requested
            .tables
            .iter()
            .filter(|t| t.table == "person")
            .flat_map(|t| t.columns.iter())
            .filter(|c| QUASI_IDENTIFIERS.contains(&c.as_str()))
            .cloned()
            .collect();
        // One row per person: the first source's values.
        let mut persons: HashMap<String, Vec<String>> = HashMap::new();
        for batch in table(lake, "person").await? {
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
        let mut special: Vec<String> = requested
            .data_categories
            .iter()
            .map(|c| format!("category:{c}"))
            .collect();
        if requested.genomic {
            special.push("genomic".to_owned());
        }
        if requested.imaging {
            special.push("imaging".to_owned());
        }
        Ok(RiskSignals {
            k,
            cohort_estimate: n,
            cohort_from_codes: cohort.is_some(),
            quasi_identifiers: ordered.into_iter().cloned().collect(),
            rare_values,
            uniqueness: share(unique),
            below_k: share(small),
            special,
        })
    }
}
