//! The privacy models, judged one equivalence class at a time.
//!
//! - **k-anonymity**: a class has at least `k` records.
//! - **l-diversity** of the sensitive column (Machanavajjhala et al. 2007):
//!   *distinct* — at least `l` distinct values; *entropy* — the entropy of
//!   the class's values, `-Σ p ln p`, is at least `ln l`.
//! - **t-closeness** (Li, Li, Venkatasubramanian 2007): the Earth Mover's
//!   Distance between the class's distribution of the sensitive value and
//!   the whole input's is at most `t`. Ground distance *equal* (categories:
//!   every two values at distance 1, EMD = ½ Σ |pᵢ − qᵢ|) or *ordered*
//!   (numbers, ranked: EMD = Σᵢ |Σ_{j≤i} (pⱼ − qⱼ)| / (m − 1) over the m
//!   ranks).
//!
//! A class failing any model is suppressed whole, as ARX does; a node is
//! anonymous when the suppressed records fit the budget.
//!
//! Monotonicity, which the search uses to skip nodes: for k-anonymity and
//! distinct l-diversity, a class of a coarser node that fails is a union of
//! classes of the finer node that all fail (its size and its distinct
//! values bound theirs), so the records a coarser node suppresses are a
//! subset of the finer node's: once a node fits the budget every
//! generalization does. Entropy l-diversity and t-closeness hold this way
//! only without suppression, so with them the search proves nothing upward
//! and checks each candidate node.

use super::classes::Sensitive;

/// Which l-diversity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LKind {
    /// At least `l` distinct sensitive values per class.
    Distinct,
    /// Entropy of the sensitive values per class at least `ln l`.
    Entropy,
}

impl LKind {
    /// `distinct` or `entropy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Distinct => "distinct",
            Self::Entropy => "entropy",
        }
    }
}

/// l-diversity of the sensitive column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LDiversity {
    /// The `l`; at least 1.
    pub l: u32,
    /// Distinct or entropy.
    pub kind: LKind,
}

/// The ground distance of t-closeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroundDistance {
    /// Every two values are at distance 1 (categories).
    Equal,
    /// Values ranked (numbers numerically), distance |rank difference| /
    /// (m − 1).
    Ordered,
}

impl GroundDistance {
    /// Ordered when every non-empty value is a number, else equal.
    pub fn for_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut any = false;
        for v in values {
            if v.is_empty() {
                continue;
            }
            if v.trim().parse::<f64>().is_err() {
                return Self::Equal;
            }
            any = true;
        }
        if any { Self::Ordered } else { Self::Equal }
    }

    /// `equal` or `ordered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "equal",
            Self::Ordered => "ordered",
        }
    }
}

/// t-closeness of the sensitive column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TCloseness {
    /// The largest distance allowed, in [0, 1].
    pub t: f64,
    /// How values are compared.
    pub distance: GroundDistance,
}

/// Slack for floating-point comparisons of entropies and distances.
pub(crate) const EPSILON: f64 = 1e-9;

/// The models, prepared for one input.
#[derive(Debug)]
pub(crate) struct Models<'a> {
    pub(crate) k: usize,
    pub(crate) l: Option<LDiversity>,
    pub(crate) t: Option<TCloseness>,
    sensitive: Option<&'a Sensitive>,
    /// Prefix sums of the overall distribution by rank: `cum[i]` = Σ_{j≤i} qⱼ.
    cum: Vec<f64>,
    /// Prefix sums of `cum`: `cum_sum[i]` = Σ_{j<i} cum[j].
    cum_sum: Vec<f64>,
}

/// What one class does to the node.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Verdict {
    /// Fails a model that is monotone under suppression (k, distinct l).
    pub(crate) fails_monotone: bool,
    /// Fails any model.
    pub(crate) fails: bool,
}

impl<'a> Models<'a> {
    pub(crate) fn new(
        k: usize,
        l: Option<LDiversity>,
        t: Option<TCloseness>,
        sensitive: Option<&'a Sensitive>,
    ) -> Self {
        let mut cum = Vec::new();
        let mut acc = 0.0;
        for q in sensitive.map_or(&[][..], |s| &s.overall) {
            acc += q;
            cum.push(acc);
        }
        let mut cum_sum = Vec::with_capacity(cum.len() + 1);
        let mut acc = 0.0;
        cum_sum.push(0.0);
        for c in &cum {
            acc += c;
            cum_sum.push(acc);
        }
        Self {
            k,
            l,
            t,
            sensitive,
            cum,
            cum_sum,
        }
    }

    /// Whether a record failing in a finer node can only be suppressed in a
    /// coarser one (see the module doc).
    pub(crate) fn monotone(&self) -> bool {
        self.t.is_none() && self.l.is_none_or(|l| l.kind == LKind::Distinct)
    }

    /// Judges a class of `size` records whose sensitive values are
    /// `(rank, count)` pairs in rank order.
    pub(crate) fn judge(&self, size: u64, values: &[(u32, u32)]) -> Verdict {
        let mut v = Verdict::default();
        if size < self.k as u64 {
            v.fails_monotone = true;
        }
        if let Some(l) = self.l {
            match l.kind {
                LKind::Distinct => {
                    if values.len() < l.l as usize {
                        v.fails_monotone = true;
                    }
                }
                LKind::Entropy => {
                    if entropy(size, values) < f64::from(l.l).ln() - EPSILON {
                        v.fails = true;
                    }
                }
            }
        }
        if !v.fails_monotone
            && !v.fails
            && let Some(t) = self.t
            && self.emd(t.distance, size, values) > t.t + EPSILON
        {
            v.fails = true;
        }
        v.fails |= v.fails_monotone;
        v
    }

