//! Equivalence classes as sorted, packed keys.
//!
//! Every quasi-identifier is dictionary-encoded once; each hierarchy level
//! becomes a lookup table from original code to level code, so that a node
//! of the lattice maps a record to a packed `u64` key (one bit field per
//! quasi-identifier, the sensitive value's rank in the lowest bits) without
//! touching a string. A node's classes are the runs of equal keys (ignoring
//! the sensitive bits) in its sorted [`Groups`]: distinct (class, sensitive
//! value) pairs with their counts.
//!
//! Roll-up: a node's groups are computed from any finer node already
//! evaluated (each level no higher), by mapping each group's fields one or
//! more levels up and merging, so the cost follows the number of groups of
//! the finer node rather than the number of records. The sort is split over
//! both cores (`std::thread::scope`), then merged.

use std::collections::HashMap;

use super::error::{Error, Result};
use super::hierarchy::Hierarchy;
use super::table::{Column, Table};

/// One quasi-identifier, encoded.
#[derive(Debug)]
pub(crate) struct Quasi {
    pub(crate) name: String,
    pub(crate) column: usize,
    pub(crate) height: usize,
    /// `[level][code at level 0]` → code at that level.
    pub(crate) to_level: Vec<Vec<u32>>,
    /// `[level][code]` → the value's text.
    pub(crate) values: Vec<Vec<String>>,
    /// `[from][to][code at from]` → code at `to` (for `to >= from`).
    step: Vec<Vec<Vec<u32>>>,
    /// `[level][code]` → generalization loss of a cell with that value:
    /// (originals under it − 1) / (distinct originals − 1).
    pub(crate) loss: Vec<Vec<f64>>,
    /// `[level]` → mean loss of this column over all records at that level.
    pub(crate) mean_loss: Vec<f64>,
    pub(crate) shift: u32,
    pub(crate) mask: u64,
}

impl Quasi {
    fn encode(column: &Column, index: usize, hierarchy: &Hierarchy) -> Result<Self> {
        let dict = column.dictionary();
        let height = hierarchy.height();
        let mut freq = vec![0u64; dict.len()];
        for &c in column.codes() {
            freq[c as usize] += 1;
        }
        for (code, value) in dict.iter().enumerate() {
            if freq[code] > 0 && hierarchy.generalize(value, 0).is_none() {
                let row = column
                    .codes()
                    .iter()
                    .position(|&c| c as usize == code)
                    .map_or(0, |r| r + 1);
                return Err(Error::NotInHierarchy {
                    column: column.name().to_owned(),
                    row,
                    value: value.clone(),
                });
            }
        }
        let mut to_level = Vec::with_capacity(height);
        let mut values = Vec::with_capacity(height);
        for level in 0..height {
            let mut index: HashMap<&str, u32> = HashMap::new();
            let mut texts = Vec::new();
            let codes = dict
                .iter()
                .map(|v| {
                    // Values absent from the data (possible in a filtered
                    // table's dictionary) may be absent from the hierarchy
                    // too; they generalize to themselves and count nowhere.
                    let g = hierarchy.generalize(v, level).unwrap_or(v);
                    *index.entry(g).or_insert_with(|| {
                        texts.push(g.to_owned());
                        texts.len() as u32 - 1
                    })
                })
                .collect::<Vec<u32>>();
            to_level.push(codes);
            values.push(texts);
        }
        // Any original under a level code tells where that code goes: the
        // hierarchy is a tree (checked when it was built).
        let mut step = Vec::with_capacity(height);
        for from in 0..height {
            let mut per_to = Vec::with_capacity(height);
            for to in 0..height {
                if to < from {
                    per_to.push(Vec::new());
                    continue;
                }
                let mut map = vec![u32::MAX; values[from].len()];
                for orig in 0..dict.len() {
                    map[to_level[from][orig] as usize] = to_level[to][orig];
                }
                per_to.push(map);
            }
            step.push(per_to);
        }
        let distinct = freq.iter().filter(|&&f| f > 0).count();
        let rows: u64 = freq.iter().sum();
        let mut loss = Vec::with_capacity(height);
        let mut mean_loss = Vec::with_capacity(height);
        for level in 0..height {
            let mut leaves = vec![0u64; values[level].len()];
            for (orig, &f) in freq.iter().enumerate() {
                if f > 0 {
                    leaves[to_level[level][orig] as usize] += 1;
                }
            }
            let l: Vec<f64> = leaves
                .iter()
                .map(|&n| {
                    if distinct <= 1 {
                        0.0
                    } else {
                        n.saturating_sub(1) as f64 / (distinct - 1) as f64
                    }
                })
                .collect();
            let mean = if rows == 0 {
                0.0
            } else {
                freq.iter()
                    .enumerate()
                    .map(|(orig, &f)| f as f64 * l[to_level[level][orig] as usize])
                    .sum::<f64>()
                    / rows as f64
            };
            loss.push(l);
            mean_loss.push(mean);
        }
        let bits = bits_for(dict.len());
        Ok(Self {
            name: column.name().to_owned(),
            column: index,
            height,
            to_level,
            values,
            step,
            loss,
            mean_loss,
            shift: 0,
            mask: (1u64 << bits) - 1,
        })
    }

