//! The access layer: who is calling, whether the route's rule lets them, and
//! the audit entry for what they did — one place for all three, so no handler
//! can forget any of them.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use renkei_core::{Actor, AuditEvent, Outcome};

use crate::accounts::{ApiToken, PatientToken, SessionToken, User};
use crate::policy::{Access, Decision, Surface};
use crate::{AppState, Error};

/// The name of the page-session cookie.
pub const SESSION_COOKIE: &str = "renkei_session";
/// The name of the patient portal's session cookie.
pub const PATIENT_COOKIE: &str = "renkei_patient";

/// Who is calling, as the access layer established it. Handlers take it
/// from the request extensions.
#[derive(Clone, Debug)]
pub enum Principal {
    /// Not signed in.
    Anonymous,
    /// Signed in with an API token.
    Token(User),
    /// Signed in with a page session.
    Session {
        /// The account.
        user: User,
        /// The session's CSRF token, which every form must echo.
        csrf: String,
    },
    /// A patient identified to the portal.
    Patient(crate::accounts::PatientSession),
}

impl Principal {
    /// The signed-in account, if any.
    pub fn user(&self) -> Option<&User> {
        match self {
            Principal::Anonymous | Principal::Patient(_) => None,
            Principal::Token(u) | Principal::Session { user: u, .. } => Some(u),
        }
    }
}

/// What a handler adds to its audit entry when the path alone does not
/// name what was acted on: the persons of a merge (named in the body), the
/// person whose attributes a page showed, the event a curation step made.
/// The handler puts it in the response's extensions, on success and on
/// failure alike; the access layer appends it to the entry's object
/// (`/api/v1/identity/merges from=… into=…`). Never an attribute value.
#[derive(Clone, Debug)]
pub struct AuditDetail(pub String);

impl AuditDetail {
    /// `response` with `detail` for its audit entry.
    pub fn attach(detail: String, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        response.extensions_mut().insert(AuditDetail(detail));
        response
    }
}

/// Reads one cookie from the request headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The patient session presented: the portal's cookie on pages, a
/// `Bearer rkp_…` token on the API. Nothing else identifies a patient.
async fn identify_patient(
    state: &AppState,
    headers: &HeaderMap,
    surface: Surface,
) -> Result<Principal, Error> {
    let presented = match surface {
        Surface::Page => cookie(headers, PATIENT_COOKIE).map(str::to_owned),
        Surface::Api => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix("Bearer "))
            .map(str::to_owned),
    };
    let Some(token) = presented.as_deref().and_then(PatientToken::parse) else {
        return Ok(Principal::Anonymous);
    };
    Ok(match state.accounts().patient_session(&token).await? {
        Some(session) => Principal::Patient(session),
        None => Principal::Anonymous,
    })
}

async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    surface: Surface,
) -> Result<Principal, Error> {
    match surface {
        Surface::Api => {
            let Some(value) = headers.get(header::AUTHORIZATION) else {
                return Ok(Principal::Anonymous);
            };
            let text = value.to_str().unwrap_or_default();
            let presented = text
                .strip_prefix("Bearer ")
                .and_then(ApiToken::parse)
                .ok_or(Error::Unauthenticated)?;
            let user = state
                .accounts()
                .user_by_token(&presented)
                .await?
                .ok_or(Error::Unauthenticated)?;
            Ok(Principal::Token(user))
        }
        Surface::Page => {
            let Some(token) = cookie(headers, SESSION_COOKIE).and_then(SessionToken::parse) else {
                return Ok(Principal::Anonymous);
            };
            Ok(match state.accounts().session(&token).await? {
                Some((user, csrf)) => Principal::Session { user, csrf },
                None => Principal::Anonymous,
            })
        }
    }
}

