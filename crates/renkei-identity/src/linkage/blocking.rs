//! Blocking: which pairs are compared at all. Comparing every pair of a
//! million records is 5·10¹¹ comparisons; a blocking rule compares only
//! records that agree exactly on some keys (`surname[:3] & date_of_birth`:
//! the first three characters of the normalized surname, and the date of
//! birth). Rules are a union: a pair is a candidate if any rule holds, so a
//! duplicate with a typo in its surname is still found by a rule on its
//! date of birth and postcode. A pair is produced once, by the first rule
//! that holds for it (later rules skip pairs an earlier rule already gave,
//! checking the earlier rules' keys), which is how Splink deduplicates
//! too. Keys are normalized values ([`Prepared`]); a missing key never
//! agrees.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::comparison::Prepared;
use super::{Error, Result};

/// Most keys a rule may have.
pub const MAX_KEYS: usize = 4;

/// One key of a blocking rule: a column's normalized value, or its first
/// `prefix` characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockingKey {
    /// The column.
    pub column: String,
    /// Only the first characters, if set.
    pub prefix: Option<usize>,
}

impl fmt::Display for BlockingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(n) => write!(f, "{}[:{n}]", self.column),
            None => f.write_str(&self.column),
        }
    }
}

/// A blocking rule: records are compared when every key agrees.
///
/// ```
/// use renkei_identity::linkage::BlockingRule;
/// let rule: BlockingRule = "surname[:3] & date_of_birth".parse().unwrap();
/// assert_eq!(rule.keys.len(), 2);
/// assert_eq!(rule.keys[0].prefix, Some(3));
/// assert_eq!(rule.to_string(), "surname[:3] & date_of_birth");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockingRule {
    /// The keys, all of which must agree.
    pub keys: Vec<BlockingKey>,
}

impl BlockingRule {
    /// A rule on whole values of `columns`.
    pub fn on(columns: &[&str]) -> Self {
        Self {
            keys: columns
                .iter()
                .map(|c| BlockingKey {
                    column: (*c).to_owned(),
                    prefix: None,
                })
                .collect(),
        }
    }

    /// Whether the rule reads `column`.
    pub fn uses(&self, column: &str) -> bool {
        self.keys.iter().any(|k| k.column == column)
    }
}

impl fmt::Display for BlockingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(" & ")?;
            }
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

impl FromStr for BlockingRule {
    type Err = Error;

    /// `column`, `column[:n]`, joined by `&`.
    fn from_str(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidRule {
            rule: text.to_owned(),
            reason: reason.to_owned(),
        };
        let mut keys = Vec::new();
        for part in text.split('&').map(str::trim) {
            if part.is_empty() {
                return Err(invalid("an empty key (write keys as `a & b[:3]`)"));
            }
            let key = match part.split_once("[:") {
                None => BlockingKey {
                    column: part.to_owned(),
                    prefix: None,
                },
                Some((column, rest)) => {
                    let n = rest
                        .strip_suffix(']')
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid("a prefix is written `column[:n]` with n ≥ 1"))?;
                    BlockingKey {
                        column: column.trim().to_owned(),
                        prefix: Some(n),
                    }
                }
            };
            if key.column.is_empty() {
                return Err(invalid("a key without a column"));
            }
            keys.push(key);
        }
        if keys.len() > MAX_KEYS {
            return Err(invalid(&format!("at most {MAX_KEYS} keys")));
        }
        Ok(Self { keys })
    }
}

/// Which records are paired: all with all (dedupe), or the first `left`
/// records with the rest (link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sides {
    Dedupe { records: u32 },
    Link { left: u32, right: u32 },
}

impl Sides {
    pub(crate) fn records(self) -> u32 {
        match self {
            Sides::Dedupe { records } => records,
            Sides::Link { left, right } => left + right,
        }
    }

