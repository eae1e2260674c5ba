//! Independent verification of an anonymized table: "k, l and t are checked
//! on every output by code independent of the code that produced it".
//!
//! Nothing here shares code with the engine's encoding, grouping or model
//! checks: classes are rebuilt from the output table's columns (each value
//! by its code in that column's own dictionary) with a `BTreeMap`,
//! and k, distinct and entropy l, and t (both ground distances, from the
//! definitions, O(m) per class) are recomputed from them. The only inputs
//! are the output table, the column names, the requirements and, for t, the
//! sensitive column's distribution in the input. [`super::anonymize`] runs
//! it on every output and refuses to return one that fails.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use super::model::{GroundDistance, LDiversity, LKind, TCloseness};
use super::table::Table;

/// What an output must satisfy.
#[derive(Debug, Clone)]
pub struct Requirements<'a> {
    /// The quasi-identifiers.
    pub quasi: &'a [String],
    /// The sensitive column (needed for l and t).
    pub sensitive: Option<&'a str>,
    /// Every class at least this large.
    pub k: usize,
    /// l-diversity, if required.
    pub l: Option<LDiversity>,
    /// t-closeness, if required.
    pub t: Option<TCloseness>,
    /// Records of the input.
    pub input_rows: usize,
    /// Share of input records that may be missing from the output.
    pub max_suppression: f64,
    /// The sensitive column's values in the input and their counts (for t).
    pub input_sensitive: Option<&'a BTreeMap<String, u64>>,
}

/// What was measured on a verified output.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verified {
    /// Equivalence classes.
    pub classes: usize,
    /// The smallest class (the k the output has).
    pub k: usize,
    /// The fewest distinct sensitive values in a class.
    pub l_distinct: Option<usize>,
    /// The smallest `exp(entropy)` of a class (the entropy l it has).
    pub l_entropy: Option<f64>,
    /// The largest EMD of a class, with the required ground distance.
    pub t: Option<f64>,
    /// Input records missing from the output.
    pub suppressed: usize,
}

/// Why an output fails.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Violation {
    /// A column is missing from the output.
    #[error("the output has no column {0:?}")]
    MissingColumn(String),
    /// l or t was required without a sensitive column or its distribution.
    #[error("l-diversity and t-closeness need the sensitive column and its input distribution")]
    NoSensitive,
    /// More records than the input.
    #[error("the output has {output} records, the input {input}")]
    TooManyRows {
        /// Output records.
        output: usize,
        /// Input records.
        input: usize,
    },
    /// Too many records suppressed.
    #[error("{suppressed} records suppressed, more than the {budget} allowed")]
    Suppression {
        /// Records missing.
        suppressed: usize,
        /// Records that may be missing.
        budget: usize,
    },
    /// A class is smaller than k.
    #[error("class {class} has {size} records, fewer than k = {k}")]
    K {
        /// The class's index in sorted order.
        class: usize,
        /// Its size.
        size: usize,
        /// The k required.
        k: usize,
    },
    /// A class has too few distinct sensitive values.
    #[error("class {class} has {distinct} distinct sensitive values, fewer than l = {l}")]
    LDistinct {
        /// The class's index in sorted order.
        class: usize,
        /// Distinct values.
        distinct: usize,
        /// The l required.
        l: u32,
    },
    /// A class's sensitive entropy is below ln l.
    #[error("class {class} has entropy l {entropy_l:.4}, less than l = {l}")]
    LEntropy {
        /// The class's index in sorted order.
        class: usize,
        /// exp(entropy).
        entropy_l: f64,
        /// The l required.
        l: u32,
    },
    /// A class is further than t from the input's distribution.
    #[error("class {class} is at distance {distance:.6} from the input, more than t = {t}")]
    T {
        /// The class's index in sorted order.
        class: usize,
        /// Its EMD.
        distance: f64,
        /// The t required.
        t: f64,
    },
}

/// Floating-point slack, as loose as the engine's or looser.
const SLACK: f64 = 1e-7;

