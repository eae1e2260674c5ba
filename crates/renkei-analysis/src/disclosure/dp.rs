//! Differential privacy for counts and sums, under a per-permit budget.
//!
//! **Noise.** Counts and sums get *discrete* Laplace noise (the two-sided
//! geometric distribution, `P(y) ∝ exp(−|y|·ε/Δ)`), sampled exactly with
//! integer arithmetic by the algorithm of Canonne, Kamath and Steinke, *The
//! Discrete Gaussian for Differential Privacy* (NeurIPS 2020, Algorithms 1
//! and 2): only uniform integers and Bernoulli trials with rational
//! probabilities, no floating point. Floating-point Laplace noise leaks
//! through the gaps between the doubles it can produce (Mironov, *On
//! Significance of the Least Significant Bits for Differential Privacy*, CCS
//! 2012); exact integer sampling has no such gaps. Randomness comes from a
//! cryptographic generator (`R: CryptoRng`; `rand::rngs::OsRng` in
//! production, a seeded ChaCha in tests).
//!
//! **Sensitivity.** The unit of privacy is a person. A count of distinct
//! persons changes by at most 1 when one person is added or removed. A sum
//! takes one contribution per person (the workspace adds up each person's
//! rows first), rounds it to a fixed-point grid (`step`: 1 yen, 0.1 day),
//! and clamps it to `[lower, upper]`; one person then moves the sum by at
//! most `max(|lower|, |upper|)`, in grid units, and the noise's scale is
//! that over ε. A table of counts ([`noisy_table`]) adds noise to the
//! interior cells, which partition persons (parallel composition: one ε for
//! the table), and recomputes the margins from them.
//!
//! **Budget.** ε is kept in millionths ([`Epsilon`]), so the [`Accountant`]
//! adds exactly. It applies basic sequential composition: a permit's
//! releases spend ε until the budget is gone, and a release that would
//! exceed it is refused before any noise is drawn. The caller persists the
//! spent ε (and must do so before publishing a noisy value).
//!
//! **Limits.** Categories of a noisy table must come from a public list, not
//! from the data (a category present only because one person has it is
//! disclosed by its presence; the table's dense grid is built from the
//! categories it is given). Noisy values are clamped at zero, which is
//! post-processing and costs no privacy, but biases small cells upward.
//! The sampler's running time varies with its output (Jin et al., *Are We
//! There Yet? Timing and Floating-Point Attacks on Differential Privacy
//! Systems*, IEEE S&P 2022): noise is drawn server-side, never where a
//! researcher can time a single draw.

use std::fmt;
use std::str::FromStr;

use rand::{CryptoRng, Rng, RngCore};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::grid::Grid;
use super::table::{CellTable, Key};
use super::{Published, ReleasedCell, ReleasedTable};

/// Millionths in one unit of ε.
const MICROS: u64 = 1_000_000;

/// A privacy loss ε, exact to a millionth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Epsilon {
    micros: u64,
}

impl Epsilon {
    /// ε in millionths: `from_micros(500_000)` is ε = 0.5.
    pub fn from_micros(micros: u64) -> Self {
        Epsilon { micros }
    }

    /// ε in millionths.
    pub fn micros(self) -> u64 {
        self.micros
    }

    /// Whether ε is zero.
    pub fn is_zero(self) -> bool {
        self.micros == 0
    }

    /// Parses a decimal ε (`"0.5"`, `"1"`, `"0.125"`), at most six decimals.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::InvalidPrivacyParameter {
            detail: format!("ε `{s}` is not a decimal with at most six decimals"),
        };
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || frac.len() > 6 || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let whole: u64 = whole.parse().map_err(|_| bad())?;
        let mut frac_micros: u64 = 0;
        for (i, c) in frac.chars().enumerate() {
            let digit = u64::from(c.to_digit(10).ok_or_else(bad)?);
            frac_micros += digit * 10u64.pow(5 - i as u32);
        }
        whole
            .checked_mul(MICROS)
            .and_then(|w| w.checked_add(frac_micros))
            .map(Epsilon::from_micros)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Epsilon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.micros / MICROS;
        let frac = self.micros % MICROS;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for Epsilon {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Epsilon::parse(s)
    }
}

