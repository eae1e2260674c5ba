//! Disclosure control, from the outside: what a released table may and may
//! not reveal, over hand-made and many seeded random tables.

use std::collections::{HashMap, HashSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use renkei_analysis::disclosure::{
    Budget, CellKey, CellTable, DataKind, EarlierRelease, Error, Key, Membership, Outcome,
    Published, Reason, ReleaseId, ReleasedTable, Rules, SumStats, ZeroCells, audit,
    audit::Finding,
    check, check_within,
    dp::{self, Accountant, Epsilon, SumBounds},
};

// ---------------------------------------------------------------- helpers

fn v(s: &str) -> Key {
    Key::value(s)
}

fn key(parts: &[&str]) -> CellKey {
    CellKey::new(
        parts
            .iter()
            .map(|p| if *p == "*" { Key::Total } else { v(p) }),
    )
}

/// A random additive table: `dims` dimensions of 2–4 categories, totals on
/// the dimensions marked, counts mixing small and large.
fn random_table(rng: &mut ChaCha20Rng, kind: DataKind) -> CellTable {
    let dims = rng.gen_range(1..=3);
    let sizes: Vec<usize> = (0..dims).map(|_| rng.gen_range(2..=4)).collect();
    let totals: Vec<bool> = (0..dims).map(|_| rng.gen_bool(0.85)).collect();
    let names: Vec<String> = (0..dims).map(|d| format!("d{d}")).collect();
    let small = rng.gen_range(0.1..0.6);
    // Interior counts.
    let mut interior: HashMap<Vec<usize>, u64> = HashMap::new();
    let mut coords = vec![0; dims];
    loop {
        let n = if rng.gen_bool(small) {
            rng.gen_range(0..10)
        } else {
            rng.gen_range(10..80)
        };
        interior.insert(coords.clone(), n);
        if !advance(&mut coords, &sizes) {
            break;
        }
    }
    // Every cell, margins included: a coordinate equal to the size is a total.
    let ext: Vec<usize> = sizes
        .iter()
        .zip(&totals)
        .map(|(s, t)| s + usize::from(*t))
        .collect();
    let mut table = CellTable::new(names, kind);
    let mut coords = vec![0; dims];
    loop {
        let persons: u64 = interior
            .iter()
            .filter(|(c, _)| {
                c.iter()
                    .zip(&coords)
                    .zip(&sizes)
                    .all(|((a, b), s)| b == s || a == b)
            })
            .map(|(_, n)| n)
            .sum();
        let k = coords.iter().zip(&sizes).map(|(c, s)| {
            if c == s {
                Key::Total
            } else {
                Key::value(format!("c{c}"))
            }
        });
        table.push_count(k, persons);
        if !advance(&mut coords, &ext) {
            break;
        }
    }
    table
}

fn advance(coords: &mut [usize], sizes: &[usize]) -> bool {
    for d in (0..coords.len()).rev() {
        coords[d] += 1;
        if coords[d] < sizes[d] {
            return true;
        }
        coords[d] = 0;
    }
    false
}

/// The margins' equations of a released table, by position: total, parts.
fn equations(t: &ReleasedTable) -> Vec<(usize, Vec<usize>)> {
    let dims = t.dimensions().len();
    let mut out = Vec::new();
    for (i, cell) in t.cells().iter().enumerate() {
        for d in 0..dims {
            if cell.key.parts()[d] != Key::Total {
                continue;
            }
            let parts: Vec<usize> = t
                .cells()
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.key.parts()[d] != Key::Total
                        && (0..dims).all(|e| e == d || c.key.parts()[e] == cell.key.parts()[e])
                })
                .map(|(j, _)| j)
                .collect();
            out.push((i, parts));
        }
    }
    out
}

/// The attack by subtraction: while some equation has exactly one unknown,
/// solve it. Returns the cells it recovered.
fn subtraction_attack(t: &ReleasedTable) -> HashSet<usize> {
    let mut known: Vec<Option<i128>> = t
        .cells()
        .iter()
        .map(|c| c.value.persons().map(i128::from))
        .collect();
    let eqs = equations(t);
    let mut recovered = HashSet::new();
    loop {
        let mut progress = false;
        for (total, parts) in &eqs {
            let unknown: Vec<usize> = parts
                .iter()
                .chain(std::iter::once(total))
                .copied()
                .filter(|&c| known[c].is_none())
                .collect();
            if unknown.len() != 1 {
                continue;
            }
            let u = unknown[0];
            let sum_parts: i128 = parts.iter().filter_map(|&p| known[p]).sum();
            let value = if u == *total {
                sum_parts
            } else {
                known[*total].unwrap_or_default() - sum_parts
            };
            known[u] = Some(value);
            recovered.insert(u);
            progress = true;
        }
        if !progress {
            return recovered;
        }
    }
}

