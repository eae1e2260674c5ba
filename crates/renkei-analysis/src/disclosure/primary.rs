//! Primary suppression: the rules a single cell must pass on its own — the
//! minimum count (stricter for genomic aggregates), zeros if the rules hide
//! them, and the dominance (n, k) rule for sums.
//!
//! The same rules judge a *group* of suppressed cells in a line, whose
//! combined count an attacker gets by subtracting the published cells from
//! the total (see `secondary`).

use super::error::{Error, Result};
use super::grid::GridCell;
use super::reason::Reason;
use super::rules::{Rules, ZeroCells};
use super::table::{DataKind, SumStats};

/// Why this cell may not be released on its own, if it may not.
pub(crate) fn cell_reason(
    cell: &GridCell,
    rules: &Rules,
    kind: DataKind,
    describe: impl Fn() -> String,
) -> Result<Option<Reason>> {
    let min = rules.threshold(kind);
    if cell.persons == 0 {
        return Ok(match rules.zero_cells {
            ZeroCells::Release => None,
            ZeroCells::Suppress => Some(Reason::Zero),
        });
    }
    if cell.persons < min {
        return Ok(Some(match kind {
            DataKind::General => Reason::BelowMinimum {
                count: cell.persons,
                min,
            },
            DataKind::Genomic => Reason::BelowGenomicMinimum {
                count: cell.persons,
                min,
            },
        }));
    }
    if let (Some(rule), Some(sum)) = (rules.dominance, &cell.sum) {
        let needed = usize::try_from(cell.persons)
            .unwrap_or(usize::MAX)
            .min(rule.n);
        if sum.largest.len() < needed {
            return Err(Error::InvalidSum {
                key: describe(),
                detail: "fewer largest contributions than the dominance rule needs",
            });
        }
        let share = share_percent(sum.largest.iter().copied(), sum.total, rule.n);
        if share > rule.k_percent {
            return Ok(Some(Reason::Dominance {
                n: rule.n,
                k_percent: rule.k_percent,
                share_percent: share,
            }));
        }
    }
    Ok(None)
}

/// Share of `total`, in percent, of the `n` largest of `largest`.
fn share_percent(largest: impl Iterator<Item = f64>, total: f64, n: usize) -> f64 {
    if total <= 0.0 {
        // Nothing was contributed: nobody's value can be estimated.
        return 0.0;
    }
    let mut all: Vec<f64> = largest.collect();
    all.sort_by(|a, b| b.total_cmp(a));
    let top: f64 = all.iter().take(n).sum();
    100.0 * top / total
}

/// Whether the union of these cells (disjoint sets of persons, as in one
/// line of an additive table) passes the count and dominance rules, so that
/// learning their combined count and sum discloses no small group.
pub(crate) fn group_is_safe<'a>(
    cells: impl Iterator<Item = &'a GridCell> + Clone,
    rules: &Rules,
    kind: DataKind,
) -> bool {
    let persons: u64 = cells.clone().map(|c| c.persons).sum();
    let count_ok = match (persons, rules.zero_cells) {
        (0, ZeroCells::Release) => true,
        (p, _) => p >= rules.threshold(kind),
    };
    if !count_ok {
        return false;
    }
    match rules.dominance {
        Some(rule) if cells.clone().any(|c| c.sum.is_some()) => {
            let sums: Vec<&SumStats> = cells.filter_map(|c| c.sum.as_ref()).collect();
            let total: f64 = sums.iter().map(|s| s.total).sum();
            let share = share_percent(
                sums.iter().flat_map(|s| s.largest.iter().copied()),
                total,
                rule.n,
            );
            share <= rule.k_percent
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::table::{CellKey, SumStats};

    fn cell(persons: u64, sum: Option<(f64, Vec<f64>)>) -> GridCell {
        GridCell {
            key: CellKey::new([]),
            persons,
            sum: sum.map(|(total, largest)| SumStats { total, largest }),
        }
    }

    fn reason(c: &GridCell, rules: &Rules, kind: DataKind) -> Option<Reason> {
        cell_reason(c, rules, kind, String::new).expect("valid cell")
    }

    #[test]
    fn counts_from_one_to_nine_are_suppressed_and_ten_is_not() {
        let rules = Rules::default();
        assert_eq!(reason(&cell(0, None), &rules, DataKind::General), None);
        for n in 1..10 {
            assert_eq!(
                reason(&cell(n, None), &rules, DataKind::General),
                Some(Reason::BelowMinimum { count: n, min: 10 })
            );
        }
        assert_eq!(reason(&cell(10, None), &rules, DataKind::General), None);
    }

    #[test]
    fn genomic_aggregates_need_the_stricter_minimum() {
        let rules = Rules::default();
        assert_eq!(
            reason(&cell(15, None), &rules, DataKind::Genomic),
            Some(Reason::BelowGenomicMinimum { count: 15, min: 20 })
        );
        assert_eq!(reason(&cell(15, None), &rules, DataKind::General), None);
        assert_eq!(reason(&cell(20, None), &rules, DataKind::Genomic), None);
    }

    #[test]
    fn zeros_are_suppressed_only_when_the_rules_say_so() {
        let rules = Rules {
            zero_cells: ZeroCells::Suppress,
            ..Rules::default()
        };
        assert_eq!(
            reason(&cell(0, None), &rules, DataKind::General),
            Some(Reason::Zero)
        );
    }

    #[test]
    fn a_sum_dominated_by_two_persons_is_suppressed() {
        let rules = Rules::default();
        // 60 + 30 = 90% of 100 > 85%.
        let dominated = cell(12, Some((100.0, vec![60.0, 30.0])));
        assert!(matches!(
            reason(&dominated, &rules, DataKind::General),
            Some(Reason::Dominance { n: 2, share_percent, .. }) if (share_percent - 90.0).abs() < 1e-9
        ));
        // 50 + 30 = 80% ≤ 85%.
        let spread = cell(12, Some((100.0, vec![50.0, 30.0])));
        assert_eq!(reason(&spread, &rules, DataKind::General), None);
    }

    #[test]
    fn too_few_largest_contributions_is_an_error() {
        let rules = Rules::default();
        let c = cell(12, Some((100.0, vec![60.0])));
        assert!(matches!(
            cell_reason(&c, &rules, DataKind::General, || "k".to_owned()),
            Err(Error::InvalidSum { .. })
        ));
    }

    #[test]
    fn a_group_is_judged_on_its_union() {
        let rules = Rules::default();
        let a = cell(4, Some((10.0, vec![5.0, 3.0])));
        let b = cell(7, Some((100.0, vec![20.0, 20.0])));
        let c = cell(3, None);
        // 11 persons; top two of the union are 20 and 20 of 110: safe.
        assert!(group_is_safe(
            [&a, &b].into_iter(),
            &rules,
            DataKind::General
        ));
        // 7 persons: too few.
        assert!(!group_is_safe(
            [&a, &c].into_iter(),
            &rules,
            DataKind::General
        ));
        let big = cell(12, Some((1000.0, vec![900.0, 10.0])));
        // Dominated by one person even in the union.
        assert!(!group_is_safe(
            [&a, &big].into_iter(),
            &rules,
            DataKind::General
        ));
    }
}
