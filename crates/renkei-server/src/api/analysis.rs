//! The analysis environment over the API: a permit's named users run SQL in
//! its workspace (results as JSON, or as an Arrow IPC stream for
//! `Accept: application/vnd.apache.arrow.stream`), read the history and
//! save queries. Results stay inside the workspace: what leaves goes
//! through release (disclosure control and a reviewer).

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_analysis::{HistoryEntry, SavedQuery};
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
    crate::workspaces::open(&state, &permit, &who.username).await?;
    Ok(ApiJson(state.analysis().history(&permit, 200).await?))
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
    crate::workspaces::open(&state, &permit, &who.username).await?;
    let saved = state
        .analysis()
        .save(&permit, &who.username, &body.name, &body.sql)
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
    crate::workspaces::open(&state, &permit, &who.username).await?;
    Ok(ApiJson(state.analysis().saved(&permit).await?))
}
