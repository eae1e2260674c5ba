//! The SQL each extract runs over the lake. Every name in it comes from
//! [`LakeTable`]'s schemas and every code from a validated spec, so the
//! text is built, not bound; no value from a request reaches it
//! unchecked.

use renkei_core::LakeTable;

/// Which of the lake's system tables hold rows in the version read: an
/// absent one is left out of the SQL rather than joined empty.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SystemTables {
    /// `superseded`: rows replaced or deleted at the provider.
    pub(crate) superseded: bool,
    /// `record_key_map`: records identity split off into new persons.
    pub(crate) splits: bool,
}

/// The person a row of `t` belongs to before merges: the new person of
/// its identity record's latest split, else the key it was written with.
/// Merges are applied afterwards, per person (see `transform`), since a
/// split only ever creates a person and a merge only ever retires one.
fn person(system: SystemTables) -> (&'static str, &'static str) {
    if system.splits {
        (
            "COALESCE(k.person_key, t.\"person_key\") AS person_key",
            " LEFT JOIN (SELECT identity_record, person_key FROM \
             (SELECT identity_record, person_key, \
             ROW_NUMBER() OVER (PARTITION BY identity_record ORDER BY event_seq DESC) AS latest \
             FROM record_key_map) WHERE latest = 1) k ON k.identity_record = t.identity_record",
        )
    } else {
        ("t.\"person_key\"", "")
    }
}

/// The column a table's rows are dated by, for the permit's period.
/// Persons, deaths and raw resources are not filtered by period: a person
/// row has no date, and a death is an outcome wanted whenever it falls.
pub(crate) fn period_column(table: LakeTable) -> Option<&'static str> {
    match table {
        LakeTable::Encounter => Some("period_start"),
        LakeTable::Condition => Some("COALESCE(t.recorded_date, t.onset_date)"),
        LakeTable::Observation => Some("effective_at"),
        LakeTable::MedicationRequest => Some("authored_at"),
        LakeTable::MedicationDispense => Some("handed_over_at"),
        LakeTable::Procedure => Some("performed_at"),
        LakeTable::Allergy => Some("recorded_date"),
        LakeTable::ImagingStudy => Some("started_at"),
        LakeTable::Person | LakeTable::Death | LakeTable::RawResource => None,
    }
}

/// Whether the period column is a timestamp (else a date).
fn is_timestamp(table: LakeTable) -> bool {
    !matches!(
        table,
        LakeTable::Condition | LakeTable::Allergy | LakeTable::Person | LakeTable::Death
    )
}

/// The period as a predicate over `t`: days are Japan's, so a timestamp
/// bound is midnight JST.
pub(crate) fn period_predicate(table: LakeTable, from: &str, to_exclusive: &str) -> Option<String> {
    let column = period_column(table)?;
    let column = if column.contains('(') {
        column.to_owned()
    } else {
        format!("t.\"{column}\"")
    };
    Some(if is_timestamp(table) {
        format!(
            "{column} >= '{from}T00:00:00+09:00' AND {column} < '{to_exclusive}T00:00:00+09:00'"
        )
    } else {
        format!("{column} >= DATE '{from}' AND {column} < DATE '{to_exclusive}'")
    })
}

/// Rows superseded by a later version at the provider, or deleted, are
/// not current: an anti-join on the lineage columns.
pub(crate) fn current_rows(system: SystemTables) -> &'static str {
    if system.superseded {
        "NOT EXISTS (SELECT 1 FROM superseded s WHERE s.provider_code = t.provider_code \
         AND s.source_type = t.source_type AND s.source_id = t.source_id \
         AND s.submission_id = t.submission_id)"
    } else {
        "TRUE"
    }
}

/// The rows of one table: `person_key` first, then `columns`.
pub(crate) fn select(
    table: LakeTable,
    columns: &[String],
    period: Option<&str>,
    system: SystemTables,
) -> String {
    let (key, join) = person(system);
    let mut list = vec![key.to_owned()];
    list.extend(columns.iter().map(|c| format!("t.\"{c}\"")));
    let mut filters = vec![current_rows(system).to_owned()];
    if let Some(p) = period {
        filters.push(p.to_owned());
    }
    format!(
        "SELECT {} FROM \"{}\" t{join} WHERE {}",
        list.join(", "),
        table.name(),
        filters.join(" AND ")
    )
}

/// The persons with a diagnosis starting with one of `codes` in the
/// period.
pub(crate) fn cohort(codes: &[String], period: Option<&str>, system: SystemTables) -> String {
    let codes: Vec<String> = codes
        .iter()
        .map(|c| format!("t.icd10 LIKE '{c}%'"))
        .collect();
    let mut filters = vec![
        format!("({})", codes.join(" OR ")),
        current_rows(system).to_owned(),
    ];
    if let Some(p) = period {
        filters.push(p.to_owned());
    }
    let (key, join) = person(system);
    format!(
        "SELECT DISTINCT {key} FROM condition t{join} WHERE {}",
        filters.join(" AND ")
    )
}
