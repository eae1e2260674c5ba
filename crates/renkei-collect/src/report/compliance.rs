//! Compliance: the data sets each facility type must send, and how often,
//! checked against what every registered provider has sent.
//!
//! **When a data set counts as sent.** A resource type counts as sent by a
//! provider at the time a committed submission of that provider was
//! *received* (not committed: the provider's act is the sending) if that
//! submission either accepted at least one resource of the type into the
//! lake, or brought the Patient that let resources of the type, held
//! pending by an earlier submission, join the lake. Resources that were
//! refused, unchanged, stale or are still pending do not count: the
//! obligation is for data the platform can use. (Bulk Data exports split
//! files by type, so a pharmacy may send `MedicationDispense.ndjson` before
//! `Patient.ndjson`; its dispensings count when the Patients arrive.)
//!
//! **Status.** With `period = every_days × 24 h` and `due_at = last sent +
//! period` (for a type never sent: the provider's registration + period):
//! - `never`: the type has never been sent;
//! - `overdue`: `now > due_at`;
//! - `due_soon`: `due_at - period / 5 <= now <= due_at` (the last fifth
//!   of the period, e.g. the last 6.2 days of 31);
//! - `ok`: earlier.
//!
//! All arithmetic is on µs; `days_since` is whole days, rounded down, for
//! display only. Submissions received after `now` are ignored, so a report
//! for a past `now` shows what was known then (with today's registry of
//! providers and their kinds).

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use renkei_core::{ProviderCode, Timestamp};
use renkei_fhir::resource_type::is_resource_type;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{DAY_US, non_negative, parse_counts, receipt_counts_query};
use crate::provider::{FacilityKind, Provider};
use crate::submission::SubmissionId;
use crate::{Error, Intake, Result};

/// The data sets facility types must send, as configured (the
/// `[collect.compliance]` section of `renkei.toml`). Configured rules replace the
/// defaults as a whole.
///
/// ```
/// use renkei_collect::{ComplianceRules, FacilityKind};
/// let rules: ComplianceRules = serde_json::from_str(
///     r#"{"rules": [{"kind": "clinic", "resource_types": ["Condition"], "every_days": 92}]}"#,
/// ).expect("valid rules");
/// assert_eq!(rules.due(FacilityKind::Clinic).get("Condition"), Some(&92));
/// assert!(rules.due(FacilityKind::Pharmacy).is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceRules {
    /// The obligations; a kind with none owes nothing.
    pub rules: Vec<Obligation>,
}

/// One obligation: providers of `kind` must send each of `resource_types`
/// at least once every `every_days` days. Each type is checked on its own
/// (sending one of them does not discharge the others).
///
/// Read from configuration, it must name a kind, at least one FHIR R4
/// resource type (case-sensitive: `Observation`) and a period of at least
/// one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ObligationSpec")]
pub struct Obligation {
    /// The facility type it applies to.
    pub kind: FacilityKind,
    /// The resource types to send.
    pub resource_types: Vec<String>,
    /// The longest allowed gap between two sendings, in days.
    pub every_days: u32,
}

/// An obligation as written in configuration, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObligationSpec {
    kind: FacilityKind,
    resource_types: Vec<String>,
    every_days: u32,
}

impl TryFrom<ObligationSpec> for Obligation {
    type Error = String;
    fn try_from(s: ObligationSpec) -> Result<Self, String> {
        if s.every_days == 0 {
            return Err(format!(
                "the obligation for {} must have every_days of at least 1",
                s.kind
            ));
        }
        if s.resource_types.is_empty() {
            return Err(format!(
                "the obligation for {} names no resource_types",
                s.kind
            ));
        }
        if let Some(bad) = s.resource_types.iter().find(|t| !is_resource_type(t)) {
            return Err(format!(
                "the obligation for {} names {bad:?}, which is not a FHIR R4 resource type \
                 (names are case-sensitive, e.g. \"Observation\")",
                s.kind
            ));
        }
        Ok(Self {
            kind: s.kind,
            resource_types: s.resource_types,
            every_days: s.every_days,
        })
    }
}

