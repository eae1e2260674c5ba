//! The anonymization engine against a brute force over every lattice node
//! (its answer must be the optimum of the Loss metric, for every model),
//! against the independent verifier, and on FEBRL3
//! (../shared/testdata/febrl3) as a user's real-shaped file.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use renkei_deid::anonymize::{
    Config, Error, GroundDistance, Hierarchy, LDiversity, LKind, TCloseness, Table, anonymize,
    anonymize_against, loss, verify,
};

/// A deterministic pseudo-random stream (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A small table: age, sex, municipality, diagnosis, and two sensitive
/// columns (a category and a number), skewed so that models bite.
fn sample(rows: usize, seed: u64) -> Table {
    let mut rng = Rng(seed);
    let munis = ["131016", "131024", "271004", "271276", "011002", "401005"];
    let dx = ["E11.9", "E11.2", "I10", "I21.0", "J45.0", "C34.1", "K21.0"];
    let outcomes = [
        "recovered",
        "recovered",
        "recovered",
        "chronic",
        "died",
        "transferred",
    ];
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); 6];
    for _ in 0..rows {
        let age = 20 + rng.below(60) + rng.below(20);
        cols[0].push(age.to_string());
        cols[1].push(if rng.below(2) == 0 { "F" } else { "M" }.to_owned());
        cols[2].push(munis[(rng.below(6) * rng.below(6) / 5) as usize].to_owned());
        cols[3].push(dx[rng.below(7) as usize].to_owned());
        cols[4].push(outcomes[rng.below(6) as usize].to_owned());
        cols[5].push((rng.below(40) + age / 4).to_string());
    }
    let names = ["age", "sex", "municipality", "dx", "outcome", "los"];
    Table::from_columns(names.into_iter().zip(cols)).expect("table")
}

fn hierarchies(t: &Table, quasi: &[&str]) -> HashMap<String, Hierarchy> {
    quasi
        .iter()
        .map(|&q| {
            let values = t.column(q).expect("column");
            let h = Hierarchy::auto(q, values.iter()).expect("hierarchy");
            (q.to_owned(), h)
        })
        .collect()
}

/// Does a class (its sensitive values) pass the models? Written from the
/// definitions, apart from the engine.
fn class_passes(config: &Config, values: &[&str], overall: &BTreeMap<String, u64>) -> bool {
    if values.len() < config.k {
        return false;
    }
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let n = values.len() as f64;
    if let Some(l) = config.l {
        let ok = match l.kind {
            LKind::Distinct => counts.len() >= l.l as usize,
            LKind::Entropy => {
                let h: f64 = counts
                    .values()
                    .map(|&c| -(c as f64 / n) * (c as f64 / n).ln())
                    .sum();
                h >= f64::from(l.l).ln() - 1e-9
            }
        };
        if !ok {
            return false;
        }
    }
    if let Some(t) = config.t {
        let total: u64 = overall.values().sum();
        let mut keys: Vec<&String> = overall.keys().collect();
        if t.distance == GroundDistance::Ordered {
            keys.sort_by(|a, b| {
                a.parse::<f64>()
                    .expect("numeric")
                    .total_cmp(&b.parse::<f64>().expect("numeric"))
            });
        }
        let diffs: Vec<f64> = keys
            .iter()
            .map(|k| {
                counts.get(k.as_str()).copied().unwrap_or(0) as f64 / n
                    - overall[*k] as f64 / total as f64
            })
            .collect();
        let emd = match t.distance {
            GroundDistance::Equal => diffs.iter().map(|d| d.abs()).sum::<f64>() / 2.0,
            GroundDistance::Ordered => {
                let mut acc = 0.0;
                let mut s = 0.0;
                for d in &diffs {
                    acc += d;
                    s += f64::abs(acc);
                }
                s / (diffs.len() - 1) as f64
            }
        };
        if emd > t.t + 1e-9 {
            return false;
        }
    }
    true
}