fn persons_of(table: &CellTable) -> HashMap<CellKey, u64> {
    table
        .cells()
        .iter()
        .map(|c| (c.key.clone(), c.persons))
        .collect()
}

// ---------------------------------------------------------------- primary

#[test]
fn a_count_below_the_threshold_is_never_released() {
    let mut rng = ChaCha20Rng::seed_from_u64(20240601);
    for kind in [DataKind::General, DataKind::Genomic] {
        let rules = Rules::default();
        let min = rules.threshold(kind);
        for round in 0..150 {
            let table = random_table(&mut rng, kind);
            let decision = check(&table, &rules, &[]).expect("additive table");
            let truth = persons_of(&table);
            for cell in decision.released().cells() {
                if let Some(p) = cell.value.persons() {
                    assert!(
                        p == 0 || p >= min,
                        "round {round}: {p} released at {}",
                        cell.key
                    );
                    assert_eq!(Some(&p), truth.get(&cell.key).or(Some(&0)));
                } else {
                    // The released form carries no number at all.
                    let json = serde_json::to_value(cell.value).expect("serializes");
                    assert_eq!(json, serde_json::json!({"status": "suppressed"}));
                }
            }
            for c in decision.cells() {
                if c.persons > 0 && c.persons < min {
                    assert!(matches!(c.outcome, Outcome::Suppressed { .. }));
                }
            }
        }
    }
}

#[test]
fn each_suppression_is_explained_in_japanese_and_english() {
    let mut table = CellTable::new(["sex"], DataKind::General);
    table
        .push_count([v("F")], 3)
        .push_count([v("M")], 40)
        .push_count([Key::Total], 43);
    let decision = check(&table, &Rules::default(), &[]).expect("checks");
    let explanations = decision.explanations();
    assert_eq!(explanations.len(), 2);
    let (k, first) = &explanations[0];
    assert_eq!(k, &key(&["F"]));
    assert!(
        first.ja.contains("3人") && first.ja.contains("10人"),
        "{}",
        first.ja
    );
    assert!(
        first.en.contains("3 persons") && first.en.contains("10"),
        "{}",
        first.en
    );
    let (k, second) = &explanations[1];
    assert_eq!(k, &key(&["M"]));
    assert!(
        second.ja.contains("補完秘匿") && second.ja.contains("sex=F"),
        "{}",
        second.ja
    );
    assert!(second.en.contains("complementary"), "{}", second.en);
    assert_eq!(decision.released().cells()[1].value.to_string(), "X");
}

#[test]
fn genomic_aggregates_use_the_stricter_minimum() {
    let mut table = CellTable::new(["variant"], DataKind::Genomic);
    table
        .push_count([v("rs1")], 15)
        .push_count([v("rs2")], 25)
        .push_count([v("rs3")], 30)
        .push_count([Key::Total], 70);
    let decision = check(&table, &Rules::default(), &[]).expect("checks");
    let reasons: Vec<&Reason> = decision.suppressed().map(|(_, r)| r).collect();
    assert_eq!(
        reasons[0],
        &Reason::BelowGenomicMinimum { count: 15, min: 20 }
    );
    // The same table as clinical data is released whole.
    let mut clinical = CellTable::new(["variant"], DataKind::General);
    for c in table.cells() {
        clinical.push(c.clone());
    }
    let decision = check(&clinical, &Rules::default(), &[]).expect("checks");
    assert_eq!(decision.suppressed().count(), 0);
}

