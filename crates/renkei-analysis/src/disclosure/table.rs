//! A proposed output: a table of cells, each counting distinct persons and
//! optionally summing a quantity, with margins marked as such.
//!
//! The workspace builds a [`CellTable`] from the data itself (a `GROUP BY
//! … GROUPING SETS` over the extract, `COUNT(DISTINCT person)`, the sum and
//! its largest per-person contributions), so the check never trusts a number
//! a researcher typed.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::members::Membership;

/// One part of a cell's key: a category of one dimension, or that
/// dimension's total (margin).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Key {
    /// A category (`"F"`, `"40-49"`, `"13"` for Tokyo).
    Value(String),
    /// All categories of the dimension together.
    Total,
}

impl Key {
    /// A category.
    pub fn value(v: impl Into<String>) -> Self {
        Key::Value(v.into())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Value(v) => f.write_str(v),
            Key::Total => f.write_str("*"),
        }
    }
}

/// A cell's full key: one [`Key`] per dimension, in the table's order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey(pub Vec<Key>);

impl CellKey {
    /// The key from its parts.
    pub fn new(parts: impl IntoIterator<Item = Key>) -> Self {
        CellKey(parts.into_iter().collect())
    }

    /// The parts, one per dimension.
    pub fn parts(&self) -> &[Key] {
        &self.0
    }

    /// The key with dimension names, `sex=F, age=*`, for messages.
    pub fn describe(&self, dimensions: &[String]) -> String {
        let mut out = String::new();
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let name = dimensions.get(i).map(String::as_str).unwrap_or("?");
            out.push_str(name);
            out.push('=');
            out.push_str(&part.to_string());
        }
        out
    }
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

/// A sum over the persons of a cell, with its largest contributions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SumStats {
    /// The sum of all persons' contributions (each person's total within
    /// the cell). Contributions must be non-negative: costs, days, doses.
    pub total: f64,
    /// The largest per-person contributions, descending; at least as many as
    /// the dominance rule's `n` (or all of them when the cell has fewer
    /// persons).
    pub largest: Vec<f64>,
}

/// One cell of a proposed output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Where the cell sits.
    pub key: CellKey,
    /// Distinct persons contributing to the cell.
    pub persons: u64,
    /// The cell's sum, for magnitude tables.
    pub sum: Option<SumStats>,
}

/// Whether an output describes genomic data, which has a stricter minimum
/// count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataKind {
    /// Clinical, claims, or other non-genomic data.
    General,
    /// Aggregates of genomic variants (allele counts, carriers of a variant).
    Genomic,
}

/// A proposed output: named dimensions and cells.
///
/// A combination of categories with no cell is a zero: `GROUP BY` emits no
/// row where nobody is. A dimension has a total when any cell has
/// [`Key::Total`] in it; then every line of the table along that dimension
/// must add up to its total.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellTable {
    dimensions: Vec<String>,
    kind: DataKind,
    cells: Vec<Cell>,
    /// Which persons the interior cells count: kept apart from the cells
    /// (stored on its own), used to compare releases by persons.
    #[serde(skip)]
    members: Option<Membership>,
}

impl CellTable {
    /// An empty table over these dimensions.
    pub fn new(dimensions: impl IntoIterator<Item = impl Into<String>>, kind: DataKind) -> Self {
        CellTable {
            dimensions: dimensions.into_iter().map(Into::into).collect(),
            kind,
            cells: Vec::new(),
            members: None,
        }
    }

    /// The table with the persons of its interior cells.
    pub fn with_members(mut self, members: Membership) -> Self {
        self.members = Some(members);
        self
    }

    /// The persons of its interior cells, if known.
    pub fn members(&self) -> Option<&Membership> {
        self.members.as_ref()
    }

    /// Adds a count cell.
    pub fn push_count(&mut self, key: impl IntoIterator<Item = Key>, persons: u64) -> &mut Self {
        self.cells.push(Cell {
            key: CellKey::new(key),
            persons,
            sum: None,
        });
        self
    }

    /// Adds a cell with a sum.
    pub fn push_sum(
        &mut self,
        key: impl IntoIterator<Item = Key>,
        persons: u64,
        sum: SumStats,
    ) -> &mut Self {
        self.cells.push(Cell {
            key: CellKey::new(key),
            persons,
            sum: Some(sum),
        });
        self
    }

    /// Adds a cell.
    pub fn push(&mut self, cell: Cell) -> &mut Self {
        self.cells.push(cell);
        self
    }

    /// Dimension names.
    pub fn dimensions(&self) -> &[String] {
        &self.dimensions
    }

    /// General or genomic.
    pub fn kind(&self) -> DataKind {
        self.kind
    }

    /// The cells as pushed.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// Checks what can be checked cell by cell: key lengths, duplicates,
    /// sums. Additivity is checked on the dense grid.
    pub(crate) fn validate(&self) -> Result<()> {
        let mut names = HashSet::new();
        for name in &self.dimensions {
            if !names.insert(name) {
                return Err(Error::DuplicateDimension { name: name.clone() });
            }
        }
        let with_sums = self.cells.iter().filter(|c| c.sum.is_some()).count();
        let mut seen = HashSet::new();
        for (index, cell) in self.cells.iter().enumerate() {
            if cell.key.0.len() != self.dimensions.len() {
                return Err(Error::InvalidKeyLength {
                    index,
                    expected: self.dimensions.len(),
                    found: cell.key.0.len(),
                });
            }
            let key = || cell.key.describe(&self.dimensions);
            if !seen.insert(&cell.key) {
                return Err(Error::DuplicateCell { key: key() });
            }
            match &cell.sum {
                None if with_sums > 0 => return Err(Error::MixedSums { key: key() }),
                None => {}
                Some(sum) => validate_sum(sum, cell.persons)
                    .map_err(|detail| Error::InvalidSum { key: key(), detail })?,
            }
        }
        Ok(())
    }
}

fn validate_sum(sum: &SumStats, persons: u64) -> std::result::Result<(), &'static str> {
    if !sum.total.is_finite() || sum.largest.iter().any(|v| !v.is_finite()) {
        return Err("not a finite number");
    }
    if sum.total < 0.0 || sum.largest.iter().any(|v| *v < 0.0) {
        return Err("negative contributions cannot be checked for dominance");
    }
    if sum.largest.windows(2).any(|w| w[0] < w[1]) {
        return Err("largest contributions are not in descending order");
    }
    if sum.largest.len() as u64 > persons {
        return Err("more largest contributions than persons");
    }
    let top: f64 = sum.largest.iter().sum();
    if top > sum.total * (1.0 + 1e-9) + 1e-9 {
        return Err("largest contributions exceed the total");
    }
    Ok(())
}
