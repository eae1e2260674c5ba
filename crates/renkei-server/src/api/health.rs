//! Liveness, readiness and metrics: for load balancers and Prometheus.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use crate::AppState;

/// Liveness and readiness answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with the failing checks.
    pub status: &'static str,
    /// The checks that failed (readiness only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok",
        failing: Vec::new(),
    })
}

/// The stores answer and the audit log takes entries.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, description = "A dependency is not ready", body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let mut failing = Vec::new();
    if let Err(e) = state.accounts().db().ping().await {
        tracing::warn!(error = %e, "accounts database not ready");
        failing.push("accounts database".to_owned());
    }
    if let Err(e) = state.audit().ping().await {
        tracing::warn!(error = %e, "audit log not ready");
        failing.push("audit log".to_owned());
    }
    let status = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if failing.is_empty() {
            "ok"
        } else {
            "unavailable"
        },
        failing,
    };
    (status, axum::Json(body))
}

/// Request counts and latencies in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = state.metrics();
    m.audit_entries
        .set(i64::try_from(state.audit().size()).unwrap_or(i64::MAX));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
}
