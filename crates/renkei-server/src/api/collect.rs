//! Collection's API: submissions (NDJSON, streamed), FHIR Bundles, receipts
//! and the registry of providers. Its reports are in [`super::reports`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use renkei_collect::{FacilityKind, Provider, Receipt, SubmissionId};
use renkei_core::{OrgId, ProviderCode, Role};
use serde::Deserialize;

use super::ApiJson;
use super::tokens::signed_in;
use crate::access::Principal;
use crate::accounts::User;
use crate::{AppState, Error, Result};

/// Which provider a submission is for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct For {
    /// The 医療機関コード; may be left out when the caller's organization
    /// has exactly one registered provider.
    pub provider: Option<String>,
}

/// Whether `provider` belongs to `user`'s organization. A provider
/// registered to no organization belongs to no one's: an account without
/// an organization must not match it.
pub(crate) fn belongs_to(provider: &Provider, user: &User) -> bool {
    provider.org_id.is_some() && provider.org_id == user.org_id
}

/// The provider the caller submits for: named, registered, and belonging to
/// the caller's organization.
async fn provider_for(state: &AppState, user: &User, named: Option<&str>) -> Result<ProviderCode> {
    let providers = state.intake().providers().await?;
    let own: Vec<&Provider> = providers.iter().filter(|p| belongs_to(p, user)).collect();
    let code = match named {
        Some(text) => ProviderCode::parse(text)
            .map_err(|e| Error::BadRequest(format!("query parameter provider: {e}")))?,
        None => match own.as_slice() {
            [one] => one.code.clone(),
            [] => {
                return Err(Error::BadRequest(
                    "no provider is registered for your organization; an operator registers it first".to_owned(),
                ));
            }
            _ => {
                return Err(Error::BadRequest(
                    "your organization has several providers: name one with ?provider=<医療機関コード>".to_owned(),
                ));
            }
        },
    };
    if !providers.iter().any(|p| p.code == code) {
        return Err(Error::BadRequest(format!(
            "provider {code} is not registered"
        )));
    }
    if !own.iter().any(|p| p.code == code) {
        // Not a 403 of the access layer: the role may submit, but not for
        // another organization's provider code.
        return Err(Error::Conflict(format!(
            "provider {code} belongs to another organization: you may submit only for your own"
        )));
    }
    Ok(code)
}

/// How a streamed body was cut short, so the caller answers 413 or 408
/// rather than 400.
#[derive(Default)]
struct Cut {
    /// It went past the limit.
    over: AtomicBool,
    /// It stalled or trickled: why, for the sender.
    slow: std::sync::Mutex<Option<String>>,
}

impl Cut {
    fn slow(&self, why: String) -> std::io::Error {
        let error = std::io::Error::new(std::io::ErrorKind::TimedOut, why.clone());
        *self
            .slow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
        error
    }
}

/// How fast a streamed body must come: no pause of `idle`, and at least
/// `min_bytes` in every window of `idle`.
#[derive(Clone, Copy)]
struct Pace {
    idle: std::time::Duration,
    min_bytes: u64,
}

/// Reads `body` as a stream for as long as data flows: it is cut at
/// `limit` bytes, when no byte comes for the idle time, or when a window
/// brings less than the floor (a sender that stalls or trickles would
/// otherwise hold its provider's turn for ever).
fn limited(
    body: Body,
    limit: u64,
    pace: Pace,
    cut: Arc<Cut>,
) -> impl tokio::io::AsyncRead + Send + Unpin + 'static {
    let mut seen = 0u64;
    let mut window = (std::time::Instant::now(), 0u64);
    let data = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    let stream = futures::stream::unfold((data, cut), move |(mut data, cut)| async move {
        let next = match tokio::time::timeout(pace.idle, data.next()).await {
            Ok(next) => next?,
            Err(_) => {
                let why = format!(
                    "no data came for {} s (server.body_idle_secs)",
                    pace.idle.as_secs()
                );
                return Some((Err(cut.slow(why)), (data, cut)));
            }
        };
        let next = next.and_then(|chunk| {
            seen += chunk.len() as u64;
            window.1 += chunk.len() as u64;
            if seen > limit {
                cut.over.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other(format!(
                    "the body exceeds {limit} bytes"
                )));
            }
            if window.0.elapsed() >= pace.idle {
                if window.1 < pace.min_bytes {
                    return Err(cut.slow(format!(
                        "only {} bytes came in {} s, fewer than server.body_min_bytes_per_window = {}",
                        window.1,
                        pace.idle.as_secs(),
                        pace.min_bytes
                    )));
                }
                window = (std::time::Instant::now(), 0);
            }
            Ok(chunk)
        });
        Some((next, (data, cut)))
    });
    tokio_util::io::StreamReader::new(Box::pin(stream))
}

