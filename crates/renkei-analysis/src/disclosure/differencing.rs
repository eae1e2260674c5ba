//! Differencing against earlier releases of the same permit.
//!
//! **The rule.** Releases are compared by the persons in their cells, never
//! by the names of dimensions or categories (a renamed dimension is the
//! same table). For a new cell `C` and a released (not suppressed) cell `E`
//! of an earlier release that share at least one person, let `a = |E \ C|`
//! and `b = |C \ E|`. If the two are not the same group (`a + b > 0`) but
//! both differences are below the minimum (`a < min` and `b < min`), the new
//! cell is suppressed: the two releases together would tell about a group
//! of fewer than `min` persons — the cohort with and without one person,
//! one person swapped for another the reader knows, one month more of data.
//! Cells far apart in either direction (a prefecture against all women)
//! tell nothing by subtraction and are left alone.
//!
//! Persons are compared through [`Membership`]: each person's interior
//! cell, by a digest of the pseudonym, kept inside the platform. Margins are
//! unions of interior cells, so the overlap of any two cells is added up
//! from the overlaps of interior cells.
//!
//! **Its limits.** It compares each new cell with each earlier cell, not
//! combinations of several earlier cells; and an earlier release stored
//! without its persons (made before persons were kept) is compared by equal
//! keys and counts only. A permit's reviewers remain responsible for what a
//! series of outputs reveals together; every suppression here names the
//! release it compared with, so they can see it.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ReleasedTable;
use super::budget::Budget;
use super::error::{Error, Result};
use super::grid::Grid;
use super::members::Membership;
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
#[derive(Clone, Debug, PartialEq)]
pub struct EarlierRelease {
    /// Its id.
    pub id: ReleaseId,
    /// What was released.
    pub table: ReleasedTable,
    /// Which persons its interior cells counted; `None` for a release
    /// stored before persons were kept.
    pub members: Option<Membership>,
}

/// Suppresses every not-yet-suppressed cell of `grid` that describes almost
/// the same persons as a released cell of an earlier release.
pub(crate) fn apply(
    grid: &Grid,
    members: Option<&Membership>,
    min: u64,
    earlier: &[EarlierRelease],
    status: &mut [Option<Reason>],
    budget: &Budget,
) -> Result<()> {
    for release in earlier {
        budget.spend()?;
        let published = published(release)?;
        match (&release.members, members) {
            (Some(theirs), Some(ours)) => {
                by_persons(grid, ours, release, theirs, &published, min, status, budget)?;
            }
            (_, None) => return Err(Error::NoMembership),
            (None, Some(_)) => by_keys(grid, release, &published, min, status),
        }
    }
    Ok(())
}

/// The released counts of an earlier table, by key.
fn published(release: &EarlierRelease) -> Result<HashMap<&CellKey, u64>> {
    let table = &release.table;
    let mut published = HashMap::new();
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
    Ok(published)
}

/// Every key of a cell containing the interior `key` (itself and each of
/// its margins), as far as `present` knows them.
fn containing<'a, T>(key: &CellKey, present: &'a HashMap<&CellKey, T>) -> Vec<&'a T> {
    let d = key.parts().len();
    (0..1u32 << d)
        .filter_map(|mask| {
            let masked = CellKey::new(key.parts().iter().enumerate().map(|(i, part)| {
                if mask & (1 << i) != 0 {
                    Key::Total
                } else {
                    part.clone()
                }
            }));
            present.get(&masked)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn by_persons(
    grid: &Grid,
    ours: &Membership,
    release: &EarlierRelease,
    theirs: &Membership,
    published: &HashMap<&CellKey, u64>,
    min: u64,
    status: &mut [Option<Reason>],
    budget: &Budget,
) -> Result<()> {
    // Persons in both tables, by (our interior key, their interior key):
    // a merge of two lists sorted by digest.
    let mut pairs: HashMap<(u32, u32), u64> = HashMap::new();
    let (a, b) = (ours.persons(), theirs.persons());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                *pairs.entry((a[i].1, b[j].1)).or_default() += 1;
                i += 1;
                j += 1;
            }
        }
    }
    // Which cells hold each interior key, on both sides.
    let our_cells: HashMap<&CellKey, usize> = grid
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.key, i))
        .collect();
    let their_index: HashMap<&CellKey, &CellKey> = published.keys().map(|k| (*k, *k)).collect();
    let ours_of: Vec<Vec<usize>> = ours
        .keys()
        .iter()
        .map(|k| containing(k, &our_cells).into_iter().copied().collect())
        .collect();
    let theirs_of: Vec<Vec<&CellKey>> = theirs
        .keys()
        .iter()
        .map(|k| containing(k, &their_index).into_iter().copied().collect())
        .collect();
    // The overlap of every (our cell, their released cell) that shares a
    // person.
    let mut overlap: HashMap<(usize, &CellKey), u64> = HashMap::new();
    for (n, ((o, t), count)) in pairs.into_iter().enumerate() {
        if n % 1024 == 0 {
            budget.spend()?;
        }
        for &cell in &ours_of[o as usize] {
            for &key in &theirs_of[t as usize] {
                *overlap.entry((cell, key)).or_default() += count;
            }
        }
    }
    let mut found: Vec<(usize, &CellKey, u64)> = overlap
        .into_iter()
        .filter_map(|((cell, key), shared)| {
            let theirs = published[key];
            let ours = grid.cells[cell].persons;
            let (only_theirs, only_ours) =
                (theirs.saturating_sub(shared), ours.saturating_sub(shared));
            let near = only_theirs + only_ours > 0 && only_theirs < min && only_ours < min;
            near.then_some((cell, key, only_theirs + only_ours))
        })
        .collect();
    // One reason per cell, the same whichever order the map gave.
    found.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
    for (cell, key, difference) in found {
        if status[cell].is_none() {
            status[cell] = Some(Reason::Differencing {
                against: release.id.clone(),
                earlier_key: key.clone(),
                difference,
                min,
            });
        }
    }
    Ok(())
}

/// For an earlier release stored without its persons: cells that describe
/// the same key (the total in any dimension only one table has) and whose
/// counts differ by fewer than `min`.
fn by_keys(
    grid: &Grid,
    release: &EarlierRelease,
    published: &HashMap<&CellKey, u64>,
    min: u64,
    status: &mut [Option<Reason>],
) {
    let table = &release.table;
    let position: Vec<Option<usize>> = table
        .dimensions()
        .iter()
        .map(|name| grid.dimensions.iter().position(|d| d == name))
        .collect();
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
