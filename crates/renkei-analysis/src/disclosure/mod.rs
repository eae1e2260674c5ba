//! Statistical disclosure control (統計的開示制御) of outputs proposed for
//! release from a workspace.
//!
//! Every output leaves through [`check`]: the workspace computes a
//! [`CellTable`] from the data (distinct persons per cell, sums with their
//! largest contributions), and [`check`] decides each cell under the permit's
//! [`Rules`], explaining every suppression ([`Reason::explain`], in Japanese
//! and English). Only [`Decision::released`] — a [`ReleasedTable`] in which a
//! suppressed cell carries no value at all — may leave.
//!
//! The steps, in order:
//!
//! 1. **Primary** (`primary`): the minimum count (10, the NDB's 最小集計単位),
//!    a stricter minimum for genomic aggregates, optionally zeros, and the
//!    dominance (n, k) rule for sums.
//! 2. **Differencing** (`differencing`): a cell within fewer than the minimum
//!    of a cell released earlier under the same permit.
//! 3. **Secondary** (`secondary`): complementary suppression, so that no line
//!    of the table (categories and their total) has exactly one suppressed
//!    cell, and the suppressed cells of a line together pass the primary
//!    rules.
//! 4. **Audit** (`audit`): an independent check, from the released table
//!    alone, that no suppressed cell can be pinned by linear programming
//!    over the published cells and margins; if one can, more cells are
//!    suppressed, and failing that the table is withheld.
//!
//! [`dp`] releases counts and sums with differential privacy instead, under
//! a per-permit budget kept by an [`dp::Accountant`].
//!
//! ```
//! use renkei_analysis::disclosure::{check, CellTable, DataKind, Key, Published, Rules};
//!
//! let mut table = CellTable::new(["sex"], DataKind::General);
//! table
//!     .push_count([Key::value("F")], 3)
//!     .push_count([Key::value("M")], 40)
//!     .push_count([Key::Total], 43);
//! let decision = check(&table, &Rules::default(), &[])?;
//! let released = decision.released();
//! // 3 is below 10; 40 would give it away as 43 − 40, so it goes too.
//! assert_eq!(released.cells()[0].value, Published::Suppressed);
//! assert_eq!(released.cells()[1].value.to_string(), "X");
//! assert_eq!(released.cells()[2].value.persons(), Some(43));
//! assert!(decision.audit().holds());
//! for (key, why) in decision.explanations() {
//!     println!("{key}: {} / {}", why.ja, why.en);
//! }
//! # Ok::<(), renkei_analysis::disclosure::Error>(())
//! ```
#![warn(missing_docs)]

pub mod audit;
mod budget;
mod differencing;
pub mod dp;
mod error;
mod grid;
mod members;
mod primary;
mod reason;
mod rules;
mod secondary;
mod simplex;
mod table;

pub use audit::{AuditReport, audit, audit_within};
pub use budget::Budget;
pub use differencing::{EarlierRelease, ReleaseId};
pub use error::{Error, Result};
pub use members::Membership;
pub use reason::{Explanation, Reason};
pub use rules::{Dominance, Rules, ZeroCells};
pub use table::{Cell, CellKey, CellTable, DataKind, Key, SumStats};

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use grid::Grid;

/// How one cell was decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Released with its value.
    Released,
    /// Not released.
    Suppressed {
        /// Why.
        reason: Reason,
    },
}

/// One cell of a [`Decision`], with its true value: for the reviewer, never
/// for release.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellDecision {
    /// The cell.
    pub key: CellKey,
    /// Distinct persons.
    pub persons: u64,
    /// The sum, if the table has sums.
    pub sum: Option<f64>,
    /// Released or suppressed, and why.
    pub outcome: Outcome,
}

/// The decision on a proposed output: every cell of the dense table (empty
/// combinations included) with its outcome, and the table that may leave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    dimensions: Vec<String>,
    cells: Vec<CellDecision>,
    released: ReleasedTable,
    audit: AuditReport,
}

impl Decision {
    /// Dimension names.
    pub fn dimensions(&self) -> &[String] {
        &self.dimensions
    }

    /// Every cell with its true value and outcome. Internal: for the
    /// reviewer page and the researcher who owns the data.
    pub fn cells(&self) -> &[CellDecision] {
        &self.cells
    }

    /// The suppressed cells with their reasons.
    pub fn suppressed(&self) -> impl Iterator<Item = (&CellKey, &Reason)> {
        self.cells.iter().filter_map(|c| match &c.outcome {
            Outcome::Suppressed { reason } => Some((&c.key, reason)),
            Outcome::Released => None,
        })
    }

