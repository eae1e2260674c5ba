//! Linking Bloom-filter encodings by their Dice coefficient.
//!
//! **Candidates.** Without blocking tokens every pair is a candidate, but
//! most are skipped without a look at their bits: `Dice(a, b) ≥ t` needs
//! `2·min(|a|, |b|) / (|a| + |b|) ≥ t`, so with the records sorted by
//! popcount each one is compared only with the following records whose
//! popcount is within `|a|·(2 − t)/t` (the popcount filter of anonlink).
//! That is quadratic still: past [`MatchSettings::max_exhaustive_pairs`]
//! the run is refused with the advice to encode blocking tokens
//! (`renkei identity encode --block-on`), keyed hashes of blocking keys
//! that the platform can group on without learning the values; records
//! sharing a token are then the candidates.
//!
//! **Threshold.** Unless configured, the link threshold is read from the
//! data, by the minimum-error thresholding of Kittler and Illingworth
//! (1986): the Dice coefficients of the candidate pairs (from 0.3, per
//! 0.01) are split at the threshold whose two sides, each fitted by a
//! normal distribution with its share of the pairs, misclassify the fewest
//! pairs — the classification-maximum-likelihood fit of a two-component
//! mixture, non-matches below and matches above. This costs a second
//! pass over the candidates. A unimodal histogram (nothing matches) gets
//! the default [`DEFAULT_LINK_DICE`].
//!
//! Why not the emptiest bin between the modes, as before: matches are
//! not one mode. Identical encodings (exact duplicates) make a spike at 1
//! and near matches a shoulder below it, so at scale the emptiest bin was
//! the gap between the two (0.985 on 284,495 synthetic records: recall
//! 0.74). Fitting both sides as a whole keeps the spike and the shoulder
//! together. Its known limit: non-matches that share most fields (namesakes
//! with one insurer, blocked together) form a mode of their own just below
//! the near matches, which a two-class split counts partly as matches
//! (BENCHMARKS.md, `renkei-bench link`); configure `link_threshold` then.
//!
//! **Decisions.** Pairs at or above the link threshold are links, those in
//! the band below go to clerical review, and links become entities with
//! the guarded clustering of the probabilistic mode
//! ([`crate::linkage::cluster`]).

use std::collections::HashMap;
use std::time::Instant;

use super::encode::{Clk, EncodedTable};
use super::{Error, Result};
use crate::linkage::Clusters;
use crate::linkage::cluster::cluster;

/// Thresholds and limits of a PPRL run.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchSettings {
    /// Dice coefficient at or above which a pair is a link; `None` reads it
    /// from the data (see the module documentation).
    pub link_threshold: Option<f64>,
    /// Dice coefficient at or above which a pair below the link threshold
    /// goes to clerical review; `None` is [`REVIEW_BAND`] below the link
    /// threshold.
    pub review_threshold: Option<f64>,
    /// Most pairs compared without blocking tokens, before the popcount
    /// filter.
    pub max_exhaustive_pairs: f64,
}

/// Link threshold (Dice) when the data show no mode of matches.
pub const DEFAULT_LINK_DICE: f64 = 0.8;
/// Width of the clerical-review band below the link threshold (Dice).
pub const REVIEW_BAND: f64 = 0.05;
/// Pairs below this Dice coefficient do not shape the automatic threshold.
const HISTOGRAM_FLOOR: f64 = 0.3;

impl Default for MatchSettings {
    fn default() -> Self {
        Self {
            link_threshold: None,
            review_threshold: None,
            max_exhaustive_pairs: 5e10,
        }
    }
}

impl MatchSettings {
    fn check(&self) -> Result<()> {
        if let Some(t) = self.link_threshold
            && !(t > 0.0 && t <= 1.0)
        {
            return Err(Error::InvalidSetting {
                key: "link_threshold",
                reason: format!("a Dice coefficient in (0, 1], not {t}"),
            });
        }
        if let Some(r) = self.review_threshold
            && !(r > 0.0 && r <= self.link_threshold.unwrap_or(1.0))
        {
            return Err(Error::InvalidSetting {
                key: "review_threshold",
                reason: format!("a Dice coefficient in (0, link_threshold], not {r}"),
            });
        }
        Ok(())
    }
}

