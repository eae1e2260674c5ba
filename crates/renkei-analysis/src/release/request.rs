//! What a researcher asks to take out: a table *declared* from the
//! extract's own columns, which the platform computes.
//!
//! A researcher names the persons (a cohort query whose rows carry
//! pseudonyms; only pseudonyms of the extract count, each once), one table
//! of the extract, its columns as dimensions (a value, a year, a band of
//! years, a code's first characters) and optionally a column to sum. They
//! never hand in rows, counts or labels: the platform reads each person's
//! own values, puts the person in one cell, and keeps category labels only
//! when enough persons share them. So no query can pad persons, invent a
//! category, or count one person twice.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::disclosure::DataKind;
use crate::disclosure::dp::Epsilon;
use crate::{Error, Result};

/// Most dimensions an output may have: with margins, every one of the
/// `2^d` combinations of totals is computed and protected.
pub const MAX_DIMENSIONS: usize = 4;
/// Most cells an output may have (a table bigger than this is a microdata
/// extract in disguise, not a statistic).
pub const MAX_CELLS: usize = 5_000;
/// Longest category label, in characters: a statistic's categories are
/// short (a code, a year, a prefecture), and a long label is a record.
pub const MAX_LABEL_CHARS: usize = 64;

/// What a researcher asks to take out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputRequest {
    /// A title, as the public register shows it.
    pub title: String,
    /// The persons counted: a read-only query of the workspace with a
    /// `pseudonym` column. Values that are not pseudonyms of `table` count
    /// nobody. Without it, every person of `table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<String>,
    /// The extract table the dimensions (and the value) are read from.
    pub table: String,
    /// The table's dimensions, 1 to 4: columns of `table`, each perhaps
    /// grouped (`sex`, `birth_date:year10`, `icd10:prefix3`).
    pub dimensions: Vec<Dimension>,
    /// A non-negative numeric column of `table` to sum per person and cell
    /// (costs, days, doses); without it the table counts persons.
    #[serde(default)]
    pub value: Option<String>,
    /// Whether the table carries totals (margins) for every dimension.
    #[serde(default)]
    pub margins: bool,
    /// General, or genomic (a stricter minimum).
    #[serde(default = "general")]
    pub kind: DataKind,
    /// Noise instead of suppression: a count table released under
    /// differential privacy, spending ε of the permit's budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyRequest>,
}

/// A noisy release (differential privacy) of a count table: discrete
/// Laplace noise on every interior cell, margins added up from them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyRequest {
    /// ε this table spends (`"0.5"`).
    pub epsilon: Epsilon,
    /// Every category of every dimension, in the dimensions' order. The
    /// table is built from this public list, never from the data — a
    /// category present only because one person has it would disclose
    /// that person by its presence — so every listed combination is a
    /// cell (with noise, also an empty one) and persons outside the list
    /// are not counted.
    pub categories: Vec<Vec<String>>,
}

fn general() -> DataKind {
    DataKind::General
}

/// How a dimension groups its column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bin {
    /// The value itself, as text.
    Value,
    /// The calendar year of a date or time.
    Year,
    /// Bands of this many years (`1950-1959` for 10).
    Years(u16),
    /// The first characters of a code (`E11` of `E119` for 3).
    Prefix(u8),
}

/// One dimension of a declared table: a column and its grouping, written
/// `column`, `column:year`, `column:yearN` or `column:prefixN`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Dimension {
    column: String,
    bin: Bin,
}

impl Dimension {
    /// The column of the table.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// How its values are grouped.
    pub fn bin(&self) -> Bin {
        self.bin
    }
}

impl FromStr for Dimension {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let (column, bin) = text.split_once(':').unwrap_or((text, ""));
        let column = column.trim();
        if !is_column_name(column) {
            return Err(Error::Invalid(format!(
                "dimension {text:?}: a column name of letters, digits and _, then perhaps :year, :yearN or :prefixN"
            )));
        }
        let number = |rest: &str, what: &str, max: u64| -> Result<u64> {
            rest.parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "dimension {text:?}: {what} takes a number from 1 to {max}"
                    ))
                })
        };
        let bin = match bin.trim() {
            "" => Bin::Value,
            "year" => Bin::Year,
            other => {
                if let Some(n) = other.strip_prefix("year") {
                    Bin::Years(number(n, "year", 100)? as u16)
                } else if let Some(n) = other.strip_prefix("prefix") {
                    Bin::Prefix(number(n, "prefix", 32)? as u8)
                } else {
                    return Err(Error::Invalid(format!(
                        "dimension {text:?}: unknown grouping {other:?}; use year, yearN or prefixN"
                    )));
                }
            }
        };
        Ok(Dimension {
            column: column.to_owned(),
            bin,
        })
    }
}

impl TryFrom<String> for Dimension {
    type Error = Error;

    fn try_from(text: String) -> Result<Self> {
        text.parse()
    }
}

impl From<Dimension> for String {
    fn from(d: Dimension) -> String {
        d.to_string()
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bin {
            Bin::Value => write!(f, "{}", self.column),
            Bin::Year => write!(f, "{}:year", self.column),
            Bin::Years(n) => write!(f, "{}:year{n}", self.column),
            Bin::Prefix(n) => write!(f, "{}:prefix{n}", self.column),
        }
    }
}