/// The least Loss over every node of the lattice, by generalizing strings
/// and grouping them in a BTreeMap.
fn brute_force(t: &Table, config: &Config) -> Option<f64> {
    let heights: Vec<usize> = config
        .quasi
        .iter()
        .map(|q| config.hierarchies[q].height())
        .collect();
    let sens = config.sensitive.as_deref().expect("sensitive");
    let overall = verify::distribution(t, sens).expect("sensitive column");
    let budget = verify::suppression_budget(config.max_suppression, t.rows());
    let nodes: usize = heights.iter().product();
    let mut best: Option<f64> = None;
    for id in 0..nodes {
        let mut rest = id;
        let levels: Vec<usize> = heights
            .iter()
            .map(|h| {
                let l = rest % h;
                rest /= h;
                l
            })
            .collect();
        let generalized: Vec<Vec<&str>> = (0..t.rows())
            .map(|r| {
                config
                    .quasi
                    .iter()
                    .zip(&levels)
                    .map(|(q, &l)| {
                        config.hierarchies[q]
                            .generalize(t.column(q).expect("q").get(r), l)
                            .expect("in hierarchy")
                    })
                    .collect()
            })
            .collect();
        let mut classes: BTreeMap<&[&str], Vec<&str>> = BTreeMap::new();
        for (r, key) in generalized.iter().enumerate() {
            classes
                .entry(key.as_slice())
                .or_default()
                .push(t.column(sens).expect("s").get(r));
        }
        let failing: std::collections::BTreeSet<&[&str]> = classes
            .iter()
            .filter(|(_, v)| !class_passes(config, v, &overall))
            .map(|(k, _)| *k)
            .collect();
        let kept: Vec<usize> = (0..t.rows())
            .filter(|&r| !failing.contains(generalized[r].as_slice()))
            .collect();
        if t.rows() - kept.len() > budget {
            continue;
        }
        let out = Table::from_columns(config.quasi.iter().enumerate().map(|(i, q)| {
            (
                q.clone(),
                kept.iter().map(|&r| generalized[r][i]).collect::<Vec<_>>(),
            )
        }))
        .expect("output");
        let l = loss::measure(t, &out, &config.quasi, &config.hierarchies)
            .expect("measurable")
            .loss;
        if best.is_none_or(|b| l < b) {
            best = Some(l);
        }
    }
    best
}

fn configs() -> Vec<(&'static str, Config)> {
    let quasi = ["age", "sex", "municipality", "dx"];
    let base = |k: usize, supp: f64, sensitive: &str| {
        let mut c = Config::new(quasi, k);
        c.max_suppression = supp;
        c.sensitive = Some(sensitive.to_owned());
        c
    };
    let mut out = vec![
        ("k=3", base(3, 0.0, "outcome")),
        ("k=5, 4% suppressed", base(5, 0.04, "outcome")),
    ];
    let mut c = base(3, 0.03, "outcome");
    c.l = Some(LDiversity {
        l: 3,
        kind: LKind::Distinct,
    });
    out.push(("k=3, distinct l=3", c));
    let mut c = base(2, 0.05, "outcome");
    c.l = Some(LDiversity {
        l: 2,
        kind: LKind::Entropy,
    });
    out.push(("k=2, entropy l=2", c));
    let mut c = base(2, 0.05, "outcome");
    c.t = Some(TCloseness {
        t: 0.3,
        distance: GroundDistance::Equal,
    });
    out.push(("k=2, t=0.3 equal", c));
    let mut c = base(3, 0.02, "los");
    c.t = Some(TCloseness {
        t: 0.25,
        distance: GroundDistance::Ordered,
    });
    out.push(("k=3, t=0.25 ordered", c));
    out
}

