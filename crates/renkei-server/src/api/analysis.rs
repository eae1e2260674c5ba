//! The analysis environment over the API: a permit's named users run SQL in
//! its workspace (results as JSON, or as an Arrow IPC stream for
//! `Accept: application/vnd.apache.arrow.stream`), read the history and
//! save queries. Results stay inside the workspace: what leaves goes
//! through release (disclosure control and a reviewer).

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_analysis::{
    HistoryEntry, Output, OutputId, OutputRequest, OutputStatus, Reader, SavedQuery,
};
use renkei_core::Role;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::review::acting;
use crate::access::{AuditDetail, Principal};
use crate::{AppState, Error, Result};

/// The media type of an Arrow IPC stream.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// A query to run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    /// One read-only SQL statement over the workspace's tables.
    pub sql: String,
}

/// A query's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueryAnswer {
    /// The query's number in the history.
    pub query: i64,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, as objects keyed by column.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Whether rows were cut at the workspace's limit.
    pub truncated: bool,
    /// How long it ran.
    pub elapsed_ms: u64,
}

/// Runs SQL in the permit's workspace. 409 when the permit is not in force
/// or has no extract, 403 for anyone not named on it, 400 for SQL the
/// workspace refuses (with the engine's message), 408 past the time limit.
#[utoipa::path(post, path = "/api/v1/workspaces/{permit}/queries", tag = "analysis",
    security(("bearer" = [])), request_body = QueryBody,
    params(("permit" = String, Path, description = "Permit id")),
    responses((status = 200, description = "The result (JSON, or Arrow IPC by Accept)", body = QueryAnswer),
              (status = 400, description = "SQL refused", body = crate::Problem),
              (status = 403, description = "Not a named user", body = crate::Problem),
              (status = 409, description = "Permit not in force, or no extract", body = crate::Problem)))]
pub async fn query(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let (_, ws) = crate::workspaces::open(&state, &permit, &who.username).await?;
    let (id, result) = state
        .analysis()
        .run(&ws, &who.username, who.actor, &body.sql)
        .await?;
    let detail = format!("permit={permit} query={id}");
    let result = match result {
        Ok(r) => r,
        Err(e) => return Ok(AuditDetail::attach(detail, Error::from(e))),
    };
    let arrow = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(ARROW_STREAM));
    if arrow {
        let bytes = result.to_arrow_ipc()?;
        return Ok(AuditDetail::attach(
            detail,
            ([(header::CONTENT_TYPE, ARROW_STREAM)], bytes).into_response(),
        ));
    }
    let answer = QueryAnswer {
        query: id,
        columns: result.columns(),
        rows: result.to_json_rows()?,
        truncated: result.truncated,
        elapsed_ms: u64::try_from(result.elapsed.as_millis()).unwrap_or(u64::MAX),
    };
    Ok(AuditDetail::attach(detail, ApiJson(answer).into_response()))
}

/// The workspace's history, newest first (the last 200).
#[utoipa::path(get, path = "/api/v1/workspaces/{permit}/queries", tag = "analysis",
    security(("bearer" = [])),
    params(("permit" = String, Path, description = "Permit id")),
    responses((status = 200, description = "The history", body = Vec<Object>)))]
pub async fn history(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
) -> Result<ApiJson<Vec<HistoryEntry>>> {
    let who = acting(&principal)?;
    let (opened, _) = crate::workspaces::open(&state, &permit, &who.username).await?;
    let permit = opened.permit;
    Ok(ApiJson(state.analysis().history(permit, 200).await?))
}

/// A query to save.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveBody {
    /// Its name (1–100 characters); saving again under a name replaces it.
    pub name: String,
    /// The SQL.
    pub sql: String,
}

/// Saves a query in the workspace.
#[utoipa::path(post, path = "/api/v1/workspaces/{permit}/saved", tag = "analysis",
    security(("bearer" = [])), request_body = SaveBody,
    params(("permit" = String, Path, description = "Permit id")),
    responses((status = 201, description = "Saved", body = Object)))]