async fn submit(
    state: &AppState,
    principal: &Principal,
    named: Option<&str>,
    body: Body,
    (limit, which): (u64, renkei_collect::Limit),
) -> std::result::Result<(StatusCode, Receipt), Refused> {
    let user = signed_in(principal)?;
    let provider = provider_for(state, user, named).await?;
    let started = state.clock().now();
    let cut = Arc::new(Cut::default());
    let server = &state.config().server;
    let pace = Pace {
        idle: std::time::Duration::from_secs(server.body_idle_secs.max(1)),
        min_bytes: server.body_min_bytes_per_window,
    };
    let reader = limited(body, limit, pace, cut.clone());
    let receipt = match state
        .intake()
        .submit(&user.actor(), &provider, reader)
        .await
    {
        Ok(r) => r,
        Err(_) if cut.slow.lock().is_ok_and(|w| w.is_some()) => {
            let why = cut
                .slow
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .unwrap_or_default();
            return Err(Refused::Other(Error::Stalled(why)));
        }
        Err(_) if cut.over.load(Ordering::Relaxed) => {
            return Err(Refused::Intake(
                StatusCode::PAYLOAD_TOO_LARGE,
                renkei_collect::Error::TooLarge {
                    at: "the body as sent".to_owned(),
                    limit: which,
                    max: limit,
                },
            ));
        }
        Err(e) if e.is_senders() => {
            let status = match e {
                renkei_collect::Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            return Err(Refused::Intake(status, e));
        }
        Err(e) => return Err(Refused::Other(e.into())),
    };
    // A resend of committed content answers with the first receipt.
    let status = if receipt.received_at < started {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, receipt))
}

/// Why a submission was not taken: the intake refused the body (answered
/// as a problem on the submissions API, as an OperationOutcome on the FHIR
/// endpoint), or anything else.
enum Refused {
    Intake(StatusCode, renkei_collect::Error),
    Other(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Other(e)
    }
}

fn receipt_response(status: StatusCode, receipt: &Receipt, body: Response) -> Response {
    let mut response = body;
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/submissions/{}", receipt.submission_id))
    {
        response.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    response
}

/// A FHIR resource as a response (`application/fhir+json`).
fn fhir_json(status: StatusCode, resource: &serde_json::Value) -> Response {
    let mut response = (status, resource.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    response
}

/// Submits NDJSON (one FHIR resource per line, optionally gzip), a single
/// resource, or a Bundle, streamed; answers with the receipt.
#[utoipa::path(post, path = "/api/v1/submissions", tag = "collection",
    security(("bearer" = [])), params(For),
    request_body(content = String, content_type = "application/fhir+ndjson", description = "NDJSON, optionally gzip"),
    responses((status = 201, description = "Committed; the receipt", body = Object),
              (status = 200, description = "The same content was committed before; its receipt", body = Object),
              (status = 400, description = "Unreadable body (cut off, broken gzip) or unknown provider; nothing committed", body = crate::Problem),
              (status = 409, description = "The provider belongs to another organization", body = crate::Problem),
              (status = 413, description = "Over a limit of collect (collect.max_submission_bytes as sent, a line, a resource, a Bundle's entries, gzip's inflation), named with where; nothing committed", body = crate::Problem)))]
pub async fn create_submission(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<For>,
    body: Body,
) -> Result<Response> {
    let limit = state.config().collect.max_submission_bytes;
    let limit = (limit, renkei_collect::Limit::SubmissionBytes);
    match submit(&state, &principal, q.provider.as_deref(), body, limit).await {
        Ok((status, receipt)) => Ok(receipt_response(
            status,
            &receipt,
            ApiJson(receipt.clone()).into_response(),
        )),
        Err(Refused::Intake(StatusCode::PAYLOAD_TOO_LARGE, e)) => {
            Err(Error::PayloadTooLarge(e.to_string()))
        }
        Err(Refused::Intake(_, e)) => Err(Error::BadRequest(e.to_string())),
        Err(Refused::Other(e)) => Err(e),
    }
}

/// The FHIR endpoint: a transaction or batch Bundle (or one resource),
/// processed as the specification says; answers with the receipt, which
/// `Content-Location` names.
#[utoipa::path(post, path = "/fhir", tag = "collection",
    security(("bearer" = [])), params(For),
    request_body(content = Object, content_type = "application/fhir+json"),
    responses((status = 201, description = "Committed; the receipt", body = Object),
              (status = 400, description = "Not FHIR JSON (empty, XML, not UTF-8, cut off), or nothing in it taken; an OperationOutcome", body = Object),
              (status = 413, description = "Over a limit of collect (the body, a resource, a line, a Bundle's entries, gzip's inflation); an OperationOutcome naming it", body = Object)))]