    /// Each suppression, explained in Japanese and English.
    pub fn explanations(&self) -> Vec<(CellKey, Explanation)> {
        self.suppressed()
            .map(|(key, reason)| (key.clone(), reason.explain(&self.dimensions)))
            .collect()
    }

    /// The table that may be released: suppressed cells have no value.
    pub fn released(&self) -> &ReleasedTable {
        &self.released
    }

    /// The independent audit of the released table; it holds, or every
    /// cell is withheld.
    pub fn audit(&self) -> &AuditReport {
        &self.audit
    }

    /// The table that may be released, by value.
    pub fn into_released(self) -> ReleasedTable {
        self.released
    }
}

/// A cell as released: its value, or a mark that it is suppressed.
///
/// Every suppressed cell looks the same — `X` (秘匿), as in Japanese official
/// statistics — whether it was below the minimum or suppressed to protect
/// another: a `<10` mark would tell an attacker which cells are small and
/// which are complements.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Published {
    /// The cell's values.
    Value {
        /// Distinct persons.
        persons: u64,
        /// The sum, for tables with sums.
        sum: Option<f64>,
    },
    /// Suppressed; no value.
    Suppressed,
}

impl Published {
    /// The count, if released.
    pub fn persons(&self) -> Option<u64> {
        match self {
            Published::Value { persons, .. } => Some(*persons),
            Published::Suppressed => None,
        }
    }

    /// The sum, if released and the table has sums.
    pub fn sum(&self) -> Option<f64> {
        match self {
            Published::Value { sum, .. } => *sum,
            Published::Suppressed => None,
        }
    }
}

impl fmt::Display for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Published::Value {
                persons,
                sum: Some(sum),
            } => write!(f, "{persons} ({sum})"),
            Published::Value { persons, sum: None } => write!(f, "{persons}"),
            Published::Suppressed => f.write_str("X"),
        }
    }
}

/// A cell of a [`ReleasedTable`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleasedCell {
    /// The cell.
    pub key: CellKey,
    /// Its value, or suppressed.
    pub value: Published,
}

/// What leaves the workspace: the dense table with suppressed cells marked.
/// Store it with its release id, as an [`EarlierRelease`] for the next
/// checks of the same permit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleasedTable {
    dimensions: Vec<String>,
    kind: DataKind,
    cells: Vec<ReleasedCell>,
}

impl ReleasedTable {
    /// Dimension names.
    pub fn dimensions(&self) -> &[String] {
        &self.dimensions
    }

    /// General or genomic.
    pub fn kind(&self) -> DataKind {
        self.kind
    }

    /// The cells, in the dense table's order (the last dimension varies
    /// fastest; a total follows its categories).
    pub fn cells(&self) -> &[ReleasedCell] {
        &self.cells
    }
}

/// Checks a proposed output under `rules`, against the earlier releases of
/// the same permit, and decides every cell.
///
/// Errors are the workspace's (a table that does not add up, a malformed
/// sum or earlier release) or the rules' (a minimum below 2); a table that
/// cannot be protected is not an error but a decision to withhold it.
pub fn check(table: &CellTable, rules: &Rules, earlier: &[EarlierRelease]) -> Result<Decision> {
    check_within(table, rules, earlier, &Budget::unlimited())
}

/// [`check`] within a [`Budget`]: a dense table larger than the budget
/// allows is refused before any work ([`Error::TooLarge`]), and the check
/// stops with [`Error::OverBudget`] or [`Error::Cancelled`] when its time
/// is up or its requester has gone.
pub fn check_within(
    table: &CellTable,
    rules: &Rules,
    earlier: &[EarlierRelease],
    budget: &Budget,
) -> Result<Decision> {
    rules.validate()?;
    let grid = Grid::build(table)?;
    if grid.cells.len() > budget.max_dense_cells() {
        return Err(Error::TooLarge {
            cells: grid.cells.len(),
            max: budget.max_dense_cells(),
        });
    }
    let mut status = Vec::with_capacity(grid.cells.len());
    for (i, cell) in grid.cells.iter().enumerate() {
        status.push(primary::cell_reason(cell, rules, grid.kind, || {
            grid.describe(i)
        })?);
    }
    let min = rules.threshold(grid.kind);
    if !earlier.is_empty() {
        differencing::apply(&grid, table.members(), min, earlier, &mut status, budget)?;
    }
    let lines = grid.lines();
    // Each round adds at least one suppressed cell, so this ends; the
    // bound is a guard.
    for _ in 0..=grid.cells.len() {
        budget.spend()?;
        secondary::protect(&grid, &lines, rules, &mut status);
        let released = released_table(&grid, &status);
        let report = audit::audit_within(&released, rules, budget)?;
        if report.holds() {
            return Ok(decide(&grid, status, released, report));
        }
        let index: HashMap<&CellKey, usize> = grid
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| (&c.key, i))
            .collect();
        let pinned: Vec<usize> = report
            .findings
            .iter()
            .filter_map(|f| match f {
                audit::Finding::CountPinned { key } | audit::Finding::SumPinned { key } => {
                    index.get(key).copied()
                }
                _ => None,
            })
            .collect();
        if pinned.is_empty() || !secondary::strengthen(&grid, &lines, &pinned, &mut status) {
            break;
        }
    }
    // No safe pattern: withhold the whole table.
    for s in status.iter_mut().filter(|s| s.is_none()) {
        *s = Some(Reason::Withheld);
    }
    let released = released_table(&grid, &status);
    let report = audit::audit_within(&released, rules, budget)?;
    if !report.holds() {
        return Err(Error::Internal {
            detail: "a fully withheld table failed its audit".to_owned(),
        });
    }
    Ok(decide(&grid, status, released, report))
}