#[test]
fn the_search_finds_the_brute_force_optimum_for_every_model() {
    let t = sample(400, 7);
    for (name, mut config) in configs() {
        let quasi: Vec<&str> = config.quasi.iter().map(String::as_str).collect();
        config.hierarchies = hierarchies(&t, &quasi);
        let expected = brute_force(&t, &config).expect("the top node is anonymous");
        let out = anonymize(&t, &config).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = out.report.information_loss;
        assert!(
            (got - expected).abs() < 1e-9,
            "{name}: engine loss {got}, brute-force optimum {expected}"
        );
        // The loss the engine reports is the loss of the table it returns.
        let measured =
            loss::measure(&t, &out.table, &config.quasi, &config.hierarchies).expect("measurable");
        assert!(
            (measured.loss - got).abs() < 1e-9,
            "{name}: {} vs {got}",
            measured.loss
        );
        assert_eq!(measured.suppressed, out.suppressed, "{name}");
        assert!(out.suppressed <= out.report.suppression_budget, "{name}");
        assert!(
            out.report.search.checked < out.report.search.nodes,
            "{name}: nothing pruned"
        );
    }
}

#[test]
fn every_output_passes_the_independent_check() {
    let t = sample(600, 11);
    for (name, mut config) in configs() {
        let quasi: Vec<&str> = config.quasi.iter().map(String::as_str).collect();
        config.hierarchies = hierarchies(&t, &quasi);
        let out = anonymize(&t, &config).unwrap_or_else(|e| panic!("{name}: {e}"));
        let sens = config.sensitive.as_deref().expect("sensitive");
        let dist = verify::distribution(&t, sens).expect("sensitive");
        let v = verify::verify(
            &out.table,
            &verify::Requirements {
                quasi: &config.quasi,
                sensitive: Some(sens),
                k: config.k,
                l: config.l,
                t: config.t,
                input_rows: t.rows(),
                max_suppression: config.max_suppression,
                input_sensitive: Some(&dist),
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(v.k >= config.k, "{name}");
        assert_eq!(v, out.report.verified, "{name}");
        // The report's figures agree with the table.
        assert_eq!(out.report.classes, v.classes, "{name}");
        assert!(
            (out.report.risk.prosecutor.highest - 1.0 / v.k as f64).abs() < 1e-12,
            "{name}"
        );
        assert!(
            (out.report.risk.marketer - v.classes as f64 / out.table.rows() as f64).abs() < 1e-12,
            "{name}"
        );
    }
}

#[test]
fn a_model_that_cannot_hold_is_an_error_not_an_output() {
    let t = Table::from_columns([
        ("age", vec!["30", "31", "32", "33"]),
        ("dx", vec!["I10", "I10", "I10", "I10"]),
    ])
    .expect("table");
    let mut config = Config::new(["age"], 2);
    config.sensitive = Some("dx".into());
    config.l = Some(LDiversity {
        l: 2,
        kind: LKind::Distinct,
    });
    config.hierarchies = hierarchies(&t, &["age"]);
    let err = anonymize(&t, &config).expect_err("one diagnosis cannot be 2-diverse");
    assert!(
        matches!(err, Error::NoSolution { budget: 0, rows: 4, ref models } if models == "k=2, distinct l=2"),
        "{err:?}"
    );
}

#[test]
fn a_value_missing_from_its_hierarchy_is_located() {
    let t = Table::from_columns([("sex", vec!["F", "M", "X"])]).expect("table");
    let mut config = Config::new(["sex"], 1);
    config.hierarchies = HashMap::from([(
        "sex".to_owned(),
        Hierarchy::from_arx_reader("F;*\nM;*\n".as_bytes(), "sex.csv").expect("hierarchy"),
    )]);
    let err = anonymize(&t, &config).expect_err("X is not in the hierarchy");
    assert!(
        matches!(err, Error::NotInHierarchy { ref column, row: 3, ref value } if column == "sex" && value == "X"),
        "{err:?}"
    );
    config.quasi = vec!["gender".into()];
    let err = anonymize(&t, &config).expect_err("no such column");
    assert_eq!(
        err.to_string(),
        "unknown column \"gender\" (the columns are sex)"
    );
}

#[test]
fn identifiers_are_removed_and_other_columns_kept() {
    let t = sample(200, 3);
    let ids: Vec<String> = (0..200).map(|i| format!("P{i:04}")).collect();
    let mut cols: Vec<(String, Vec<String>)> = t
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.iter().map(str::to_owned).collect()))
        .collect();
    cols.push(("patient_id".into(), ids));
    let t = Table::from_columns(cols).expect("table");
    let mut config = Config::new(["age", "sex"], 4);
    config.identifiers = vec!["patient_id".into()];
    config.hierarchies = hierarchies(&t, &["age", "sex"]);
    let out = anonymize(&t, &config).expect("anonymizes");
    let names: Vec<&str> = out.table.names().collect();
    assert_eq!(
        names,
        ["age", "sex", "municipality", "dx", "outcome", "los"]
    );
    assert_eq!(out.table.rows(), 200 - out.suppressed);
}