pub async fn fhir(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<For>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let _ = headers;
    let limit = state.config().collect.max_document_bytes as u64;
    let limit = (limit, renkei_collect::Limit::DocumentBytes);
    match submit(&state, &principal, q.provider.as_deref(), body, limit).await {
        Ok((status, receipt)) => {
            let totals = receipt.totals();
            if totals.rejected > 0 && totals.rejected == totals.received {
                // Nothing was taken (a failed transaction, a refused
                // resource): FHIR answers 400 with the OperationOutcome
                // (R4 §3.1.0.11.2); the receipt stays readable.
                let issues: Vec<serde_json::Value> = receipt
                    .rejected
                    .iter()
                    .flat_map(|r| r.outcome["issue"].as_array().cloned().unwrap_or_default())
                    .collect();
                let outcome =
                    serde_json::json!({"resourceType": "OperationOutcome", "issue": issues});
                return Ok(receipt_response(
                    StatusCode::BAD_REQUEST,
                    &receipt,
                    fhir_json(StatusCode::BAD_REQUEST, &outcome),
                ));
            }
            Ok(receipt_response(
                status,
                &receipt,
                ApiJson(receipt.clone()).into_response(),
            ))
        }
        Err(Refused::Intake(status, e)) => Ok(fhir_json(status, &e.to_operation_outcome())),
        Err(Refused::Other(e)) => Err(e),
    }
}

/// Whether `user` may see `receipt`: operators all, providers their own
/// organization's.
async fn may_see(state: &AppState, user: &User, provider: &ProviderCode) -> Result<bool> {
    if user.role == Role::Operator {
        return Ok(true);
    }
    let p = state.intake().provider(provider).await?;
    Ok(p.is_some_and(|p| belongs_to(&p, user)))
}

/// One submission's receipt.
#[utoipa::path(get, path = "/api/v1/submissions/{id}", tag = "collection",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The submission id")),
    responses((status = 200, description = "The receipt", body = Object),
              (status = 404, description = "No such submission (or not yours)", body = crate::Problem)))]
pub async fn show_submission(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<ApiJson<Receipt>> {
    let user = signed_in(&principal)?;
    let not_found = || Error::NotFound(format!("submission {id}"));
    let sid = SubmissionId::parse(&id).map_err(|_| not_found())?;
    let receipt = state.intake().receipt(&sid).await?.ok_or_else(not_found)?;
    if !may_see(&state, user, &receipt.provider).await? {
        return Err(not_found());
    }
    Ok(ApiJson(receipt))
}

/// The latest submissions: a provider's own organization's, or all for an
/// operator.
#[utoipa::path(get, path = "/api/v1/submissions", tag = "collection",
    security(("bearer" = [])), params(For),
    responses((status = 200, description = "Receipts, newest first (at most 100)", body = [Object])))]
pub async fn list_submissions(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<For>,
) -> Result<ApiJson<Vec<Receipt>>> {
    let user = signed_in(&principal)?;
    let named = q
        .provider
        .as_deref()
        .map(ProviderCode::parse)
        .transpose()
        .map_err(|e| Error::BadRequest(format!("query parameter provider: {e}")))?;
    let mut out = Vec::new();
    for r in state.intake().recent(named.as_ref(), 100).await? {
        if may_see(&state, user, &r.provider).await? {
            out.push(r);
        }
    }
    Ok(ApiJson(out))
}

/// A provider to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    /// 医療機関コード (10 digits).
    pub code: String,
    /// The facility's name.
    pub name: String,
    /// `advanced_treatment_hospital` (特定機能病院), `regional_support_hospital`
    /// (地域医療支援病院), `hospital`, `clinic` or `pharmacy`; the Japanese
    /// names are accepted too.
    pub kind: String,
    /// The organization whose provider accounts submit for it.
    pub org_id: Option<String>,
}

/// Registers a provider (or updates it).
#[utoipa::path(post, path = "/api/v1/providers", tag = "collection",
    security(("bearer" = [])), request_body = NewProvider,
    responses((status = 201, description = "Registered", body = Object),
              (status = 400, description = "Bad code, kind or organization", body = crate::Problem)))]
pub async fn register_provider(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<NewProvider>,
) -> Result<(StatusCode, ApiJson<Provider>)> {
    let by = signed_in(&principal)?.actor();
    let bad = |field: &str, e: &dyn std::fmt::Display| Error::BadRequest(format!("{field}: {e}"));
    let provider = Provider {
        code: ProviderCode::parse(&body.code).map_err(|e| bad("code", &e))?,
        name: body.name,
        kind: body
            .kind
            .parse::<FacilityKind>()
            .map_err(|e| bad("kind", &e))?,
        org_id: body
            .org_id
            .as_deref()
            .map(OrgId::parse)
            .transpose()
            .map_err(|e| bad("org_id", &e))?,
        registered_at: state.clock().now(),
    };
    state.intake().register_provider(&by, &provider).await?;
    Ok((StatusCode::CREATED, ApiJson(provider)))
}

/// Every registered provider.
#[utoipa::path(get, path = "/api/v1/providers", tag = "collection",
    security(("bearer" = [])),
    responses((status = 200, description = "Providers by code", body = [Object])))]
pub async fn list_providers(State(state): State<AppState>) -> Result<ApiJson<Vec<Provider>>> {
    Ok(ApiJson(state.intake().providers().await?))
}