impl TryFrom<String> for Epsilon {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Epsilon::parse(&s)
    }
}

impl From<Epsilon> for String {
    fn from(e: Epsilon) -> String {
        e.to_string()
    }
}

/// A permit's privacy budget and what has been spent of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accountant {
    budget: Epsilon,
    spent: Epsilon,
}

impl Accountant {
    /// A fresh budget.
    pub fn new(budget: Epsilon) -> Self {
        Accountant {
            budget,
            spent: Epsilon::from_micros(0),
        }
    }

    /// A budget of which `spent` is already gone, as stored.
    pub fn resume(budget: Epsilon, spent: Epsilon) -> Result<Self> {
        if spent > budget {
            return Err(Error::InvalidPrivacyParameter {
                detail: format!("spent ε = {spent} exceeds the budget ε = {budget}"),
            });
        }
        Ok(Accountant { budget, spent })
    }

    /// The whole budget.
    pub fn budget(&self) -> Epsilon {
        self.budget
    }

    /// ε spent so far.
    pub fn spent(&self) -> Epsilon {
        self.spent
    }

    /// ε left.
    pub fn remaining(&self) -> Epsilon {
        Epsilon::from_micros(self.budget.micros - self.spent.micros)
    }

    /// Spends `epsilon` (basic composition), or refuses, naming what is
    /// left, and spends nothing.
    pub fn charge(&mut self, epsilon: Epsilon) -> Result<()> {
        if epsilon.is_zero() {
            return Err(Error::InvalidPrivacyParameter {
                detail: "ε must be greater than zero".to_owned(),
            });
        }
        if epsilon > self.remaining() {
            return Err(Error::BudgetExceeded {
                requested: epsilon,
                remaining: self.remaining(),
            });
        }
        self.spent = Epsilon::from_micros(self.spent.micros + epsilon.micros);
        Ok(())
    }
}

/// A Bernoulli trial with probability `num/den` (`num ≤ den`, `den > 0`).
fn bernoulli<R: RngCore + CryptoRng>(rng: &mut R, num: u128, den: u128) -> bool {
    rng.gen_range(0..den) < num
}

/// A Bernoulli trial with probability `exp(−num/den)` (CKS Algorithm 1).
fn bernoulli_exp_neg<R: RngCore + CryptoRng>(rng: &mut R, mut num: u128, den: u128) -> bool {
    // exp(−γ) = exp(−1)^⌊γ⌋ · exp(−(γ − ⌊γ⌋)).
    while num > den {
        if !bernoulli_exp_neg_at_most_one(rng, den, den) {
            return false;
        }
        num -= den;
    }
    bernoulli_exp_neg_at_most_one(rng, num, den)
}

/// `exp(−γ)` for `0 ≤ γ = num/den ≤ 1`: the index of the first failure
/// in trials of probability `γ/k` is odd with probability `exp(−γ)`.
fn bernoulli_exp_neg_at_most_one<R: RngCore + CryptoRng>(
    rng: &mut R,
    num: u128,
    den: u128,
) -> bool {
    let mut k: u128 = 1;
    while bernoulli(rng, num, den.saturating_mul(k)) {
        k += 1;
    }
    k % 2 == 1
}

/// A sample of the discrete Laplace distribution with scale `t/s`,
/// `P(y) ∝ exp(−|y|·s/t)` (CKS Algorithm 2); a zero `s` or `t` is taken
/// as 1. Its running time depends on the sample (rejection loops), so it
/// must not run where the reader of the output can time it.
pub fn discrete_laplace<R: RngCore + CryptoRng>(rng: &mut R, t: u64, s: u64) -> i64 {
    let (t, s) = (u128::from(t.max(1)), u128::from(s.max(1)));
    loop {
        let u = rng.gen_range(0..t);
        if !bernoulli_exp_neg(rng, u, t) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_neg(rng, 1, 1) {
            v += 1;
        }
        let y = (u + t * v) / s;
        let negative = bernoulli(rng, 1, 2);
        if negative && y == 0 {
            continue;
        }
        let y = i64::try_from(y).unwrap_or(i64::MAX);
        return if negative { -y } else { y };
    }
}

