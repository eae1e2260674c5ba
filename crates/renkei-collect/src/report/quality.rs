//! The quality report of one provider: per resource type and overall,
//! what its committed submissions brought and how good it was.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use renkei_core::{ProviderCode, Timestamp};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{non_negative, parse_counts, receipt_counts_query};
use crate::submission::TypeCounts;
use crate::{Error, Intake, Result};

/// At most this many rejection reasons are listed per type (and overall),
/// the most frequent first; the rest are summed in
/// [`TypeQuality::other_reasons`].
pub const TOP_REASONS: usize = 10;

/// The quality of one provider's data.
///
/// Every figure but [`TypeQuality::pending_now`] is over the provider's
/// committed submissions received at or after [`QualityReport::since`]
/// (all of them when `None`); `pending_now` is what waits at the time of
/// the report, whenever it arrived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// The provider.
    pub provider: ProviderCode,
    /// The start of the window, if any.
    pub since: Option<Timestamp>,
    /// Over all types. Its `submissions` counts every committed
    /// submission in the window once.
    pub overall: TypeQuality,
    /// Per resource type (`(unknown)` for resources refused before their
    /// type could be read).
    pub by_type: BTreeMap<String, TypeQuality>,
    /// Resources held pending by earlier submissions that joined the lake
    /// with a submission in the window (when their Patient arrived).
    pub pending_joined: u64,
    /// Submissions in the window that failed (could not be read to their
    /// end, or a store failed): nothing of them is counted elsewhere.
    pub failed_submissions: u64,
}

/// The quality of one resource type (or of all).
///
/// Each ratio is `None` when its denominator is zero: no data is not the
/// same as bad data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeQuality {
    /// Committed submissions with resources of this type.
    pub submissions: u64,
    /// The receipts' counts, summed. `pending` counts resources held
    /// pending when they arrived, including those that have joined since.
    #[serde(flatten)]
    pub counts: TypeCounts,
    /// Resources of this type waiting for their Patient now.
    pub pending_now: u64,
    /// When the latest submission with this type was received.
    pub last_submission_at: Option<Timestamp>,
    /// Share of the key elements present (`key_present / key_expected`)
    /// over the resources that were taken in (accepted or held pending).
    pub completeness: Option<f64>,
    /// Share of codings in a known code system with a known code
    /// (`1 - codes_unknown / codings`).
    pub valid_codes: Option<f64>,
    /// How long after the event (effective, onset, authored …) records
    /// arrived.
    pub timeliness: Timeliness,
    /// Share of received resources that were the same as the version
    /// already held (`unchanged / received`): sent again for nothing.
    pub duplicate_rate: Option<f64>,
    /// Why resources were refused, most frequent first (at most
    /// [`TOP_REASONS`]): the issue code and where, indices folded
    /// (`required at Observation.status`). A resource refused for several
    /// reasons counts once for each.
    pub rejection_reasons: Vec<ReasonCount>,
    /// Occurrences of reasons beyond the listed ones.
    pub other_reasons: u64,
    /// The tallies the ratios are computed from.
    pub figures: Figures,
}

/// Event-to-submission lag, over the resources that carry an event time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeliness {
    /// Mean whole days from the event to the submission.
    pub mean_lag_days: Option<f64>,
    /// Share that arrived within 7 days.
    pub within_7d: Option<f64>,
    /// Share that arrived within 30 days.
    pub within_30d: Option<f64>,
    /// Share that arrived within 90 days.
    pub within_90d: Option<f64>,
    /// Share that arrived within 365 days.
    pub within_365d: Option<f64>,
}

/// A rejection reason and how often it occurred.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    /// The issue code and where, e.g. `code-invalid at Observation.code`.
    pub reason: String,
    /// Occurrences.
    pub count: u64,
}