#[test]
fn a_dominated_sum_is_suppressed_with_its_complement_and_no_sum_leaks() {
    let mut table = CellTable::new(["hospital_type"], DataKind::General);
    let sum = |total: f64, largest: &[f64]| SumStats {
        total,
        largest: largest.to_vec(),
    };
    table
        .push_sum([v("university")], 12, sum(1000.0, &[900.0, 20.0]))
        .push_sum([v("general")], 30, sum(600.0, &[50.0, 40.0]))
        .push_sum([v("clinic")], 50, sum(400.0, &[20.0, 20.0]))
        .push_sum([Key::Total], 92, sum(2000.0, &[900.0, 50.0]));
    let decision = check(&table, &Rules::default(), &[]).expect("checks");
    let cells = decision.released().cells();
    assert!(matches!(
        decision.cells()[0].outcome,
        Outcome::Suppressed {
            reason: Reason::Dominance { n: 2, .. }
        }
    ));
    // The complement is the smallest count that leaves the pair
    // undominated: general (30 persons), not clinic.
    assert_eq!(cells[1].value, Published::Suppressed);
    assert_eq!(cells[2].value.sum(), Some(400.0));
    assert_eq!(cells[3].value.sum(), Some(2000.0));
    assert!(decision.audit().holds());
}

#[test]
fn zeros_are_released_or_suppressed_as_the_rules_say() {
    let mut table = CellTable::new(["age"], DataKind::General);
    table
        .push_count([v("0-9")], 0)
        .push_count([v("10-19")], 30)
        .push_count([v("20-29")], 40)
        .push_count([Key::Total], 70);
    let released = check(&table, &Rules::default(), &[]).expect("checks");
    assert_eq!(released.suppressed().count(), 0);
    let rules = Rules {
        zero_cells: ZeroCells::Suppress,
        ..Rules::default()
    };
    let decision = check(&table, &rules, &[]).expect("checks");
    let suppressed: Vec<(&CellKey, &Reason)> = decision.suppressed().collect();
    assert_eq!(suppressed[0], (&key(&["0-9"]), &Reason::Zero));
    // The zero alone would be known as 70 − 30 − 40: one more goes.
    assert_eq!(suppressed.len(), 2);
    assert!(decision.audit().holds());
}

// ---------------------------------------------------------------- secondary

#[test]
fn complementary_suppression_cannot_be_undone_by_subtraction_from_the_margins() {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    for zero_cells in [ZeroCells::Release, ZeroCells::Suppress] {
        let rules = Rules {
            zero_cells,
            ..Rules::default()
        };
        for round in 0..200 {
            let table = random_table(&mut rng, DataKind::General);
            let decision = check(&table, &rules, &[]).expect("additive table");
            let released = decision.released();
            let recovered = subtraction_attack(released);
            assert!(
                recovered.is_empty(),
                "round {round}: subtraction recovers {:?}",
                recovered
                    .iter()
                    .map(|&i| released.cells()[i].key.to_string())
                    .collect::<Vec<_>>()
            );
            assert!(
                decision.audit().holds(),
                "round {round}: {:?}",
                decision.audit().findings
            );
            // Every line with a published total hides no small group.
            let truth: Vec<u64> = decision.cells().iter().map(|c| c.persons).collect();
            for (total, parts) in equations(released) {
                if released.cells()[total].value.persons().is_none() {
                    continue;
                }
                let hidden: u64 = parts
                    .iter()
                    .filter(|&&p| released.cells()[p].value.persons().is_none())
                    .map(|&p| truth[p])
                    .sum();
                let ok_zero = hidden == 0 && zero_cells == ZeroCells::Release;
                assert!(
                    ok_zero
                        || hidden >= rules.min_count
                        || parts
                            .iter()
                            .all(|&p| released.cells()[p].value.persons().is_some()),
                    "round {round}: a line hides a group of {hidden}"
                );
            }
        }
    }
}