pub async fn save(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
    ApiJson(body): ApiJson<SaveBody>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let (opened, _) = crate::workspaces::open(&state, &permit, &who.username).await?;
    let permit = opened.permit;
    let saved = state
        .analysis()
        .save(permit, &who.username, &body.name, &body.sql)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(saved)).into_response())
}

/// The workspace's saved queries.
#[utoipa::path(get, path = "/api/v1/workspaces/{permit}/saved", tag = "analysis",
    security(("bearer" = [])),
    params(("permit" = String, Path, description = "Permit id")),
    responses((status = 200, description = "Saved queries", body = Vec<Object>)))]
pub async fn saved(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
) -> Result<ApiJson<Vec<SavedQuery>>> {
    let who = acting(&principal)?;
    let (opened, _) = crate::workspaces::open(&state, &permit, &who.username).await?;
    let permit = opened.permit;
    Ok(ApiJson(state.analysis().saved(permit).await?))
}

/// The rules of disclosure control the platform applies to every output.
pub(crate) fn disclosure_rules(state: &AppState) -> renkei_analysis::disclosure::Rules {
    state.config().analysis.disclosure.clone()
}

/// Proposes an output for release: the workspace computes its cells from
/// the query and checks them at once; the answer shows every cell with
/// its true value and, for each suppression, why. It waits for a reviewer.
#[utoipa::path(post, path = "/api/v1/workspaces/{permit}/outputs", tag = "analysis",
    security(("bearer" = [])), request_body = Object,
    params(("permit" = String, Path, description = "Permit id")),
    responses((status = 201, description = "Checked and pending", body = Object),
              (status = 400, description = "The request cannot be made into a table", body = crate::Problem)))]
pub async fn propose(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
    ApiJson(body): ApiJson<OutputRequest>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let (_, ws) = crate::workspaces::open(&state, &permit, &who.username).await?;
    let output = state
        .analysis()
        .propose(
            &ws,
            &who.username,
            who.actor,
            body,
            &disclosure_rules(&state),
        )
        .await?;
    let detail = format!("permit={permit} output={}", output.id);
    Ok(AuditDetail::attach(
        detail,
        (StatusCode::CREATED, ApiJson(output)).into_response(),
    ))
}

/// The workspace's outputs, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{permit}/outputs", tag = "analysis",
    security(("bearer" = [])),
    params(("permit" = String, Path, description = "Permit id")),
    responses((status = 200, description = "Outputs", body = Vec<Object>)))]
pub async fn outputs(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
) -> Result<ApiJson<Vec<Output>>> {
    let who = acting(&principal)?;
    let (opened, _) = crate::workspaces::open(&state, &permit, &who.username).await?;
    let permit = opened.permit;
    Ok(ApiJson(state.analysis().outputs(permit).await?))
}

/// Outputs waiting for a reviewer, oldest first.
#[utoipa::path(get, path = "/api/v1/outputs", tag = "analysis",
    security(("bearer" = [])),
    responses((status = 200, description = "Pending outputs", body = Vec<Object>)))]
pub async fn pending(State(state): State<AppState>) -> Result<ApiJson<Vec<Output>>> {
    Ok(ApiJson(state.analysis().pending_outputs().await?))
}

/// One output: for reviewers, and for the named users of its permit.
#[utoipa::path(get, path = "/api/v1/outputs/{id}", tag = "analysis",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Output number")),
    responses((status = 200, description = "The output", body = Object)))]
