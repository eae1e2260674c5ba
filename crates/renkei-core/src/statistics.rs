//! The contract between the lake's reader and the functions that need
//! figures from it without its rows: review's risk signals for an
//! application, and the opt-out registry's "is a death on record" for
//! bereaved family. Only aggregates and yes/no cross it, never a person's
//! values.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::{PersonKey, ServiceResult};

/// What a reviewer asks of the lake about an application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortQuestion {
    /// The cohort as ICD-10 code prefixes (`E11`); empty: everyone.
    pub cohort_icd10: Vec<String>,
    /// The person table's quasi-identifiers requested (`sex`,
    /// `birth_date`, `prefecture_code`, `municipality_code`).
    pub quasi_identifiers: Vec<String>,
    /// The smallest group size thought safe.
    pub k: u64,
}

/// A requested quasi-identifier with values rarer than k.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RareValues {
    /// The column.
    pub column: String,
    /// How many of its values occur fewer than k times in the cohort.
    pub rare_values: u64,
    /// The fewest persons sharing one value.
    pub smallest_group: u64,
}

/// The lake's answer: estimates from every row a source sent (superseded
/// versions included), for a reviewer, not an extract's exact counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortStatistics {
    /// Persons matching the cohort's prefixes (all persons when none).
    pub cohort_estimate: u64,
    /// Whether the cohort was estimated from codes (false: everyone).
    pub cohort_from_codes: bool,
    /// The quasi-identifiers asked about, in the person table's order.
    pub quasi_identifiers: Vec<String>,
    /// Those with rare values.
    pub rare_values: Vec<RareValues>,
    /// Share of the cohort unique on the quasi-identifiers together (0
    /// when none is asked about).
    pub uniqueness: f64,
    /// Share of the cohort in groups smaller than k on them.
    pub below_k: f64,
}

/// Figures from the lake, as review and the opt-out registry ask.
pub trait LakeStatistics: Send + Sync {
    /// How large a cohort is and how identifying the requested
    /// quasi-identifiers are within it.
    fn cohort(&self, question: &CohortQuestion) -> BoxFuture<'_, ServiceResult<CohortStatistics>>;

    /// Whether a death is on record for `person`.
    fn deceased(&self, person: PersonKey) -> BoxFuture<'_, ServiceResult<bool>>;
}