/// Records that may be suppressed: ⌊share × records⌋.
pub fn suppression_budget(max_suppression: f64, rows: usize) -> usize {
    (max_suppression * rows as f64 + 1e-9).floor() as usize
}

/// Checks an anonymized table against its requirements.
pub fn verify(output: &Table, req: &Requirements<'_>) -> Result<Verified, Violation> {
    let column = |name: &str| {
        output
            .column(name)
            .ok_or_else(|| Violation::MissingColumn(name.to_owned()))
    };
    let quasi = req
        .quasi
        .iter()
        .map(|q| column(q))
        .collect::<Result<Vec<_>, _>>()?;
    let sensitive = req.sensitive.map(column).transpose()?;
    if (req.l.is_some() || req.t.is_some()) && sensitive.is_none() {
        return Err(Violation::NoSensitive);
    }
    if output.rows() > req.input_rows {
        return Err(Violation::TooManyRows {
            output: output.rows(),
            input: req.input_rows,
        });
    }
    let suppressed = req.input_rows - output.rows();
    let budget = suppression_budget(req.max_suppression, req.input_rows);
    if suppressed > budget {
        return Err(Violation::Suppression { suppressed, budget });
    }

    // Classes keyed by the output's own dictionary codes (one code per
    // distinct string of a column): counted in a HashMap (one lookup per
    // record), then ordered in a BTreeMap so that class numbers in a
    // violation are stable.
    let mut counted: HashMap<Vec<u32>, Vec<(u32, u64)>> = HashMap::new();
    let mut key: Vec<u32> = Vec::with_capacity(quasi.len());
    for row in 0..output.rows() {
        key.clear();
        key.extend(quasi.iter().map(|c| c.codes()[row]));
        let s = sensitive.map_or(0, |c| c.codes()[row]);
        // Allocate a key only for a new class.
        let values = match counted.get_mut(key.as_slice()) {
            Some(v) => v,
            None => counted.entry(key.clone()).or_default(),
        };
        match values.iter_mut().find(|(v, _)| *v == s) {
            Some((_, c)) => *c += 1,
            None => values.push((s, 1)),
        }
    }
    let text = |code: u32| sensitive.map_or("", |c| c.dictionary()[code as usize].as_str());
    let classes: BTreeMap<Vec<u32>, BTreeMap<&str, u64>> = counted
        .into_iter()
        .map(|(k, values)| (k, values.into_iter().map(|(v, c)| (text(v), c)).collect()))
        .collect();

    // The input distribution, in the ground distance's order.
    let overall: Vec<(&str, f64)> = match (req.t, req.input_sensitive) {
        (Some(t), Some(dist)) => {
            let total: u64 = dist.values().sum();
            let mut v: Vec<(&str, f64)> = dist
                .iter()
                .map(|(k, &c)| (k.as_str(), c as f64 / total.max(1) as f64))
                .collect();
            if t.distance == GroundDistance::Ordered {
                v.sort_by(|a, b| numeric_first(a.0, b.0));
            }
            v
        }
        (Some(_), None) => return Err(Violation::NoSensitive),
        _ => Vec::new(),
    };

    let mut verified = Verified {
        classes: classes.len(),
        k: usize::MAX,
        suppressed,
        ..Verified::default()
    };
    for (index, values) in classes.values().enumerate() {
        let size: u64 = values.values().sum();
        verified.k = verified.k.min(size as usize);
        if (size as usize) < req.k {
            return Err(Violation::K {
                class: index,
                size: size as usize,
                k: req.k,
            });
        }
        if sensitive.is_none() {
            continue;
        }
        let distinct = values.len();
        verified.l_distinct = Some(verified.l_distinct.map_or(distinct, |d| d.min(distinct)));
        let entropy: f64 = values
            .values()
            .map(|&c| {
                let p = c as f64 / size as f64;
                -p * p.ln()
            })
            .sum();
        let entropy_l = entropy.exp();
        verified.l_entropy = Some(verified.l_entropy.map_or(entropy_l, |e| e.min(entropy_l)));
        if let Some(l) = req.l {
            match l.kind {
                LKind::Distinct if distinct < l.l as usize => {
                    return Err(Violation::LDistinct {
                        class: index,
                        distinct,
                        l: l.l,
                    });
                }
                LKind::Entropy if entropy < f64::from(l.l).ln() - SLACK => {
                    return Err(Violation::LEntropy {
                        class: index,
                        entropy_l,
                        l: l.l,
                    });
                }
                _ => {}
            }
        }
        if let Some(t) = req.t {
            let p: Vec<f64> = overall
                .iter()
                .map(|(v, _)| values.get(v).map_or(0.0, |&c| c as f64 / size as f64))
                .collect();
            let distance = match t.distance {
                GroundDistance::Equal => {
                    0.5 * p
                        .iter()
                        .zip(&overall)
                        .map(|(p, (_, q))| (p - q).abs())
                        .sum::<f64>()
                }
                GroundDistance::Ordered if overall.len() > 1 => {
                    let mut running = 0.0;
                    let mut sum = 0.0;
                    for (p, (_, q)) in p.iter().zip(&overall) {
                        running += p - q;
                        sum += running.abs();
                    }
                    sum / (overall.len() - 1) as f64
                }
                GroundDistance::Ordered => 0.0,
            };
            verified.t = Some(verified.t.map_or(distance, |d| d.max(distance)));
            if distance > t.t + SLACK {
                return Err(Violation::T {
                    class: index,
                    distance,
                    t: t.t,
                });
            }
        }
    }
    if verified.k == usize::MAX {
        verified.k = 0;
    }
    Ok(verified)
}

