//! The search over the generalization lattice for the anonymous node of
//! least information loss.
//!
//! A node is one level per quasi-identifier; node `a` is *finer* than `b`
//! when every level of `a` is at most `b`'s. The metric is ARX's *Loss*
//! (see [`super::loss`]): its part from generalization alone,
//! `LB(node)` = mean over quasi-identifiers of the column's mean cell loss
//! at its level, is exact when nothing is suppressed, never exceeds the
//! node's loss (a suppressed cell counts 1), and never decreases towards
//! coarser nodes. So:
//!
//! 1. Nodes are taken in order of `LB`. Once `LB` reaches the best loss
//!    found, no remaining node can do better: the search stops. The
//!    answer is the optimum, not a heuristic's, for every model.
//! 2. Predictive tagging, as in ARX's Flash (Kohlmayer et al. 2012): a node
//!    whose records failing the monotone models (k, distinct l) exceed the
//!    budget makes every finer node non-anonymous; with monotone models only,
//!    an anonymous node makes every coarser node anonymous.
//! 3. Before a node of unknown status is checked (monotone models), the
//!    search walks a path of ever coarser unknown nodes from it to the top
//!    and binary-searches that path for its lowest anonymous node (the
//!    OLA/Flash step), so that one path's few checks tag large parts of the
//!    lattice both ways.
//!
//! Each check computes the node's classes by rolling up the groups of the
//! finest node already computed below it (a bounded cache of groups).

use std::time::Instant;

use super::classes::{Encoded, Groups};
use super::model::{Models, Verdict};

/// The groups kept for roll-ups, in (key, count) entries: about 12 bytes
/// each, so at most ~400 MB.
const CACHE_ENTRIES: usize = 32 << 20;

/// Nodes the lattice may have.
pub(crate) const MAX_NODES: usize = 1 << 22;

/// The lattice's shape and node numbering (mixed radix over the heights).
#[derive(Debug)]
pub(crate) struct Lattice {
    pub(crate) heights: Vec<usize>,
    pub(crate) size: usize,
}

impl Lattice {
    pub(crate) fn new(heights: Vec<usize>) -> Self {
        let size = heights.iter().product();
        Self { heights, size }
    }

    pub(crate) fn levels(&self, mut id: usize) -> Vec<u8> {
        self.heights
            .iter()
            .map(|&h| {
                let l = id % h;
                id /= h;
                l as u8
            })
            .collect()
    }

    fn finer_or_equal(a: &[u8], b: &[u8]) -> bool {
        a.iter().zip(b).all(|(x, y)| x <= y)
    }

    /// The nodes one level coarser in one quasi-identifier.
    fn successors(&self, levels: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stride = 1;
        let id = self.id(levels);
        for (&l, &h) in levels.iter().zip(&self.heights) {
            if usize::from(l) + 1 < h {
                out.push(id + stride);
            }
            stride *= h;
        }
        out
    }

    fn id(&self, levels: &[u8]) -> usize {
        let mut id = 0;
        let mut stride = 1;
        for (&l, &h) in levels.iter().zip(&self.heights) {
            id += usize::from(l) * stride;
            stride *= h;
        }
        id
    }
}

/// The result of checking one node.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    /// Records in classes failing k or distinct l.
    pub(crate) suppressed_monotone: usize,
    /// Records in classes failing any model.
    pub(crate) suppressed: usize,
    /// ARX Loss of the node with those records suppressed.
    pub(crate) loss: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Unknown,
    Anonymous,
    NotAnonymous,
}

/// Figures of one search, for the report.
#[derive(Debug, Clone, Default)]
pub struct SearchStats {
    /// Nodes in the lattice.
    pub nodes: usize,
    /// Nodes whose classes were computed.
    pub checked: usize,
    /// Nodes whose status was inferred from another's (predictive tagging).
    pub tagged: usize,
    /// Nodes never looked at because their loss bound could not beat the
    /// best node found.
    pub pruned: usize,
    /// Whether the models allowed tagging coarser nodes anonymous.
    pub monotone: bool,
    /// Seconds spent searching.
    pub seconds: f64,
}

/// The best node and how it was found.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) levels: Vec<u8>,
    pub(crate) check: Check,
    /// The node's groups, to build the output from.
    pub(crate) groups: Groups,
    pub(crate) stats: SearchStats,
}