    /// Earth Mover's Distance between a class and the whole input.
    pub(crate) fn emd(&self, distance: GroundDistance, size: u64, values: &[(u32, u32)]) -> f64 {
        let Some(s) = self.sensitive else {
            return 0.0;
        };
        let n = size as f64;
        match distance {
            GroundDistance::Equal => {
                // Ranks absent from the class contribute their whole qᵢ.
                let mut inside = 0.0;
                let mut q_inside = 0.0;
                for &(r, c) in values {
                    let q = s.overall[r as usize];
                    inside += (f64::from(c) / n - q).abs();
                    q_inside += q;
                }
                0.5 * (inside + (1.0 - q_inside).max(0.0))
            }
            GroundDistance::Ordered => {
                let m = s.overall.len();
                if m <= 1 {
                    return 0.0;
                }
                // The class's cumulative share P is constant between its
                // ranks while the input's cumulative share Q(i) rises, so
                // Σ |P − Q(i)| over such a stretch splits where Q crosses P
                // and each side is a difference of prefix sums.
                let mut total = 0.0;
                let mut p = 0.0;
                let mut start = 0usize;
                for &(r, c) in values {
                    total += self.stretch(p, start, r as usize);
                    p += f64::from(c) / n;
                    start = r as usize;
                }
                total += self.stretch(p, start, m - 1);
                total / (m - 1) as f64
            }
        }
    }

    /// Σ_{i in start..end} |p − cum[i]|, with `cum` non-decreasing.
    fn stretch(&self, p: f64, start: usize, end: usize) -> f64 {
        if end <= start {
            return 0.0;
        }
        let cut = start + self.cum[start..end].partition_point(|&c| c <= p);
        let below = (cut - start) as f64 * p - (self.cum_sum[cut] - self.cum_sum[start]);
        let above = (self.cum_sum[end] - self.cum_sum[cut]) - (end - cut) as f64 * p;
        below + above
    }
}

/// Entropy (natural log) of a class's sensitive values.
pub(crate) fn entropy(size: u64, values: &[(u32, u32)]) -> f64 {
    let n = size as f64;
    -values
        .iter()
        .map(|&(_, c)| {
            let p = f64::from(c) / n;
            p * p.ln()
        })
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensitive(overall: &[f64]) -> Sensitive {
        Sensitive {
            name: "s".into(),
            rank: (0..overall.len() as u32).collect(),
            overall: overall.to_vec(),
            bits: 8,
        }
    }

    /// EMD with ordered distance the slow way: the definition.
    fn ordered_emd_by_definition(p: &[f64], q: &[f64]) -> f64 {
        let mut acc = 0.0;
        let mut total = 0.0;
        for i in 0..p.len() {
            acc += p[i] - q[i];
            total += acc.abs();
        }
        total / (p.len() - 1) as f64
    }

    #[test]
    fn ordered_emd_matches_its_definition() {
        let q = [0.1, 0.2, 0.05, 0.3, 0.15, 0.2];
        let s = sensitive(&q);
        let m = Models::new(1, None, None, Some(&s));
        for class in [
            vec![(0u32, 3u32), (4, 1)],
            vec![(5, 2)],
            vec![(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1)],
            vec![(1, 7), (3, 2), (5, 1)],
        ] {
            let size: u32 = class.iter().map(|c| c.1).sum();
            let mut p = vec![0.0; q.len()];
            for &(r, c) in &class {
                p[r as usize] = f64::from(c) / f64::from(size);
            }
            let fast = m.emd(GroundDistance::Ordered, u64::from(size), &class);
            let slow = ordered_emd_by_definition(&p, &q);
            assert!((fast - slow).abs() < 1e-12, "{class:?}: {fast} vs {slow}");
        }
    }

    #[test]
    fn equal_emd_is_half_the_l1_distance() {
        let s = sensitive(&[0.5, 0.25, 0.25]);
        let m = Models::new(1, None, None, Some(&s));
        // p = (0, 1, 0): ½ (0.5 + 0.75 + 0.25) = 0.75.
        assert!((m.emd(GroundDistance::Equal, 4, &[(1, 4)]) - 0.75).abs() < 1e-12);
        // The class is the input: 0.
        assert!(
            m.emd(GroundDistance::Equal, 4, &[(0, 2), (1, 1), (2, 1)])
                .abs()
                < 1e-12
        );
    }

    #[test]
    fn verdicts_separate_monotone_models_from_the_others() {
        let s = sensitive(&[0.5, 0.5]);
        let distinct = LDiversity {
            l: 2,
            kind: LKind::Distinct,
        };
        let entropy = LDiversity {
            l: 2,
            kind: LKind::Entropy,
        };
        let m = Models::new(3, Some(distinct), None, Some(&s));
        assert!(m.monotone());
        let v = m.judge(3, &[(0, 3)]);
        assert!(v.fails_monotone && v.fails);
        let m = Models::new(3, Some(entropy), None, Some(&s));
        assert!(!m.monotone());
        // Two values, 3:1 — entropy 0.56 < ln 2: fails, but not monotonically.
        let v = m.judge(4, &[(0, 3), (1, 1)]);
        assert!(v.fails && !v.fails_monotone);
        assert!(!m.judge(4, &[(0, 2), (1, 2)]).fails);
    }

    #[test]
    fn numbers_get_the_ordered_distance() {
        assert_eq!(
            GroundDistance::for_values(["1.5", "20", ""]),
            GroundDistance::Ordered
        );
        assert_eq!(
            GroundDistance::for_values(["1.5", "high"]),
            GroundDistance::Equal
        );
    }
}
