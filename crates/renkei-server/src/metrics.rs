//! Request metrics in the Prometheus text format: counts by route, method
//! and status, and latency histograms by route and method. Routes are
//! labelled by their pattern (`/api/v1/tokens/{id}`), never the raw path, so
//! ids cannot blow up the label space.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::AppState;
use crate::accounts::{Lockout, Scope};

/// The server's instruments.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Entries in the audit log, refreshed at each scrape.
    pub audit_entries: IntGauge,
    guess_failures: IntCounterVec,
    lockouts: IntCounterVec,
    refusals: IntCounterVec,
}

impl Metrics {
    /// Fresh instruments in their own registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("renkei_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("constant metric definition is valid");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "renkei_http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "route"],
        )
        .expect("constant metric definition is valid");
        let audit_entries = IntGauge::new("renkei_audit_log_entries", "Entries in the audit log")
            .expect("constant metric definition is valid");
        let guess_failures = IntCounterVec::new(
            Opts::new(
                "renkei_guess_failures_total",
                "Failed sign-ins and patient identifications",
            ),
            &["kind"],
        )
        .expect("constant metric definition is valid");
        let lockouts = IntCounterVec::new(
            Opts::new(
                "renkei_throttle_lockouts_total",
                "Throttle counters that reached their limit and locked",
            ),
            &["scope"],
        )
        .expect("constant metric definition is valid");
        let refusals = IntCounterVec::new(
            Opts::new(
                "renkei_throttle_refusals_total",
                "Attempts refused by a throttle counter (429)",
            ),
            &["scope"],
        )
        .expect("constant metric definition is valid");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(audit_entries.clone()),
            Box::new(guess_failures.clone()),
            Box::new(lockouts.clone()),
            Box::new(refusals.clone()),
        ] {
            registry
                .register(c)
                .expect("each metric is registered once");
        }
        Self {
            registry,
            requests,
            latency,
            audit_entries,
            guess_failures,
            lockouts,
            refusals,
        }
    }

    /// Counts a failed guess of `kind` (`sign_in`, `identification`) and
    /// the lockouts it caused.
    pub fn failed_guess(&self, kind: &str, lockouts: &[Lockout]) {
        self.guess_failures.with_label_values(&[kind]).inc();
        for l in lockouts {
            self.lockouts.with_label_values(&[l.scope.as_str()]).inc();
        }
    }

    /// Counts an attempt a throttle counter of `scope` refused.
    pub fn throttle_refused(&self, scope: Scope) {
        self.refusals.with_label_values(&[scope.as_str()]).inc();
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding to a Vec cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware that counts and times every request.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let m = state.metrics();
    m.requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    m.latency
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    response
}