pub(crate) struct Search<'a> {
    enc: &'a Encoded,
    models: &'a Models<'a>,
    lattice: Lattice,
    budget: usize,
    status: Vec<Status>,
    checks: Vec<Option<Check>>,
    bound: Vec<f64>,
    /// (levels, groups) of checked nodes, the bottom first and never evicted.
    cache: Vec<(Vec<u8>, Groups)>,
    stats: SearchStats,
}

impl std::fmt::Debug for Search<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("stats", &self.stats)
            .finish()
    }
}

impl<'a> Search<'a> {
    pub(crate) fn new(
        enc: &'a Encoded,
        models: &'a Models<'a>,
        base: Groups,
        budget: usize,
    ) -> Self {
        let lattice = Lattice::new(enc.quasi.iter().map(|q| q.height).collect());
        let q = enc.quasi.len().max(1) as f64;
        let bound = (0..lattice.size)
            .map(|id| {
                lattice
                    .levels(id)
                    .iter()
                    .zip(&enc.quasi)
                    .map(|(&l, quasi)| quasi.mean_loss[usize::from(l)])
                    .sum::<f64>()
                    / q
            })
            .collect();
        let bottom = vec![0u8; enc.quasi.len()];
        Self {
            enc,
            models,
            status: vec![Status::Unknown; lattice.size],
            checks: vec![None; lattice.size],
            bound,
            cache: vec![(bottom, base)],
            stats: SearchStats {
                nodes: lattice.size,
                monotone: models.monotone(),
                ..SearchStats::default()
            },
            lattice,
            budget,
        }
    }

    /// The groups of a node, rolled up from the smallest cached finer node.
    fn groups(&mut self, levels: &[u8]) -> Groups {
        let (from, src) = self
            .cache
            .iter()
            .filter(|(l, _)| Lattice::finer_or_equal(l, levels))
            .min_by_key(|(_, g)| g.len())
            .expect("the bottom node is finer than every node");
        if from == levels {
            return src.clone();
        }
        self.enc.roll_up(src, from, levels)
    }

    fn remember(&mut self, levels: Vec<u8>, groups: Groups) {
        self.cache.push((levels, groups));
        let mut total: usize = self.cache.iter().map(|(_, g)| g.len()).sum();
        while total > CACHE_ENTRIES && self.cache.len() > 1 {
            // Evict the largest but the bottom: small ones are the cheap
            // sources of most later roll-ups.
            let (i, _) = self
                .cache
                .iter()
                .enumerate()
                .skip(1)
                .max_by_key(|(_, (_, g))| g.len())
                .expect("more than one cached node");
            total -= self.cache.swap_remove(i).1.len();
        }
    }

    /// Checks a node (once), records its status and tags others.
    fn check(&mut self, id: usize) -> Check {
        if let Some(c) = &self.checks[id] {
            return c.clone();
        }
        let levels = self.lattice.levels(id);
        let groups = self.groups(&levels);
        let check = evaluate(self.enc, self.models, &groups, &levels, |_, _, _| {});
        self.stats.checked += 1;
        self.remember(levels.clone(), groups);
        let anonymous = check.suppressed <= self.budget;
        self.status[id] = if anonymous {
            Status::Anonymous
        } else {
            Status::NotAnonymous
        };
        if check.suppressed_monotone > self.budget {
            self.tag(&levels, Status::NotAnonymous);
        }
        if anonymous && self.models.monotone() {
            self.tag(&levels, Status::Anonymous);
        }
        self.checks[id] = Some(check.clone());
        check
    }

    /// Tags every finer (non-anonymous) or coarser (anonymous) node.
    fn tag(&mut self, levels: &[u8], status: Status) {
        for other in 0..self.lattice.size {
            if self.status[other] != Status::Unknown {
                continue;
            }
            let o = self.lattice.levels(other);
            let related = match status {
                Status::NotAnonymous => Lattice::finer_or_equal(&o, levels),
                _ => Lattice::finer_or_equal(levels, &o),
            };
            if related {
                self.status[other] = status;
                self.stats.tagged += 1;
            }
        }
    }

