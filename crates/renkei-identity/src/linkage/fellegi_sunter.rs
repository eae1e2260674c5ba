//! The Fellegi–Sunter model (Fellegi and Sunter 1969) and its training
//! without labels, in the manner of Splink.
//!
//! For each field and comparison level, *m* is the probability of that
//! level among true matches and *u* among non-matches; a pair's match
//! weight is `log2(λ/(1−λ)) + Σ log2(m/u)` over its fields (a null level
//! adds nothing), and its probability `2^w / (1 + 2^w)`. λ is the prior:
//! the probability that two records drawn at random match.
//!
//! Training, with no labelled pairs:
//!
//! 1. **u** from pairs drawn at random (seeded, so reproducible): almost
//!    all are non-matches, so the frequency of each level among them is u.
//! 2. **m** by expectation–maximization on the blocked pairs, one session
//!    per blocking rule with u held fixed. A rule selects pairs that agree
//!    on its own columns whether they match or not, so those columns are
//!    left out of its session (their agreement there is no evidence);
//!    within the session the other columns of non-matches still follow u.
//!    A field's m is the mean over the sessions that estimate it, weighted
//!    by each session's expected matches.
//! 3. **λ**: session r finds `λ_r·N_r` matches among its `N_r` pairs,
//!    which are the matches its rule catches. The share of all matches the
//!    rule catches (its recall) is estimated in the other sessions, those
//!    whose rules share no column with it: the posterior-weighted share of
//!    their pairs for which rule r also holds. Matches in all =
//!    median over rules of `λ_r·N_r / recall_r`; λ = that / all pairs.
//!
//! Fields compared in every rule's columns cannot be estimated this way;
//! they keep their initial m, and the summary says so.

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::blocking::{BlockingRule, Sides};
use super::comparison::{FieldSpec, Kind, Prepared};

/// m and u of one field, per non-null level (best first).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldModel {
    /// The column.
    pub column: String,
    /// Its kind.
    pub kind: Kind,
    /// Level labels, best first (without the null level).
    pub labels: Vec<String>,
    /// P(level | match).
    pub m: Vec<f64>,
    /// P(level | non-match).
    pub u: Vec<f64>,
    /// Whether m was estimated (false: no session could, see the module
    /// doc).
    pub m_estimated: bool,
}

impl FieldModel {
    /// log2(m/u) of a level (1-based; 0, the null level, gives 0).
    pub fn weight(&self, level: u8) -> f64 {
        if level == 0 {
            return 0.0;
        }
        let i = usize::from(level - 1);
        (self.m[i] / self.u[i]).log2()
    }
}

/// A trained model.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// Per field, in the order of the plan.
    pub fields: Vec<FieldModel>,
    /// The prior λ: P(two random records match).
    pub lambda: f64,
}

impl Model {
    /// log2(λ / (1 − λ)).
    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// The match weight of a pair with these levels, one per field.
    pub fn match_weight(&self, levels: &[u8]) -> f64 {
        self.prior_weight()
            + self
                .fields
                .iter()
                .zip(levels)
                .map(|(f, &l)| f.weight(l))
                .sum::<f64>()
    }

    /// The probability of a match weight.
    pub fn probability(weight: f64) -> f64 {
        1.0 / (1.0 + (-weight).exp2())
    }
}

impl fmt::Display for Model {
    /// One line per field and level: m, u and the weight.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "prior λ = {:.3e} (match weight {:+.2})",
            self.lambda,
            self.prior_weight()
        )?;
        for field in &self.fields {
            let note = if field.m_estimated {
                ""
            } else {
                " (m not estimated: in every blocking rule)"
            };
            writeln!(f, "{} ({}){note}", field.column, field.kind)?;
            for (i, label) in field.labels.iter().enumerate() {
                writeln!(
                    f,
                    "  {label:<34} m={:.4} u={:.6} weight={:+.2}",
                    field.m[i],
                    field.u[i],
                    field.weight(i as u8 + 1)
                )?;
            }
        }
        Ok(())
    }
}

/// Training parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Training {
    /// Random pairs drawn to estimate u.
    pub random_pairs: u64,
    /// Seed of the draw.
    pub seed: u64,
    /// Most EM iterations per session.
    pub max_iterations: u32,
    /// EM stops once no m and no λ moves by more than this.
    pub tolerance: f64,
}

impl Default for Training {
    fn default() -> Self {
        Self {
            random_pairs: 1_000_000,
            seed: 42,
            max_iterations: 100,
            tolerance: 1e-6,
        }
    }
}

/// Smallest probability kept, so that no weight is infinite.
const FLOOR: f64 = 1e-6;

fn normalized(mut p: Vec<f64>) -> Vec<f64> {
    for x in &mut p {
        *x = x.max(FLOOR);
    }
    let total: f64 = p.iter().sum();
    p.iter().map(|x| x / total).collect()
}

