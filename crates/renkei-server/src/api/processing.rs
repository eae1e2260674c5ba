//! Processing (加工) over the API: operators build a permit's extract and
//! read its manifest; auditors read them too. Researchers never see an
//! extract here — they reach it only through their workspace.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use renkei_deid::{ExtractSummary, Manifest};
use renkei_review::PermitId;

use super::ApiJson;
use super::review::acting;
use crate::access::{AuditDetail, Principal};
use crate::{AppState, Error, Result};

fn permit_id(text: &str) -> Result<PermitId> {
    PermitId::parse(text).map_err(|e| Error::BadRequest(e.to_string()))
}

/// Builds the extract of a permit in force — or answers with the existing
/// one when nothing that decides its content (lake version, opt-outs) has
/// changed. 409 for a permit not in force or whose key was destroyed.
#[utoipa::path(post, path = "/api/v1/permits/{id}/extracts", tag = "processing",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Permit id")),
    responses((status = 201, description = "The extract's manifest", body = Object),
              (status = 404, description = "No such permit", body = crate::Problem),
              (status = 409, description = "The permit is not in force", body = crate::Problem)))]
pub async fn build(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let id = permit_id(&id)?;
    let manifest = match crate::processing::extract(&state, &id, who.actor).await {
        Ok(m) => m,
        Err(e) => return Ok(AuditDetail::attach(format!("permit={id}"), e)),
    };
    Ok(AuditDetail::attach(
        format!(
            "permit={id} extract={} rows={} bytes={} persons={}",
            manifest.extract,
            manifest.rows(),
            manifest.bytes(),
            manifest.persons
        ),
        (StatusCode::CREATED, ApiJson(manifest)).into_response(),
    ))
}

/// A permit's extracts, newest first, closed ones included.
#[utoipa::path(get, path = "/api/v1/permits/{id}/extracts", tag = "processing",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Permit id")),
    responses((status = 200, description = "The extracts", body = Vec<Object>)))]
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<ExtractSummary>>> {
    let id = permit_id(&id)?;
    Ok(ApiJson(state.processing().extracts(&id.to_string()).await?))
}

/// An extract's manifest.
#[utoipa::path(get, path = "/api/v1/extracts/{id}", tag = "processing",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Extract id")),
    responses((status = 200, description = "The manifest", body = Object),
              (status = 404, description = "No such extract", body = crate::Problem)))]
pub async fn manifest(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<Manifest>> {
    Ok(ApiJson(state.processing().manifest(&id).await?))
}