/// Candidate pairs per 0.01 of Dice coefficient (bin 100 holds exactly 1).
type Histogram = [u64; 101];

/// Whether the histogram, smoothed over three bins, has two modes: a bin
/// lying below a higher bin on either side.
fn bimodal(hist: &[u64]) -> bool {
    let n = hist.len();
    let smooth: Vec<u64> = (0..n)
        .map(|i| hist[i.saturating_sub(1)..=(i + 1).min(n - 1)].iter().sum())
        .collect();
    let mut left_peak = 0;
    let mut right_peak = vec![0u64; n];
    for i in (0..n - 1).rev() {
        right_peak[i] = right_peak[i + 1].max(smooth[i + 1]);
    }
    (0..n).any(|i| {
        let below = smooth[i] < left_peak.min(right_peak[i]);
        left_peak = left_peak.max(smooth[i]);
        below
    })
}

/// The minimum-error threshold (Kittler and Illingworth 1986) of the
/// histogram's bins from [`HISTOGRAM_FLOOR`]: the lower edge of the bin
/// `t` minimizing `P₀ ln σ₀ + P₁ ln σ₁ − P₀ ln P₀ − P₁ ln P₁`, where `P` and
/// `σ` are the share and the standard deviation of the pairs below `t`
/// (non-matches) and from `t` (matches) — the expected error of a normal
/// fit to each side. Each bin counts at its centre, the last (exactly 1)
/// at 1, with the variance of a bin's width added so that a side of one
/// bin is not a perfect fit. `None` when the histogram has a single mode.
pub fn min_error_threshold(hist: &Histogram) -> Option<f64> {
    let lo = (HISTOGRAM_FLOOR * 100.0).round() as usize;
    if !bimodal(&hist[lo..]) {
        return None;
    }
    let bins: Vec<(f64, f64)> = (lo..hist.len())
        .map(|i| (((i as f64 + 0.5) / 100.0).min(1.0), hist[i] as f64))
        .collect();
    let total: f64 = bins.iter().map(|b| b.1).sum();
    // Count, sum and sum of squares of the bins below each split.
    let mut below = vec![(0.0, 0.0, 0.0); bins.len() + 1];
    for (i, &(x, n)) in bins.iter().enumerate() {
        let (c, s, q) = below[i];
        below[i + 1] = (c + n, s + n * x, q + n * x * x);
    }
    let all = below[bins.len()];
    // The part of the criterion one side contributes.
    let side = |(c, s, q): (f64, f64, f64)| {
        let p = c / total;
        let mean = s / c;
        let variance = (q / c - mean * mean).max(0.0) + 1e-4 / 12.0;
        p * 0.5 * variance.ln() - p * p.ln()
    };
    (1..bins.len())
        .filter(|&t| below[t].0 > 0.0 && all.0 - below[t].0 > 0.0)
        .map(|t| {
            let (c, s, q) = below[t];
            let above = (all.0 - c, all.1 - s, all.2 - q);
            (side(below[t]) + side(above), t)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, t)| (lo + t) as f64 / 100.0)
}

/// A scored pair (indices into the input; in link mode `left` is a record
/// of the left file and `right` one of the right file, numbered after the
/// left's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClkPair {
    /// The first record.
    pub left: u32,
    /// The second record.
    pub right: u32,
    /// Their Dice coefficient.
    pub dice: f64,
}

