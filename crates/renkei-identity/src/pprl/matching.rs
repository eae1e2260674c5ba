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
//! data: the Dice coefficients of the candidate pairs form a large mode of
//! non-matches and, above it, the matches; the threshold is the centre of
//! the emptiest 0.01-wide bin between the two (the histogram smoothed over
//! three bins), where the two densities cross. This costs a second pass
//! over the candidates. Without a second mode (nothing matches) the
//! default [`DEFAULT_LINK_DICE`] applies.
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

/// The centre of the deepest valley of the histogram, smoothed over
/// three bins: the bin (or the middle of a flat stretch of bins) whose
/// count lies furthest below the lower of the highest peaks on either
/// side. It does not matter which mode is larger — all pairs give a huge
/// mode of non-matches, blocked candidates may be mostly matches. `None`
/// when the histogram has no valley (a single mode).
pub fn valley(hist: &Histogram) -> Option<f64> {
    let n = hist.len();
    let smooth: Vec<u64> = (0..n)
        .map(|i| hist[i.saturating_sub(1)..=(i + 1).min(n - 1)].iter().sum())
        .collect();
    let mut left_peak = vec![0u64; n];
    let mut right_peak = vec![0u64; n];
    for i in 1..n {
        left_peak[i] = left_peak[i - 1].max(smooth[i - 1]);
    }
    for i in (0..n - 1).rev() {
        right_peak[i] = right_peak[i + 1].max(smooth[i + 1]);
    }
    let depth = |i: usize| left_peak[i].min(right_peak[i]).saturating_sub(smooth[i]);
    let first = (0..n).max_by_key(|&i| (depth(i), std::cmp::Reverse(i)))?;
    if depth(first) == 0 {
        return None;
    }
    // A flat stretch: its middle.
    let end = (first..n)
        .take_while(|&i| smooth[i] == smooth[first])
        .last()
        .unwrap_or(first);
    let bin = (first + end) as f64 / 2.0;
    Some(((bin + 0.5) / 100.0).min(1.0))
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
                (valley(&hist).unwrap_or(DEFAULT_LINK_DICE), true)
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

    #[test]
    fn the_valley_lies_between_the_noise_and_the_matches() {
        // Non-matches around 0.53, matches spread over 0.68–1.
        let mut hist: Histogram = [0; 101];
        for (i, n) in hist.iter_mut().enumerate() {
            let x = (i as f64 - 53.0) / 3.0;
            *n += (1e6 * (-x * x / 2.0).exp()) as u64;
            if i >= 68 {
                *n += (i as u64 - 66) * 10;
            }
        }
        let t = valley(&hist).expect("two modes");
        assert!((0.64..=0.70).contains(&t), "{t}");
        let mut noise: Histogram = [0; 101];
        noise[50] = 10;
        noise[51] = 5;
        assert_eq!(valley(&noise), None, "no second mode, no valley");
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