impl Default for ComplianceRules {
    /// The defaults, and why.
    ///
    /// Periods follow the monthly cycle of Japanese care: claims
    /// (レセプト) are made per calendar month and sent by the 10th of the
    /// next, so hospitals' systems already produce monthly extracts. 31
    /// days is the longest calendar month, so a provider that sends once a
    /// month, on any day of it, is never overdue; 92 days is the longest
    /// run of three calendar months (July–September), the same for a
    /// quarter.
    ///
    /// - 特定機能病院 and 地域医療支援病院: lab results (Observation) and
    ///   prescriptions (MedicationRequest) monthly, as the issue asks, and
    ///   diagnoses (Condition) monthly: they treat the most complex cases
    ///   and their data is what registries and research most need.
    /// - 一般病院: diagnoses and prescriptions monthly; labs are not required,
    ///   as many send their tests to outside laboratories.
    /// - 診療所: diagnoses quarterly: most have small staff and lighter
    ///   systems, and chronic-disease follow-up is quarterly anyway.
    /// - 薬局: dispensings (MedicationDispense) monthly, the record of what
    ///   patients actually received.
    ///
    /// Observation counts whatever its category (labs or vital signs): a
    /// receipt counts per resource type.
    fn default() -> Self {
        let ob = |kind, types: &[&str], every_days| Obligation {
            kind,
            resource_types: types.iter().map(|t| (*t).to_owned()).collect(),
            every_days,
        };
        let mut rules = Vec::new();
        for kind in [
            FacilityKind::AdvancedTreatmentHospital,
            FacilityKind::RegionalSupportHospital,
        ] {
            rules.push(ob(kind, &["Observation", "MedicationRequest"], 31));
            rules.push(ob(kind, &["Condition"], 31));
        }
        rules.push(ob(
            FacilityKind::Hospital,
            &["Condition", "MedicationRequest"],
            31,
        ));
        rules.push(ob(FacilityKind::Clinic, &["Condition"], 92));
        rules.push(ob(FacilityKind::Pharmacy, &["MedicationDispense"], 31));
        Self { rules }
    }
}

impl ComplianceRules {
    /// What providers of `kind` owe: each resource type with its period.
    /// A type named by several obligations of the kind gets the shortest
    /// period: the strictest applies.
    pub fn due(&self, kind: FacilityKind) -> BTreeMap<String, u32> {
        let mut out: BTreeMap<String, u32> = BTreeMap::new();
        for o in self.rules.iter().filter(|o| o.kind == kind) {
            for t in &o.resource_types {
                out.entry(t.clone())
                    .and_modify(|d| *d = (*d).min(o.every_days))
                    .or_insert(o.every_days);
            }
        }
        out
    }
}

/// Where a provider stands with one data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceStatus {
    /// Never sent.
    Never,
    /// The period since the last sending has passed.
    Overdue,
    /// In the last fifth of the period.
    DueSoon,
    /// Sent recently enough.
    Ok,
}

/// The submission that last sent a data set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The submission.
    pub submission_id: SubmissionId,
    /// When it was received.
    pub at: Timestamp,
    /// Resources of the type it accepted into the lake.
    pub accepted: u64,
    /// Resources of the type, held pending by earlier submissions, that
    /// joined the lake with it (it brought their Patient).
    pub joined_from_pending: u64,
}

/// One provider and one data set it owes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceRow {
    /// The provider (医療機関コード).
    pub provider: ProviderCode,
    /// Its name.
    pub name: String,
    /// Its facility type, which decides what it owes.
    pub kind: FacilityKind,
    /// The resource type owed.
    pub resource_type: String,
    /// The period, in days.
    pub every_days: u32,
    /// The last sending, if any.
    pub last: Option<Delivery>,
    /// Whole days since the last sending, rounded down.
    pub days_since: Option<u64>,
    /// When the next sending is (or was) due: the last sending (or the
    /// registration, if never sent) plus the period.
    pub due_at: Timestamp,
    /// Where it stands.
    pub status: ComplianceStatus,
}

/// How many rows have each status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Sent recently enough.
    pub ok: u64,
    /// In the last fifth of the period.
    pub due_soon: u64,
    /// Past due.
    pub overdue: u64,
    /// Never sent.
    pub never: u64,
}

/// Who is behind, as of `now`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceReport {
    /// The instant the report is for.
    pub now: Timestamp,
    /// A row per registered provider and resource type its kind owes,
    /// most behind first: by `due_at`, earliest first (the longer overdue,
    /// the higher), then by status (never before overdue before due soon
    /// before ok), provider code and resource type.
    pub rows: Vec<ComplianceRow>,
    /// Rows per status.
    pub counts: StatusCounts,
}

/// The status of a data set last sent at `last` (never if `None`), owed
/// every `every_days` by a provider registered at `registered`.
fn assess(
    last: Option<Timestamp>,
    registered: Timestamp,
    every_days: u32,
    now: Timestamp,
) -> (Timestamp, ComplianceStatus) {
    let period = i64::from(every_days) * DAY_US;
    let due_at = last.unwrap_or(registered).plus_micros(period);
    let status = match last {
        None => ComplianceStatus::Never,
        Some(_) if now > due_at => ComplianceStatus::Overdue,
        // 86 400 000 000 µs is a multiple of 5: a fifth of a period is exact.
        Some(_) if now >= due_at.plus_micros(-period / 5) => ComplianceStatus::DueSoon,
        Some(_) => ComplianceStatus::Ok,
    };
    (due_at, status)
}

