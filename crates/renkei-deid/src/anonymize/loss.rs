//! Information loss: ARX's *Loss* metric (generalization intensity; Iyengar's
//! LM, KDD 2002), the one the search minimizes.
//!
//! A cell generalized to a value that covers `g` of the column's `D`
//! distinct original values (those present in the input) loses
//! `(g − 1) / (D − 1)`: 0 for the original, 1 for `*`. A suppressed record
//! loses 1 in every quasi-identifier. The table's loss is the mean over all
//! input records and quasi-identifiers, in [0, 1].
//!
//! Why this metric: it is normalized (comparable across columns and
//! datasets), needs nothing but the hierarchy, charges suppression and
//! generalization in one currency, and its generalization part is monotone
//! over the lattice, which gives the search its bound. [`measure`]
//! recomputes it from any output table and the input, so that a peer's
//! output is scored by the same code as renkei's.

use std::collections::{HashMap, HashSet};

use super::error::{Error, Result};
use super::hierarchy::Hierarchy;
use super::table::Table;

/// Loss of an output, measured from the tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The Loss metric, in [0, 1].
    pub loss: f64,
    /// Input records missing from the output.
    pub suppressed: usize,
    /// Loss per quasi-identifier (suppressed records count 1), in order.
    pub per_column: Vec<(String, f64)>,
}

/// Measures the Loss of `output` (the anonymized records, suppressed ones
/// left out) against `input`, for the quasi-identifiers and their
/// hierarchies. An output value must be a value of its hierarchy at some
/// level for an original present in the input.
pub fn measure(
    input: &Table,
    output: &Table,
    quasi: &[String],
    hierarchies: &HashMap<String, Hierarchy>,
) -> Result<Measured> {
    if output.rows() > input.rows() {
        return Err(Error::InvalidTable {
            source_name: "the output".into(),
            message: format!(
                "has {} records, more than the input's {}",
                output.rows(),
                input.rows()
            ),
        });
    }
    let suppressed = input.rows() - output.rows();
    let mut per_column = Vec::with_capacity(quasi.len());
    for name in quasi {
        let h = hierarchies.get(name).ok_or_else(|| Error::NoHierarchy {
            column: name.clone(),
        })?;
        let original = &input.columns()[input.column_index(name)?];
        let mut present = vec![false; original.dictionary().len()];
        for &c in original.codes() {
            present[c as usize] = true;
        }
        // For every generalized text, how many present originals it covers.
        let mut covers: HashMap<&str, u64> = HashMap::new();
        let mut distinct = 0u64;
        for (code, value) in original.dictionary().iter().enumerate() {
            if !present[code] {
                continue;
            }
            distinct += 1;
            let mut seen = HashSet::new();
            for level in 0..h.height() {
                let g = h
                    .generalize(value, level)
                    .ok_or_else(|| Error::NotInHierarchy {
                        column: name.clone(),
                        row: original
                            .codes()
                            .iter()
                            .position(|&c| c as usize == code)
                            .map_or(0, |r| r + 1),
                        value: value.clone(),
                    })?;
                if seen.insert(g) {
                    *covers.entry(g).or_default() += 1;
                }
            }
        }
        let out = &output.columns()[output.column_index(name)?];
        let mut per_code = Vec::with_capacity(out.dictionary().len());
        for v in out.dictionary() {
            let g = covers.get(v.as_str()).copied();
            per_code.push(g.map(|g| {
                if distinct <= 1 {
                    0.0
                } else {
                    (g - 1) as f64 / (distinct - 1) as f64
                }
            }));
        }
        let mut total = suppressed as f64;
        for (row, &c) in out.codes().iter().enumerate() {
            total += per_code[c as usize].ok_or_else(|| Error::InvalidTable {
                source_name: "the output".into(),
                message: format!(
                    "column {name:?}, row {}: value {:?} is no generalization of an input value",
                    row + 1,
                    out.get(row)
                ),
            })?;
        }
        per_column.push((name.clone(), total / input.rows().max(1) as f64));
    }
    let loss = per_column.iter().map(|(_, l)| l).sum::<f64>() / quasi.len().max(1) as f64;
    Ok(Measured {
        loss,
        suppressed,
        per_column,
    })
}
