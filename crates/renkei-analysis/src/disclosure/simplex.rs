//! A small dense two-phase simplex for the audit's linear programs:
//! minimise `c·x` subject to `A x = b`, `x ≥ 0`.
//!
//! Tables checked here have at most a few hundred suppressed cells, so a
//! dense tableau is fast enough and easy to verify. Bland's rule (smallest
//! index enters and leaves) prevents cycling on the degenerate programs that
//! tables produce. Arithmetic is `f64` with a tolerance; counts are
//! integers far below 2^53, and the audit rounds bounds towards the integers
//! an attacker would also assume.

use super::budget::Budget;
use super::error::Result;

const EPS: f64 = 1e-9;

/// The optimum of one program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Optimum {
    /// The least value of the objective.
    Value(f64),
    /// The objective decreases without bound.
    Unbounded,
}

/// A basic feasible solution of `A x = b, x ≥ 0`, from which any objective
/// can be minimised (phase 2) without redoing phase 1.
#[derive(Debug, Clone)]
pub(crate) struct Feasible {
    /// `m` rows of `n + m + 1` entries: variables, artificials, right side.
    tableau: Vec<Vec<f64>>,
    basis: Vec<usize>,
    n: usize,
}

impl Feasible {
    /// Phase 1; `None` if the constraints have no non-negative solution.
    /// `a` has `m` rows of `n` entries each (and may have no rows).
    /// Ends early when `budget` runs out.
    pub(crate) fn find(
        a: &[Vec<f64>],
        b: &[f64],
        n: usize,
        budget: &Budget,
    ) -> Result<Option<Feasible>> {
        let m = a.len();
        let width = n + m + 1;
        let mut tableau: Vec<Vec<f64>> = a
            .iter()
            .zip(b)
            .enumerate()
            .map(|(i, (row, &rhs))| {
                let sign = if rhs < 0.0 { -1.0 } else { 1.0 };
                let mut t = vec![0.0; width];
                for (j, v) in row.iter().enumerate() {
                    t[j] = sign * v;
                }
                t[n + i] = 1.0;
                t[width - 1] = sign * rhs;
                t
            })
            .collect();
        let mut basis: Vec<usize> = (n..n + m).collect();
        // Minimise the sum of the artificials.
        let cost: Vec<f64> = (0..n + m).map(|j| if j >= n { 1.0 } else { 0.0 }).collect();
        let Optimum::Value(v) = run(&mut tableau, &mut basis, &cost, n + m, width - 1, budget)?
        else {
            return Ok(None);
        };
        if v > EPS * (1.0 + b.iter().map(|x| x.abs()).sum::<f64>()) {
            return Ok(None);
        }
        // Drive artificials out of the basis where a real column can
        // replace them; rows where none can are redundant and stay inert.
        for i in 0..m {
            let replacement = (0..n).find(|&j| tableau[i][j].abs() > EPS);
            if let (true, Some(j)) = (basis[i] >= n, replacement) {
                pivot(&mut tableau, &mut basis, i, j);
            }
        }
        Ok(Some(Feasible { tableau, basis, n }))
    }

    /// Phase 2: the least value of `c·x` over the feasible set.
    pub(crate) fn minimize(&self, c: &[f64], budget: &Budget) -> Result<Optimum> {
        let mut tableau = self.tableau.clone();
        let mut basis = self.basis.clone();
        let mut cost = c.to_vec();
        cost.resize(self.n + tableau.len(), 0.0);
        let rhs = self.n + tableau.len();
        run(&mut tableau, &mut basis, &cost, self.n, rhs, budget)
    }
}