impl ComplianceRow {
    fn new(
        p: &Provider,
        resource_type: String,
        every_days: u32,
        last: Option<Delivery>,
        now: Timestamp,
    ) -> Self {
        let at = last.as_ref().map(|d| d.at);
        let (due_at, status) = assess(at, p.registered_at, every_days, now);
        Self {
            provider: p.code.clone(),
            name: p.name.clone(),
            kind: p.kind,
            resource_type,
            every_days,
            days_since: at.map(|a| non_negative((now.unix_micros() - a.unix_micros()) / DAY_US)),
            last,
            due_at,
            status,
        }
    }
}

impl ComplianceReport {
    fn new(now: Timestamp, mut rows: Vec<ComplianceRow>) -> Self {
        rows.sort_by(|a, b| {
            (a.due_at, a.status, &a.provider, &a.resource_type).cmp(&(
                b.due_at,
                b.status,
                &b.provider,
                &b.resource_type,
            ))
        });
        let mut counts = StatusCounts::default();
        for r in &rows {
            *match r.status {
                ComplianceStatus::Ok => &mut counts.ok,
                ComplianceStatus::DueSoon => &mut counts.due_soon,
                ComplianceStatus::Overdue => &mut counts.overdue,
                ComplianceStatus::Never => &mut counts.never,
            } += 1;
        }
        Self { now, rows, counts }
    }
}

impl Intake {
    /// Where every registered provider stands with each data set its
    /// facility type owes under `rules`, as of `now` (see the module
    /// documentation for exactly what counts).
    pub async fn compliance(
        &self,
        rules: &ComplianceRules,
        now: Timestamp,
    ) -> Result<ComplianceReport> {
        let mut rows = Vec::new();
        for p in self.providers().await? {
            let due = rules.due(p.kind);
            if due.is_empty() {
                continue;
            }
            let types: BTreeSet<&str> = due.keys().map(String::as_str).collect();
            let mut last = self.last_deliveries(&p.code, &types, now).await?;
            for (ty, every_days) in due {
                let delivery = last.remove(ty.as_str());
                rows.push(ComplianceRow::new(&p, ty, every_days, delivery, now));
            }
        }
        Ok(ComplianceReport::new(now, rows))
    }

