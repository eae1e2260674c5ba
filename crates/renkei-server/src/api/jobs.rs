//! `/api/v1/jobs/{id}`: long work started by another request (an extract
//! build, a relink), read back until it ends. Its starter reads it, and
//! operators and auditors; to anyone else it does not exist.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_core::Role;

use super::ApiJson;
use super::tokens::signed_in;
use crate::access::{AuditDetail, Principal};
use crate::jobs::Job;
use crate::{AppState, Error, Result};

/// A job: running, or ended with its result or its problem.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "operations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses((status = 200, description = "The job", body = Job),
              (status = 404, description = "No such job of yours", body = crate::Problem)))]
pub async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<ApiJson<Job>> {
    let user = signed_in(&principal)?;
    let not_found = || Error::NotFound(format!("job {id}"));
    let job = state.jobs().get(id.trim()).await?.ok_or_else(not_found)?;
    let oversees = matches!(user.role, Role::Operator | Role::Auditor);
    if job.owner != user.id && !oversees {
        return Err(not_found());
    }
    Ok(ApiJson(job))
}

/// The answer to a request that started `job`: 202 Accepted, its
/// resource in `Location`, and the job as it stands.
pub(crate) fn accepted(job: &Job, detail: String) -> Response {
    let mut response = (StatusCode::ACCEPTED, ApiJson(job.clone())).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/jobs/{}", job.id)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    AuditDetail::attach(format!("{detail} job={}", job.id), response)
}
