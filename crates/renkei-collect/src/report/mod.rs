//! Reports over what providers have submitted: the quality of one
//! provider's data ([`Intake::quality`]) and who is behind with the data
//! sets their facility type must send ([`Intake::compliance`]).
//!
//! Both read only committed submissions: a failed one contributed nothing
//! to the lake, and a resend of content already committed is forgotten at
//! once (its first receipt stands). The figures come from three places,
//! each written in the same transaction as the submission's commit:
//! - the receipt's per-type counts (`submissions.receipt`): what was
//!   received, accepted, rejected, unchanged, superseded, stale, deleted,
//!   held pending;
//! - the per-submission quality tallies (`submission_stats`, see
//!   `crate::quality`): completeness, codings, event-to-submission lag,
//!   warnings and rejection reasons;
//! - the pending area (`pending`): what still waits for its Patient, and
//!   which later submission brought the Patient that let a resource join.
//!
//! [`Intake::quality`]: crate::Intake::quality
//! [`Intake::compliance`]: crate::Intake::compliance

mod compliance;
mod quality;

use std::collections::BTreeMap;

use renkei_store::Backend;

use crate::submission::TypeCounts;
use crate::{Error, Result};

pub use compliance::{
    ComplianceReport, ComplianceRow, ComplianceRules, ComplianceStatus, Delivery, Obligation,
    StatusCounts,
};
pub use quality::{Figures, QualityReport, ReasonCount, TOP_REASONS, Timeliness, TypeQuality};

/// A day in µs, the unit of every stored time.
const DAY_US: i64 = 86_400_000_000;

/// A `SELECT` over committed submissions (aliased `r`'s source) that reads
/// only the receipt's `counts` (as JSON text, column `counts`) instead of
/// the whole receipt: a receipt lists up to `MAX_LISTED` OperationOutcomes,
/// its counts only a few types. The dialects differ here, and only here:
/// SQLite's `json_extract` returns an object as JSON text; PostgreSQL's
/// column is TEXT, parsed once per row as `jsonb`.
///
/// `filter` is the `WHERE` clause over `submissions`, `order` an optional
/// `ORDER BY` over the selected columns.
fn receipt_counts_query(backend: Backend, filter: &str, order: &str) -> String {
    let (counts, joined, doc) = match backend {
        Backend::Sqlite => (
            "json_extract(r.doc, '$.counts')",
            "json_extract(r.doc, '$.pending_joined')",
            "receipt",
        ),
        Backend::Postgres => (
            "CAST(r.doc -> 'counts' AS TEXT)",
            "CAST(r.doc ->> 'pending_joined' AS BIGINT)",
            "CAST(receipt AS jsonb)",
        ),
    };
    format!(
        "SELECT r.id, r.received_us, {counts} AS counts, {joined} AS pending_joined \
         FROM (SELECT id, received_us, {doc} AS doc FROM submissions \
         WHERE state = 'committed' AND receipt IS NOT NULL AND {filter}) r {order}"
    )
}

fn parse_counts(text: Option<&str>) -> Result<BTreeMap<String, TypeCounts>> {
    match text {
        None => Ok(BTreeMap::new()),
        Some(t) => serde_json::from_str(t)
            .map_err(|e| Error::Corrupt(format!("the counts of a stored receipt: {e}"))),
    }
}

/// A stored count or sum: never negative, but read as SQL's signed BIGINT.
fn non_negative(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