    /// The last sending of each of `types` by `provider` received at or
    /// before `now`.
    async fn last_deliveries(
        &self,
        provider: &ProviderCode,
        types: &BTreeSet<&str>,
        now: Timestamp,
    ) -> Result<BTreeMap<String, Delivery>> {
        let db = self.db();
        let mut out: BTreeMap<String, Delivery> = BTreeMap::new();

        // Newest first, stopping once every type is found: a provider that
        // keeps up is answered from its last few receipts.
        let text = receipt_counts_query(
            db.backend(),
            "provider_code = $1 AND received_us <= $2",
            "ORDER BY r.received_us DESC, r.id DESC",
        );
        let mut rows = sqlx::query(&text)
            .bind(provider.as_str())
            .bind(now.unix_micros())
            .fetch(db.pool());
        while out.len() < types.len() {
            let Some(row) = rows.try_next().await? else {
                break;
            };
            let counts: Option<String> = row.try_get("counts")?;
            let id: String = row.try_get("id")?;
            let at = Timestamp::from_unix_micros(row.try_get("received_us")?);
            for (ty, c) in parse_counts(counts.as_deref())? {
                if c.accepted > 0 && types.contains(ty.as_str()) && !out.contains_key(&ty) {
                    out.insert(
                        ty,
                        Delivery {
                            submission_id: SubmissionId::parse(&id)
                                .map_err(|e| Error::Corrupt(e.to_string()))?,
                            at,
                            accepted: c.accepted,
                            joined_from_pending: 0,
                        },
                    );
                }
            }
        }
        drop(rows);

        // Resources that joined from the pending area count with the
        // submission that let them join.
        let joined = sqlx::query(
            "SELECT p.resource_type, s.id, s.received_us, COUNT(*) AS n \
             FROM pending p JOIN submissions s ON s.id = p.resolved_in \
             WHERE p.provider_code = $1 AND p.state = 'resolved' AND s.state = 'committed' \
             AND s.received_us <= $2 \
             GROUP BY p.resource_type, s.id, s.received_us",
        )
        .bind(provider.as_str())
        .bind(now.unix_micros())
        .fetch_all(db.pool())
        .await?;
        for r in joined {
            let ty: String = r.try_get("resource_type")?;
            if !types.contains(ty.as_str()) {
                continue;
            }
            let id = SubmissionId::parse(&r.try_get::<String, _>("id")?)
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            let at = Timestamp::from_unix_micros(r.try_get("received_us")?);
            let n = non_negative(r.try_get("n")?);
            match out.get_mut(&ty) {
                Some(d) if d.submission_id == id => d.joined_from_pending += n,
                Some(d) if (d.at, &d.submission_id) > (at, &id) => {}
                _ => {
                    // Later than any direct sending: that submission is
                    // the last one. Its receipt's own accepted count for
                    // the type is zero, or the scan above had found it.
                    out.insert(
                        ty,
                        Delivery {
                            submission_id: id,
                            at,
                            accepted: 0,
                            joined_from_pending: n,
                        },
                    );
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(days: i64) -> Timestamp {
        Timestamp::from_unix_micros(1_714_521_600_000_000 + days * DAY_US)
    }

    #[test]
    fn status_boundaries_are_exact() {
        let reg = t(-1000);
        let last = Some(t(0));
        // 31 days: due soon from day 24.8 (the last fifth) to day 31 inclusive.
        let due_soon_from = t(31).plus_micros(-(31 * DAY_US / 5));
        assert_eq!(due_soon_from, t(24).plus_micros(DAY_US * 4 / 5));
        let at = |now| assess(last, reg, 31, now).1;
        assert_eq!(at(due_soon_from.plus_micros(-1)), ComplianceStatus::Ok);
        assert_eq!(at(due_soon_from), ComplianceStatus::DueSoon);
        assert_eq!(at(t(31)), ComplianceStatus::DueSoon);
        assert_eq!(at(t(31).plus_micros(1)), ComplianceStatus::Overdue);
        assert_eq!(assess(last, reg, 31, t(5)).0, t(31));
        assert_eq!(
            assess(None, reg, 31, t(5)),
            (t(-969), ComplianceStatus::Never),
            "never: due a period after registration"
        );
    }

    #[test]
    fn the_strictest_period_applies_and_kinds_without_rules_owe_nothing() {
        let rules = ComplianceRules {
            rules: vec![
                Obligation {
                    kind: FacilityKind::Clinic,
                    resource_types: vec!["Condition".into(), "Observation".into()],
                    every_days: 92,
                },
                Obligation {
                    kind: FacilityKind::Clinic,
                    resource_types: vec!["Condition".into()],
                    every_days: 31,
                },
            ],
        };
        let due = rules.due(FacilityKind::Clinic);
        assert_eq!(due["Condition"], 31);
        assert_eq!(due["Observation"], 92);
        assert!(rules.due(FacilityKind::Hospital).is_empty());
    }

    #[test]
    fn defaults_cover_every_kind_with_monthly_or_quarterly_periods() {
        let rules = ComplianceRules::default();
        for kind in FacilityKind::ALL {
            let due = rules.due(kind);
            assert!(!due.is_empty(), "{kind} owes nothing");
            assert!(
                due.values().all(|d| [31, 92].contains(d)),
                "{kind}: {due:?}"
            );
            assert!(due.keys().all(|t| is_resource_type(t)), "{kind}: {due:?}");
        }
        let ath = rules.due(FacilityKind::AdvancedTreatmentHospital);
        assert_eq!(
            ath.keys().map(String::as_str).collect::<Vec<_>>(),
            ["Condition", "MedicationRequest", "Observation"]
        );
        assert_eq!(rules.due(FacilityKind::Clinic)["Condition"], 92);
        assert_eq!(rules.due(FacilityKind::Pharmacy)["MedicationDispense"], 31);
    }

    #[test]
    fn configuration_is_checked_and_names_the_mistake() {
        let parse = |text: &str| serde_json::from_str::<ComplianceRules>(text);
        let ok = r#"{"rules": [{"kind": "pharmacy", "resource_types": ["MedicationDispense"], "every_days": 31}]}"#;
        assert_eq!(parse(ok).expect("valid").rules[0].every_days, 31);
        for (text, says) in [
            (
                r#"{"rules": [{"kind": "pharmacy", "resource_types": ["medicationDispense"], "every_days": 31}]}"#,
                "\"medicationDispense\", which is not a FHIR R4 resource type",
            ),
            (
                r#"{"rules": [{"kind": "pharmacy", "resource_types": ["MedicationDispense"], "every_days": 0}]}"#,
                "every_days of at least 1",
            ),
            (
                r#"{"rules": [{"kind": "pharmacy", "resource_types": [], "every_days": 31}]}"#,
                "names no resource_types",
            ),
            (
                r#"{"rules": [{"kind": "pharmacy", "resource_type": ["MedicationDispense"], "every_days": 31}]}"#,
                "unknown field `resource_type`",
            ),
            (
                r#"{"rules": [{"kind": "drugstore", "resource_types": ["MedicationDispense"], "every_days": 31}]}"#,
                "unknown variant `drugstore`",
            ),
        ] {
            let err = parse(text).expect_err(says).to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
