//! What one extract may hold: the permit's [`Grant`] as review gives it,
//! checked against the lake, and the columns that never leave it.
//!
//! Processing takes grants and exclusions as contract data (from
//! `renkei-core`) rather than reading the review or opt-out stores, so that
//! it obeys whatever permit and exclusion the platform's peers answer with
//! — in-process or from another operator — and nothing else (DESIGN.md:
//! which operator runs which function is configuration).

use renkei_core::LakeTable;
pub use renkei_core::{Delivery, Exclusion, Grant, PrivacyTerms, TableSelection};

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

/// A validated selection: the lake table and its columns in lake order.
#[derive(Clone, Debug)]
pub(crate) struct Selected {
    pub table: LakeTable,
    pub columns: Vec<String>,
    pub held_back: Vec<String>,
}

/// Checks a grant and resolves its tables, naming the first problem.
pub(crate) fn selected(grant: &Grant) -> Result<Vec<Selected>> {
    if grant.tables.is_empty() {
        return Err(Error::Invalid(
            "tables: the permit names no table".to_owned(),
        ));
    }
    parse_day("period_from", &grant.period_from)?;
    parse_day("period_to", &grant.period_to)?;
    if grant.period_from > grant.period_to {
        return Err(Error::Invalid(
            "period_to: the period ends before it begins".to_owned(),
        ));
    }
    for (i, code) in grant.cohort_icd10.iter().enumerate() {
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
            return Err(Error::Invalid(format!(
                "cohort_icd10[{i}]: {code:?} is not an ICD-10 code or prefix"
            )));
        }
    }
    if let Delivery::Anonymized(t) = &grant.delivery {
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
    for (i, sel) in grant.tables.iter().enumerate() {
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

/// A `YYYY-MM-DD` day, checked.
pub(crate) fn parse_day(field: &str, text: &str) -> Result<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map_err(|_| Error::Invalid(format!("{field}: {text:?} is not a day (YYYY-MM-DD)")))
}
