//! The public register's view of review: every decision and permit, with
//! nothing about an application before it is decided.

use std::collections::BTreeMap;

use renkei_core::Timestamp;
use serde::Serialize;

use crate::form::{DeliveryType, Organization, TableSelection};
use crate::{ApplicationId, PermitId, Result, Review};

/// One decided application, as the public sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegisterEntry {
    /// The application.
    pub application: ApplicationId,
    /// The project's title.
    pub title: String,
    /// Who applied.
    pub holder: Organization,
    /// What for.
    pub purpose: String,
    /// Commercial use.
    pub commercial: bool,
    /// The data.
    pub tables: Vec<TableSelection>,
    /// How delivered.
    pub delivery: DeliveryType,
    /// `approved`, `rejected`, `permit_active`, `suspended`, `expired`,
    /// `revoked`.
    pub status: String,
    /// 承認, 不承認, 許可中 …
    pub status_ja: String,
    /// Submitted.
    pub submitted_at: Option<Timestamp>,
    /// Decided.
    pub decided_at: Option<Timestamp>,
    /// The permit, once issued.
    pub permit: Option<PermitId>,
    /// The permit's term.
    pub expires_at: Option<Timestamp>,
    /// The decision's stated reasons (public: a rejection says why).
    pub decision_reason: Option<String>,
}

/// Median days from submission to decision, per month of decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionTimes {
    /// `YYYY-MM` (Japan).
    pub month: String,
    /// Decisions that month.
    pub decisions: usize,
    /// Median days from first submission to decision.
    pub median_days: f64,
}

impl Review {
    /// Every decided application, newest decision first; `query` keeps
    /// those whose title, organization or purpose contains it (any case).
    pub async fn register(&self, query: Option<&str>) -> Result<Vec<RegisterEntry>> {
        let needle = query
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        let mut out = Vec::new();
        for app in self.list(None).await? {
            if !app.stage.decided() {
                continue;
            }
            let f = &app.form;
            if let Some(n) = &needle {
                let hay =
                    format!("{} {} {}", f.title, f.organization.name, f.purpose).to_lowercase();
                if !hay.contains(n.as_str()) {
                    continue;
                }
            }
            let permit = app.stage.permit();
            let expires_at = match permit {
                Some(p) => Some(self.permit(&p).await?.0.expires_at),
                None => None,
            };
            let decision_reason = self
                .history(&app.id)
                .await?
                .into_iter()
                .rev()
                .find(|t| t.step == "approved" || t.step == "rejected")
                .map(|t| t.reason);
            out.push(RegisterEntry {
                application: app.id,
                title: f.title.clone(),
                holder: f.organization.clone(),
                purpose: f.purpose.clone(),
                commercial: f.commercial,
                tables: f.requested.tables.clone(),
                delivery: f.delivery,
                status: app.stage.name().to_owned(),
                status_ja: app.stage.label_ja().to_owned(),
                submitted_at: app.submitted_at,
                decided_at: app.decided_at,
                permit,
                expires_at,
                decision_reason,
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.decided_at));
        Ok(out)
    }

    /// The median time from submission to decision, per month.
    pub async fn decision_times(&self) -> Result<Vec<DecisionTimes>> {
        let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for app in self.list(None).await? {
            if let (Some(s), Some(d)) = (app.submitted_at, app.decided_at) {
                let month = d.jst_month();
                let days = (d.unix_micros() - s.unix_micros()) as f64 / 86_400e6;
                by.entry(month).or_default().push(days);
            }
        }
        Ok(by
            .into_iter()
            .map(|(month, mut days)| {
                days.sort_by(f64::total_cmp);
                let n = days.len();
                let median = if n % 2 == 1 {
                    days[n / 2]
                } else {
                    (days[n / 2 - 1] + days[n / 2]) / 2.0
                };
                DecisionTimes {
                    month,
                    decisions: n,
                    median_days: (median * 100.0).round() / 100.0,
                }
            })
            .collect())
    }
}