fn febrl3() -> Table {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/febrl3/records.csv");
    assert!(
        path.is_file(),
        "FEBRL3 test data is missing at {} (see ../shared/testdata/febrl3/SOURCE.md)",
        path.display()
    );
    Table::from_csv_path(&path).expect("FEBRL3 reads")
}

#[test]
fn febrl3_is_anonymized_with_automatic_hierarchies() {
    let raw = febrl3();
    assert_eq!(raw.rows(), 5000);
    // Birth dates are YYYYMMDD there; an extract builder would hand them
    // over as ISO dates, and so does this test (blank or invalid stays blank).
    let dob: Vec<String> = raw
        .column("date_of_birth")
        .expect("date_of_birth")
        .iter()
        .map(|d| {
            let ok = d.len() == 8
                && d.bytes().all(|b| b.is_ascii_digit())
                && (1..=12).contains(&d[4..6].parse::<u8>().unwrap_or(0))
                && (1..=31).contains(&d[6..8].parse::<u8>().unwrap_or(0));
            if ok {
                format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..])
            } else {
                String::new()
            }
        })
        .collect();
    let keep = ["postcode", "state", "surname"];
    let mut cols: Vec<(String, Vec<String>)> = keep
        .iter()
        .map(|&c| {
            let col = raw.column(c).expect("column");
            (c.to_owned(), col.iter().map(str::to_owned).collect())
        })
        .collect();
    cols.push(("birth_date".into(), dob));
    let t = Table::from_columns(cols).expect("table");
    let quasi = ["postcode", "state", "birth_date"];
    let mut config = Config::new(quasi, 5);
    config.sensitive = Some("surname".into());
    config.l = Some(LDiversity {
        l: 3,
        kind: LKind::Distinct,
    });
    config.max_suppression = 0.05;
    config.hierarchies = hierarchies(&t, &quasi);
    assert_eq!(config.hierarchies["postcode"].level_name(1), "first 3");
    assert_eq!(config.hierarchies["birth_date"].level_name(2), "year");

    let out = anonymize_against(&t, &config, &t).expect("anonymizes");
    let r = &out.report;
    assert!(r.verified.k >= 5 && r.verified.l_distinct.expect("sensitive") >= 3);
    assert!(r.suppressed <= 250);
    assert!(
        r.information_loss > 0.0 && r.information_loss < 1.0,
        "{}",
        r.information_loss
    );
    // The population is the data itself: every kept class is as large
    // there as in the output, or larger (it also holds suppressed records).
    assert!(r.risk.journalist.highest <= r.risk.prosecutor.highest);
    assert_eq!(r.risk.population_records, Some(5000));
    // A coarser birth date than the original is needed for k=5 over 5,000.
    let dob = r
        .generalization
        .iter()
        .find(|g| g.column == "birth_date")
        .expect("dob");
    assert!(dob.level >= 1, "{dob:?}");
}

#[test]
fn a_larger_k_never_lowers_the_loss() {
    let t = sample(500, 5);
    let mut last = 0.0;
    for k in [1, 2, 5, 10, 25] {
        let mut config = Config::new(["age", "sex", "municipality", "dx"], k);
        config.max_suppression = 0.02;
        config.hierarchies = hierarchies(&t, &["age", "sex", "municipality", "dx"]);
        let out = anonymize(&t, &config).expect("anonymizes");
        assert!(out.report.information_loss >= last - 1e-12, "k={k}");
        last = out.report.information_loss;
        if k == 1 {
            assert_eq!(out.report.information_loss, 0.0, "k=1 needs nothing");
        }
    }
    assert!(last > 0.0);
}