/// Counts and timings of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClkStats {
    /// Records (both files when linking).
    pub records: usize,
    /// All pairs there are.
    pub total_pairs: f64,
    /// Pairs whose bits were compared.
    pub pairs_compared: u64,
    /// How candidates were found: "exhaustive" or "blocking tokens".
    pub candidates: &'static str,
    /// The link threshold applied.
    pub link_threshold: f64,
    /// The review threshold applied.
    pub review_threshold: f64,
    /// Whether the link threshold was read from the data.
    pub threshold_automatic: bool,
    /// Pairs at or above the link threshold.
    pub links: usize,
    /// Pairs in the review band.
    pub review: usize,
    /// Seconds comparing, and clustering.
    pub seconds: [(&'static str, f64); 2],
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct ClkOutcome {
    /// Links, strongest first.
    pub links: Vec<ClkPair>,
    /// Pairs in the review band, strongest first.
    pub review: Vec<ClkPair>,
    /// Entities.
    pub clusters: Clusters,
    /// Counts and timings.
    pub stats: ClkStats,
}

/// How candidate pairs are found.
enum Candidates {
    /// Every pair, with the popcount filter.
    Exhaustive,
    /// The pairs sharing a blocking token, each `a << 32 | b`.
    Blocked(Vec<u64>),
}

/// Encoded records ready to link: one file (dedupe) or two (link).
#[derive(Debug)]
pub struct ClkLinker<'a> {
    ids: Vec<&'a str>,
    clks: Vec<&'a Clk>,
    blocks: Option<Vec<&'a [u64]>>,
    popcounts: Vec<u32>,
    /// Records of the left file, in link mode.
    left: Option<u32>,
}

/// The Dice coefficient of two filters of equal length.
pub fn dice(a: &Clk, b: &Clk, pa: u32, pb: u32) -> f64 {
    if pa + pb == 0 {
        return 0.0;
    }
    let common: u32 = a
        .words()
        .iter()
        .zip(b.words())
        .map(|(x, y)| (x & y).count_ones())
        .sum();
    2.0 * f64::from(common) / f64::from(pa + pb)
}

impl<'a> ClkLinker<'a> {
    /// Records of one file, to deduplicate.
    pub fn dedupe(table: &'a EncodedTable) -> Self {
        Self::build(&[table], None)
    }

    /// Records of two files, to link; both must carry the same schema.
    pub fn link(left: &'a EncodedTable, right: &'a EncodedTable) -> Result<Self> {
        if left.schema != right.schema && !left.ids.is_empty() && !right.ids.is_empty() {
            return Err(Error::SchemaMismatch {
                left: left.schema.clone(),
                right: right.schema.clone(),
            });
        }
        Ok(Self::build(&[left, right], Some(left.ids.len() as u32)))
    }

    fn build(tables: &[&'a EncodedTable], left: Option<u32>) -> Self {
        let ids = tables
            .iter()
            .flat_map(|t| t.ids.iter().map(String::as_str))
            .collect();
        let clks: Vec<&Clk> = tables.iter().flat_map(|t| t.clks.iter()).collect();
        let popcounts = clks.iter().map(|c| c.popcount()).collect();
        let blocks = tables.iter().all(|t| t.blocks.is_some()).then(|| {
            tables
                .iter()
                .flat_map(|t| {
                    t.blocks
                        .as_ref()
                        .expect("checked above")
                        .iter()
                        .map(Vec::as_slice)
                })
                .collect()
        });
        Self {
            ids,
            clks,
            blocks,
            popcounts,
            left,
        }
    }

    /// The id of a record.
    pub fn record_id(&self, record: u32) -> &str {
        self.ids[record as usize]
    }

    /// Whether the input carries blocking tokens (on both sides).
    pub fn has_blocking(&self) -> bool {
        self.blocks.is_some()
    }

    fn total_pairs(&self) -> f64 {
        let n = self.ids.len() as f64;
        match self.left {
            None => n * (n - 1.0) / 2.0,
            Some(l) => f64::from(l) * (n - f64::from(l)),
        }
    }

    /// Whether two records are on different sides (always, when deduping).
    fn across(&self, a: u32, b: u32) -> bool {
        match self.left {
            None => true,
            Some(l) => (a < l) != (b < l),
        }
    }

    fn score(&self, a: u32, b: u32) -> f64 {
        let (a, b) = (a as usize, b as usize);
        dice(
            self.clks[a],
            self.clks[b],
            self.popcounts[a],
            self.popcounts[b],
        )
    }

    /// Links the records.
    pub fn run(&self, settings: &MatchSettings) -> Result<ClkOutcome> {
        settings.check()?;
        let t = Instant::now();
        let candidates = match &self.blocks {
            Some(blocks) => Candidates::Blocked(self.blocked_candidates(blocks)),
            None => {
                if self.total_pairs() > settings.max_exhaustive_pairs {
                    return Err(Error::InvalidSetting {
                        key: "max_exhaustive_pairs",
                        reason: format!(
                            "{:.0} pairs is more than {:.0} to compare without blocking: \
                             encode with blocking tokens (renkei identity encode --block-on)",
                            self.total_pairs(),
                            settings.max_exhaustive_pairs
                        ),
                    });
                }
                Candidates::Exhaustive
            }
        };
        let (link_threshold, threshold_automatic) = match settings.link_threshold {
            Some(t) => (t, false),
            None => {
                let (_, hist, _) = self.scan(&candidates, HISTOGRAM_FLOOR, None);
                (
                    min_error_threshold(&hist).unwrap_or(DEFAULT_LINK_DICE),
                    true,
                )
            }
        };
        let review_threshold = settings
            .review_threshold
            .unwrap_or(link_threshold - REVIEW_BAND)
            .min(link_threshold);
        let (mut scored, _, compared) =
            self.scan(&candidates, review_threshold, Some(review_threshold));
        let compare_seconds = t.elapsed().as_secs_f64();
        scored.sort_by(|x, y| {
            y.dice
                .total_cmp(&x.dice)
                .then((x.left, x.right).cmp(&(y.left, y.right)))
        });
        let split = scored.partition_point(|p| p.dice >= link_threshold);
        let review = scored.split_off(split);
        let links = scored;

        let t = Instant::now();
        let weighted: Vec<(u32, u32, f64)> =
            links.iter().map(|p| (p.left, p.right, p.dice)).collect();
        let clusters = cluster(self.ids.len(), &weighted, |a, b| {
            self.across(a, b) && self.score(a, b) >= link_threshold
        });
        let cluster_seconds = t.elapsed().as_secs_f64();
        Ok(ClkOutcome {
            stats: ClkStats {
                records: self.ids.len(),
                total_pairs: self.total_pairs(),
                pairs_compared: compared,
                candidates: match candidates {
                    Candidates::Exhaustive => "exhaustive",
                    Candidates::Blocked(_) => "blocking tokens",
                },
                link_threshold,
                review_threshold,
                threshold_automatic,
                links: links.len(),
                review: review.len(),
                seconds: [("compare", compare_seconds), ("cluster", cluster_seconds)],
            },
            links,
            review,
            clusters,
        })
    }

    /// Scores the candidates that can reach `floor`: the pairs at or above
    /// `keep` (none when `None`), the histogram of every score, and how
    /// many pairs were compared. Runs on as many threads as there are
    /// cores.
    fn scan(
        &self,
        candidates: &Candidates,
        floor: f64,
        keep: Option<f64>,
    ) -> (Vec<ClkPair>, Histogram, u64) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let order: Vec<u32> = match candidates {
            Candidates::Exhaustive => {
                let mut order: Vec<u32> = (0..self.ids.len() as u32).collect();
                order.sort_by_key(|&r| (self.popcounts[r as usize], r));
                order
            }
            Candidates::Blocked(_) => Vec::new(),
        };
        let reach = (2.0 - floor) / floor;
        let parts: Vec<(Vec<ClkPair>, Histogram, u64)> = std::thread::scope(|s| {
            let order = &order;
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    s.spawn(move || {
                        let mut out = Vec::new();
                        let mut hist: Histogram = [0; 101];
                        let mut compared = 0u64;
                        let mut visit = |a: u32, b: u32, pa: u32, pb: u32| {
                            compared += 1;
                            let d = dice(self.clks[a as usize], self.clks[b as usize], pa, pb);
                            hist[((d * 100.0) as usize).min(100)] += 1;
                            if keep.is_some_and(|keep| d >= keep) {
                                out.push(self.pair(a, b, d));
                            }
                        };
                        match candidates {
                            // Interleaved rows balance the triangle.
                            Candidates::Exhaustive => {
                                for i in (k..order.len()).step_by(threads) {
                                    let a = order[i];
                                    let pa = self.popcounts[a as usize];
                                    let limit = f64::from(pa) * reach;
                                    for &b in &order[i + 1..] {
                                        let pb = self.popcounts[b as usize];
                                        if f64::from(pb) > limit {
                                            break;
                                        }
                                        if self.across(a, b) {
                                            visit(a, b, pa, pb);
                                        }
                                    }
                                }
                            }
                            Candidates::Blocked(pairs) => {
                                for c in pairs.iter().skip(k).step_by(threads) {
                                    let (a, b) = ((c >> 32) as u32, *c as u32);
                                    let (pa, pb) =
                                        (self.popcounts[a as usize], self.popcounts[b as usize]);
                                    visit(a, b, pa, pb);
                                }
                            }
                        }
                        (out, hist, compared)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("comparing filters does not panic"))
                .collect()
        });
        let mut hist: Histogram = [0; 101];
        let mut compared = 0;
        let mut pairs = Vec::new();
        for (p, h, c) in parts {
            pairs.extend(p);
            compared += c;
            for (total, n) in hist.iter_mut().zip(h) {
                *total += n;
            }
        }
        (pairs, hist, compared)
    }

    /// The distinct pairs sharing a blocking token, each `a << 32 | b`.
    fn blocked_candidates(&self, blocks: &[&[u64]]) -> Vec<u64> {
        let mut groups: HashMap<u64, Vec<u32>> = HashMap::new();
        for (r, tokens) in blocks.iter().enumerate() {
            for &token in *tokens {
                groups.entry(token).or_default().push(r as u32);
            }
        }
        let mut candidates: Vec<u64> = Vec::new();
        for members in groups.values() {
            for (i, &a) in members.iter().enumerate() {
                for &b in &members[i + 1..] {
                    if self.across(a, b) {
                        let (x, y) = if a < b { (a, b) } else { (b, a) };
                        candidates.push(u64::from(x) << 32 | u64::from(y));
                    }
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }

    /// A pair with the left file's record first.
    fn pair(&self, a: u32, b: u32, dice: f64) -> ClkPair {
        let (left, right) = if a < b { (a, b) } else { (b, a) };
        ClkPair { left, right, dice }
    }

    /// Writes pairs as CSV with the header `left_id,right_id,dice`.
    pub fn write_pairs(&self, pairs: &[ClkPair], path: &std::path::Path) -> Result<()> {
        let err = |source| {
            Error::Records(crate::linkage::Error::Csv {
                path: path.to_owned(),
                source,
            })
        };
        let mut w = csv::Writer::from_path(path).map_err(err)?;
        w.write_record(["left_id", "right_id", "dice"])
            .map_err(err)?;
        for p in pairs {
            w.write_record([
                self.record_id(p.left),
                self.record_id(p.right),
                &format!("{:.4}", p.dice),
            ])
            .map_err(err)?;
        }
        w.flush().map_err(|e| err(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linkage::{Kind, Table};
    use crate::pprl::{ClkField, ClkKey, ClkSchema, encode};

    fn schema() -> ClkSchema {
        ClkSchema {
            bits: 1024,
            fields: vec![
                ClkField {
                    column: "name".into(),
                    kind: Kind::Name,
                    hashes: 20,
                },
                ClkField {
                    column: "dob".into(),
                    kind: Kind::Date,
                    hashes: 20,
                },
            ],
        }
    }

    fn encoded(rows: &[(&str, &str, &str)]) -> EncodedTable {
        let table = Table::new(
            vec!["id".into(), "name".into(), "dob".into()],
            rows.iter()
                .map(|(a, b, c)| vec![(*a).into(), (*b).into(), (*c).into()])
                .collect(),
        );
        encode(&ClkKey::new([9; 32]), &schema(), &table, "id", &[]).expect("encodes")
    }

    #[test]
    fn dice_of_equal_filters_is_one_and_of_disjoint_zero() {
        let e = encoded(&[("1", "tanaka hanako", "19800102")]);
        let p = e.clks[0].popcount();
        assert!((dice(&e.clks[0], &e.clks[0], p, p) - 1.0).abs() < 1e-12);
        let zero = Clk::zeros(1024);
        assert_eq!(dice(&e.clks[0], &zero, p, 0), 0.0);
        assert_eq!(dice(&zero, &zero, 0, 0), 0.0);
    }

    #[test]
    fn a_typo_stays_above_the_threshold_and_another_person_below() {
        let e = encoded(&[
            ("a", "tanaka hanako", "19800102"),
            ("b", "tanaka hanak", "19800102"),
            ("c", "suzuki ichiro", "19751231"),
        ]);
        let linker = ClkLinker::dedupe(&e);
        let settings = MatchSettings {
            link_threshold: Some(0.8),
            ..MatchSettings::default()
        };
        let out = linker.run(&settings).expect("runs");
        let ids: Vec<(&str, &str)> = out
            .links
            .iter()
            .map(|p| (linker.record_id(p.left), linker.record_id(p.right)))
            .collect();
        assert_eq!(ids, [("a", "b")]);
        assert_eq!(out.clusters.count, 2);
        assert_eq!(out.stats.candidates, "exhaustive");
    }

    #[test]
    fn the_popcount_filter_loses_no_pair_an_all_pairs_scan_finds() {
        let names = [
            "sato",
            "satou",
            "suzuki",
            "takahashi",
            "tanaka",
            "tanak",
            "ito",
            "watanabe",
            "yamamoto",
            "nakamura",
            "kobayashi",
            "kato",
        ];
        let rows: Vec<(String, String, String)> = names
            .iter()
            .enumerate()
            .flat_map(|(i, n)| {
                [
                    (format!("{i}a"), format!("{n} taro"), "19800101".to_owned()),
                    (
                        format!("{i}b"),
                        format!("{n} jiro"),
                        format!("1980010{}", i % 9),
                    ),
                ]
            })
            .collect();
        let refs: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        let e = encoded(&refs);
        let linker = ClkLinker::dedupe(&e);
        let floor = 0.6;
        let (mut fast, _, _) = linker.scan(&Candidates::Exhaustive, floor, Some(floor));
        let mut all = Vec::new();
        for a in 0..e.ids.len() as u32 {
            for b in a + 1..e.ids.len() as u32 {
                let d = linker.score(a, b);
                if d >= floor {
                    all.push((a, b));
                }
            }
        }
        let mut fast: Vec<(u32, u32)> = fast.drain(..).map(|p| (p.left, p.right)).collect();
        fast.sort_unstable();
        assert_eq!(fast, all);
        assert!(!all.is_empty());
    }

    #[test]
    fn link_mode_pairs_only_across_files_and_refuses_another_schema() {
        let left = encoded(&[
            ("l1", "tanaka hanako", "19800102"),
            ("l2", "tanaka hanako", "19800102"),
        ]);
        let right = encoded(&[("r1", "tanaka hanako", "19800102")]);
        let linker = ClkLinker::link(&left, &right).expect("same schema");
        let settings = MatchSettings {
            link_threshold: Some(0.8),
            ..MatchSettings::default()
        };
        let out = linker.run(&settings).expect("runs");
        assert_eq!(out.links.len(), 2, "l1–r1 and l2–r1, never l1–l2");
        for p in &out.links {
            assert!(p.left < 2 && p.right == 2);
        }
        let mut other = right.clone();
        other.schema = "0000000000000000".into();
        assert!(matches!(
            ClkLinker::link(&left, &other),
            Err(Error::SchemaMismatch { .. })
        ));
    }

    /// `n` pairs spread as a normal distribution around `mean` (in bins).
    fn add_normal(hist: &mut Histogram, n: f64, mean: f64, sd: f64) {
        let density: Vec<f64> = (0..hist.len())
            .map(|i| (-((i as f64 - mean) / sd).powi(2) / 2.0).exp())
            .collect();
        let sum: f64 = density.iter().sum();
        for (count, d) in hist.iter_mut().zip(density) {
            *count += (n * d / sum).round() as u64;
        }
    }

    #[test]
    fn the_threshold_lies_between_the_noise_and_the_matches() {
        // Non-matches around 0.53, matches spread over 0.68–1.
        let mut hist: Histogram = [0; 101];
        add_normal(&mut hist, 7.5e6, 53.0, 3.0);
        for (i, n) in hist.iter_mut().enumerate().skip(68) {
            *n += (i as u64 - 66) * 10;
        }
        let t = min_error_threshold(&hist).expect("two modes");
        assert!((0.62..=0.70).contains(&t), "{t}");
    }

    #[test]
    fn exact_duplicates_and_near_matches_stay_on_one_side() {
        // A large mode of non-matches around 0.6, a shoulder of near
        // matches over 0.85–0.95 and a spike of identical encodings at 1,
        // with an empty gap between the two: the emptiest bin (the old
        // rule) lies in that gap and would drop the whole shoulder.
        let mut hist: Histogram = [0; 101];
        add_normal(&mut hist, 1.4e6, 60.0, 3.5);
        add_normal(&mut hist, 90_000.0, 91.0, 2.5);
        for n in &mut hist[97..100] {
            *n = 0;
        }
        hist[100] = 60_000;
        let t = min_error_threshold(&hist).expect("two modes");
        let shoulder_start = 0.85;
        assert!(
            (0.70..shoulder_start).contains(&t),
            "{t}: below the shoulder and above the non-matches"
        );
        let kept: u64 = hist[(t * 100.0).round() as usize..].iter().sum();
        let matches: u64 = hist[80..].iter().sum();
        assert!(
            kept >= matches,
            "{kept} pairs at or above {t}, {matches} from 0.8"
        );
    }

    #[test]
    fn a_single_mode_has_no_threshold() {
        let mut noise: Histogram = [0; 101];
        noise[50] = 10;
        noise[51] = 5;
        assert_eq!(min_error_threshold(&noise), None, "no second mode");
        let mut wide: Histogram = [0; 101];
        add_normal(&mut wide, 1e6, 55.0, 6.0);
        assert_eq!(min_error_threshold(&wide), None, "one normal mode");
    }

    #[test]
    fn a_configured_threshold_overrides_the_automatic_one() {
        let e = encoded(&[
            ("a", "tanaka hanako", "19800102"),
            ("b", "tanaka hanak", "19800102"),
        ]);
        let linker = ClkLinker::dedupe(&e);
        let out = linker
            .run(&MatchSettings {
                link_threshold: Some(0.999),
                ..MatchSettings::default()
            })
            .expect("runs");
        assert_eq!(out.stats.link_threshold, 0.999);
        assert!(!out.stats.threshold_automatic);
        assert!(out.links.is_empty(), "a typo is below 0.999");
    }

    #[test]
    fn too_many_pairs_without_blocking_is_refused_with_advice() {
        let e = encoded(&[("a", "x", "19800101"), ("b", "y", "19800101")]);
        let settings = MatchSettings {
            max_exhaustive_pairs: 0.5,
            ..MatchSettings::default()
        };
        let err = ClkLinker::dedupe(&e)
            .run(&settings)
            .expect_err("over the limit");
        assert!(err.to_string().contains("--block-on"), "{err}");
    }
}
