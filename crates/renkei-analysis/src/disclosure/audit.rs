//! An independent audit of a released table: can anyone who reads it
//! recover a suppressed cell exactly?
//!
//! It works from the [`ReleasedTable`] alone — what the public sees — and
//! shares no code with the suppression loop: the margins' equations are
//! rebuilt by grouping keys (each cell with a category in a dimension that
//! has a total adds into the cell with that total), not from the grid's
//! lines. For every suppressed cell it then solves two linear programs
//! (`simplex`): the least and greatest value the cell can take given every
//! published cell, every equation, and what the rules let an attacker assume
//! (counts are integers ≥ 0, and ≥ 1 when zeros are published, since then
//! suppressed cells are never empty). A cell whose integer interval holds a
//! single value is *pinned*: suppression failed. Sums are audited the same
//! way over the reals ≥ 0.
//!
//! It also re-applies the minimum count to every published cell, so a bug
//! in primary suppression is caught here as well.
//!
//! Limits: in tables of three or more dimensions the linear relaxation can
//! be wider than what integer programming would give an attacker; the
//! audit asks only that a cell is not pinned, not that its interval is wide
//! (the intervals are in the report for the reviewer); and it knows nothing
//! of other releases (that is `differencing`).

use std::collections::HashMap;

use serde::Serialize;

use super::ReleasedTable;
use super::budget::Budget;
use super::error::Result;
use super::rules::{Rules, ZeroCells};
use super::simplex::{Feasible, Optimum};
use super::table::{CellKey, Key};

/// What an attacker can infer about one suppressed cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// The cell.
    pub key: CellKey,
    /// Least possible count.
    pub lower: f64,
    /// Greatest possible count; `None` if unbounded.
    pub upper: Option<f64>,
}

/// A way in which the released table fails.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// A published count is below the minimum (and not a published zero).
    PublishedBelowMinimum {
        /// The cell.
        key: CellKey,
    },
    /// A suppressed count can take only one integer value.
    CountPinned {
        /// The cell.
        key: CellKey,
    },
    /// A suppressed sum can take only one value.
    SumPinned {
        /// The cell.
        key: CellKey,
    },
    /// The published cells contradict the margins or the attacker model: a
    /// bug of ours, since the checked table was additive.
    Inconsistent,
}

/// The audit's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditReport {
    /// What a reader can infer about each suppressed count.
    pub intervals: Vec<Interval>,
    /// Failures; none if the table is safe.
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// Whether suppression holds.
    pub fn holds(&self) -> bool {
        self.findings.is_empty()
    }
}

/// One equation of the margins: `total = Σ parts`, as cell indices.
struct Equation {
    total: usize,
    parts: Vec<usize>,
}

/// Audits a released table under the rules it was checked with.
pub fn audit(table: &ReleasedTable, rules: &Rules) -> AuditReport {
    audit_within(table, rules, &Budget::unlimited()).expect("an unlimited budget never runs out")
}

/// [`audit`], ending early with an error when `budget` runs out.
pub fn audit_within(table: &ReleasedTable, rules: &Rules, budget: &Budget) -> Result<AuditReport> {
    let cells = table.cells();
    let mut findings = Vec::new();
    let min = rules.threshold(table.kind());
    for cell in cells {
        if let Some(p) = cell.value.persons() {
            let zero_ok = p == 0 && rules.zero_cells == ZeroCells::Release;
            if p < min && !zero_ok {
                findings.push(Finding::PublishedBelowMinimum {
                    key: cell.key.clone(),
                });
            }
        }
    }
    let suppressed: Vec<usize> = (0..cells.len())
        .filter(|&i| cells[i].value.persons().is_none())
        .collect();
    if suppressed.is_empty() || suppressed.len() == cells.len() {
        // Nothing hidden, or nothing shown.
        return Ok(AuditReport {
            intervals: Vec::new(),
            findings,
        });
    }
    let equations = equations(table);
    let var: HashMap<usize, usize> = suppressed
        .iter()
        .enumerate()
        .map(|(v, &c)| (c, v))
        .collect();

    let count_floor = match rules.zero_cells {
        ZeroCells::Release => 1.0,
        ZeroCells::Suppress => 0.0,
    };
    let counts = |i: usize| cells[i].value.persons().map(|p| p as f64);
    let mut intervals = Vec::new();
    match bounds(&equations, &suppressed, &var, count_floor, counts, budget)? {
        None => findings.push(Finding::Inconsistent),
        Some(found) => {
            for (&c, (lower, upper)) in suppressed.iter().zip(found) {
                // Counts are integers: round inwards, as an attacker would.
                let lo = (lower - 1e-6).ceil();
                let pinned = upper.is_some_and(|u| (u + 1e-6).floor() <= lo);
                if pinned {
                    findings.push(Finding::CountPinned {
                        key: cells[c].key.clone(),
                    });
                }
                intervals.push(Interval {
                    key: cells[c].key.clone(),
                    lower,
                    upper,
                });
            }
        }
    }

    let has_sums = cells.iter().any(|c| c.value.sum().is_some());
    if has_sums {
        // A published cell of a table with sums has its sum (zero if the
        // cell was empty).
        let sums = |i: usize| {
            cells[i]
                .value
                .persons()
                .map(|_| cells[i].value.sum().unwrap_or(0.0))
        };
        match bounds(&equations, &suppressed, &var, 0.0, sums, budget)? {
            None => findings.push(Finding::Inconsistent),
            Some(found) => {
                let scale = cells
                    .iter()
                    .filter_map(|c| c.value.sum())
                    .fold(1.0_f64, |m, s| m.max(s.abs()));
                for (&c, (lower, upper)) in suppressed.iter().zip(found) {
                    if upper.is_some_and(|u| u - lower <= 1e-9 * scale) {
                        findings.push(Finding::SumPinned {
                            key: cells[c].key.clone(),
                        });
                    }
                }
            }
        }
    }
    Ok(AuditReport {
        intervals,
        findings,
    })
}

