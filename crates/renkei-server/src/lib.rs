//! The renkei server: one axum application that serves every function's API
//! and pages, the operational endpoints, and the accounts behind them.
//!
//! **Owns:** the route table and its access rules ([`routes`], [`policy`]),
//! the access layer that authenticates, authorizes and audits every request
//! ([`access`]), accounts, API tokens and page sessions ([`accounts`]), the
//! mapping of every error to an RFC 9457 problem ([`Error`], [`Problem`]),
//! the throttles of sign-in and patient identification
//! ([`accounts::Throttle`]), the security headers on every response
//! ([`security`]), metrics, the OpenAPI document, and the portal pages.
//!
//! **Never:** decides authorization anywhere but the access layer; lets a
//! response leave before its audit entry is durable; stores a password,
//! token or session id in the clear; logs names, addresses, insurance
//! numbers or clinical values.
//!
//! **Start at:** [`serve`], [`routes::table`], [`access::layer`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let config = renkei_server::Config::default();
//! let state = renkei_server::AppState::open(config, Arc::new(renkei_core::SystemClock)).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! renkei_server::serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod access;
pub mod accounts;
pub mod api;
mod background;
pub mod client;
mod config;
mod error;
pub mod jobs;
pub mod metrics;
pub mod pages;
pub mod policy;
pub mod processing;
pub mod routes;
pub mod security;
mod state;
pub mod workspaces;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use config::{
    AccountsConfig, AuditConfig, CollectConfig, Config, DeploymentConfig, OperatorConfig,
    OperatorKindConfig, ServerConfig,
};
pub use error::{Error, Problem, Result};
pub use state::AppState;

async fn not_found() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "no such route".to_owned()).into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The panic message may carry data; it is logged by the panic hook, not
    // sent to the client.
    tracing::error!("handler panicked");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the platform failed to handle this request; it has been logged".to_owned(),
    )
    .into_response()
}

/// The whole application: routes, access layer, and the cross-cutting
/// layers (request ids, tracing, panics, problems, timeouts, body limits,
/// security headers).
pub fn app(state: AppState) -> Router {
    let server = &state.config().server;
    let max_body = server.max_body_bytes;
    routes::router()
        .route_layer(from_fn_with_state(state.clone(), access::layer))
        .route_layer(from_fn_with_state(state.clone(), metrics::record))
        // Outermost of the route layers: the time a route may take is its
        // rule's (a submission streams for as long as data flows).
        .route_layer(from_fn_with_state(state.clone(), access::timing))
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(panic_response))
        // Outside the limits, so that their bare 413 and 408 get problem
        // bodies too. Bodies are limited by axum's extractors
        // (DefaultBodyLimit); streaming handlers enforce their own limit.
        .layer(from_fn(access::problem_bodies))
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(security::request_id))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                        let id = req
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", method = %req.method(), path = req.uri().path(), request_id = id)
                    }),
                )
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .layer(DefaultBodyLimit::max(max_body))
        // Outermost, so that every response gets the headers, however it
        // was made.
        .layer(from_fn_with_state(state.clone(), security::headers))
        .with_state(state)
}

/// Serves the platform on `listener` until `shutdown` resolves, then stops
/// accepting, finishes the requests in flight, and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await?;
    // Submissions whose requests ended midway are discarded (in collection
    // and identity) before we return, so a clean stop leaves none behind.
    state.intake().settled().await;
    Ok(())
}