/// Brute force, independent of the audit's linear programming: on small
/// tables, every integer completion of the suppressed cells consistent with
/// what is published; each suppressed cell must have at least two.
#[test]
fn brute_force_finds_no_suppressed_cell_with_a_single_possible_value() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let rules = Rules::default();
    let mut checked = 0;
    for _ in 0..300 {
        // 2×2 and 1×4 tables with margins and smallish counts.
        let (rows, cols) = if rng.gen_bool(0.5) { (2, 2) } else { (1, 4) };
        let mut table = CellTable::new(["r", "c"], DataKind::General);
        let mut grid = vec![vec![0u64; cols]; rows];
        for row in grid.iter_mut() {
            for x in row.iter_mut() {
                *x = if rng.gen_bool(0.4) {
                    rng.gen_range(1..10)
                } else {
                    rng.gen_range(10..16)
                };
            }
        }
        for (r, row) in grid.iter().enumerate() {
            for (c, &x) in row.iter().enumerate() {
                table.push_count(
                    [Key::value(format!("r{r}")), Key::value(format!("c{c}"))],
                    x,
                );
            }
            table.push_count([Key::value(format!("r{r}")), Key::Total], row.iter().sum());
        }
        for c in 0..cols {
            table.push_count(
                [Key::Total, Key::value(format!("c{c}"))],
                grid.iter().map(|row| row[c]).sum(),
            );
        }
        table.push_count([Key::Total, Key::Total], grid.iter().flatten().sum());
        let decision = check(&table, &rules, &[]).expect("checks");
        let released = decision.released();
        let published: HashMap<CellKey, u64> = released
            .cells()
            .iter()
            .filter_map(|c| c.value.persons().map(|p| (c.key.clone(), p)))
            .collect();
        if published.is_empty() {
            continue;
        }
        let k = |r: Option<usize>, c: Option<usize>| {
            CellKey::new([
                r.map_or(Key::Total, |r| Key::value(format!("r{r}"))),
                c.map_or(Key::Total, |c| Key::value(format!("c{c}"))),
            ])
        };
        // Every cell of the table in a fixed order, with what is published.
        let mut order: Vec<(Option<usize>, Option<usize>)> = Vec::new();
        for r in (0..rows).map(Some).chain([None]) {
            for c in (0..cols).map(Some).chain([None]) {
                order.push((r, c));
            }
        }
        let shown: Vec<Option<u64>> = order
            .iter()
            .map(|&(r, c)| published.get(&k(r, c)).copied())
            .collect();
        let unknown: Vec<(usize, usize)> = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .filter(|&(r, c)| !published.contains_key(&k(Some(r), Some(c))))
            .collect();
        // An unknown cell is at least 1 (zeros are published) and at most
        // any published margin through it, or the true grand total.
        let grand: u64 = grid.iter().flatten().sum();
        let upper: Vec<u64> = unknown
            .iter()
            .map(|&(r, c)| {
                [k(Some(r), None), k(None, Some(c)), k(None, None)]
                    .iter()
                    .filter_map(|m| published.get(m).copied())
                    .min()
                    .unwrap_or(grand)
            })
            .collect();
        if upper.iter().map(|&u| u as f64).product::<f64>() > 5e4 {
            continue;
        }
        let mut possible: Vec<HashSet<u64>> = vec![HashSet::new(); order.len()];
        let mut assignment = grid.clone();
        let mut idx = vec![1u64; unknown.len()];
        'enumerate: loop {
            for (&(r, c), &x) in unknown.iter().zip(&idx) {
                assignment[r][c] = x;
            }
            let values: Vec<u64> = order
                .iter()
                .map(|&(r, c)| {
                    (0..rows)
                        .filter(|&i| r.is_none_or(|r| r == i))
                        .flat_map(|i| {
                            (0..cols)
                                .filter(move |&j| c.is_none_or(|c| c == j))
                                .map(move |j| (i, j))
                        })
                        .map(|(i, j)| assignment[i][j])
                        .sum()
                })
                .collect();
            if values
                .iter()
                .zip(&shown)
                .all(|(x, p)| p.is_none_or(|p| p == *x))
            {
                for (set, x) in possible.iter_mut().zip(values) {
                    set.insert(x);
                }
            }
            for i in 0..idx.len() {
                idx[i] += 1;
                if idx[i] <= upper[i] {
                    continue 'enumerate;
                }
                idx[i] = 1;
            }
            break;
        }
        for (i, p) in shown.iter().enumerate() {
            if p.is_none() {
                let (r, c) = order[i];
                assert!(
                    possible[i].len() >= 2,
                    "{} has {} possible values",
                    k(r, c),
                    possible[i].len()
                );
            }
        }
        checked += 1;
    }
    assert!(
        checked > 150,
        "only {checked} tables were small enough to enumerate"
    );
}

