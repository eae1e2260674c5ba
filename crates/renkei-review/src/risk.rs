//! Risk signals (リスク指標) for reviewers: how large an application's
//! cohort is, which requested quasi-identifiers have rare values, how many
//! persons the requested combination singles out (all from the lake, asked
//! through [`renkei_core::LakeStatistics`], which answers with aggregates only), and
//! which special categories are asked for (from the form).

use renkei_core::CohortQuestion;
use serde::Serialize;

pub use renkei_core::RareValues;

use crate::{ApplicationId, Error, Result, Review};

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

impl Review {
    /// The risk signals of application `id`, with `k` the smallest group
    /// size thought safe.
    pub async fn risk_signals(&self, id: &ApplicationId, k: u64) -> Result<RiskSignals> {
        let app = self.get(id).await?;
        let requested = &app.form.requested;
        let question = CohortQuestion {
            cohort_icd10: requested.cohort_icd10.clone(),
            quasi_identifiers: requested
                .tables
                .iter()
                .filter(|t| t.table == "person")
                .flat_map(|t| t.columns.iter().cloned())
                .collect(),
            k,
        };
        let figures = self.lake.cohort(&question).await.map_err(Error::Peer)?;
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
            cohort_estimate: figures.cohort_estimate,
            cohort_from_codes: figures.cohort_from_codes,
            quasi_identifiers: figures.quasi_identifiers,
            rare_values: figures.rare_values,
            uniqueness: figures.uniqueness,
            below_k: figures.below_k,
            special,
        })
    }
}