/// Random pairs drawn per chunk; each chunk has its own generator seeded
/// from the seed and the chunk's number, so the draw is the same however
/// many threads share the chunks.
const DRAW_CHUNK: u64 = 1 << 16;

/// u per field and level from random pairs: the frequency of each level
/// among them (with one pseudo-count per level).
pub(crate) fn estimate_u(
    prepared: &[Prepared],
    sides: Sides,
    training: &Training,
) -> Vec<Vec<f64>> {
    let total = sides.total_pairs();
    let draws = if total < 1.0 {
        0
    } else {
        (training.random_pairs as f64).min(total) as u64
    };
    let chunks = draws.div_ceil(DRAW_CHUNK);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.max(1) as usize);
    let draw_chunk = |chunk: u64, counts: &mut [Vec<u64>]| {
        let seed = training.seed ^ chunk.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = StdRng::seed_from_u64(seed);
        let n = DRAW_CHUNK.min(draws - chunk * DRAW_CHUNK);
        for _ in 0..n {
            let (a, b) = match sides {
                Sides::Dedupe { records } => {
                    let a = rng.gen_range(0..records);
                    let mut b = rng.gen_range(0..records - 1);
                    if b >= a {
                        b += 1;
                    }
                    (a, b)
                }
                Sides::Link { left, right } => {
                    (rng.gen_range(0..left), left + rng.gen_range(0..right))
                }
            };
            for (p, c) in prepared.iter().zip(counts.iter_mut()) {
                let level = p.level(a, b);
                if level != 0 {
                    c[usize::from(level - 1)] += 1;
                }
            }
        }
    };
    let empty = || -> Vec<Vec<u64>> {
        prepared
            .iter()
            .map(|p| vec![0; p.spec().levels()])
            .collect()
    };
    let partials: Vec<Vec<Vec<u64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|t| {
                s.spawn(move || {
                    let mut counts = empty();
                    let mut chunk = t;
                    while chunk < chunks {
                        draw_chunk(chunk, &mut counts);
                        chunk += threads as u64;
                    }
                    counts
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sampling pairs does not panic"))
            .collect()
    });
    let mut counts = empty();
    for c in counts.iter_mut().flatten() {
        *c = 1;
    }
    for part in partials {
        for (acc, c) in counts.iter_mut().flatten().zip(part.iter().flatten()) {
            *acc += c;
        }
    }
    counts
        .into_iter()
        .map(|c| normalized(c.iter().map(|&x| x as f64).collect()))
        .collect()
}

/// A pattern, the mask of the rules that hold, and a number of pairs.
pub(crate) type Row = (u32, u32, u64);

/// The distinct comparison vectors of the candidate pairs, with how many
/// pairs had each under each combination of rules holding.
#[derive(Debug, Default)]
pub(crate) struct Patterns {
    pub(crate) fields: usize,
    /// Levels of pattern i at `levels[i*fields..(i+1)*fields]`.
    pub(crate) levels: Vec<u8>,
    /// (pattern, mask of the rules that hold, number of pairs).
    pub(crate) rows: Vec<Row>,
}

impl Patterns {
    pub(crate) fn levels_of(&self, pattern: u32) -> &[u8] {
        let i = pattern as usize * self.fields;
        &self.levels[i..i + self.fields]
    }
}

/// Initial m: most matches agree exactly; the rest spread over the other
/// levels, the worst least.
fn initial_m(levels: usize) -> Vec<f64> {
    if levels == 2 {
        return vec![0.9, 0.1];
    }
    let mut m = vec![0.0; levels];
    m[0] = 0.85;
    m[levels - 1] = 0.03;
    let middle = (levels - 2) as f64;
    for x in &mut m[1..levels - 1] {
        *x = 0.12 / middle;
    }
    m
}

/// One EM session: (m per field, λ, posterior per row of `rows`).
struct Session {
    m: Vec<Vec<f64>>,
    lambda: f64,
    pairs: u64,
    posterior: Vec<f64>,
}