    pub(crate) fn bits(&self) -> u32 {
        self.mask.count_ones()
    }

    pub(crate) fn field(&self, key: u64) -> usize {
        ((key >> self.shift) & self.mask) as usize
    }
}

/// Bits to hold codes `0..n` (at least 1).
fn bits_for(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// The sensitive column, encoded by rank: numbers in numeric order, other
/// values in text order, so that the ordered distance of t-closeness walks
/// ranks.
#[derive(Debug)]
pub(crate) struct Sensitive {
    pub(crate) name: String,
    /// Code (dictionary index) → rank.
    pub(crate) rank: Vec<u32>,
    /// Rank → share of the input's records.
    pub(crate) overall: Vec<f64>,
    pub(crate) bits: u32,
}

impl Sensitive {
    fn encode(column: &Column) -> Self {
        let dict = column.dictionary();
        let mut freq = vec![0u64; dict.len()];
        for &c in column.codes() {
            freq[c as usize] += 1;
        }
        let mut order: Vec<usize> = (0..dict.len()).filter(|&c| freq[c] > 0).collect();
        order.sort_by(|&a, &b| value_order(&dict[a], &dict[b]));
        let mut rank = vec![u32::MAX; dict.len()];
        for (r, &c) in order.iter().enumerate() {
            rank[c] = r as u32;
        }
        let rows = column.len().max(1) as f64;
        Self {
            name: column.name().to_owned(),
            rank,
            overall: order.iter().map(|&c| freq[c] as f64 / rows).collect(),
            bits: bits_for(order.len()),
        }
    }
}

/// The order of sensitive values: numbers (as `f64`) before text, numbers
/// numerically, ties and text by their characters.
pub fn value_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// The table as the engine sees it.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) quasi: Vec<Quasi>,
    pub(crate) sensitive: Option<Sensitive>,
    pub(crate) sens_bits: u32,
    pub(crate) rows: usize,
}

