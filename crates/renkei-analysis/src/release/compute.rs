//! Computing a declared table from the extract: the platform, not the
//! researcher, decides who is counted, in which cell, under which label.
//!
//! One query per output, built here from validated names only: each
//! person of the table (by the extract's own `pseudonym` column, limited to
//! the cohort's pseudonyms) with the dimension values of each of their
//! rows. Then, in Rust:
//!
//! - **one cell per person**: a person whose rows disagree (two hospitals'
//!   records, several diagnoses) is counted once, under their most frequent
//!   combination (ties: the first in sort order), and the check says how
//!   many such persons there were;
//! - **labels the public may see**: a category shared by fewer persons than
//!   the minimum, longer than [`super::MAX_LABEL_CHARS`] or holding control
//!   characters becomes [`OTHER`]; a null is [`MISSING`]; a noisy release
//!   takes only its listed categories;
//! - **persons kept inside**: each person's interior cell, by a digest of
//!   the pseudonym ([`Membership`]), for comparing releases by persons.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use sha2::{Digest, Sha256};

use super::request::{Bin, Dimension, MAX_CELLS, OutputRequest, is_label};
use crate::disclosure::{Cell, CellKey, CellTable, Key, Membership, Rules, SumStats};
use crate::workspace::Workspace;
use crate::{Error, Result};

/// The category of values too rare, too long or not printable to show.
pub const OTHER: &str = "その他";
/// The category of persons without a value.
pub const MISSING: &str = "不明";
/// Most (person, combination) rows one table is computed from.
pub const MAX_PERSON_ROWS: usize = 5_000_000;

/// The labels a dimension shows.
enum Shown {
    /// A noisy release's public list: a label off it is not counted.
    Listed(HashSet<String>),
    /// Labels shared by enough persons; any other is shown as [`OTHER`].
    Common(HashSet<String>),
}

impl Shown {
    fn label(&self, label: String) -> Option<String> {
        match self {
            Shown::Listed(list) => list.contains(&label).then_some(label),
            Shown::Common(common) if common.contains(&label) => Some(label),
            Shown::Common(_) => Some(OTHER.to_owned()),
        }
    }
}

/// A computed table and what the computation changed.
#[derive(Debug)]
pub(crate) struct Computed {
    /// The cells, with their persons.
    pub table: CellTable,
    /// Persons with more than one combination of values in the table.
    pub several_values: u64,
    /// Categories shown as [`OTHER`].
    pub recoded: u64,
}

