//! The public side: opt-out statistics as the register shows them, with
//! small counts suppressed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Registry, Result};

/// A count as published: exact, or suppressed because it is small enough
/// to point at somebody.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Published {
    /// The count.
    Count(u64),
    /// Between 1 and the threshold less one; shown as `<threshold`.
    Suppressed {
        /// The threshold that hid it.
        below: u64,
    },
}

impl Published {
    /// `n`, or suppressed when `0 < n < threshold`. Zero is published:
    /// "nobody" points at nobody.
    pub fn of(n: u64, threshold: u64) -> Self {
        if n > 0 && n < threshold {
            Published::Suppressed { below: threshold }
        } else {
            Published::Count(n)
        }
    }
}

impl std::fmt::Display for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Published::Count(n) => write!(f, "{n}"),
            Published::Suppressed { below } => write!(f, "<{below}"),
        }
    }
}

/// One month's changes under one scope key (`all`, or a purpose).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MonthRow {
    /// `YYYY-MM`, in Japan.
    pub month: String,
    /// `all`, or a purpose (`commercial`, `category:mental_health` …).
    pub scope: String,
    /// Opt-outs recorded.
    pub opt_outs: Published,
    /// Withdrawals recorded.
    pub withdrawals: Published,
}

/// The register's opt-out statistics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegisterStats {
    /// The registry version they reflect.
    pub version: u64,
    /// Counts below this are suppressed.
    pub threshold: u64,
    /// Opt-outs in force now, by scope key.
    pub in_force: Vec<(String, Published)>,
    /// Changes per month and scope key, oldest first.
    pub months: Vec<MonthRow>,
}

impl Registry {
    /// The statistics the public register shows. An opt-out naming two
    /// purposes counts under both.
    pub async fn register_stats(&self, threshold: u64) -> Result<RegisterStats> {
        let version = self.version().await?;
        let in_force = self
            .in_force_by_scope()
            .await?
            .into_iter()
            .map(|(k, n)| (k, Published::of(n, threshold)))
            .collect();
        let mut by: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for (month, kind, scope, n) in self.monthly_counts().await? {
            let keys: Vec<String> = match &scope {
                crate::Scope::All => vec!["all".to_owned()],
                crate::Scope::Purposes(ps) => ps.iter().map(ToString::to_string).collect(),
            };
            for key in keys {
                let e = by.entry((month.clone(), key)).or_default();
                if kind == "opt_out" {
                    e.0 += n;
                } else {
                    e.1 += n;
                }
            }
        }
        let months = by
            .into_iter()
            .map(|((month, scope), (o, w))| MonthRow {
                month,
                scope,
                opt_outs: Published::of(o, threshold),
                withdrawals: Published::of(w, threshold),
            })
            .collect();
        Ok(RegisterStats {
            version,
            threshold,
            in_force,
            months,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_are_suppressed_and_zero_is_not() {
        assert_eq!(Published::of(0, 10), Published::Count(0));
        assert_eq!(Published::of(9, 10).to_string(), "<10");
        assert_eq!(Published::of(10, 10), Published::Count(10));
    }
}