#[test]
fn a_two_way_table_gets_a_rectangle_of_suppressions() {
    //          A    B    C  | *
    //   F      4   30   25  | 59
    //   M     20   35   40  | 95
    //   *     24   65   65  | 154
    let mut t = CellTable::new(["sex", "region"], DataKind::General);
    let rows = [("F", [4, 30, 25]), ("M", [20, 35, 40])];
    for (s, xs) in rows {
        for (r, x) in ["A", "B", "C"].iter().zip(xs) {
            t.push_count([v(s), v(r)], x);
        }
        t.push_count([v(s), Key::Total], xs.iter().sum());
    }
    for (r, x) in [("A", 24), ("B", 65), ("C", 65)] {
        t.push_count([Key::Total, v(r)], x);
    }
    t.push_count([Key::Total, Key::Total], 154);
    let decision = check(&t, &Rules::default(), &[]).expect("checks");
    let hidden: Vec<String> = decision.suppressed().map(|(k, _)| k.to_string()).collect();
    // F/A is small; its row partner is the smallest that makes 4 + x ≥ 10
    // (F/C, 25), its column partner M/A (20), and M/C closes the rectangle.
    assert_eq!(hidden, ["F, A", "F, C", "M, A", "M, C"]);
    assert!(decision.audit().holds());
    let a = &decision.audit().intervals[0];
    assert_eq!(a.key, key(&["F", "A"]));
    assert!(a.upper.is_some_and(|u| u - a.lower >= 1.0));
}

