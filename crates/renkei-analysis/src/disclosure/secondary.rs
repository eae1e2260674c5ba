//! Secondary (complementary) suppression for tables with margins.
//!
//! In an additive table every line — the categories of one dimension with
//! the others fixed, and their total — is a linear equation an attacker can
//! solve. A line with exactly one suppressed cell gives it away by
//! subtraction; a line whose suppressed categories together are a small
//! group gives *that group* away (`total − published = 7`). So, over all
//! lines of all dimensions (n-D tables included), until nothing changes:
//!
//! * a line must have no suppressed cell or at least two, and
//! * if its total is published, its suppressed categories together must
//!   pass the primary rules (minimum count, dominance).
//!
//! A line that breaks either gets one more suppressed cell. Candidates are
//! ranked first by how many *other* lines through them have no suppressed
//! cell yet (each would need a complement of its own), then by persons
//! (information lost); the first that makes the line safe is taken, else
//! the largest, to reach safety in fewer cells. Empty cells are never complements: they protect
//! nothing (they cannot go lower), and keeping them published lets the audit
//! rely on every suppressed cell having at least one person.
//!
//! Line-by-line rules are not enough in every table (in 2-D, a suppressed
//! cell bridging two cycles of suppressed cells is still determined), which
//! is why `audit` checks the result independently and [`strengthen`] adds
//! cells where it finds one pinned.

use super::grid::{Grid, Line};
use super::primary;
use super::reason::Reason;
use super::rules::Rules;

/// Adds complementary suppressions until every line is safe.
pub(crate) fn protect(grid: &Grid, lines: &[Line], rules: &Rules, status: &mut [Option<Reason>]) {
    let mut lines_of: Vec<Vec<usize>> = vec![Vec::new(); grid.cells.len()];
    for (l, line) in lines.iter().enumerate() {
        for c in line.all() {
            lines_of[c].push(l);
        }
    }
    let context = Context {
        grid,
        lines,
        lines_of: &lines_of,
        rules,
    };
    loop {
        let mut changed = false;
        for (l, line) in lines.iter().enumerate() {
            if line_is_safe(grid, line, rules, status) {
                continue;
            }
            let Some(protects) = protected_cell(line, status) else {
                continue;
            };
            if let Some(c) = choose(&context, l, status) {
                status[c] = Some(Reason::Complementary {
                    protects: grid.cells[protects].key.clone(),
                });
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// Suppresses one more cell next to each cell the audit found pinned: the
/// smallest non-empty published cell in any line through it. Returns whether
/// anything was added.
pub(crate) fn strengthen(
    grid: &Grid,
    lines: &[Line],
    pinned: &[usize],
    status: &mut [Option<Reason>],
) -> bool {
    let mut added = false;
    for &p in pinned {
        let best = lines
            .iter()
            .filter(|l| l.all().any(|c| c == p))
            .flat_map(|l| l.all())
            .filter(|&c| status[c].is_none() && grid.cells[c].persons > 0)
            .min_by_key(|&c| (grid.cells[c].persons, c));
        if let Some(c) = best {
            status[c] = Some(Reason::Complementary {
                protects: grid.cells[p].key.clone(),
            });
            added = true;
        }
    }
    added
}

fn line_is_safe(grid: &Grid, line: &Line, rules: &Rules, status: &[Option<Reason>]) -> bool {
    let suppressed = line.all().filter(|&c| status[c].is_some()).count();
    if suppressed == 0 {
        return true;
    }
    if suppressed == 1 {
        return false;
    }
    if status[line.total].is_some() {
        // total − Σ suppressed = Σ published: nothing new is learnt.
        return true;
    }
    let group = line
        .interior
        .iter()
        .filter(|&&c| status[c].is_some())
        .map(|&c| &grid.cells[c]);
    primary::group_is_safe(group, rules, grid.kind)
}

/// The cell a complement in this line protects: a primary suppression if
/// there is one, else any suppressed cell.
fn protected_cell(line: &Line, status: &[Option<Reason>]) -> Option<usize> {
    let suppressed = || line.all().filter(|&c| status[c].is_some());
    suppressed()
        .find(|&c| status[c].as_ref().is_some_and(Reason::is_primary))
        .or_else(|| suppressed().next())
}

struct Context<'a> {
    grid: &'a Grid,
    lines: &'a [Line],
    lines_of: &'a [Vec<usize>],
    rules: &'a Rules,
}

fn choose(cx: &Context<'_>, l: usize, status: &mut [Option<Reason>]) -> Option<usize> {
    let (grid, line, rules) = (cx.grid, &cx.lines[l], cx.rules);
    let mut candidates: Vec<usize> = line
        .all()
        .filter(|&c| status[c].is_none() && grid.cells[c].persons > 0)
        .collect();
    // Other lines through `c` with nothing suppressed: suppressing `c`
    // would leave each with exactly one.
    let new_singletons = |c: usize, status: &[Option<Reason>]| {
        cx.lines_of[c]
            .iter()
            .filter(|&&o| o != l && cx.lines[o].all().all(|x| status[x].is_none()))
            .count()
    };
    let mut ranked: Vec<(usize, u64, bool, usize)> = candidates
        .iter()
        .map(|&c| {
            (
                new_singletons(c, status),
                grid.cells[c].persons,
                c == line.total,
                c,
            )
        })
        .collect();
    ranked.sort_unstable();
    candidates = ranked.into_iter().map(|(_, _, _, c)| c).collect();
    for &c in &candidates {
        status[c] = Some(Reason::Withheld);
        let safe = line_is_safe(grid, line, rules, status);
        status[c] = None;
        if safe {
            return Some(c);
        }
    }
    candidates
        .iter()
        .max_by_key(|&&c| (c != line.total, grid.cells[c].persons))
        .copied()
}