/// Numbers before text, numbers by value, then by characters.
fn numeric_first(a: &str, b: &str) -> Ordering {
    let x = a.trim().parse::<f64>().ok();
    let y = b.trim().parse::<f64>().ok();
    match (x, y) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal).then(a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// The sensitive column's values and counts, for [`Requirements::input_sensitive`].
pub fn distribution(table: &Table, column: &str) -> Option<BTreeMap<String, u64>> {
    let c = table.column(column)?;
    let mut out = BTreeMap::new();
    for v in c.iter() {
        *out.entry(v.to_owned()).or_default() += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[[&str; 2]]) -> Table {
        Table::from_columns([
            ("q", rows.iter().map(|r| r[0]).collect::<Vec<_>>()),
            ("s", rows.iter().map(|r| r[1]).collect::<Vec<_>>()),
        ])
        .expect("table")
    }

    #[test]
    fn each_model_is_caught() {
        let quasi = vec!["q".to_owned()];
        let t = table(&[["a", "x"], ["a", "x"], ["b", "x"], ["b", "y"]]);
        let input = distribution(&t, "s").expect("s");
        let mut req = Requirements {
            quasi: &quasi,
            sensitive: Some("s"),
            k: 2,
            l: None,
            t: None,
            input_rows: 4,
            max_suppression: 0.0,
            input_sensitive: Some(&input),
        };
        let v = verify(&t, &req).expect("2-anonymous");
        assert_eq!((v.k, v.classes, v.l_distinct), (2, 2, Some(1)));
        req.k = 3;
        assert!(matches!(
            verify(&t, &req),
            Err(Violation::K { size: 2, .. })
        ));
        req.k = 2;
        req.l = Some(LDiversity {
            l: 2,
            kind: LKind::Distinct,
        });
        assert!(matches!(
            verify(&t, &req),
            Err(Violation::LDistinct { class: 0, .. })
        ));
        req.l = None;
        // Class "a" is all x against 3/4 x overall: EMD 0.25.
        req.t = Some(TCloseness {
            t: 0.2,
            distance: GroundDistance::Equal,
        });
        assert!(
            matches!(verify(&t, &req), Err(Violation::T { distance, .. }) if (distance - 0.25).abs() < 1e-12)
        );
        req.t = Some(TCloseness {
            t: 0.25,
            distance: GroundDistance::Equal,
        });
        assert!(verify(&t, &req).is_ok());
        req.input_rows = 5;
        assert!(matches!(
            verify(&t, &req),
            Err(Violation::Suppression {
                suppressed: 1,
                budget: 0
            })
        ));
    }
}
