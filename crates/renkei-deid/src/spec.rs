//! What one extract may hold: the permit's terms as processing needs them,
//! and the opt-out exclusion it must honour.
//!
//! Processing takes these as plain data rather than reading the review or
//! opt-out stores itself, so that it obeys whatever permit and exclusion
//! set the platform hands it — in-process or from another operator — and
//! nothing else (DESIGN.md: which operator runs which function is
//! configuration).

use std::collections::HashSet;

use renkei_core::{LakeTable, PermitId, PersonKey};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Columns that never leave the lake, whatever a permit says: they point
/// back at the provider's own record (or, `identity_record`, at identity's
/// record of the patient), so whoever holds the other side could
/// re-identify patients through them.
pub const NEVER_EXTRACTED: [&str; 3] = ["source_id", "submission_id", "identity_record"];

/// Free-text columns: removed from pseudonymized extracts and listed as
/// held back in the manifest.
pub const FREE_TEXT: [(&str, &str); 2] = [
    ("observation", "value_text"),
    ("raw_resource", "resource_json"),
];

/// How the extract is delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    /// 仮名加工医療情報: pseudonymized tables, only inside the analysis
    /// environment. Statistics-only permits get these too, since their
    /// outputs leave only through disclosure control.
    Pseudonymized,
    /// 匿名加工医療情報: one anonymized table per person, with the
    /// privacy model's guarantees and a risk report.
    Anonymized(AnonymizedTerms),
}

/// The privacy model an anonymized delivery must meet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnonymizedTerms {
    /// k of k-anonymity.
    pub k: u32,
    /// l of distinct l-diversity of the sensitive column, if required.
    #[serde(default)]
    pub l: Option<u32>,
    /// t of t-closeness of the sensitive column, if required.
    #[serde(default)]
    pub t: Option<f64>,
    /// The largest share of persons that may be suppressed.
    pub max_suppression: f64,
}

/// One table of the lake and the columns the permit allows from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSelection {
    /// The table.
    pub table: String,
    /// Its permitted columns (`person_key` stands for the pseudonym, which
    /// every table carries anyway).
    pub columns: Vec<String>,
}

/// Everything processing needs from a permit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtractSpec {
    /// The permit's id.
    pub permit: PermitId,
    /// How the data is delivered.
    pub delivery: Delivery,
    /// Tables and columns.
    pub tables: Vec<TableSelection>,
    /// The cohort: persons with a diagnosis whose ICD-10 code starts with
    /// one of these. Empty means everyone.
    pub cohort_icd10: Vec<String>,
    /// First day of the period (`YYYY-MM-DD`, Japan time), inclusive.
    pub period_from: String,
    /// Last day of the period (`YYYY-MM-DD`, Japan time), inclusive.
    pub period_to: String,
    /// Dates are shifted by a per-person offset of up to this many days
    /// either way; 0 leaves them.
    pub date_shift_days: u16,
    /// The purposes in the opt-out vocabulary the exclusion was computed
    /// for, recorded in the manifest.
    pub opt_out_purposes: Vec<String>,
}

/// The persons an extract must leave out, and the opt-out registry
/// version the set reflects (recorded in the manifest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exclusion {
    /// The registry version.
    pub registry_version: u64,
    /// The persons out.
    pub persons: HashSet<PersonKey>,
}

/// A validated selection: the lake table and its columns in lake order.
#[derive(Clone, Debug)]
pub(crate) struct Selected {
    pub table: LakeTable,
    pub columns: Vec<String>,
    pub held_back: Vec<String>,
}

impl ExtractSpec {
    /// Checks the spec and resolves its tables, naming the first problem.
    pub(crate) fn selected(&self) -> Result<Vec<Selected>> {
        if self.tables.is_empty() {
            return Err(Error::Invalid(
                "tables: the permit names no table".to_owned(),
            ));
        }
        parse_day("period_from", &self.period_from)?;
        parse_day("period_to", &self.period_to)?;
        if self.period_from > self.period_to {
            return Err(Error::Invalid(
                "period_to: the period ends before it begins".to_owned(),
            ));
        }
        for (i, code) in self.cohort_icd10.iter().enumerate() {
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
                return Err(Error::Invalid(format!(
                    "cohort_icd10[{i}]: {code:?} is not an ICD-10 code or prefix"
                )));
            }
        }
        if let Delivery::Anonymized(t) = &self.delivery {
            if t.k < 2 {
                return Err(Error::Invalid("delivery.k: must be at least 2".to_owned()));
            }
            if !(0.0..=1.0).contains(&t.max_suppression) {
                return Err(Error::Invalid(
                    "delivery.max_suppression: a share between 0 and 1".to_owned(),
                ));
            }
        }
        let mut out: Vec<Selected> = Vec::new();
        for (i, sel) in self.tables.iter().enumerate() {
            let table = LakeTable::ALL
                .into_iter()
                .find(|t| t.name() == sel.table)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "tables[{i}].table: {:?} is not a table of the lake",
                        sel.table
                    ))
                })?;
            if out.iter().any(|s| s.table == table) {
                return Err(Error::Invalid(format!(
                    "tables[{i}].table: {} is named twice",
                    sel.table
                )));
            }
            let schema = table.schema();
            let mut wanted: Vec<&str> = Vec::new();
            for (j, column) in sel.columns.iter().enumerate() {
                if schema.field_with_name(column).is_err() {
                    return Err(Error::Invalid(format!(
                        "tables[{i}].columns[{j}]: {column:?} is not a column of {}",
                        sel.table
                    )));
                }
                if NEVER_EXTRACTED.contains(&column.as_str()) {
                    return Err(Error::Invalid(format!(
                        "tables[{i}].columns[{j}]: {column} points back at the provider's record and never leaves the lake"
                    )));
                }
                wanted.push(column);
            }
            let mut columns = Vec::new();
            let mut held_back = Vec::new();
            // Lake order, without duplicates, person_key apart.
            for field in schema.fields() {
                let name = field.name().as_str();
                if name == "person_key" || !wanted.contains(&name) {
                    continue;
                }
                if FREE_TEXT.contains(&(sel.table.as_str(), name)) {
                    held_back.push(name.to_owned());
                } else {
                    columns.push(name.to_owned());
                }
            }
            out.push(Selected {
                table,
                columns,
                held_back,
            });
        }
        Ok(out)
    }
}

/// A `YYYY-MM-DD` day, checked.
pub(crate) fn parse_day(field: &str, text: &str) -> Result<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map_err(|_| Error::Invalid(format!("{field}: {text:?} is not a day (YYYY-MM-DD)")))
}