#[test]
fn the_audit_catches_a_cell_pinned_between_two_cycles() {
    // Two 2×2 rectangles of suppressions joined by one suppressed cell:
    // every row and column has two or more, yet the bridge is determined.
    let x = serde_json::json!({"status": "suppressed"});
    let val = |n: u64| serde_json::json!({"status": "value", "persons": n, "sum": null});
    let interior = [
        [1, 1, 1, 0, 50],
        [1, 1, 0, 0, 50],
        [0, 0, 1, 1, 50],
        [0, 0, 1, 1, 50],
    ];
    let mut cells = Vec::new();
    for (r, row) in interior.iter().enumerate() {
        for (c, &s) in row.iter().enumerate() {
            let k = [format!("r{r}"), format!("c{c}")];
            cells.push(serde_json::json!({
                "key": [{"Value": k[0]}, {"Value": k[1]}],
                "value": if s == 1 { x.clone() } else { val(20) },
            }));
        }
        cells.push(serde_json::json!({
            "key": [{"Value": format!("r{r}")}, "Total"],
            "value": val(100),
        }));
    }
    for c in 0..5 {
        cells.push(serde_json::json!({
            "key": ["Total", {"Value": format!("c{c}")}],
            "value": val(80),
        }));
    }
    cells.push(serde_json::json!({"key": ["Total", "Total"], "value": val(400)}));
    let table: ReleasedTable = serde_json::from_value(serde_json::json!({
        "dimensions": ["r", "c"],
        "kind": "General",
        "cells": cells,
    }))
    .expect("a released table");
    let report = audit(&table, &Rules::default());
    assert_eq!(
        report.findings,
        [Finding::CountPinned {
            key: key(&["r0", "c2"])
        }]
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn a_table_that_does_not_add_up_is_refused_naming_the_line() {
    let mut t = CellTable::new(["sex"], DataKind::General);
    t.push_count([v("F")], 30)
        .push_count([v("M")], 40)
        .push_count([Key::Total], 69);
    let err = check(&t, &Rules::default(), &[]).expect_err("not additive");
    assert!(matches!(err, Error::NotAdditive { ref line, what: "persons" } if line == "sex=*"));
    assert_eq!(
        err.to_string(),
        "total `sex=*` does not equal the sum of its line (persons)"
    );
}

#[test]
fn malformed_tables_and_rules_are_refused() {
    let mut t = CellTable::new(["sex", "age"], DataKind::General);
    t.push_count([v("F")], 30);
    assert!(matches!(
        check(&t, &Rules::default(), &[]),
        Err(Error::InvalidKeyLength {
            index: 0,
            expected: 2,
            found: 1
        })
    ));
    let mut t = CellTable::new(["sex"], DataKind::General);
    t.push_count([v("F")], 30).push_count([v("F")], 31);
    assert!(matches!(
        check(&t, &Rules::default(), &[]),
        Err(Error::DuplicateCell { .. })
    ));
    let rules = Rules {
        min_count: 1,
        ..Rules::default()
    };
    assert!(matches!(
        check(&t, &rules, &[]),
        Err(Error::InvalidRules { .. })
    ));
}

// ---------------------------------------------------------------- differencing

/// Persons by number; interior cells by key.
fn members(cells: &[(&[&str], std::ops::Range<u64>)]) -> Membership {
    let mut m = Membership::new();
    for (k, persons) in cells {
        for p in persons.clone() {
            m.add(p, &key(k));
        }
    }
    m.seal().expect("each person in one cell")
}

/// Women are persons `0..f`, men `1000..1000 + m`, minus `without`.
fn cohort(f: u64, m: u64, without: &[u64]) -> CellTable {
    let mut members = Membership::new();
    let (mut women, mut men) = (0, 0);
    for p in (0..f).chain(1000..1000 + m) {
        if without.contains(&p) {
            continue;
        }
        if p < 1000 {
            women += 1;
            members.add(p, &key(&["F"]));
        } else {
            men += 1;
            members.add(p, &key(&["M"]));
        }
    }
    let mut t = CellTable::new(["sex"], DataKind::General);
    t.push_count([v("F")], women)
        .push_count([v("M")], men)
        .push_count([Key::Total], women + men);
    t.with_members(members.seal().expect("one cell each"))
}

fn released_as(id: &str, table: &CellTable) -> EarlierRelease {
    EarlierRelease {
        id: ReleaseId::parse(id).expect("valid id"),
        table: check(table, &Rules::default(), &[])
            .expect("checks")
            .into_released(),
        members: table.members().cloned(),
    }
}

#[test]
fn a_small_difference_from_an_earlier_release_is_suppressed_and_names_it() {
    let rules = Rules::default();
    let first = cohort(120, 200, &[]);
    assert_eq!(
        check(&first, &rules, &[])
            .expect("checks")
            .suppressed()
            .count(),
        0
    );
    let earlier = [released_as("REL-2024-001", &first)];
    // The same cohort without the persons with one condition: 3 women fewer.
    let second = check(&cohort(120, 200, &[1, 2, 3]), &rules, &earlier).expect("checks");
    let (k, reason) = second.suppressed().next().expect("something suppressed");
    assert_eq!(k, &key(&["F"]));
    assert!(matches!(
        reason,
        Reason::Differencing { against, difference: 3, min: 10, .. } if against.as_str() == "REL-2024-001"
    ));
    let why = reason.explain(second.dimensions());
    assert!(why.ja.contains("REL-2024-001") && why.en.contains("REL-2024-001"));
    // 117 cannot be recovered as 317 − 200 either: the total goes too.
    assert!(subtraction_attack(second.released()).is_empty());
    assert_eq!(second.released().cells()[0].value, Published::Suppressed);
    assert!(second.released().cells()[2].value.persons().is_none());
    // A difference of ten or more is no small group.
    let third = check(
        &cohort(120, 200, &(0..10).collect::<Vec<_>>()),
        &rules,
        &earlier,
    )
    .expect("checks");
    assert_eq!(third.suppressed().count(), 0);
}

#[test]
fn differencing_compares_persons_not_names_so_a_renamed_dimension_is_caught() {
    let rules = Rules::default();
    let earlier = [released_as("R1", &cohort(15, 15, &[]))];
    // The same people minus one woman, under other names: "born2" with
    // categories "a" and "b". Compared by names it would be a new table.
    let mut t = CellTable::new(["born2"], DataKind::General);
    t.push_count([v("a")], 14)
        .push_count([v("b")], 15)
        .push_count([Key::Total], 29);
    let t = t.with_members(members(&[(&["a"], 1..15), (&["b"], 1000..1015)]));
    let decision = check(&t, &rules, &earlier).expect("checks");
    let differencing: Vec<String> = decision
        .suppressed()
        .filter(|(_, r)| matches!(r, Reason::Differencing { .. }))
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(
        differencing,
        ["a", "*"],
        "14 of the 15 women, and 29 of the 30"
    );
    assert!(decision.audit().holds());
    // One person swapped for another the reader knows is caught as well.
    let mut swapped = CellTable::new(["x"], DataKind::General);
    swapped.push_count([v("a")], 15);
    let swapped = swapped.with_members(members(&[(&["a"], 1..16)]));
    let decision = check(&swapped, &rules, &earlier).expect("checks");
    assert_eq!(decision.suppressed().count(), 1);
    // Unrelated groups far apart are left alone (a prefecture against all
    // women, all men, everyone): nothing is learnt by subtraction.
    let many = [released_as("R2", &cohort(120, 200, &[]))];
    let mut far = CellTable::new(["pref"], DataKind::General);
    far.push_count([v("13")], 12);
    let far = far.with_members(members(&[(&["13"], 0..6), (&["13"], 1000..1006)]));
    assert_eq!(
        check(&far, &rules, &many)
            .expect("checks")
            .suppressed()
            .count(),
        0
    );
}

#[test]
fn differencing_matches_a_margin_of_a_table_with_more_dimensions() {
    let rules = Rules::default();
    let earlier = [released_as("R1", &cohort(120, 200, &[]))];
    // sex × age, whose sex margin (age=*) is 125 women: five more.
    let mut t = CellTable::new(["sex", "age"], DataKind::General);
    for (s, a, b) in [("F", 60, 65), ("M", 100, 100)] {
        t.push_count([v(s), v("young")], a)
            .push_count([v(s), v("old")], b)
            .push_count([v(s), Key::Total], a + b);
    }
    t.push_count([Key::Total, v("young")], 160)
        .push_count([Key::Total, v("old")], 165)
        .push_count([Key::Total, Key::Total], 325);
    let t = t.with_members(members(&[
        (&["F", "young"], 0..60),
        (&["F", "old"], 60..125),
        (&["M", "young"], 1000..1100),
        (&["M", "old"], 1100..1200),
    ]));
    let decision = check(&t, &rules, &earlier).expect("checks");
    let differencing: Vec<String> = decision
        .suppressed()
        .filter(|(_, r)| matches!(r, Reason::Differencing { .. }))
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(differencing, ["F, *", "*, *"]);
    assert!(decision.audit().holds());
    assert!(subtraction_attack(decision.released()).is_empty());
}

#[test]
fn a_table_without_its_persons_cannot_be_compared_with_earlier_releases() {
    let earlier = [released_as("R1", &cohort(120, 200, &[]))];
    let mut bare = CellTable::new(["sex"], DataKind::General);
    bare.push_count([v("F")], 117);
    assert!(matches!(
        check(&bare, &Rules::default(), &earlier),
        Err(Error::NoMembership)
    ));
}

// ---------------------------------------------------------------- budget

#[test]
fn a_check_stops_when_its_budget_runs_out_or_its_requester_goes() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let table = random_table(&mut rng, DataKind::General);
    let rules = Rules::default();
    // No time at all: refused, not run to the end.
    let none = Budget::new(std::time::Duration::ZERO, 10_000);
    assert!(matches!(
        check_within(&table, &rules, &[], &none),
        Err(Error::OverBudget { .. })
    ));
    // Cancelled by the requester.
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let cancelled = Budget::new(std::time::Duration::from_secs(60), 10_000).cancelled_by(flag);
    assert!(matches!(
        check_within(&table, &rules, &[], &cancelled),
        Err(Error::Cancelled)
    ));
    // Too many dense cells: refused before any work.
    let small = Budget::new(std::time::Duration::from_secs(60), 1);
    assert!(matches!(
        check_within(&table, &rules, &[], &small),
        Err(Error::TooLarge { max: 1, .. })
    ));
    // Enough: the same answer as without a budget.
    let enough = Budget::new(std::time::Duration::from_secs(60), 10_000);
    assert_eq!(
        check_within(&table, &rules, &[], &enough).expect("checks"),
        check(&table, &rules, &[]).expect("checks")
    );
}

// ---------------------------------------------------------------- DP

#[test]
fn discrete_laplace_noise_has_its_distribution() {
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    // Scale 2 (t/s = 2/1): P(0) = (1 − e^{−1/2}) / (1 + e^{−1/2}),
    // variance 2e^{−1/2} / (1 − e^{−1/2})².
    let n = 50_000;
    let samples: Vec<i64> = (0..n)
        .map(|_| dp::discrete_laplace(&mut rng, 2, 1))
        .collect();
    let q = (-0.5f64).exp();
    let p0 = (1.0 - q) / (1.0 + q);
    let var = 2.0 * q / (1.0 - q).powi(2);
    let mean = samples.iter().sum::<i64>() as f64 / n as f64;
    let freq0 = samples.iter().filter(|&&x| x == 0).count() as f64 / n as f64;
    let sample_var = samples
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    assert!(mean.abs() < 5.0 * (var / n as f64).sqrt(), "mean {mean}");
    assert!(
        (freq0 - p0).abs() < 5.0 * (p0 * (1.0 - p0) / n as f64).sqrt(),
        "P(0) {freq0} vs {p0}"
    );
    assert!(
        (sample_var / var - 1.0).abs() < 0.05,
        "variance {sample_var} vs {var}"
    );
    // Symmetric, and P(y) / P(y+1) = e^{1/2}.
    let count = |y: i64| samples.iter().filter(|&&x| x == y).count() as f64;
    assert!((count(1) / count(-1) - 1.0).abs() < 0.1);
    assert!(((count(1) + count(-1)) / (count(2) + count(-2)) / q.recip() - 1.0).abs() < 0.1);
}

#[test]
fn the_accountant_refuses_a_release_beyond_the_budget() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let eps = |s: &str| Epsilon::parse(s).expect("valid ε");
    let mut accountant = Accountant::new(eps("1"));
    dp::noisy_count(&mut rng, &mut accountant, 100, eps("0.4")).expect("within budget");
    dp::noisy_count(&mut rng, &mut accountant, 100, eps("0.4")).expect("within budget");
    assert_eq!(accountant.remaining(), eps("0.2"));
    let err = dp::noisy_count(&mut rng, &mut accountant, 100, eps("0.4")).expect_err("over budget");
    assert!(matches!(err, Error::BudgetExceeded { requested, remaining }
        if requested == eps("0.4") && remaining == eps("0.2")));
    assert_eq!(
        err.to_string(),
        "release needs ε = 0.4 but the permit's budget has only ε = 0.2 left"
    );
    // Nothing was spent by the refusal; the rest can still be spent exactly.
    assert_eq!(accountant.spent(), eps("0.8"));
    dp::noisy_count(&mut rng, &mut accountant, 100, eps("0.2")).expect("exactly the rest");
    assert!(accountant.remaining().is_zero());
    assert!(matches!(
        accountant.charge(eps("0.000001")),
        Err(Error::BudgetExceeded { .. })
    ));
    assert!(matches!(
        Accountant::resume(eps("1"), eps("1.5")),
        Err(Error::InvalidPrivacyParameter { .. })
    ));
}

