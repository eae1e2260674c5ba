//! Comparing the candidate pairs: each pair's comparison vector (a level
//! per field), gathered into the distinct vectors ("patterns") with how
//! many pairs had each under each combination of blocking rules. Training
//! then works on a few thousand patterns instead of millions of pairs.
//! Pairs are split between threads when there are enough of them to pay
//! for it.

use std::collections::HashMap;

use super::blocking::RuleKeys;
use super::comparison::Prepared;
use super::fellegi_sunter::Patterns;

/// Pairs below which comparing runs on one thread.
const PARALLEL_FROM: usize = 100_000;

/// One thread's share of the comparisons.
struct Partial {
    codes: Vec<u64>,
    levels: Vec<u8>,
    per_pair: Vec<u32>,
    rows: HashMap<(u32, u32), u64>,
}

fn compare_chunk(prepared: &[Prepared], rules: &[RuleKeys], pairs: &[(u32, u32)]) -> Partial {
    let mut place = 1u64;
    let places: Vec<u64> = prepared
        .iter()
        .map(|p| {
            let here = place;
            place *= p.spec().levels() as u64 + 1;
            here
        })
        .collect();
    let mut index: HashMap<u64, u32> = HashMap::new();
    let mut out = Partial {
        codes: Vec::new(),
        levels: Vec::new(),
        per_pair: Vec::with_capacity(pairs.len()),
        rows: HashMap::new(),
    };
    let mut gamma = vec![0u8; prepared.len()];
    for &(a, b) in pairs {
        let mut code = 0u64;
        for ((g, p), place) in gamma.iter_mut().zip(prepared).zip(&places) {
            *g = p.level(a, b);
            code += u64::from(*g) * place;
        }
        let next = out.codes.len() as u32;
        let pattern = *index.entry(code).or_insert_with(|| {
            out.codes.push(code);
            out.levels.extend_from_slice(&gamma);
            next
        });
        let mut mask = 0u32;
        for (r, rule) in rules.iter().enumerate() {
            if rule.agree(a, b) {
                mask |= 1 << r;
            }
        }
        out.per_pair.push(pattern);
        *out.rows.entry((pattern, mask)).or_default() += 1;
    }
    out
}

/// Compares every candidate pair: the distinct patterns with their counts
/// per rule mask, and each pair's pattern.
pub(crate) fn compare(
    prepared: &[Prepared],
    rules: &[RuleKeys],
    pairs: &[(u32, u32)],
) -> (Patterns, Vec<u32>) {
    let threads = if pairs.len() < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    };
    let chunk = pairs.len().div_ceil(threads).max(1);
    let partials: Vec<Partial> = std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|c| s.spawn(move || compare_chunk(prepared, rules, c)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("comparing pairs does not panic"))
            .collect()
    });
    let mut patterns = Patterns {
        fields: prepared.len(),
        ..Patterns::default()
    };
    let mut index: HashMap<u64, u32> = HashMap::new();
    let mut rows: HashMap<(u32, u32), u64> = HashMap::new();
    let mut per_pair = Vec::with_capacity(pairs.len());
    for part in partials {
        let global: Vec<u32> = part
            .codes
            .iter()
            .enumerate()
            .map(|(i, code)| {
                let next = index.len() as u32;
                *index.entry(*code).or_insert_with(|| {
                    let f = prepared.len();
                    patterns
                        .levels
                        .extend_from_slice(&part.levels[i * f..(i + 1) * f]);
                    next
                })
            })
            .collect();
        per_pair.extend(part.per_pair.iter().map(|p| global[*p as usize]));
        for ((p, mask), n) in part.rows {
            *rows.entry((global[p as usize], mask)).or_default() += n;
        }
    }
    patterns.rows = rows.into_iter().map(|((p, m), n)| (p, m, n)).collect();
    patterns.rows.sort_unstable();
    (patterns, per_pair)
}