/// Summed quality tallies (`submission_stats`), taken for each resource
/// accepted or held pending (not for unchanged, stale or refused ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Key elements present.
    pub key_present: u64,
    /// Key elements expected (the type's key elements per resource).
    pub key_expected: u64,
    /// Codings seen.
    pub codings: u64,
    /// Codings whose code the platform does not know in a known system.
    pub codes_unknown: u64,
    /// Resources with an event time (the lag's denominator).
    pub dated: u64,
    /// Whole days from event to submission, summed.
    pub lag_days_sum: u64,
    /// Arrived within 7 days of the event.
    pub lag_le_7d: u64,
    /// Within 30 days.
    pub lag_le_30d: u64,
    /// Within 90 days.
    pub lag_le_90d: u64,
    /// Within 365 days.
    pub lag_le_365d: u64,
    /// Validation warnings on resources taken in.
    pub warnings: u64,
}

impl Figures {
    /// Adds one stored metric; `false` if it is not one of these.
    fn add(&mut self, metric: &str, n: u64) -> bool {
        let field = match metric {
            "key_present" => &mut self.key_present,
            "key_expected" => &mut self.key_expected,
            "codings" => &mut self.codings,
            "codes_unknown" => &mut self.codes_unknown,
            "lag_count" => &mut self.dated,
            "lag_days_sum" => &mut self.lag_days_sum,
            "lag_le_7d" => &mut self.lag_le_7d,
            "lag_le_30d" => &mut self.lag_le_30d,
            "lag_le_90d" => &mut self.lag_le_90d,
            "lag_le_365d" => &mut self.lag_le_365d,
            "warnings" => &mut self.warnings,
            _ => return false,
        };
        *field += n;
        true
    }

