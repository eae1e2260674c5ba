//! The public side: opt-out statistics as the register shows them, with
//! small counts suppressed, published once a day.
//!
//! Live statistics would tell a change apart: polled before and after one
//! patient's opt-out, a count going up by one says what that patient
//! chose. So the register shows the registry as it stood at the last
//! publication instant (midnight in Japan), never its live version, and a
//! day's changes appear together the next day.

use std::collections::BTreeMap;

use serde::Serialize;

use renkei_core::Timestamp;

use crate::{Registry, Result};

/// The register's publication instant for `now`: the last midnight in
/// Japan (JST, UTC+9) at or before it.
pub fn publication_instant(now: Timestamp) -> Timestamp {
    const DAY: i64 = 86_400_000_000;
    const JST: i64 = 9 * 3_600_000_000;
    let local = now.unix_micros() + JST;
    Timestamp::from_unix_micros(local.div_euclid(DAY) * DAY - JST)
}

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
    /// The instant they describe: the registry as it stood then.
    pub published_at: Timestamp,
    /// Counts below this are suppressed.
    pub threshold: u64,
    /// Opt-outs in force now, by scope key.
    pub in_force: Vec<(String, Published)>,
    /// Changes per month and scope key, oldest first.
    pub months: Vec<MonthRow>,
}

impl Registry {
    /// The statistics the public register shows at `now`: the registry
    /// as it stood at [`publication_instant`]. An opt-out naming two
    /// purposes counts under both.
    pub async fn register_stats(&self, threshold: u64, now: Timestamp) -> Result<RegisterStats> {
        let published_at = publication_instant(now);
        let in_force = self
            .in_force_by_scope(published_at)
            .await?
            .into_iter()
            .map(|(k, n)| (k, Published::of(n, threshold)))
            .collect();
        let mut by: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for (month, kind, scope, n) in self.monthly_counts(published_at).await? {
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
            published_at,
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
    fn the_register_is_published_at_midnight_in_japan() {
        let at = |s: &str| Timestamp::parse_rfc3339(s).expect("time");
        // 14:59 UTC is 23:59 in Japan: still the day that began at 15:00 UTC
        // the day before.
        assert_eq!(
            publication_instant(at("2026-12-06T14:59:00Z")),
            at("2026-12-05T15:00:00Z")
        );
        assert_eq!(
            publication_instant(at("2026-12-06T15:00:00Z")),
            at("2026-12-06T15:00:00Z")
        );
        assert_eq!(
            publication_instant(at("2026-12-06T15:00:01Z")),
            at("2026-12-06T15:00:00Z")
        );
    }

    #[test]
    fn small_counts_are_suppressed_and_zero_is_not() {
        assert_eq!(Published::of(0, 10), Published::Count(0));
        assert_eq!(Published::of(9, 10).to_string(), "<10");
        assert_eq!(Published::of(10, 10), Published::Count(10));
    }
}
