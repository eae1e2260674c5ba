//! Records as read from a CSV file: a header and rows of text. Linkage
//! works on any such table; which columns mean what is decided by a
//! [`Plan`](super::Plan), chosen automatically or configured.

use std::fmt;
use std::path::Path;

use super::{Error, Result};

/// A table of records: column names and rows of strings. `Debug` shows
/// the shape only, never a value.
#[derive(Clone)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("columns", &self.columns)
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl Table {
    /// Reads a CSV file with a header line (RFC 4180; UTF-8, an optional
    /// BOM is dropped; every row as long as the header).
    pub fn from_path(path: &Path) -> Result<Self> {
        let err = |source| Error::Csv {
            path: path.to_owned(),
            source,
        };
        let reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(err)?;
        Self::from_csv(reader).map_err(err)
    }

    /// Reads CSV text with a header line from any reader.
    pub fn from_reader(reader: impl std::io::Read) -> Result<Self, csv::Error> {
        Self::from_csv(
            csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(reader),
        )
    }

    fn from_csv<R: std::io::Read>(mut reader: csv::Reader<R>) -> Result<Self, csv::Error> {
        let columns = reader
            .headers()?
            .iter()
            .map(|h| h.trim_start_matches('\u{FEFF}').trim().to_owned())
            .collect();
        let rows = reader.records().collect::<Result<Vec<_>, _>>()?;
        Ok(Self { columns, rows })
    }

    /// A table from columns and rows already in memory (tests, callers
    /// with their own reader). Rows shorter than the header read as empty
    /// in the missing columns.
    pub fn new(columns: Vec<String>, rows: Vec<Vec<String>>) -> Self {
        Self {
            columns,
            rows: rows.into_iter().map(csv::StringRecord::from).collect(),
        }
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The position of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Like [`column`](Self::column), but an error listing the columns
    /// there are.
    pub fn require_column(&self, name: &str, side: &'static str) -> Result<usize> {
        self.column(name).ok_or_else(|| Error::MissingColumn {
            column: name.to_owned(),
            side,
            available: self.columns.clone(),
        })
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The value of a record in a column, trimmed; empty if absent.
    pub fn value(&self, row: usize, column: usize) -> &str {
        self.rows[row].get(column).unwrap_or("").trim()
    }
}