/// Computes the table `request` declares. With `listed`, a noisy release:
/// only the listed categories, interior cells only (the caller lays out
/// the dense table).
pub(crate) async fn compute(
    ws: &Workspace,
    request: &OutputRequest,
    rules: &Rules,
    listed: Option<&[Vec<String>]>,
) -> Result<Computed> {
    let sql = person_query(ws, request)?;
    let result = ws.query_capped(&sql, MAX_PERSON_ROWS).await?;
    if result.truncated {
        return Err(Error::Invalid(format!(
            "the table would count more than {MAX_PERSON_ROWS} persons' values; narrow the cohort"
        )));
    }
    let d = request.dimensions.len();
    let has_value = request.value.is_some();
    // Each person's combination (most rows first, then the least) and
    // total value.
    struct Person {
        combo: Vec<Option<String>>,
        rows: i64,
        value: f64,
        several: bool,
    }
    let mut persons: HashMap<String, Person> = HashMap::new();
    for batch in &result.batches {
        let p = arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let p = p.as_string::<i32>();
        let dims: Vec<_> = (0..d)
            .map(|i| arrow::compute::cast(batch.column(1 + i), &DataType::Utf8))
            .collect::<std::result::Result<_, _>>()?;
        let v = has_value
            .then(|| arrow::compute::cast(batch.column(1 + d), &DataType::Float64))
            .transpose()?;
        let n = arrow::compute::cast(batch.column(batch.num_columns() - 1), &DataType::Int64)?;
        let n = n.as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            if p.is_null(row) {
                continue;
            }
            let combo: Vec<Option<String>> = dims
                .iter()
                .map(|a| {
                    let a = a.as_string::<i32>();
                    (!a.is_null(row)).then(|| a.value(row).to_owned())
                })
                .collect();
            let value = v.as_ref().map_or(0.0, |v| {
                let v = v.as_primitive::<Float64Type>();
                if v.is_null(row) { 0.0 } else { v.value(row) }
            });
            let rows = n.value(row);
            match persons.get_mut(p.value(row)) {
                None => {
                    persons.insert(
                        p.value(row).to_owned(),
                        Person {
                            combo,
                            rows,
                            value,
                            several: false,
                        },
                    );
                }
                Some(person) => {
                    person.value += value;
                    person.several = true;
                    if rows > person.rows || (rows == person.rows && combo < person.combo) {
                        person.combo = combo;
                        person.rows = rows;
                    }
                }
            }
        }
    }
    let several_values = persons.values().filter(|p| p.several).count() as u64;

    // Labels the public may see.
    let label = |v: &Option<String>| match v {
        None => MISSING.to_owned(),
        Some(s) if is_label(s) => s.clone(),
        Some(_) => OTHER.to_owned(),
    };
    let mut recoded = 0u64;
    let shown: Vec<Shown> = match listed {
        Some(lists) => lists
            .iter()
            .map(|list| Shown::Listed(list.iter().cloned().collect()))
            .collect(),
        None => {
            let min = rules.threshold(request.kind);
            (0..d)
                .map(|i| {
                    let mut counts: HashMap<String, u64> = HashMap::new();
                    for person in persons.values() {
                        *counts.entry(label(&person.combo[i])).or_default() += 1;
                    }
                    let before = counts.len() as u64;
                    counts.retain(|l, n| l == OTHER || l == MISSING || *n >= min);
                    recoded += before - counts.len() as u64;
                    Shown::Common(counts.into_keys().collect())
                })
                .collect()
        }
    };

    // Cells: every combination of categories and totals that a person is
    // in (bit i of a mask: dimension i is a total).
    let masks: Vec<u32> = if request.margins && listed.is_none() {
        (0..1u32 << d).collect()
    } else {
        vec![0]
    };
    let top_n = if has_value {
        rules.dominance.map_or(0, |dom| dom.n)
    } else {
        0
    };
    struct Acc {
        persons: u64,
        total: f64,
        largest: Vec<f64>,
    }
    let mut cells: BTreeMap<Vec<Key>, Acc> = BTreeMap::new();
    let mut members = Membership::new();
    for (pseudonym, person) in &persons {
        let Some(parts) = person
            .combo
            .iter()
            .zip(&shown)
            .map(|(v, shown)| shown.label(label(v)))
            .collect::<Option<Vec<String>>>()
        else {
            continue;
        };
        for &mask in &masks {
            let key: Vec<Key> = parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    if mask & (1 << i) != 0 {
                        Key::Total
                    } else {
                        Key::value(p.clone())
                    }
                })
                .collect();
            let acc = cells.entry(key).or_insert(Acc {
                persons: 0,
                total: 0.0,
                largest: Vec::new(),
            });
            acc.persons += 1;
            acc.total += person.value;
            if top_n > 0 {
                acc.largest.push(person.value);
                acc.largest.sort_by(|a, b| b.total_cmp(a));
                acc.largest.truncate(top_n);
            }
            if cells.len() > MAX_CELLS {
                return Err(too_many());
            }
        }
        members.add(
            digest(pseudonym),
            &CellKey::new(parts.iter().map(|p| Key::value(p.clone()))),
        );
    }
    let mut table = CellTable::new(
        request.dimensions.iter().map(ToString::to_string),
        request.kind,
    );
    for (key, acc) in cells {
        table.push(Cell {
            key: CellKey::new(key),
            persons: acc.persons,
            sum: has_value.then_some(SumStats {
                total: acc.total,
                largest: acc.largest,
            }),
        });
    }
    let members = members
        .seal()
        .map_err(|e| Error::Corrupt(format!("a computed table: {e}")))?;
    Ok(Computed {
        table: table.with_members(members),
        several_values,
        recoded,
    })
}

