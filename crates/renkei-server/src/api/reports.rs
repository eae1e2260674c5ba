//! Collection's reports: per provider, the quality of what it has sent;
//! over every registered provider, who is behind with the data sets its
//! facility type must send (`collect.compliance` in the configuration).
//!
//! The reports are `renkei-collect`'s own types, served as they serialize:
//! they exist to be read by providers and operators, so they are the wire
//! contract. The pages (`pages::collect`) render the same values.

use axum::Extension;
use axum::extract::{Path, Query, State};
use renkei_collect::{ComplianceReport, Provider, QualityReport};
use renkei_core::{ProviderCode, Role, Timestamp};
use serde::Deserialize;

use super::ApiJson;
use super::collect::belongs_to;
use super::tokens::signed_in;
use crate::access::Principal;
use crate::accounts::User;
use crate::{AppState, Error, Result};

/// The window of a quality report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Since {
    /// Count only submissions received at or after this instant (RFC 3339,
    /// e.g. `2026-04-01T00:00:00Z`; an offset's `+` must be sent as `%2B`).
    /// All submissions when left out.
    pub since: Option<String>,
}

/// The instant a compliance report is for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AsOf {
    /// The instant (RFC 3339); now when left out. Submissions received
    /// after it are ignored, so a past instant shows what was known then
    /// (with today's registry of providers).
    pub at: Option<String>,
}

/// Reads the RFC 3339 query parameter `name`.
pub(crate) fn time_param(name: &str, text: &str) -> Result<Timestamp> {
    Timestamp::parse_rfc3339(text).map_err(|e| {
        // A `+` in a query string decodes as a space: the usual reason a
        // time with an offset fails here.
        let hint = if text.contains(' ') {
            " (a \"+\" in a query must be sent as %2B; or give the time in UTC with Z)"
        } else {
            ""
        };
        Error::BadRequest(format!("query parameter {name}: {e}{hint}"))
    })
}

/// Whether `role` may read every provider's reports: operators run
/// collection, auditors oversee it. Providers read their organization's.
fn reads_every_provider(role: Role) -> bool {
    matches!(role, Role::Operator | Role::Auditor)
}

/// The registered providers whose reports `user` may read, by code.
pub(crate) async fn readable_providers(state: &AppState, user: &User) -> Result<Vec<Provider>> {
    let mut providers = state.intake().providers().await?;
    if !reads_every_provider(user.role) {
        providers.retain(|p| belongs_to(p, user));
    }
    Ok(providers)
}

/// The provider `code` names, if `user` may read its reports. Another
/// organization's provider answers like an unregistered one (as another
/// organization's receipt does), so a provider account cannot learn who
/// else is registered.
pub(crate) async fn readable_provider(
    state: &AppState,
    user: &User,
    code: &ProviderCode,
) -> Result<Provider> {
    match state.intake().provider(code).await? {
        Some(p) if reads_every_provider(user.role) || belongs_to(&p, user) => Ok(p),
        _ => Err(Error::NotFound(format!(
            "provider {code} (among the providers whose reports you may read)"
        ))),
    }
}

/// One provider's quality report: per resource type and overall, what its
/// committed submissions brought (received, accepted, rejected, unchanged,
/// pending …), the completeness of key elements, the share of valid codes,
/// the lag from event to submission, the duplicate rate and the most
/// frequent rejection reasons. Ratios are `null` when nothing was measured.
#[utoipa::path(get, path = "/api/v1/providers/{code}/quality", tag = "collection",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The provider's 医療機関コード (10 digits)"), Since),
    responses((status = 200, description = "The quality report", body = Object),
              (status = 400, description = "A malformed code or since", body = crate::Problem),
              (status = 404, description = "Not registered, or not your organization's", body = crate::Problem)))]
pub async fn quality(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(code): Path<String>,
    Query(q): Query<Since>,
) -> Result<ApiJson<QualityReport>> {
    let user = signed_in(&principal)?;
    let code = ProviderCode::parse(&code)
        .map_err(|e| Error::BadRequest(format!("path parameter code: {e}")))?;
    let since = q
        .since
        .as_deref()
        .map(|t| time_param("since", t))
        .transpose()?;
    let provider = readable_provider(&state, user, &code).await?;
    Ok(ApiJson(
        state.intake().quality(&provider.code, since).await?,
    ))
}

/// Who is behind: a row per registered provider and data set its facility
/// type must send (`collect.compliance`), with the last sending, when the
/// next is due and the status (`never`, `overdue`, `due_soon`, `ok`), most
/// behind first; and how many rows have each status.
#[utoipa::path(get, path = "/api/v1/compliance", tag = "collection",
    security(("bearer" = [])), params(AsOf),
    responses((status = 200, description = "The compliance report", body = Object),
              (status = 400, description = "A malformed at", body = crate::Problem)))]
pub async fn compliance(
    State(state): State<AppState>,
    Query(q): Query<AsOf>,
) -> Result<ApiJson<ComplianceReport>> {
    let now = match q.at.as_deref() {
        Some(t) => time_param("at", t)?,
        None => state.clock().now(),
    };
    let rules = &state.config().collect.compliance;
    Ok(ApiJson(state.intake().compliance(rules, now).await?))
}