/// A request as stored: today's form, or the form of outputs requested
/// before tables were declared (a query's rows and a person column), read
/// as its query being the cohort, so that those outputs still list.
pub(crate) fn stored(json: &str) -> serde_json::Result<OutputRequest> {
    #[derive(Deserialize)]
    struct Legacy {
        title: String,
        sql: String,
        dimensions: Vec<String>,
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        margins: bool,
        #[serde(default = "general")]
        kind: DataKind,
        #[serde(default)]
        privacy: Option<PrivacyRequest>,
    }
    serde_json::from_str::<OutputRequest>(json).or_else(|e| {
        let legacy: Legacy = serde_json::from_str(json).map_err(|_| e)?;
        Ok(OutputRequest {
            title: legacy.title,
            cohort: Some(legacy.sql),
            table: "query".to_owned(),
            dimensions: legacy
                .dimensions
                .iter()
                .map(|d| d.parse())
                .collect::<Result<_>>()
                .map_err(serde::de::Error::custom)?,
            value: legacy.value,
            margins: legacy.margins,
            kind: legacy.kind,
            privacy: legacy.privacy,
        })
    })
}

/// Whether `name` is a plain column name (quoted into SQL as it is).
pub(crate) fn is_column_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `label` may be a category of a released table.
pub(crate) fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.chars().count() <= MAX_LABEL_CHARS
        && !label.chars().any(char::is_control)
}

/// Refuses a request that cannot be a statistic, naming the field.
pub(crate) fn validate(request: &OutputRequest) -> Result<()> {
    let title = request.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(Error::Invalid("title: 1 to 200 characters".to_owned()));
    }
    if request.cohort.as_ref().is_some_and(|c| c.trim().is_empty()) {
        return Err(Error::Invalid(
            "cohort: a query with a pseudonym column, or leave it out for everyone".to_owned(),
        ));
    }
    if !is_column_name(&request.table) {
        return Err(Error::Invalid(format!(
            "table {:?}: the name of a table of the extract",
            request.table
        )));
    }
    if request.dimensions.is_empty() || request.dimensions.len() > MAX_DIMENSIONS {
        return Err(Error::Invalid(format!(
            "dimensions: 1 to {MAX_DIMENSIONS} columns of the table"
        )));
    }
    let mut names: Vec<&str> = request.dimensions.iter().map(Dimension::column).collect();
    if let Some(v) = &request.value {
        if !is_column_name(v) {
            return Err(Error::Invalid(format!(
                "value {v:?}: a numeric column of the table"
            )));
        }
        names.push(v);
    }
    if names.contains(&"pseudonym") {
        return Err(Error::Invalid(
            "dimensions and value: the pseudonym is who is counted, never a category".to_owned(),
        ));
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Invalid(
            "dimensions and value: each a different column".to_owned(),
        ));
    }
    if let Some(privacy) = &request.privacy {
        if request.value.is_some() {
            return Err(Error::Invalid(
                "privacy: a noisy release is of counts; leave out value".to_owned(),
            ));
        }
        if privacy.epsilon.is_zero() {
            return Err(Error::Invalid("privacy.epsilon: more than 0".to_owned()));
        }
        if privacy.categories.len() != request.dimensions.len() {
            return Err(Error::Invalid(format!(
                "privacy.categories: one list per dimension ({} dimensions, {} lists)",
                request.dimensions.len(),
                privacy.categories.len()
            )));
        }
        let mut cells: usize = 1;
        for (dim, list) in request.dimensions.iter().zip(&privacy.categories) {
            let mut unique: Vec<&String> = list.iter().collect();
            unique.sort_unstable();
            unique.dedup();
            if list.is_empty() || unique.len() != list.len() {
                return Err(Error::Invalid(format!(
                    "privacy.categories of {dim}: a list of distinct categories, not empty"
                )));
            }
            if let Some(bad) = list.iter().find(|c| !is_label(c)) {
                return Err(Error::Invalid(format!(
                    "privacy.categories of {dim}: {:?} is not a category (1 to {MAX_LABEL_CHARS} printable characters)",
                    bad.chars().take(MAX_LABEL_CHARS).collect::<String>()
                )));
            }
            cells = cells.saturating_mul(list.len() + usize::from(request.margins));
        }
        if cells > MAX_CELLS {
            return Err(Error::Invalid(format!(
                "privacy.categories: {cells} cells, more than {MAX_CELLS}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_parse_and_print_back() {
        for text in [
            "sex",
            "birth_date:year",
            "birth_date:year10",
            "icd10:prefix3",
        ] {
            let d: Dimension = text.parse().expect(text);
            assert_eq!(d.to_string(), text);
        }
        assert_eq!(
            "icd10:prefix3".parse::<Dimension>().map(|d| d.bin()).ok(),
            Some(Bin::Prefix(3))
        );
        for bad in [
            "",
            "a b",
            "x:decade",
            "x:year0",
            "x:prefix99",
            "\"x\"",
            "x:year1000",
        ] {
            assert!(bad.parse::<Dimension>().is_err(), "{bad:?} parsed");
        }
    }
}