fn em_session(
    patterns: &Patterns,
    rows: &[Row],
    active: &[bool],
    u: &[Vec<f64>],
    m_init: &[Vec<f64>],
    training: &Training,
) -> Session {
    let mut m: Vec<Vec<f64>> = m_init.to_vec();
    let mut lambda: f64 = 0.1;
    let pairs: u64 = rows.iter().map(|r| r.2).sum();
    let mut posterior = vec![0.0; rows.len()];
    for _ in 0..training.max_iterations {
        // E: posterior of each row.
        let log_u: Vec<Vec<f64>> = u
            .iter()
            .map(|u| u.iter().map(|x| x.ln()).collect())
            .collect();
        let log_m: Vec<Vec<f64>> = m
            .iter()
            .map(|m| m.iter().map(|x| x.ln()).collect())
            .collect();
        let prior = (lambda / (1.0 - lambda)).ln();
        for (row, post) in rows.iter().zip(&mut posterior) {
            let levels = patterns.levels_of(row.0);
            let mut logit = prior;
            for (f, &l) in levels.iter().enumerate() {
                if l != 0 && active[f] {
                    let i = usize::from(l - 1);
                    logit += log_m[f][i] - log_u[f][i];
                }
            }
            *post = 1.0 / (1.0 + (-logit).exp());
        }
        // M: λ and m from the expected matches.
        let mut expected = 0.0;
        let mut sums: Vec<Vec<f64>> = m.iter().map(|m| vec![0.0; m.len()]).collect();
        for (row, post) in rows.iter().zip(&posterior) {
            let w = post * row.2 as f64;
            expected += w;
            for (f, &l) in patterns.levels_of(row.0).iter().enumerate() {
                if l != 0 && active[f] {
                    sums[f][usize::from(l - 1)] += w;
                }
            }
        }
        let new_lambda = (expected / pairs.max(1) as f64).clamp(FLOOR, 1.0 - FLOOR);
        let mut moved = (new_lambda - lambda).abs();
        for (f, s) in sums.into_iter().enumerate() {
            if !active[f] || s.iter().sum::<f64>() <= 0.0 {
                continue;
            }
            let new = normalized(s);
            for (a, b) in new.iter().zip(&m[f]) {
                moved = moved.max((a - b).abs());
            }
            m[f] = new;
        }
        lambda = new_lambda;
        if moved < training.tolerance {
            break;
        }
    }
    Session {
        m,
        lambda,
        pairs,
        posterior,
    }
}

/// What training found besides the model, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingReport {
    /// Per rule: its pairs, its session's λ, the estimated recall of the
    /// rule, and the matches that implies in all pairs.
    pub sessions: Vec<SessionReport>,
}

/// One EM session.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionReport {
    /// The rule, as written.
    pub rule: String,
    /// Pairs for which the rule holds.
    pub pairs: u64,
    /// Expected matches among them.
    pub matches: f64,
    /// Estimated share of all matches the rule catches (`None`: no other
    /// rule to estimate it with; taken as 1).
    pub recall: Option<f64>,
}

/// Which fields an EM session blocked on `rule` estimates: those the rule
/// neither uses nor, for a name, those beside a name the rule uses. Two
/// names of one person (kana and kanji) agree together, so a session
/// blocked on one would take namesakes for matches on the other and learn
/// that other fields (birth date) often disagree in matches.
fn estimated_in(fields: &[FieldSpec], rule: &BlockingRule) -> Vec<bool> {
    let rule_uses_a_name = fields
        .iter()
        .any(|f| f.kind == Kind::Name && rule.uses(&f.column));
    fields
        .iter()
        .map(|f| !(rule.uses(&f.column) || (f.kind == Kind::Name && rule_uses_a_name)))
        .collect()
}