fn released_table(grid: &Grid, status: &[Option<Reason>]) -> ReleasedTable {
    ReleasedTable {
        dimensions: grid.dimensions.clone(),
        kind: grid.kind,
        cells: grid
            .cells
            .iter()
            .zip(status)
            .map(|(cell, reason)| ReleasedCell {
                key: cell.key.clone(),
                value: match reason {
                    None => Published::Value {
                        persons: cell.persons,
                        sum: cell.sum.as_ref().map(|s| s.total),
                    },
                    Some(_) => Published::Suppressed,
                },
            })
            .collect(),
    }
}

fn decide(
    grid: &Grid,
    status: Vec<Option<Reason>>,
    released: ReleasedTable,
    audit: AuditReport,
) -> Decision {
    let cells = grid
        .cells
        .iter()
        .zip(status)
        .map(|(cell, reason)| CellDecision {
            key: cell.key.clone(),
            persons: cell.persons,
            sum: cell.sum.as_ref().map(|s| s.total),
            outcome: match reason {
                None => Outcome::Released,
                Some(reason) => Outcome::Suppressed { reason },
            },
        })
        .collect();
    Decision {
        dimensions: grid.dimensions.clone(),
        cells,
        released,
        audit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    /// A random 2-D or 3-D table of 3–4 categories a side, all margins.
    fn random_table(rng: &mut ChaCha20Rng) -> CellTable {
        let dims: u32 = rng.gen_range(2..=3);
        let size: u32 = rng.gen_range(3..=4);
        let cells = size.pow(dims);
        let interior: Vec<u64> = (0..cells)
            .map(|_| {
                if rng.gen_bool(0.35) {
                    rng.gen_range(1..10)
                } else {
                    rng.gen_range(10..60)
                }
            })
            .collect();
        let names: Vec<String> = (0..dims).map(|d| format!("d{d}")).collect();
        let mut table = CellTable::new(names, DataKind::General);
        // Coordinates in 0..=size, `size` meaning the total.
        for i in 0..(size + 1).pow(dims) {
            let coords: Vec<u32> = (0..dims)
                .map(|d| (i / (size + 1).pow(d)) % (size + 1))
                .collect();
            let persons = (0..cells)
                .filter(|j| {
                    (0..dims).all(|d| {
                        coords[d as usize] == size || (j / size.pow(d)) % size == coords[d as usize]
                    })
                })
                .map(|j| interior[j as usize])
                .sum();
            let key = coords.iter().map(|&c| {
                if c == size {
                    Key::Total
                } else {
                    Key::value(c.to_string())
                }
            });
            table.push_count(key, persons);
        }
        table
    }

    #[test]
    fn line_rules_alone_sometimes_fail_and_the_audit_makes_check_fix_them() {
        let rules = Rules::default();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut failed_lines_only = 0;
        for _ in 0..600 {
            let table = random_table(&mut rng);
            let grid = Grid::build(&table).expect("additive");
            let mut status: Vec<Option<Reason>> = grid
                .cells
                .iter()
                .map(|c| primary::cell_reason(c, &rules, grid.kind, String::new).expect("valid"))
                .collect();
            secondary::protect(&grid, &grid.lines(), &rules, &mut status);
            if !audit::audit(&released_table(&grid, &status), &rules).holds() {
                failed_lines_only += 1;
                let decision = check(&table, &rules, &[]).expect("checks");
                assert!(decision.audit().holds());
                assert!(
                    decision
                        .cells()
                        .iter()
                        .any(|c| c.outcome == Outcome::Released)
                );
            }
        }
        assert!(
            failed_lines_only > 0,
            "the audit never found anything to fix"
        );
    }
}
