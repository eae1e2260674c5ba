//! The rules an output is checked against, and their defaults.

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::table::DataKind;

/// The dominance rule for sums: a cell is sensitive when its `n` largest
/// contributions make up more than `k_percent` of its total.
///
/// This is the (n, k) rule of Hundepool et al., *Statistical Disclosure
/// Control* (Wiley 2012, §4.2): with (2, 85), two persons who together make up
/// more than 85% of a cell's cost could each estimate the other's from the
/// published total. The NDB guidelines have no magnitude rule; renkei applies
/// this one to every sum unless the permit's rules turn it off.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dominance {
    /// How many of the largest contributions are added up.
    pub n: usize,
    /// The share of the total, in percent, that they may not exceed.
    pub k_percent: f64,
}

/// Whether a zero count is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroCells {
    /// A zero is published: "nobody" points at nobody, as in NDB open data
    /// and the opt-out register. Suppressed cells are then known to be at
    /// least 1, which the audit takes into account.
    Release,
    /// A zero is suppressed like a small count, for outputs where an
    /// empty cell would itself disclose (everyone in a group has a
    /// condition, seen from its complement).
    Suppress,
}

/// The rules of statistical disclosure control for one permit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Minimum number of distinct persons in a released cell. The NDB's
    /// publication rule (最小集計単位の原則) is 10: counts 1–9 are never
    /// shown.
    pub min_count: u64,
    /// Minimum for genomic aggregates. renkei's default is 20, twice the
    /// clinical minimum, because a rare variant in a small group
    /// re-identifies more easily than a diagnosis; a permit may set more.
    pub genomic_min_count: u64,
    /// The dominance rule for sums, if any.
    pub dominance: Option<Dominance>,
    /// Whether zeros are published.
    pub zero_cells: ZeroCells,
    /// The differential-privacy budget (ε) each permit may spend on noisy
    /// tables, released instead of suppressed (see [`super::dp`]). None,
    /// the default, offers no noisy release.
    pub dp_budget: Option<super::dp::Epsilon>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_count: 10,
            genomic_min_count: 20,
            dominance: Some(Dominance {
                n: 2,
                k_percent: 85.0,
            }),
            zero_cells: ZeroCells::Release,
            dp_budget: None,
        }
    }
}

impl Rules {
    /// The minimum count for an output of this kind.
    pub fn threshold(&self, kind: DataKind) -> u64 {
        match kind {
            DataKind::General => self.min_count,
            DataKind::Genomic => self.genomic_min_count.max(self.min_count),
        }
    }

    /// Refuses rules that would protect nothing.
    pub fn validate(&self) -> Result<()> {
        if self.min_count < 2 {
            return Err(Error::InvalidRules {
                detail: "min_count must be at least 2",
            });
        }
        if self.genomic_min_count < self.min_count {
            return Err(Error::InvalidRules {
                detail: "genomic_min_count must be at least min_count",
            });
        }
        if let Some(d) = self.dominance {
            if d.n == 0 {
                return Err(Error::InvalidRules {
                    detail: "dominance n must be at least 1",
                });
            }
            if !(d.k_percent > 0.0 && d.k_percent < 100.0) {
                return Err(Error::InvalidRules {
                    detail: "dominance k must be strictly between 0 and 100 percent",
                });
            }
        }
        Ok(())
    }
}