/// The margins' equations, found by grouping keys: a cell with a category
/// in dimension `d`, where `d` has a total somewhere, is a part of the cell
/// with the same key but the total in `d`.
fn equations(table: &ReleasedTable) -> Vec<Equation> {
    let cells = table.cells();
    let dims = table.dimensions().len();
    let has_total: Vec<bool> = (0..dims)
        .map(|d| cells.iter().any(|c| c.key.parts()[d] == Key::Total))
        .collect();
    let index: HashMap<&CellKey, usize> =
        cells.iter().enumerate().map(|(i, c)| (&c.key, i)).collect();
    let mut by_total: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, cell) in cells.iter().enumerate() {
        for (d, _) in has_total.iter().enumerate().filter(|(_, t)| **t) {
            if cell.key.parts()[d] != Key::Total {
                let mut parent = cell.key.clone();
                parent.0[d] = Key::Total;
                if let Some(&t) = index.get(&parent) {
                    // Keyed by (total, dimension) so each line is one equation.
                    by_total.entry(t * dims + d).or_default().push(i);
                }
            }
        }
    }
    let mut equations: Vec<Equation> = by_total
        .into_iter()
        .map(|(k, parts)| Equation {
            total: k / dims,
            parts,
        })
        .collect();
    equations.sort_by_key(|e| (e.total, e.parts.first().copied()));
    equations
}

/// The least and greatest value of a cell; `None` above for unbounded.
type Bounds = (f64, Option<f64>);

/// For each suppressed cell, the least and greatest value it can take: the
/// suppressed values are variables `≥ floor`, published ones are `known`.
/// `None` if the published values admit no solution at all.
fn bounds(
    equations: &[Equation],
    suppressed: &[usize],
    var: &HashMap<usize, usize>,
    floor: f64,
    known: impl Fn(usize) -> Option<f64>,
    budget: &Budget,
) -> Result<Option<Vec<Bounds>>> {
    let n = suppressed.len();
    let mut a = Vec::new();
    let mut b = Vec::new();
    for eq in equations {
        // Σ parts − total = 0, with x = floor + y for suppressed cells.
        let mut row = vec![0.0; n];
        let mut rhs = 0.0;
        let terms = eq
            .parts
            .iter()
            .map(|&p| (p, 1.0))
            .chain(std::iter::once((eq.total, -1.0)));
        for (cell, sign) in terms {
            match (var.get(&cell), known(cell)) {
                (Some(&v), _) => {
                    row[v] += sign;
                    rhs -= sign * floor;
                }
                (None, Some(value)) => rhs -= sign * value,
                (None, None) => return Ok(None),
            }
        }
        if row.iter().all(|v| *v == 0.0) {
            if rhs.abs() > 1e-6 * (1.0 + rhs.abs()) {
                return Ok(None);
            }
            continue;
        }
        a.push(row);
        b.push(rhs);
    }
    let Some(feasible) = Feasible::find(&a, &b, n, budget)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(n);
    for v in 0..n {
        let mut c = vec![0.0; n];
        c[v] = 1.0;
        let lower = match feasible.minimize(&c, budget)? {
            Optimum::Value(x) => x + floor,
            Optimum::Unbounded => return Ok(None),
        };
        c[v] = -1.0;
        let upper = match feasible.minimize(&c, budget)? {
            Optimum::Value(x) => Some(floor - x),
            Optimum::Unbounded => None,
        };
        out.push((lower, upper));
    }
    Ok(Some(out))
}
