//! A column-oriented table of strings, each column dictionary-encoded once
//! to dense `u32` codes: the engine groups and generalizes codes, never
//! strings, and a hierarchy is applied once per distinct value instead of
//! once per record.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use super::error::{Error, Result};

/// One column: its distinct values (the dictionary) and a code per row.
#[derive(Clone)]
pub struct Column {
    name: String,
    values: Vec<String>,
    codes: Vec<u32>,
}

impl std::fmt::Debug for Column {
    // Values may identify people; Debug shows the shape only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Column")
            .field("name", &self.name)
            .field("rows", &self.codes.len())
            .field("distinct", &self.values.len())
            .finish()
    }
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rows in the column.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The value of a row (0-based). Panics past the end, like indexing.
    pub fn get(&self, row: usize) -> &str {
        &self.values[self.codes[row] as usize]
    }

    /// The values in row order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.codes.iter().map(|&c| self.values[c as usize].as_str())
    }

    /// The dictionary: each distinct value once, indexed by code.
    pub fn dictionary(&self) -> &[String] {
        &self.values
    }

    /// The code of each row, an index into [`Column::dictionary`].
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    pub(crate) fn from_parts(name: String, values: Vec<String>, codes: Vec<u32>) -> Self {
        Self {
            name,
            values,
            codes,
        }
    }
}

/// Builds a column value by value, interning each distinct value once.
#[derive(Debug)]
pub(crate) struct ColumnBuilder {
    name: String,
    index: HashMap<String, u32>,
    values: Vec<String>,
    codes: Vec<u32>,
}

impl ColumnBuilder {
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            index: HashMap::new(),
            values: Vec::new(),
            codes: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, value: &str) {
        let code = match self.index.get(value) {
            Some(&c) => c,
            None => {
                let c = self.values.len() as u32;
                self.index.insert(value.to_owned(), c);
                self.values.push(value.to_owned());
                c
            }
        };
        self.codes.push(code);
    }

    pub(crate) fn finish(self) -> Column {
        Column::from_parts(self.name, self.values, self.codes)
    }
}

/// A table of string columns of equal length.
#[derive(Clone)]
pub struct Table {
    columns: Vec<Column>,
    rows: usize,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("columns", &self.names().collect::<Vec<_>>())
            .field("rows", &self.rows)
            .finish()
    }
}