#[test]
fn a_noisy_sum_clamps_each_contribution() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut accountant = Accountant::new(Epsilon::parse("10000").expect("valid ε"));
    let bounds = SumBounds {
        lower: 0.0,
        upper: 100.0,
        step: 1.0,
    };
    // 1e9 is clamped to 100: the sum is about 105, with scale 100/1000.
    let sum = dp::noisy_sum(
        &mut rng,
        &mut accountant,
        [5.0, 1e9],
        bounds,
        Epsilon::parse("1000").expect("valid ε"),
    )
    .expect("within budget");
    assert!((sum.value - 105.0).abs() <= 3.0, "{}", sum.value);
    assert!((sum.scale - 0.1).abs() < 1e-12);
    assert!(matches!(
        dp::noisy_sum(
            &mut rng,
            &mut accountant,
            [f64::NAN],
            bounds,
            Epsilon::parse("1").expect("valid ε")
        ),
        Err(Error::InvalidPrivacyParameter { .. })
    ));
    // The refused NaN cost nothing.
    assert_eq!(accountant.spent(), Epsilon::parse("1000").expect("valid ε"));
}

#[test]
fn a_noisy_table_adds_up_and_costs_one_epsilon() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let table = random_table(&mut rng, DataKind::General);
    let mut accountant = Accountant::new(Epsilon::parse("1").expect("valid ε"));
    let eps = Epsilon::parse("0.5").expect("valid ε");
    let noisy = dp::noisy_table(&mut rng, &mut accountant, &table, eps).expect("within budget");
    assert_eq!(accountant.spent(), eps);
    for (total, parts) in equations(&noisy) {
        let t = noisy.cells()[total].value.persons().expect("all released");
        let s: u64 = parts
            .iter()
            .map(|&p| noisy.cells()[p].value.persons().expect("all released"))
            .sum();
        assert_eq!(t, s, "margin {}", noisy.cells()[total].key);
    }
    // Noise was added: with scale 2 over many cells, not all are exact.
    let truth = persons_of(&table);
    let exact = noisy
        .cells()
        .iter()
        .filter(|c| truth.get(&c.key) == c.value.persons().as_ref())
        .count();
    assert!(exact < noisy.cells().len());
}