    /// Walks ever coarser unknown nodes from `id` and binary-searches the
    /// path for its lowest anonymous node, tagging as it goes.
    fn flash(&mut self, id: usize) {
        let mut path = vec![id];
        let mut at = id;
        loop {
            let next = self
                .lattice
                .successors(&self.lattice.levels(at))
                .into_iter()
                .filter(|&s| self.status[s] == Status::Unknown)
                .min_by(|&a, &b| self.bound[a].total_cmp(&self.bound[b]));
            match next {
                Some(n) => {
                    path.push(n);
                    at = n;
                }
                None => break,
            }
        }
        let (mut lo, mut hi) = (0usize, path.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let status = match self.status[path[mid]] {
                Status::Unknown => {
                    self.check(path[mid]);
                    self.status[path[mid]]
                }
                s => s,
            };
            if status == Status::Anonymous {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
    }

    pub(crate) fn run(mut self) -> Option<Found> {
        let started = Instant::now();
        let mut order: Vec<usize> = (0..self.lattice.size).collect();
        order.sort_by(|&a, &b| self.bound[a].total_cmp(&self.bound[b]).then(a.cmp(&b)));
        let mut best: Option<(f64, usize)> = None;
        for (position, &id) in order.iter().enumerate() {
            if let Some((loss, _)) = best
                && self.bound[id] >= loss - 1e-12
            {
                self.stats.pruned = order.len() - position;
                break;
            }
            if self.status[id] == Status::Unknown && self.models.monotone() {
                self.flash(id);
            }
            if self.status[id] == Status::NotAnonymous {
                continue;
            }
            let check = self.check(id);
            if check.suppressed <= self.budget && best.is_none_or(|(l, _)| check.loss < l) {
                best = Some((check.loss, id));
            }
        }
        let (_, id) = best?;
        let levels = self.lattice.levels(id);
        let groups = self.groups(&levels);
        self.stats.seconds = started.elapsed().as_secs_f64();
        Some(Found {
            levels,
            check: self.checks[id].clone().expect("the best node was checked"),
            groups,
            stats: self.stats,
        })
    }
}

/// Judges every class of a node's groups; `each` sees each class's key
/// (sensitive bits cleared), size and verdict.
pub(crate) fn evaluate(
    enc: &Encoded,
    models: &Models<'_>,
    groups: &Groups,
    levels: &[u8],
    mut each: impl FnMut(u64, u64, Verdict),
) -> Check {
    let sens_mask = (1u64 << enc.sens_bits) - 1;
    let mut suppressed_monotone = 0usize;
    let mut suppressed = 0usize;
    // Σ over suppressed records of Σ_q (1 − cell loss): what suppression
    // adds to the loss bound.
    let mut extra = 0.0;
    let mut values: Vec<(u32, u32)> = Vec::new();
    let mut i = 0;
    let n = groups.keys.len();
    while i < n {
        let class = groups.keys[i] & !sens_mask;
        values.clear();
        let mut size = 0u64;
        while i < n && groups.keys[i] & !sens_mask == class {
            values.push(((groups.keys[i] & sens_mask) as u32, groups.counts[i]));
            size += u64::from(groups.counts[i]);
            i += 1;
        }
        let verdict = models.judge(size, &values);
        if verdict.fails_monotone {
            suppressed_monotone += size as usize;
        }
        if verdict.fails {
            suppressed += size as usize;
            let kept: f64 = enc
                .quasi
                .iter()
                .zip(levels)
                .map(|(q, &l)| 1.0 - q.loss[usize::from(l)][q.field(class)])
                .sum();
            extra += kept * size as f64;
        }
        each(class, size, verdict);
    }
    let q = enc.quasi.len().max(1) as f64;
    let bound: f64 = enc
        .quasi
        .iter()
        .zip(levels)
        .map(|(quasi, &l)| quasi.mean_loss[usize::from(l)])
        .sum::<f64>()
        / q;
    let rows = enc.rows.max(1) as f64;
    Check {
        suppressed_monotone,
        suppressed,
        loss: bound + extra / (rows * q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_round_trip_and_successors_step_one_level() {
        let l = Lattice::new(vec![3, 2, 4]);
        assert_eq!(l.size, 24);
        for id in 0..l.size {
            assert_eq!(l.id(&l.levels(id)), id);
        }
        let succ: Vec<Vec<u8>> = l
            .successors(&[2, 0, 1])
            .into_iter()
            .map(|s| l.levels(s))
            .collect();
        assert_eq!(succ, vec![vec![2, 1, 1], vec![2, 0, 2]]);
    }
}