impl Table {
    /// A table from named columns of values, as the extract builder has
    /// them in memory. Every column must have the same length and a
    /// distinct, non-empty name.
    ///
    /// ```
    /// use renkei_deid::anonymize::Table;
    /// let t = Table::from_columns([("age", vec!["34", "35"]), ("sex", vec!["F", "M"])])?;
    /// assert_eq!(t.rows(), 2);
    /// assert_eq!(t.column("sex").map(|c| c.get(1)), Some("M"));
    /// # Ok::<(), renkei_deid::anonymize::Error>(())
    /// ```
    pub fn from_columns<N, V, S>(columns: impl IntoIterator<Item = (N, V)>) -> Result<Self>
    where
        N: Into<String>,
        V: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut built = Vec::new();
        for (name, values) in columns {
            let mut b = ColumnBuilder::new(name);
            for v in values {
                b.push(v.as_ref());
            }
            built.push(b.finish());
        }
        Self::new(built, "the table")
    }

    /// A table from built columns; checks lengths and names.
    pub(crate) fn new(columns: Vec<Column>, source_name: &str) -> Result<Self> {
        let rows = columns.first().map_or(0, Column::len);
        let mut seen = std::collections::HashSet::new();
        for c in &columns {
            if c.name.is_empty() {
                return Err(Error::InvalidTable {
                    source_name: source_name.to_owned(),
                    message: "a column has an empty name".into(),
                });
            }
            if !seen.insert(c.name.as_str()) {
                return Err(Error::InvalidTable {
                    source_name: source_name.to_owned(),
                    message: format!("column {:?} appears twice", c.name),
                });
            }
            if c.len() != rows {
                return Err(Error::InvalidTable {
                    source_name: source_name.to_owned(),
                    message: format!(
                        "column {:?} has {} rows, column {:?} has {rows}",
                        c.name,
                        c.len(),
                        columns[0].name
                    ),
                });
            }
        }
        Ok(Self { columns, rows })
    }

    /// Reads a CSV file with a header row.
    pub fn from_csv_path(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            action: "opening",
            path: path.display().to_string(),
            source,
        })?;
        Self::from_csv_reader(std::io::BufReader::new(file), &path.display().to_string())
    }

    /// Reads CSV with a header row from any reader; `source_name` names it
    /// in errors.
    pub fn from_csv_reader(reader: impl Read, source_name: &str) -> Result<Self> {
        let csv_error = |source: csv::Error| Error::Csv {
            file: source_name.to_owned(),
            line: source.position().map_or(0, csv::Position::line),
            source,
        };
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let header = r.headers().map_err(csv_error)?.clone();
        let mut builders: Vec<ColumnBuilder> = header.iter().map(ColumnBuilder::new).collect();
        let mut record = csv::StringRecord::new();
        while r.read_record(&mut record).map_err(csv_error)? {
            for (b, v) in builders.iter_mut().zip(record.iter()) {
                b.push(v);
            }
        }
        Self::new(
            builders.into_iter().map(ColumnBuilder::finish).collect(),
            source_name,
        )
    }

    /// Writes the table as CSV with a header row.
    pub fn write_csv(&self, writer: impl Write, dest_name: &str) -> Result<()> {
        let csv_error = |source: csv::Error| Error::Csv {
            file: dest_name.to_owned(),
            line: 0,
            source,
        };
        let mut w = csv::Writer::from_writer(writer);
        w.write_record(self.names()).map_err(csv_error)?;
        let mut record: Vec<&str> = Vec::with_capacity(self.columns.len());
        for row in 0..self.rows {
            record.clear();
            record.extend(self.columns.iter().map(|c| c.get(row)));
            w.write_record(&record).map_err(csv_error)?;
        }
        w.flush().map_err(|source| Error::Io {
            action: "writing",
            path: dest_name.to_owned(),
            source,
        })
    }

    /// Writes the table to a CSV file.
    pub fn write_csv_path(&self, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path).map_err(|source| Error::Io {
            action: "creating",
            path: path.display().to_string(),
            source,
        })?;
        self.write_csv(std::io::BufWriter::new(file), &path.display().to_string())
    }

    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The column names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.columns.iter().map(Column::name)
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The index of a column, or an error listing the columns there are.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::UnknownColumn {
                name: name.to_owned(),
                available: self.names().collect::<Vec<_>>().join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_through_the_dictionary() {
        let text = "a,b\n1,x\n2,x\n1,\"y,z\"\n";
        let t = Table::from_csv_reader(text.as_bytes(), "t.csv").expect("reads");
        assert_eq!(t.rows(), 3);
        let a = t.column("a").expect("a");
        assert_eq!(a.dictionary(), ["1", "2"]);
        assert_eq!(a.codes(), [0, 1, 0]);
        let mut out = Vec::new();
        t.write_csv(&mut out, "out").expect("writes");
        assert_eq!(String::from_utf8(out).expect("utf8"), text);
    }

    #[test]
    fn ragged_csv_names_the_line() {
        let err = Table::from_csv_reader("a,b\n1,2\n3\n".as_bytes(), "in.csv").expect_err("ragged");
        assert!(
            matches!(err, Error::Csv { ref file, line: 3, .. } if file == "in.csv"),
            "{err:?}"
        );
    }

    #[test]
    fn unequal_columns_are_refused() {
        let err =
            Table::from_columns([("a", vec!["1", "2"]), ("b", vec!["1"])]).expect_err("unequal");
        assert!(err.to_string().contains("column \"b\" has 1 rows"), "{err}");
    }
}