/// Middleware on every route: identify, decide, run, audit.
pub async fn layer(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let Some(route) = matched else {
        return next.run(request).await;
    };
    let Some(rule) = state.policy().rule(&method, route.as_str()) else {
        if state.policy().knows_path(route.as_str()) {
            // A method the route does not serve: no handler will run, and
            // the router answers 405.
            return next.run(request).await;
        }
        tracing::error!(%method, route = route.as_str(), "route has no access rule; refused");
        return Error::Internal(format!("no access rule for {method} {}", route.as_str()))
            .into_response();
    };
    let who = if rule.access == Access::Patient {
        identify_patient(&state, request.headers(), rule.surface).await
    } else {
        identify(&state, request.headers(), rule.surface).await
    };
    let principal = match who {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let role = principal.user().map(|u| u.role);
    let decision = match (&principal, rule.access) {
        (Principal::Patient(_), Access::Patient) => Decision::Allow,
        (_, access) => access.decide(role),
    };
    let action = format!("{method} {}", route.as_str());
    let object = request.uri().path().to_owned();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let response = match decision {
        Decision::Allow => {
            request.extensions_mut().insert(principal.clone());
            next.run(request).await
        }
        Decision::SignInFirst => match rule.surface {
            Surface::Api => Error::Unauthenticated.into_response(),
            // A patient identifies on the portal's first page, and lands
            // on their status page whatever they asked for.
            Surface::Page if rule.access == Access::Patient => {
                Redirect::to("/patient").into_response()
            }
            Surface::Page => {
                let next_path = urlencode(&object);
                Redirect::to(&format!("/login?next={next_path}")).into_response()
            }
        },
        Decision::Refuse => Error::NotPermitted {
            role: role.expect("refusal implies a signed-in role"),
            action: action.clone(),
        }
        .into_response(),
    };

    // Logged before visible (invariant 5): the response leaves only after
    // its audit entry is durable; if the log cannot take it, the result is
    // withheld.
    let actor = match &principal {
        Principal::Patient(session) => Actor::Patient {
            person_key: session.person,
        },
        other => match other.user() {
            Some(user) => Actor::User {
                id: user.id,
                username: user.username.clone(),
                role: user.role,
            },
            None => return response,
        },
    };
    if !rule.audited {
        return response;
    }
    let status = response.status().as_u16();
    let object = match response.extensions().get::<AuditDetail>() {
        Some(AuditDetail(detail)) if !detail.trim().is_empty() => {
            format!("{object} {}", detail.trim())
        }
        _ => object,
    };
    let event = AuditEvent {
        at: state.clock().now(),
        actor,
        action,
        object,
        outcome: Outcome::from_http_status(status),
        status: Some(status),
        request_id,
    };
    match state.audit().append(event).await {
        Ok(_) => response,
        Err(e) => Error::audit(e).into_response(),
    }
}

fn urlencode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Middleware on every route: a request whose rule is
/// [`Timing::Bounded`](crate::policy::Timing) is answered 408 after
/// `server.request_timeout_secs` (its handler dropped, so work it holds
/// stops); a streamed one runs while its body flows, watched for pauses
/// by its handler.
pub async fn timing(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let streams = matched.is_some_and(|route| {
        state
            .policy()
            .rule(request.method(), route.as_str())
            .is_some_and(|r| r.timing == crate::policy::Timing::WhileDataFlows)
    });
    if streams {
        return next.run(request).await;
    }
    let limit = std::time::Duration::from_secs(state.config().server.request_timeout_secs.max(1));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// Middleware that gives bodiless error responses (405 from the router, 413
/// from the body limit, 408 from the timeout) a problem document, so every
/// error a client sees is RFC 9457 JSON.
pub async fn problem_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"))
    {
        let detail = match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                "the request body is larger than this server accepts (server.max_body_bytes)"
                    .to_owned()
            }
            StatusCode::METHOD_NOT_ALLOWED => "this route does not accept that method".to_owned(),
            StatusCode::REQUEST_TIMEOUT => {
                "the request took longer than server.request_timeout_secs".to_owned()
            }
            _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
        };
        let (mut parts, _) = response.into_parts();
        let problem = crate::Problem::new(status, detail).into_response();
        parts.headers.extend(problem.headers().clone());
        return Response::from_parts(parts, problem.into_body());
    }
    response
}
