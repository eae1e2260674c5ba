//! Differencing against earlier releases of the same permit.
//!
//! **The rule.** A cell of the new table is compared with every released
//! (not suppressed) cell of every earlier release of the permit that
//! describes the *same cell*: the same category in every dimension the two
//! tables share, and the total in every dimension only one of them has (a
//! table without `age` is the `age=*` margin of a table with it). If the two
//! counts differ by `d` persons with `0 < d < min` (the new table's
//! minimum), the new cell is suppressed: the two releases together would
//! publish a group of `d` persons — the cohort with and without one
//! condition, one month more of data, one exclusion more.
//!
//! **Its limits.** It compares counts of cells with equal keys only. It does
//! not see differences between categories that overlap without being equal
//! (age 0–9 against 0–14), between sums, between a new cell and an earlier
//! *suppressed* cell (which has no value to subtract), or between two
//! earlier releases; nor does it know whether two tables count the same
//! population, so it suppresses conservatively when unrelated tables happen
//! to be close. A permit's reviewers remain responsible for what a series of
//! outputs reveals together; every suppression here names the release it
//! compared with, so they can see it.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ReleasedTable;
use super::error::{Error, Result};
use super::grid::Grid;
use super::reason::Reason;
use super::table::{CellKey, Key};

/// The id of an earlier release, as the workspace records it; shown in
/// explanations.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReleaseId(String);

impl ReleaseId {
    /// Parses an id: non-empty, printable, at most 128 characters.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.chars().count() > 128 || s.chars().any(char::is_control) {
            return Err(Error::InvalidEarlierRelease {
                release: s.chars().filter(|c| !c.is_control()).take(128).collect(),
                detail: "a release id must be 1 to 128 printable characters",
            });
        }
        Ok(ReleaseId(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table released earlier under the same permit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlierRelease {
    /// Its id.
    pub id: ReleaseId,
    /// What was released.
    pub table: ReleasedTable,
}

/// Suppresses every not-yet-suppressed cell of `grid` that is within
/// `(0, min)` persons of a matching released cell of an earlier release.
pub(crate) fn apply(
    grid: &Grid,
    min: u64,
    earlier: &[EarlierRelease],
    status: &mut [Option<Reason>],
) -> Result<()> {
    for release in earlier {
        let table = &release.table;
        let mut published: HashMap<&CellKey, u64> = HashMap::new();
        for cell in table.cells() {
            if cell.key.parts().len() != table.dimensions().len() {
                return Err(Error::InvalidEarlierRelease {
                    release: release.id.to_string(),
                    detail: "a cell's key does not match the table's dimensions",
                });
            }
            if let Some(persons) = cell.value.persons() {
                published.insert(&cell.key, persons);
            }
        }
        // For each earlier dimension, where it sits in the new table.
        let position: Vec<Option<usize>> = table
            .dimensions()
            .iter()
            .map(|name| grid.dimensions.iter().position(|d| d == name))
            .collect();
        // New dimensions the earlier table lacks: the new cell must be
        // their total to describe an earlier cell.
        let only_new: Vec<usize> = (0..grid.dimensions.len())
            .filter(|d| !table.dimensions().contains(&grid.dimensions[*d]))
            .collect();
        for (i, cell) in grid.cells.iter().enumerate() {
            if status[i].is_some() {
                continue;
            }
            let parts = cell.key.parts();
            if only_new.iter().any(|&d| parts[d] != Key::Total) {
                continue;
            }
            let earlier_key = CellKey::new(position.iter().map(|p| match p {
                Some(d) => parts[*d].clone(),
                None => Key::Total,
            }));
            let Some(&before) = published.get(&earlier_key) else {
                continue;
            };
            let difference = cell.persons.abs_diff(before);
            if difference > 0 && difference < min {
                status[i] = Some(Reason::Differencing {
                    against: release.id.clone(),
                    earlier_key,
                    difference,
                    min,
                });
            }
        }
    }
    Ok(())
}