    /// Every pair there is to compare.
    pub(crate) fn total_pairs(self) -> f64 {
        match self {
            Sides::Dedupe { records } => {
                let n = f64::from(records);
                n * (n - 1.0) / 2.0
            }
            Sides::Link { left, right } => f64::from(left) * f64::from(right),
        }
    }
}

/// The key id of every record under one rule (0: some key is missing).
#[derive(Debug)]
pub(crate) struct RuleKeys {
    pub(crate) ids: Vec<u32>,
}

impl RuleKeys {
    /// Computes the keys of `rule`, `column` giving the prepared field of
    /// each key's column.
    pub(crate) fn new<'p>(
        rule: &BlockingRule,
        records: u32,
        prepared: impl Fn(&str) -> &'p Prepared,
    ) -> Self {
        // Each key component as a per-record id: the value id for whole
        // values, an interned prefix id for prefixes.
        let components: Vec<Vec<u32>> = rule
            .keys
            .iter()
            .map(|k| {
                let p = prepared(&k.column);
                match k.prefix {
                    None => (0..records).map(|r| p.id(r)).collect(),
                    Some(n) => {
                        let mut by_prefix: HashMap<&[char], u32> = HashMap::new();
                        let mut by_value: HashMap<u32, u32> = HashMap::new();
                        (0..records)
                            .map(|r| {
                                let id = p.id(r);
                                if id == 0 {
                                    return 0;
                                }
                                *by_value.entry(id).or_insert_with(|| {
                                    let chars = p.chars(id);
                                    let prefix = &chars[..chars.len().min(n)];
                                    let next = by_prefix.len() as u32 + 1;
                                    *by_prefix.entry(prefix).or_insert(next)
                                })
                            })
                            .collect()
                    }
                }
            })
            .collect();
        if components.len() == 1 {
            return Self {
                ids: components.into_iter().next().expect("one component"),
            };
        }
        let mut interned: HashMap<[u32; MAX_KEYS], u32> = HashMap::new();
        let ids = (0..records as usize)
            .map(|r| {
                let mut key = [0u32; MAX_KEYS];
                for (slot, c) in key.iter_mut().zip(&components) {
                    if c[r] == 0 {
                        return 0;
                    }
                    *slot = c[r];
                }
                let next = interned.len() as u32 + 1;
                *interned.entry(key).or_insert(next)
            })
            .collect();
        Self { ids }
    }

    /// Whether the rule holds for a pair.
    pub(crate) fn agree(&self, a: u32, b: u32) -> bool {
        let k = self.ids[a as usize];
        k != 0 && k == self.ids[b as usize]
    }

    /// The records of each key with more than one record (dedupe) or with
    /// records on both sides (link): (left records, right records).
    fn blocks(&self, sides: Sides) -> Vec<(Vec<u32>, Vec<u32>)> {
        let mut order: Vec<u32> = (0..self.ids.len() as u32)
            .filter(|r| self.ids[*r as usize] != 0)
            .collect();
        order.sort_unstable_by_key(|r| (self.ids[*r as usize], *r));
        let mut out = Vec::new();
        for block in order.chunk_by(|a, b| self.ids[*a as usize] == self.ids[*b as usize]) {
            match sides {
                Sides::Dedupe { .. } => {
                    if block.len() > 1 {
                        out.push((block.to_vec(), Vec::new()));
                    }
                }
                Sides::Link { left, .. } => {
                    let split = block.partition_point(|r| *r < left);
                    if split > 0 && split < block.len() {
                        out.push((block[..split].to_vec(), block[split..].to_vec()));
                    }
                }
            }
        }
        out
    }

    /// How many pairs the rule alone gives.
    pub(crate) fn pair_count(&self, sides: Sides) -> u64 {
        let mut counts: HashMap<u32, (u64, u64)> = HashMap::new();
        let left = match sides {
            Sides::Dedupe { .. } => u32::MAX,
            Sides::Link { left, .. } => left,
        };
        for (r, &k) in self.ids.iter().enumerate() {
            if k != 0 {
                let e = counts.entry(k).or_default();
                if (r as u32) < left {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
        counts
            .values()
            .map(|&(l, r)| match sides {
                Sides::Dedupe { .. } => l * l.saturating_sub(1) / 2,
                Sides::Link { .. } => l * r,
            })
            .sum()
    }
}

/// The candidate pairs of a union of rules, each once, `(a, b)` with
/// `a < b` (in link mode `a` is a left record and `b` a right one).
pub(crate) fn candidates(rules: &[RuleKeys], sides: Sides) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        let earlier = &rules[..r];
        let mut push = |a: u32, b: u32| {
            if !earlier.iter().any(|q| q.agree(a, b)) {
                out.push((a, b));
            }
        };
        for (first, second) in rule.blocks(sides) {
            match sides {
                Sides::Dedupe { .. } => {
                    for (i, &a) in first.iter().enumerate() {
                        for &b in &first[i + 1..] {
                            push(a, b);
                        }
                    }
                }
                Sides::Link { .. } => {
                    for &a in &first {
                        for &b in &second {
                            push(a, b);
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linkage::comparison::{FieldSpec, Kind};
    use crate::linkage::table::Table;

    fn table() -> Table {
        let rows = [
            ["smith", "19800102", "2000"],
            ["smyth", "19800102", "2000"],
            ["smith", "19800103", "2001"],
            ["jones", "", "2000"],
            ["", "19800102", ""],
        ];
        Table::new(
            vec!["surname".into(), "dob".into(), "postcode".into()],
            rows.iter()
                .map(|r| r.iter().map(|v| (*v).to_owned()).collect())
                .collect(),
        )
    }

    fn prepared(t: &Table) -> Vec<Prepared> {
        [
            ("surname", Kind::Name),
            ("dob", Kind::Date),
            ("postcode", Kind::Postcode),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (c, k))| Prepared::new(FieldSpec::new(c, k), &[(t, i)]))
        .collect()
    }

    fn keys(rule: &str, p: &[Prepared], n: u32) -> RuleKeys {
        let rule: BlockingRule = rule.parse().expect("rule");
        RuleKeys::new(&rule, n, |c| {
            p.iter().find(|p| p.spec().column == c).expect("column")
        })
    }

    #[test]
    fn rules_parse_and_refuse_nonsense() {
        assert!("a[:0]".parse::<BlockingRule>().is_err());
        assert!("a & ".parse::<BlockingRule>().is_err());
        assert!("a[:x]".parse::<BlockingRule>().is_err());
        assert!("a & b & c & d & e".parse::<BlockingRule>().is_err());
        let r: BlockingRule = " a [:2] &b".parse().expect("rule");
        assert_eq!(r.to_string(), "a[:2] & b");
    }

    #[test]
    fn a_union_of_rules_gives_each_pair_once() {
        let t = table();
        let p = prepared(&t);
        let rules = [
            keys("surname[:2] & dob", &p, 5),
            keys("postcode", &p, 5),
            keys("dob", &p, 5),
        ];
        let mut pairs = candidates(&rules, Sides::Dedupe { records: 5 });
        pairs.sort_unstable();
        assert_eq!(pairs, vec![(0, 1), (0, 3), (0, 4), (1, 3), (1, 4)]);
        assert_eq!(rules[1].pair_count(Sides::Dedupe { records: 5 }), 3);
    }

    #[test]
    fn link_mode_pairs_only_across() {
        let t = table();
        let p = prepared(&t);
        let rules = [keys("postcode", &p, 5)];
        let mut pairs = candidates(&rules, Sides::Link { left: 2, right: 3 });
        pairs.sort_unstable();
        assert_eq!(pairs, vec![(0, 3), (1, 3)]);
        assert_eq!(rules[0].pair_count(Sides::Link { left: 2, right: 3 }), 2);
    }
}
