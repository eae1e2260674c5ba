//! Processing (加工) over the API: operators build a permit's extract and
//! read its manifest; auditors read them too. Researchers never see an
//! extract here — they reach it only through their workspace.

use axum::Extension;
use axum::extract::{Path, State};

use axum::response::Response;
use renkei_deid::{ExtractSummary, Manifest};
use renkei_review::PermitId;

use super::ApiJson;
use super::review::acting;
use super::tokens::signed_in;
use crate::access::{AuditDetail, Principal};
use crate::jobs::{Done, JobKind};
use crate::{AppState, Error, Result};

fn permit_id(text: &str) -> Result<PermitId> {
    PermitId::parse(text).map_err(|e| Error::BadRequest(e.to_string()))
}

/// Starts building the extract of a permit in force — a job, since a
/// large extract takes longer than a request may; its result is the
/// manifest (the existing extract's when nothing that decides its content,
/// lake version or opt-outs, has changed). A permit not in force, or whose
/// key was destroyed, is refused at once (409), and so is a build that
/// finds it so later (the job fails with 409).
#[utoipa::path(post, path = "/api/v1/permits/{id}/extracts", tag = "processing",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Permit id")),
    responses((status = 202, description = "Started: the job, at `Location`; its result is the extract's manifest", body = crate::jobs::Job),
              (status = 404, description = "No such permit", body = crate::Problem),
              (status = 409, description = "The permit is not in force", body = crate::Problem)))]
pub async fn build(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let user = signed_in(&principal)?;
    let id = permit_id(&id)?;
    if let Err(e) = state.processing().may_extract(id).await {
        return Ok(AuditDetail::attach(format!("permit={id}"), Error::from(e)));
    }
    let work = {
        let (state, id) = (state.clone(), id);
        Box::pin(async move {
            let manifest = state.processing().extract(id, who.actor).await?;
            Ok(Done {
                detail: format!(
                    "permit={id} extract={} rows={} bytes={} persons={}",
                    manifest.extract,
                    manifest.rows(),
                    manifest.bytes(),
                    manifest.persons
                ),
                result: serde_json::to_value(&manifest)
                    .map_err(|e| Error::Internal(format!("manifest: {e}")))?,
            })
        })
    };
    let job = state
        .jobs()
        .start(JobKind::Extract, format!("permit={id}"), user, work)
        .await?;
    Ok(super::jobs::accepted(&job, format!("permit={id}")))
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
    Ok(ApiJson(state.processing().extracts(id).await?))
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