/// Noise for a quantity of sensitivity `sensitivity` at `epsilon`.
fn noise<R: RngCore + CryptoRng>(rng: &mut R, sensitivity: u64, epsilon: Epsilon) -> Result<i64> {
    let t = sensitivity
        .checked_mul(MICROS)
        .ok_or_else(|| Error::InvalidPrivacyParameter {
            detail: format!("sensitivity {sensitivity} is too large"),
        })?;
    Ok(discrete_laplace(rng, t, epsilon.micros()))
}

/// A count of distinct persons with discrete Laplace noise of scale 1/ε,
/// clamped at zero; `epsilon` is charged to `accountant` first.
pub fn noisy_count<R: RngCore + CryptoRng>(
    rng: &mut R,
    accountant: &mut Accountant,
    count: u64,
    epsilon: Epsilon,
) -> Result<u64> {
    accountant.charge(epsilon)?;
    let noisy = i128::from(count) + i128::from(noise(rng, 1, epsilon)?);
    Ok(u64::try_from(noisy.max(0)).unwrap_or(u64::MAX))
}

/// How per-person contributions to a noisy sum are bounded.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SumBounds {
    /// Least contribution; smaller ones are raised to it.
    pub lower: f64,
    /// Greatest contribution; larger ones are lowered to it.
    pub upper: f64,
    /// The fixed-point grid: contributions are rounded to multiples of it.
    pub step: f64,
}

impl SumBounds {
    /// `(lower, upper)` in grid units, and the sensitivity.
    fn units(&self) -> Result<(i64, i64, u64)> {
        let bad = |detail: &str| Error::InvalidPrivacyParameter {
            detail: format!(
                "sum bounds [{}, {}] with step {}: {detail}",
                self.lower, self.upper, self.step
            ),
        };
        if !(self.step.is_finite() && self.step > 0.0) {
            return Err(bad("the step must be a positive number"));
        }
        if !(self.lower.is_finite() && self.upper.is_finite() && self.lower <= self.upper) {
            return Err(bad("the bounds must be finite and in order"));
        }
        // Exact in f64 and far from i64 overflow when summed.
        const LIMIT: f64 = (1u64 << 40) as f64;
        let lo = (self.lower / self.step).round();
        let hi = (self.upper / self.step).round();
        if lo.abs() > LIMIT || hi.abs() > LIMIT {
            return Err(bad("the bounds are too many steps from zero"));
        }
        let (lo, hi) = (lo as i64, hi as i64);
        let sensitivity = lo.unsigned_abs().max(hi.unsigned_abs());
        if sensitivity == 0 {
            return Err(bad("every contribution would be zero"));
        }
        Ok((lo, hi, sensitivity))
    }
}

/// A noisy sum.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NoisySum {
    /// The noisy sum, in the contributions' unit.
    pub value: f64,
    /// The noise's scale (standard deviation ≈ 1.41 × scale), in the same
    /// unit, for the reader's confidence intervals.
    pub scale: f64,
}

/// A sum of per-person contributions (one per person) with discrete Laplace
/// noise: each is rounded to the grid and clamped to the bounds, and noise
/// of scale `max(|lower|, |upper|)/ε` is added in grid units. `epsilon` is
/// charged to `accountant` before anything is computed.
pub fn noisy_sum<R: RngCore + CryptoRng>(
    rng: &mut R,
    accountant: &mut Accountant,
    contributions: impl IntoIterator<Item = f64>,
    bounds: SumBounds,
    epsilon: Epsilon,
) -> Result<NoisySum> {
    let (lo, hi, sensitivity) = bounds.units()?;
    let mut units: i128 = 0;
    let mut values = Vec::new();
    for (index, v) in contributions.into_iter().enumerate() {
        if !v.is_finite() {
            return Err(Error::InvalidPrivacyParameter {
                detail: format!("contribution {index} is not a finite number"),
            });
        }
        values.push(v);
    }
    accountant.charge(epsilon)?;
    for v in values {
        let q = (v / bounds.step).round().clamp(lo as f64, hi as f64) as i64;
        units += i128::from(q);
    }
    units += i128::from(noise(rng, sensitivity, epsilon)?);
    Ok(NoisySum {
        value: units as f64 * bounds.step,
        scale: sensitivity as f64 * bounds.step / (epsilon.micros() as f64 / MICROS as f64),
    })
}