pub async fn output(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<ApiJson<Output>> {
    Ok(ApiJson(readable_output(&state, &principal, &id).await?))
}

/// The output if `principal` may read it: a reviewer, or a named user of
/// its permit (404 to anyone else, so numbers cannot be probed).
pub(crate) async fn readable_output(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Output> {
    let who = acting(principal)?;
    let id = OutputId::parse(id)?;
    let reader = match &who.actor {
        renkei_core::Actor::User { role, .. } if *role == Role::Reviewer => Reader::Reviewer,
        _ => Reader::User(&who.username),
    };
    Ok(state.analysis().readable_output(id, reader).await?)
}

/// A reviewer's decision on an output.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Release (true) or refuse (false).
    pub release: bool,
    /// The reasons, always stated.
    pub reason: String,
}

/// A reviewer releases or refuses a pending output. Release needs the
/// permit in force, and checks the table again against the permit's
/// releases so far.
#[utoipa::path(post, path = "/api/v1/outputs/{id}/decision", tag = "analysis",
    security(("bearer" = [])), request_body = DecisionBody,
    params(("id" = String, Path, description = "Output number")),
    responses((status = 200, description = "Decided", body = Object),
              (status = 409, description = "Decided already, or the permit is not in force", body = crate::Problem)))]
pub async fn decide(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Response> {
    let output = decide_output(&state, &principal, &id, body.release, &body.reason).await?;
    let detail = format!("permit={} output={}", output.permit, output.id);
    Ok(AuditDetail::attach(detail, ApiJson(output).into_response()))
}

/// Shared by the API and the reviewer's page.
pub(crate) async fn decide_output(
    state: &AppState,
    principal: &Principal,
    id: &str,
    release: bool,
    reason: &str,
) -> Result<Output> {
    let who = acting(principal)?;
    let id = OutputId::parse(id)?;
    Ok(state
        .analysis()
        .decide(
            id,
            &who.username,
            who.actor,
            release,
            reason,
            &disclosure_rules(state),
        )
        .await?)
}

/// A released output as the public register lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisterOutput {
    /// Its number.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// The permit it was made under.
    pub permit: String,
    /// The permit's holder.
    pub holder: String,
    /// When it was released.
    pub released_at: String,
    /// Cells in the table.
    pub cells: usize,
    /// Cells suppressed.
    pub suppressed: usize,
    /// For a table released with noise (differential privacy) instead of
    /// suppression: the ε it spent. Its counts are then not exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_epsilon: Option<String>,
    /// Where to download it (CSV).
    pub download: String,
    /// When it was released, for the pages and the feed.
    #[serde(skip)]
    pub released: Option<renkei_core::Timestamp>,
}

/// The released outputs, newest first.
pub(crate) async fn register_outputs(state: &AppState) -> Result<Vec<RegisterOutput>> {
    let mut out = Vec::new();
    for o in state.analysis().released_outputs().await? {
        let holder = state
            .review()
            .permit(&o.permit)
            .await
            .map(|(permit, _)| permit.holder.name)
            .unwrap_or_default();
        out.push(RegisterOutput {
            id: o.id.get(),
            title: o.title.clone(),
            permit: o.permit.to_string(),
            holder,
            released_at: o.decided_at.map(|t| t.to_string()).unwrap_or_default(),
            cells: o.check.cells.len(),
            suppressed: o.check.suppressed,
            noise_epsilon: o.check.noisy.map(|e| e.to_string()),
            download: format!("/register/outputs/{}/table.csv", o.id),
            released: o.decided_at,
        });
    }
    Ok(out)
}

/// Every released output, with its permit: public.
#[utoipa::path(get, path = "/api/v1/register/outputs", tag = "register",
    responses((status = 200, description = "Released outputs", body = Vec<RegisterOutput>)))]
pub async fn released(State(state): State<AppState>) -> Result<ApiJson<Vec<RegisterOutput>>> {
    Ok(ApiJson(register_outputs(&state).await?))
}

/// A released output's table as CSV: public once released, 404 before.
pub async fn download(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = OutputId::parse(&id)?;
    let output = state.analysis().output(id).await?;
    let csv = output
        .csv()
        .filter(|_| output.status == OutputStatus::Released)
        .ok_or_else(|| Error::NotFound(format!("released output {id}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"renkei-output-{id}.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}