/// A person's digest for [`Membership`]: 64 bits of SHA-256 of the
/// pseudonym (collisions among a permit's persons are negligible, and a
/// collision only makes differencing more cautious).
fn digest(pseudonym: &str) -> u64 {
    let hash = Sha256::digest(pseudonym.as_bytes());
    u64::from_le_bytes(hash[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
}

pub(crate) fn too_many() -> Error {
    Error::Invalid(format!(
        "the output has more than {MAX_CELLS} cells: a statistic, not microdata, may leave"
    ))
}

/// The query of each person's values: built from checked names only.
fn person_query(ws: &Workspace, request: &OutputRequest) -> Result<String> {
    let table = &request.table;
    let schema = ws.table_schema(table).ok_or_else(|| {
        Error::Invalid(format!(
            "table {table:?}: not a table of this workspace (its tables: {})",
            ws.tables().join(", ")
        ))
    })?;
    let columns = || {
        schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|n| *n != "pseudonym")
            .collect::<Vec<_>>()
            .join(", ")
    };
    if schema.field_with_name("pseudonym").is_err() {
        return Err(Error::Invalid(format!(
            "table {table:?} has no pseudonym: an anonymized table is not counted by persons"
        )));
    }
    let mut exprs = Vec::new();
    for (i, dim) in request.dimensions.iter().enumerate() {
        let field = schema.field_with_name(dim.column()).map_err(|_| {
            Error::Invalid(format!(
                "dimension {dim}: table {table:?} has no column {:?} (its columns: {})",
                dim.column(),
                columns()
            ))
        })?;
        exprs.push(format!(
            "{} AS d{i}",
            dimension_expr(dim, field.data_type())?
        ));
    }
    if let Some(value) = &request.value {
        let field = schema.field_with_name(value).map_err(|_| {
            Error::Invalid(format!(
                "value: table {table:?} has no column {value:?} (its columns: {})",
                columns()
            ))
        })?;
        if !field.data_type().is_numeric() {
            return Err(Error::Invalid(format!(
                "value {value:?}: a numeric column to sum, not {}",
                field.data_type()
            )));
        }
        exprs.push(format!("CAST(t.\"{value}\" AS DOUBLE) AS v"));
    }
    let cohort = match &request.cohort {
        Some(sql) => format!(
            " AND CAST(t.\"pseudonym\" AS VARCHAR) IN \
             (SELECT CAST(\"pseudonym\" AS VARCHAR) FROM ({}) AS cohort_source)",
            sql.trim().trim_end_matches(';')
        ),
        None => String::new(),
    };
    let d = request.dimensions.len();
    let groups: Vec<String> = std::iter::once("p".to_owned())
        .chain((0..d).map(|i| format!("d{i}")))
        .collect();
    let sum = if request.value.is_some() {
        "SUM(v) AS v, "
    } else {
        ""
    };
    Ok(format!(
        "SELECT {g}, {sum}COUNT(*) AS n FROM (\
         SELECT CAST(t.\"pseudonym\" AS VARCHAR) AS p, {e} FROM \"{table}\" AS t \
         WHERE t.\"pseudonym\" IS NOT NULL{cohort}) AS person_values GROUP BY {g}",
        g = groups.join(", "),
        e = exprs.join(", "),
    ))
}

/// The SQL of one dimension's label, refusing a grouping its column's type
/// does not have.
fn dimension_expr(dim: &Dimension, ty: &DataType) -> Result<String> {
    let c = format!("t.\"{}\"", dim.column());
    let temporal = matches!(
        ty,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    );
    let text = matches!(
        ty,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    let scalar = temporal || text || ty.is_numeric() || matches!(ty, DataType::Boolean);
    let refuse = |what: &str| {
        Err(Error::Invalid(format!(
            "dimension {dim}: column {:?} is {ty}; {what}",
            dim.column()
        )))
    };
    match dim.bin() {
        Bin::Value if scalar => Ok(format!("CAST({c} AS VARCHAR)")),
        Bin::Value => refuse("a dimension is a code, a number, a date or text"),
        Bin::Year if temporal => Ok(format!(
            "CAST(CAST(date_part('year', {c}) AS BIGINT) AS VARCHAR)"
        )),
        Bin::Years(n) if temporal => {
            let lo = format!("(CAST(date_part('year', {c}) AS BIGINT) / {n} * {n})");
            Ok(format!(
                "CASE WHEN {c} IS NULL THEN NULL ELSE \
                 concat(CAST({lo} AS VARCHAR), '-', CAST({lo} + {m} AS VARCHAR)) END",
                m = n - 1
            ))
        }
        Bin::Year | Bin::Years(_) => refuse("years are taken from a date or a time"),
        Bin::Prefix(n) if text => Ok(format!("substr({c}, 1, {n})")),
        Bin::Prefix(_) => refuse("a prefix is taken from a code (text)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_and_printable() {
        assert!(is_label("E11"));
        assert!(is_label("東京都"));
        assert!(!is_label(""));
        assert!(!is_label("a\tb"));
        assert!(!is_label(&"x".repeat(super::super::MAX_LABEL_CHARS + 1)));
    }
}