/// Trains the model; see the module doc.
pub(crate) fn train(
    fields: &[FieldSpec],
    rules: &[BlockingRule],
    patterns: &Patterns,
    u: Vec<Vec<f64>>,
    sides: Sides,
    training: &Training,
) -> (Model, TrainingReport) {
    let m_init: Vec<Vec<f64>> = fields.iter().map(|f| initial_m(f.levels())).collect();
    let sessions: Vec<(Vec<bool>, Vec<Row>, Session)> = rules
        .iter()
        .enumerate()
        .map(|(r, rule)| {
            let active = estimated_in(fields, rule);
            let rows: Vec<Row> = patterns
                .rows
                .iter()
                .copied()
                .filter(|row| row.1 & (1 << r) != 0)
                .collect();
            let session = em_session(patterns, &rows, &active, &u, &m_init, training);
            (active, rows, session)
        })
        .collect();

    // m: weighted mean over the sessions that estimate each field.
    let mut m = m_init.clone();
    let mut estimated = vec![false; fields.len()];
    for (f, m_f) in m.iter_mut().enumerate() {
        let mut sum = vec![0.0; m_f.len()];
        let mut weight = 0.0;
        for (active, _, s) in &sessions {
            if active[f] && s.pairs > 0 {
                let w = (s.lambda * s.pairs as f64).max(FLOOR);
                for (acc, x) in sum.iter_mut().zip(&s.m[f]) {
                    *acc += w * x;
                }
                weight += w;
            }
        }
        if weight > 0.0 {
            *m_f = normalized(sum.iter().map(|x| x / weight).collect());
            estimated[f] = true;
        }
    }

    // λ: matches each rule catches over its recall, estimated in the
    // sessions of rules sharing no column with it.
    let shares_column =
        |a: &BlockingRule, b: &BlockingRule| a.keys.iter().any(|k| b.uses(&k.column));
    let mut reports = Vec::new();
    let mut totals = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        let (_, _, s) = &sessions[r];
        let matches = s.lambda * s.pairs as f64;
        let mut recalls = Vec::new();
        for (q, other) in rules.iter().enumerate() {
            if q == r || shares_column(rule, other) {
                continue;
            }
            let (_, rows, sq) = &sessions[q];
            let (mut caught, mut all) = (0.0, 0.0);
            for (row, post) in rows.iter().zip(&sq.posterior) {
                let w = post * row.2 as f64;
                all += w;
                if row.1 & (1 << r) != 0 {
                    caught += w;
                }
            }
            if all > 0.0 {
                recalls.push(caught / all);
            }
        }
        let recall = (!recalls.is_empty())
            .then(|| recalls.iter().sum::<f64>() / recalls.len() as f64)
            .map(|r| r.clamp(0.01, 1.0));
        if s.pairs > 0 {
            totals.push(matches / recall.unwrap_or(1.0));
        }
        reports.push(SessionReport {
            rule: rule.to_string(),
            pairs: s.pairs,
            matches,
            recall,
        });
    }
    totals.sort_by(f64::total_cmp);
    let all_matches = match totals.len() {
        0 => 1.0,
        n if n % 2 == 1 => totals[n / 2],
        n => (totals[n / 2 - 1] + totals[n / 2]) / 2.0,
    };
    let total = sides.total_pairs().max(2.0);
    let lambda = (all_matches / total).clamp(1.0 / total, 0.5);

    let model = Model {
        fields: fields
            .iter()
            .zip(m)
            .zip(u)
            .zip(estimated)
            .map(|(((spec, m), u), m_estimated)| FieldModel {
                column: spec.column.clone(),
                kind: spec.kind,
                labels: spec.level_labels(),
                m,
                u,
                m_estimated,
            })
            .collect(),
        lambda,
    };
    (model, TrainingReport { sessions: reports })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_log2_bayes_factors_and_null_is_neutral() {
        let model = Model {
            fields: vec![FieldModel {
                column: "x".into(),
                kind: Kind::Category,
                labels: vec!["exact".into(), "else".into()],
                m: vec![0.9, 0.1],
                u: vec![0.1, 0.9],
                m_estimated: true,
            }],
            lambda: 0.5,
        };
        assert!((model.match_weight(&[1]) - 9f64.log2()).abs() < 1e-12);
        assert!((model.match_weight(&[2]) + 9f64.log2()).abs() < 1e-12);
        assert_eq!(model.match_weight(&[0]), 0.0);
        assert!((Model::probability(0.0) - 0.5).abs() < 1e-12);
        assert!((Model::probability(9f64.log2()) - 0.9).abs() < 1e-12);
    }

    #[test]
    fn em_recovers_m_from_a_known_mixture() {
        // Two fields, exact/else; 1000 matches with m = (0.9, 0.1) on both,
        // 9000 non-matches with u = (0.05, 0.95), independent.
        let mut rows = Vec::new();
        let mut levels = Vec::new();
        let mut i = 0;
        for a in [1u8, 2] {
            for b in [1u8, 2] {
                let p = |l: u8, agree: f64| if l == 1 { agree } else { 1.0 - agree };
                let n = 1000.0 * p(a, 0.9) * p(b, 0.9) + 9000.0 * p(a, 0.05) * p(b, 0.05);
                levels.extend([a, b]);
                rows.push((i, 1, n.round() as u64));
                i += 1;
            }
        }
        let patterns = Patterns {
            fields: 2,
            levels,
            rows: rows.clone(),
        };
        let u = vec![vec![0.05, 0.95], vec![0.05, 0.95]];
        let s = em_session(
            &patterns,
            &rows,
            &[true, true],
            &u,
            &[initial_m(2), initial_m(2)],
            &Training::default(),
        );
        assert!((s.lambda - 0.1).abs() < 0.01, "λ {}", s.lambda);
        for m in &s.m {
            assert!((m[0] - 0.9).abs() < 0.02, "m {m:?}");
        }
    }

    #[test]
    fn a_session_blocked_on_a_name_estimates_no_other_name() {
        let fields = [
            FieldSpec::new("kana_name", Kind::Name),
            FieldSpec::new("kanji_name", Kind::Name),
            FieldSpec::new("birth_date", Kind::Date),
            FieldSpec::new("insurer", Kind::Code),
        ];
        let on = |r: &str| r.parse::<BlockingRule>().expect("rule");
        assert_eq!(
            estimated_in(&fields, &on("kana_name & insurer")),
            [false, false, true, false]
        );
        assert_eq!(
            estimated_in(&fields, &on("birth_date")),
            [true, true, false, true]
        );
        assert_eq!(
            estimated_in(&fields, &on("insurer")),
            [true, true, true, false]
        );
    }
}