/// A table of counts with noise: discrete Laplace of scale 1/ε on every
/// interior cell (empty combinations included), clamped at zero, and the
/// margins recomputed as sums of the noisy cells so the table adds up.
/// Costs one `epsilon`: the interior cells partition the persons.
pub fn noisy_table<R: RngCore + CryptoRng>(
    rng: &mut R,
    accountant: &mut Accountant,
    table: &CellTable,
    epsilon: Epsilon,
) -> Result<ReleasedTable> {
    if table.cells().iter().any(|c| c.sum.is_some()) {
        return Err(Error::InvalidPrivacyParameter {
            detail: "a noisy table holds counts only; release sums with noisy_sum".to_owned(),
        });
    }
    let grid = Grid::build(table)?;
    accountant.charge(epsilon)?;
    let mut values = vec![0u64; grid.cells.len()];
    for (i, cell) in grid.cells.iter().enumerate() {
        if !cell.key.parts().contains(&Key::Total) {
            let noisy = i128::from(cell.persons) + i128::from(noise(rng, 1, epsilon)?);
            values[i] = u64::try_from(noisy.max(0)).unwrap_or(u64::MAX);
        }
    }
    // Each margin is the sum of the interior cells it covers.
    let interior: Vec<usize> = (0..grid.cells.len())
        .filter(|&i| !grid.cells[i].key.parts().contains(&Key::Total))
        .collect();
    for (i, cell) in grid.cells.iter().enumerate() {
        let parts = cell.key.parts();
        if !parts.contains(&Key::Total) {
            continue;
        }
        values[i] = interior
            .iter()
            .filter(|&&j| {
                grid.cells[j]
                    .key
                    .parts()
                    .iter()
                    .zip(parts)
                    .all(|(a, b)| *b == Key::Total || a == b)
            })
            .map(|&j| values[j])
            .sum();
    }
    Ok(ReleasedTable {
        dimensions: grid.dimensions.clone(),
        kind: grid.kind,
        cells: grid
            .cells
            .iter()
            .zip(values)
            .map(|(cell, persons)| ReleasedCell {
                key: cell.key.clone(),
                value: Published::Value { persons, sum: None },
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn epsilon_parses_and_prints_decimals_exactly() {
        for (text, micros, shown) in [
            ("1", 1_000_000, "1"),
            ("0.5", 500_000, "0.5"),
            ("0.125", 125_000, "0.125"),
            ("2.000001", 2_000_001, "2.000001"),
            ("3.10", 3_100_000, "3.1"),
        ] {
            let e = Epsilon::parse(text).expect("valid ε");
            assert_eq!(e.micros(), micros, "{text}");
            assert_eq!(e.to_string(), shown);
        }
        for bad in ["", ".5", "1.0000001", "-1", "1e3", "0.5x", "1.-5"] {
            assert!(Epsilon::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn bernoulli_exp_neg_has_the_right_frequency() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for (num, den) in [(1u128, 2u128), (1, 1), (5, 2), (0, 3)] {
            let n = 40_000;
            let hits = (0..n)
                .filter(|_| bernoulli_exp_neg(&mut rng, num, den))
                .count();
            let p = (-(num as f64) / den as f64).exp();
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            let freq = hits as f64 / n as f64;
            assert!(
                (freq - p).abs() <= 5.0 * sd + 1e-12,
                "γ={num}/{den}: {freq} vs {p}"
            );
        }
    }
}