    fn merge(&mut self, o: &Figures) {
        self.key_present += o.key_present;
        self.key_expected += o.key_expected;
        self.codings += o.codings;
        self.codes_unknown += o.codes_unknown;
        self.dated += o.dated;
        self.lag_days_sum += o.lag_days_sum;
        self.lag_le_7d += o.lag_le_7d;
        self.lag_le_30d += o.lag_le_30d;
        self.lag_le_90d += o.lag_le_90d;
        self.lag_le_365d += o.lag_le_365d;
        self.warnings += o.warnings;
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn add_counts(into: &mut TypeCounts, c: &TypeCounts) {
    into.received += c.received;
    into.accepted += c.accepted;
    into.rejected += c.rejected;
    into.unchanged += c.unchanged;
    into.superseded += c.superseded;
    into.stale += c.stale;
    into.deleted += c.deleted;
    into.pending += c.pending;
}

/// One committed submission's receipt, as far as the report needs it.
#[derive(Clone, Debug)]
pub(super) struct SubmissionCounts {
    pub(super) received_at: Timestamp,
    pub(super) counts: BTreeMap<String, TypeCounts>,
    pub(super) pending_joined: u64,
}

/// What the report is computed from; kept apart from the queries so that
/// the arithmetic is tested on its own.
#[derive(Clone, Debug, Default)]
pub(super) struct Inputs {
    pub(super) submissions: Vec<SubmissionCounts>,
    /// (type, metric, summed value) from `submission_stats`.
    pub(super) stats: Vec<(String, String, u64)>,
    /// (type, resources open in the pending area).
    pub(super) pending_now: Vec<(String, u64)>,
    pub(super) failed: u64,
}

/// Accumulates one type (or all) before the ratios are taken.
#[derive(Default)]
struct Acc {
    submissions: u64,
    counts: TypeCounts,
    pending_now: u64,
    last: Option<Timestamp>,
    figures: Figures,
    reasons: BTreeMap<String, u64>,
}

impl Acc {
    fn finish(self) -> TypeQuality {
        let f = self.figures;
        let mut reasons: Vec<ReasonCount> = self
            .reasons
            .into_iter()
            .map(|(reason, count)| ReasonCount { reason, count })
            .collect();
        // Most frequent first; equal counts by reason, so the order is stable.
        reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        let other_reasons = reasons.iter().skip(TOP_REASONS).map(|r| r.count).sum();
        reasons.truncate(TOP_REASONS);
        TypeQuality {
            submissions: self.submissions,
            counts: self.counts,
            pending_now: self.pending_now,
            last_submission_at: self.last,
            completeness: ratio(f.key_present, f.key_expected),
            valid_codes: ratio(f.codes_unknown, f.codings).map(|unknown| 1.0 - unknown),
            timeliness: Timeliness {
                mean_lag_days: ratio(f.lag_days_sum, f.dated),
                within_7d: ratio(f.lag_le_7d, f.dated),
                within_30d: ratio(f.lag_le_30d, f.dated),
                within_90d: ratio(f.lag_le_90d, f.dated),
                within_365d: ratio(f.lag_le_365d, f.dated),
            },
            duplicate_rate: ratio(self.counts.unchanged, self.counts.received),
            rejection_reasons: reasons,
            other_reasons,
            figures: f,
        }
    }
}

impl QualityReport {
    pub(super) fn build(provider: ProviderCode, since: Option<Timestamp>, inputs: Inputs) -> Self {
        let mut overall = Acc::default();
        let mut by_type: BTreeMap<String, Acc> = BTreeMap::new();
        let mut pending_joined = 0;
        for s in &inputs.submissions {
            overall.submissions += 1;
            overall.last = overall.last.max(Some(s.received_at));
            pending_joined += s.pending_joined;
            for (ty, c) in &s.counts {
                let acc = by_type.entry(ty.clone()).or_default();
                acc.submissions += 1;
                acc.last = acc.last.max(Some(s.received_at));
                add_counts(&mut acc.counts, c);
                add_counts(&mut overall.counts, c);
            }
        }
        for (ty, metric, n) in inputs.stats {
            let acc = by_type.entry(ty).or_default();
            if let Some(reason) = metric.strip_prefix("reject: ") {
                *acc.reasons.entry(reason.to_owned()).or_default() += n;
                *overall.reasons.entry(reason.to_owned()).or_default() += n;
            } else {
                // A metric this report does not know (a newer tally) is
                // left out rather than misread.
                acc.figures.add(&metric, n);
            }
        }
        for (ty, n) in inputs.pending_now {
            by_type.entry(ty).or_default().pending_now += n;
            overall.pending_now += n;
        }
        for acc in by_type.values() {
            overall.figures.merge(&acc.figures);
        }
        Self {
            provider,
            since,
            overall: overall.finish(),
            by_type: by_type.into_iter().map(|(t, a)| (t, a.finish())).collect(),
            pending_joined,
            failed_submissions: inputs.failed,
        }
    }
}

impl Intake {
    /// The quality report of `provider` over its committed submissions
    /// received at or after `since` (all when `None`).
    ///
    /// Fails with [`Error::Provider`] if the provider is not registered.
    pub async fn quality(
        &self,
        provider: &ProviderCode,
        since: Option<Timestamp>,
    ) -> Result<QualityReport> {
        if self.provider(provider).await?.is_none() {
            return Err(Error::Provider(
                provider.to_string(),
                "not registered, so it has no quality report".to_owned(),
            ));
        }
        let db = self.db();
        let from = since.map_or(i64::MIN, Timestamp::unix_micros);
        let mut inputs = Inputs::default();

        let text =
            receipt_counts_query(db.backend(), "provider_code = $1 AND received_us >= $2", "");
        let mut rows = sqlx::query(&text)
            .bind(provider.as_str())
            .bind(from)
            .fetch(db.pool());
        while let Some(row) = rows.try_next().await? {
            let counts: Option<String> = row.try_get("counts")?;
            let joined: Option<i64> = row.try_get("pending_joined")?;
            inputs.submissions.push(SubmissionCounts {
                received_at: Timestamp::from_unix_micros(row.try_get("received_us")?),
                counts: parse_counts(counts.as_deref())?,
                pending_joined: non_negative(joined.unwrap_or(0)),
            });
        }
        drop(rows);

        // PostgreSQL's SUM of BIGINT is NUMERIC; the cast keeps it BIGINT.
        let stats = sqlx::query(
            "SELECT st.resource_type, st.metric, CAST(SUM(st.value) AS BIGINT) AS total \
             FROM submission_stats st JOIN submissions su ON su.id = st.submission_id \
             WHERE st.provider_code = $1 AND su.provider_code = $1 AND su.state = 'committed' \
             AND su.received_us >= $2 GROUP BY st.resource_type, st.metric",
        )
        .bind(provider.as_str())
        .bind(from)
        .fetch_all(db.pool())
        .await?;
        for r in stats {
            inputs.stats.push((
                r.try_get("resource_type")?,
                r.try_get("metric")?,
                non_negative(r.try_get("total")?),
            ));
        }

        let pending = sqlx::query(
            "SELECT resource_type, COUNT(*) AS n FROM pending \
             WHERE provider_code = $1 AND state = 'open' GROUP BY resource_type",
        )
        .bind(provider.as_str())
        .fetch_all(db.pool())
        .await?;
        for r in pending {
            inputs
                .pending_now
                .push((r.try_get("resource_type")?, non_negative(r.try_get("n")?)));
        }

        let failed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM submissions \
             WHERE provider_code = $1 AND state = 'failed' AND received_us >= $2",
        )
        .bind(provider.as_str())
        .bind(from)
        .fetch_one(db.pool())
        .await?;
        inputs.failed = non_negative(failed);

        Ok(QualityReport::build(provider.clone(), since, inputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::LAG_BUCKETS;

    fn code() -> ProviderCode {
        ProviderCode::parse("1311234567").expect("code")
    }

    #[test]
    fn lag_buckets_are_the_ones_reported() {
        let mut f = Figures::default();
        for (name, _) in LAG_BUCKETS {
            assert!(f.add(name, 1), "{name} is not read by the report");
        }
        assert_eq!(
            (f.lag_le_7d, f.lag_le_30d, f.lag_le_90d, f.lag_le_365d),
            (1, 1, 1, 1)
        );
        let days: Vec<i64> = LAG_BUCKETS.iter().map(|(_, d)| *d).collect();
        assert_eq!(days, [7, 30, 90, 365], "Timeliness names these limits");
    }

    #[test]
    fn no_data_gives_no_ratio_rather_than_zero() {
        let r = QualityReport::build(code(), None, Inputs::default());
        assert_eq!(r.overall.submissions, 0);
        assert_eq!(r.overall.completeness, None);
        assert_eq!(r.overall.valid_codes, None);
        assert_eq!(r.overall.duplicate_rate, None);
        assert_eq!(r.overall.timeliness, Timeliness::default());
        assert!(r.by_type.is_empty());
    }

    #[test]
    fn reasons_beyond_the_top_are_summed_and_ties_sort_by_name() {
        let mut stats = Vec::new();
        for i in 0..12 {
            stats.push(("Observation".to_owned(), format!("reject: r{i:02}"), 1));
        }
        stats.push(("Observation".to_owned(), "reject: z".to_owned(), 5));
        stats.push(("Observation".to_owned(), "a_future_metric".to_owned(), 9));
        let r = QualityReport::build(
            code(),
            None,
            Inputs {
                stats,
                ..Inputs::default()
            },
        );
        let o = &r.by_type["Observation"];
        assert_eq!(o.rejection_reasons.len(), TOP_REASONS);
        assert_eq!(
            o.rejection_reasons[0],
            ReasonCount {
                reason: "z".into(),
                count: 5
            }
        );
        assert_eq!(o.rejection_reasons[1].reason, "r00");
        assert_eq!(
            o.other_reasons, 3,
            "r09, r10 and r11 are beyond the top ten"
        );
        assert_eq!(
            o.figures,
            Figures::default(),
            "unknown metrics are left out"
        );
    }
}