impl Encoded {
    pub(crate) fn new(
        table: &Table,
        quasi: &[(usize, &Hierarchy)],
        sensitive: Option<usize>,
    ) -> Result<Self> {
        let mut qs = quasi
            .iter()
            .map(|&(i, h)| Quasi::encode(&table.columns()[i], i, h))
            .collect::<Result<Vec<_>>>()?;
        let sensitive = sensitive.map(|i| Sensitive::encode(&table.columns()[i]));
        let sens_bits = sensitive.as_ref().map_or(0, |s| s.bits);
        let mut shift = sens_bits;
        for q in &mut qs {
            q.shift = shift;
            shift += q.bits();
        }
        if shift > 64 {
            return Err(Error::TooLarge(format!(
                "the quasi-identifiers' distinct values need {shift} bits to pack one record's \
                 class ({}), more than 64: generalize a column beforehand or use fewer \
                 quasi-identifiers",
                qs.iter()
                    .map(|q| format!("{} {}", q.name, q.bits()))
                    .chain(sensitive.as_ref().map(|s| format!("{} {}", s.name, s.bits)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Self {
            quasi: qs,
            sensitive,
            sens_bits,
            rows: table.rows(),
        })
    }

    /// The class key (sensitive bits cleared) of a record at `levels`.
    pub(crate) fn class_key(&self, table: &Table, row: usize, levels: &[u8]) -> u64 {
        self.quasi
            .iter()
            .zip(levels)
            .map(|(q, &l)| {
                let code = table.columns()[q.column].codes()[row];
                u64::from(q.to_level[usize::from(l)][code as usize]) << q.shift
            })
            .fold(0, |a, b| a | b)
    }

    /// The groups of the bottom node (every quasi-identifier original).
    pub(crate) fn base_groups(&self, table: &Table) -> Groups {
        let cols: Vec<&[u32]> = self
            .quasi
            .iter()
            .map(|q| table.columns()[q.column].codes())
            .collect();
        let sens = self
            .sensitive
            .as_ref()
            .zip(self.sensitive_column(table))
            .map(|(s, c)| (s, c.codes()));
        let key = |row: usize| {
            let mut k = sens.map_or(0, |(s, codes)| u64::from(s.rank[codes[row] as usize]));
            for (q, codes) in self.quasi.iter().zip(&cols) {
                k |= u64::from(codes[row]) << q.shift;
            }
            k
        };
        let pairs: Vec<(u64, u32)> = (0..self.rows).map(|r| (key(r), 1)).collect();
        Groups::from_pairs(pairs)
    }

    fn sensitive_column<'t>(&self, table: &'t Table) -> Option<&'t Column> {
        self.sensitive.as_ref().and_then(|s| table.column(&s.name))
    }

    /// The groups at `to` from the groups at a finer node `from`.
    pub(crate) fn roll_up(&self, src: &Groups, from: &[u8], to: &[u8]) -> Groups {
        let changes: Vec<(u32, u64, &[u32])> = self
            .quasi
            .iter()
            .zip(from.iter().zip(to))
            .filter(|(_, (f, t))| f != t)
            .map(|(q, (&f, &t))| {
                (
                    q.shift,
                    q.mask,
                    q.step[usize::from(f)][usize::from(t)].as_slice(),
                )
            })
            .collect();
        let map = |&key: &u64| {
            let mut k = key;
            for &(shift, mask, step) in &changes {
                let field = (k >> shift) & mask;
                k = (k & !(mask << shift)) | (u64::from(step[field as usize]) << shift);
            }
            k
        };
        let pairs: Vec<(u64, u32)> = src
            .keys
            .iter()
            .map(map)
            .zip(src.counts.iter().copied())
            .collect();
        Groups::from_pairs(pairs)
    }
}

/// Distinct (class, sensitive rank) keys, sorted, with their record counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Groups {
    pub(crate) keys: Vec<u64>,
    pub(crate) counts: Vec<u32>,
}

impl Groups {
    /// Sorts and merges `(key, count)` pairs, each half on its own thread.
    fn from_pairs(mut pairs: Vec<(u64, u32)>) -> Self {
        let mid = pairs.len() / 2;
        if pairs.len() < 1 << 16 {
            pairs.sort_unstable_by_key(|p| p.0);
            return Self::merge(&pairs, &[]);
        }
        let (left, right) = pairs.split_at_mut(mid);
        std::thread::scope(|s| {
            s.spawn(|| left.sort_unstable_by_key(|p| p.0));
            right.sort_unstable_by_key(|p| p.0);
        });
        let (left, right) = pairs.split_at(mid);
        Self::merge(left, right)
    }

    /// Merges two sorted runs, adding the counts of equal keys.
    fn merge(a: &[(u64, u32)], b: &[(u64, u32)]) -> Self {
        let mut out = Self {
            keys: Vec::with_capacity(a.len().max(b.len())),
            counts: Vec::with_capacity(a.len().max(b.len())),
        };
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let next = if j >= b.len() || (i < a.len() && a[i].0 <= b[j].0) {
                i += 1;
                a[i - 1]
            } else {
                j += 1;
                b[j - 1]
            };
            match out.keys.last() {
                Some(&k) if k == next.0 => {
                    *out.counts.last_mut().expect("a count per key") += next.1;
                }
                _ => {
                    out.keys.push(next.0);
                    out.counts.push(next.1);
                }
            }
        }
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_hold_every_code() {
        assert_eq!(bits_for(1), 1);
        assert_eq!(bits_for(2), 1);
        assert_eq!(bits_for(3), 2);
        assert_eq!(bits_for(256), 8);
        assert_eq!(bits_for(257), 9);
    }

    #[test]
    fn merged_runs_add_equal_keys() {
        let g = Groups::from_pairs((0..200_000u64).map(|i| (i % 7, 1)).collect());
        assert_eq!(g.keys, (0..7).collect::<Vec<_>>());
        assert_eq!(g.counts.iter().sum::<u32>(), 200_000);
        assert_eq!(g.counts[0], 28_572);
    }

    #[test]
    fn rolling_up_equals_grouping_afresh() {
        let ages: Vec<String> = (0..300).map(|i| (i % 90).to_string()).collect();
        let sex: Vec<&str> = (0..300)
            .map(|i| if i % 3 == 0 { "F" } else { "M" })
            .collect();
        let dx: Vec<&str> = (0..300).map(|i| ["E11", "I10", "J45"][i % 3]).collect();
        let t = Table::from_columns([
            ("age", ages.iter().map(String::as_str).collect::<Vec<_>>()),
            ("sex", sex),
            ("dx", dx),
        ])
        .expect("table");
        let ha = Hierarchy::age_bands("age", t.column("age").expect("age").iter()).expect("age");
        let hs = Hierarchy::flat("sex", ["F", "M"]).expect("sex");
        let e = Encoded::new(&t, &[(0, &ha), (1, &hs)], Some(2)).expect("encodes");
        let base = e.base_groups(&t);
        let direct = e.roll_up(&base, &[0, 0], &[3, 1]);
        let stepwise = e.roll_up(&e.roll_up(&base, &[0, 0], &[1, 0]), &[1, 0], &[3, 1]);
        assert_eq!(direct.keys, stepwise.keys);
        assert_eq!(direct.counts, stepwise.counts);
        assert_eq!(direct.counts.iter().sum::<u32>(), 300);
        // 20-wide age bands over 0..89 and sex suppressed: 5 bands × 3 dx.
        assert_eq!(direct.len(), 15);
    }
}