/// Simplex iterations with Bland's rule; only columns below `enter_limit`
/// may enter the basis; `rhs` is the right side's column.
fn run(
    tableau: &mut [Vec<f64>],
    basis: &mut [usize],
    cost: &[f64],
    enter_limit: usize,
    rhs: usize,
    budget: &Budget,
) -> Result<Optimum> {
    loop {
        budget.spend()?;
        // Reduced costs: c_j − c_B · column j.
        let reduced = |j: usize| -> f64 {
            cost[j]
                - tableau
                    .iter()
                    .zip(basis.iter())
                    .map(|(row, &bi)| cost[bi] * row[j])
                    .sum::<f64>()
        };
        let Some(enter) = (0..enter_limit).find(|&j| !basis.contains(&j) && reduced(j) < -EPS)
        else {
            let value = tableau
                .iter()
                .zip(basis.iter())
                .map(|(row, &bi)| cost[bi] * row[rhs])
                .sum();
            return Ok(Optimum::Value(value));
        };
        let mut leave: Option<(usize, f64)> = None;
        for (i, row) in tableau.iter().enumerate() {
            if row[enter] > EPS {
                let ratio = row[rhs] / row[enter];
                leave = match leave {
                    None => Some((i, ratio)),
                    Some((l, r)) => {
                        if ratio < r - EPS || (ratio <= r + EPS && basis[i] < basis[l]) {
                            Some((i, ratio))
                        } else {
                            Some((l, r))
                        }
                    }
                };
            }
        }
        let Some((row, _)) = leave else {
            return Ok(Optimum::Unbounded);
        };
        pivot(tableau, basis, row, enter);
    }
}

fn pivot(tableau: &mut [Vec<f64>], basis: &mut [usize], row: usize, col: usize) {
    let p = tableau[row][col];
    for v in tableau[row].iter_mut() {
        *v /= p;
    }
    let pivot_row = tableau[row].clone();
    for (i, r) in tableau.iter_mut().enumerate() {
        if i == row {
            continue;
        }
        let f = r[col];
        if f.abs() > 0.0 {
            for (v, pv) in r.iter_mut().zip(&pivot_row) {
                *v -= f * pv;
            }
        }
    }
    basis[row] = col;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(a: &[Vec<f64>], b: &[f64], n: usize) -> Option<Feasible> {
        Feasible::find(a, b, n, &Budget::unlimited()).expect("an unlimited budget")
    }

    #[test]
    fn bounds_of_a_variable_in_a_simple_system() {
        // x + y = 5, y + z = 3: x ∈ [2, 5].
        let a = vec![vec![1.0, 1.0, 0.0], vec![0.0, 1.0, 1.0]];
        let b = vec![5.0, 3.0];
        let f = find(&a, &b, a[0].len()).expect("feasible");
        assert_eq!(
            f.minimize(&[1.0, 0.0, 0.0], &Budget::unlimited())
                .expect("unlimited"),
            Optimum::Value(2.0)
        );
        assert_eq!(
            f.minimize(&[-1.0, 0.0, 0.0], &Budget::unlimited())
                .expect("unlimited"),
            Optimum::Value(-5.0)
        );
    }

    #[test]
    fn infeasible_and_unbounded_programs_are_told_apart() {
        // x + y = −1 has no non-negative solution.
        assert!(find(&[vec![1.0, 1.0]], &[-1.0], 2).is_none());
        // x − y = 1: x grows without bound.
        let f = find(&[vec![1.0, -1.0]], &[1.0], 2).expect("feasible");
        assert_eq!(
            f.minimize(&[-1.0, 0.0], &Budget::unlimited())
                .expect("unlimited"),
            Optimum::Unbounded
        );
        assert_eq!(
            f.minimize(&[1.0, 0.0], &Budget::unlimited())
                .expect("unlimited"),
            Optimum::Value(1.0)
        );
    }

    #[test]
    fn without_constraints_variables_are_unbounded_above() {
        let f = find(&[], &[], 2).expect("feasible");
        assert_eq!(
            f.minimize(&[1.0, 0.0], &Budget::unlimited())
                .expect("unlimited"),
            Optimum::Value(0.0)
        );
        assert_eq!(
            f.minimize(&[-1.0, 0.0], &Budget::unlimited())
                .expect("unlimited"),
            Optimum::Unbounded
        );
    }

    #[test]
    fn redundant_rows_are_harmless() {
        // The same equation twice, and their sum.
        let a = vec![vec![1.0, 1.0], vec![1.0, 1.0], vec![2.0, 2.0]];
        let b = vec![4.0, 4.0, 8.0];
        let f = find(&a, &b, a[0].len()).expect("feasible");
        assert_eq!(
            f.minimize(&[-1.0, 0.0], &Budget::unlimited())
                .expect("unlimited"),
            Optimum::Value(-4.0)
        );
        assert_eq!(
            f.minimize(&[1.0, 0.0], &Budget::unlimited())
                .expect("unlimited"),
            Optimum::Value(0.0)
        );
    }
}
