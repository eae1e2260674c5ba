//! Errors of the server, and their one mapping to RFC 9457 problem documents.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong while serving. The caller's faults and ours are separate
/// variants so that one never hides as the other.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The request is malformed; the message says where and why.
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials were presented.
    #[error("sign-in required")]
    Unauthenticated,
    /// The credentials are valid but the role may not do this.
    #[error("the {role} role may not {action}")]
    NotPermitted {
        /// The caller's role.
        role: renkei_core::Role,
        /// What was attempted (`GET /api/v1/users`).
        action: String,
    },
    /// Sign-in failed (wrong name or password); deliberately vague.
    #[error("wrong user name or password")]
    BadCredentials,
    /// A patient's details match nobody the platform holds; deliberately
    /// silent on which detail failed.
    #[error(
        "the details given do not match a person on record; check them against your insurance card"
    )]
    NotIdentified,
    /// Too many failed sign-ins or identifications; try again after the
    /// given seconds.
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until a new attempt is considered.
        retry_after_secs: u64,
    },
    /// Too many password checks are running and waiting; the request may
    /// be fine, and may be tried again shortly.
    #[error("too many sign-ins are being checked; try again in {retry_after_secs} s")]
    Busy {
        /// Seconds to wait before trying again.
        retry_after_secs: u64,
    },
    /// The platform's policy does not allow this, whoever asks (a
    /// configured rule, not the caller's role).
    #[error("{0}")]
    Forbidden(String),
    /// The request body is larger than a configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A streamed body paused longer than `server.body_idle_secs`, or
    /// brought less than `server.body_min_bytes_per_window` in one such
    /// window; what had come was discarded.
    #[error("{0}, so the submission was cut and nothing of it kept; send it again")]
    Stalled(String),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state (a taken user name).
    #[error("{0}")]
    Conflict(String),
    /// The form's CSRF token is missing or wrong.
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    /// The audit log could not record the request, so its result is withheld
    /// (DESIGN.md invariant 5).
    #[error("the audit log could not record this request, so its result is withheld")]
    AuditUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A service the request needs is down for now (the analysis
    /// cluster); the request itself may be fine.
    #[error("{0}")]
    Unavailable(String),
    /// A store failed.
    #[error("storage error")]
    Store(#[from] renkei_store::Error),
    /// A query failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The audit log failed.
    #[error("audit log error")]
    Audit(#[from] renkei_audit::Error),
    /// Collection failed on our side.
    #[error("collection error: {0}")]
    Collect(String),
    /// Identity failed on our side (a store, a record it cannot decrypt).
    #[error("identity error")]
    Identity(#[source] renkei_identity::Error),
    /// A bug or a broken invariant on our side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<renkei_collect::Error> for Error {
    fn from(e: renkei_collect::Error) -> Self {
        use renkei_collect::Error as C;
        match e {
            C::Incomplete { .. } | C::NotFhir(_) | C::NotUtf8 { .. } | C::Cancelled => {
                Error::BadRequest(e.to_string())
            }
            C::TooLarge { .. } => Error::PayloadTooLarge(e.to_string()),
            C::Provider(..) => Error::BadRequest(e.to_string()),
            C::Audit(cause) => Error::audit(cause),
            other => Error::Collect(other.to_string()),
        }
    }
}

impl From<renkei_review::Error> for Error {
    fn from(e: renkei_review::Error) -> Self {
        use renkei_review::Error as R;
        match e {
            R::Invalid(_) => Error::BadRequest(e.to_string()),
            R::IllegalTransition { .. }
            | R::Stale(_)
            | R::Conflict { .. }
            | R::NotInForce { .. } => Error::Conflict(e.to_string()),
            R::NotFound(what) => Error::NotFound(what),
            R::NotYours(_) => Error::Forbidden(e.to_string()),
            R::Audit(cause) => Error::audit(cause),
            R::Peer(e) => e.into(),
            other => Error::Internal(format!("review: {other}")),
        }
    }
}

impl From<renkei_analysis::Error> for Error {
    fn from(e: renkei_analysis::Error) -> Self {
        use renkei_analysis::Error as A;
        match e {
            A::Query(message) | A::Invalid(message) => Error::BadRequest(message),
            A::Conflict(message) => Error::Conflict(message),
            A::TimedOut { .. } => Error::Conflict(e.to_string()),
            A::Busy(message) => Error::Unavailable(message),
            A::NotFound(what) => Error::NotFound(what),
            A::NotNamed(message) => Error::Forbidden(message),
            A::Peer(e) => e.into(),
            A::Audit(cause) => Error::audit(cause),
            A::Unavailable(cause) => {
                // The cause names internal addresses: logged, not answered.
                tracing::warn!(%cause, "the analysis cluster is unreachable");
                Error::Unavailable(
                    "the analysis cluster cannot be reached just now, so the query did not run; try again later"
                        .to_owned(),
                )
            }
            other => Error::Internal(format!("analysis: {other}")),
        }
    }
}

impl From<renkei_deid::Error> for Error {
    fn from(e: renkei_deid::Error) -> Self {
        use renkei_deid::Error as D;
        match e {
            D::Invalid(_) => Error::BadRequest(e.to_string()),
            D::NotFound(what) => Error::NotFound(what),
            D::KeyDestroyed(_) | D::NotInForce { .. } | D::Refused(_) => {
                Error::Conflict(e.to_string())
            }
            D::Audit(cause) => Error::audit(cause),
            D::Peer(e) => e.into(),
            other => Error::Internal(format!("processing: {other}")),
        }
    }
}

impl From<renkei_core::ServiceError> for Error {
    /// Another function's answer, by its kind: the kind survives every hop,
    /// so a refusal stays a refusal and an outage stays an outage.
    fn from(e: renkei_core::ServiceError) -> Self {
        use renkei_core::ErrorKind as K;
        match e.kind {
            K::Invalid => Error::BadRequest(e.to_string()),
            K::NotFound => Error::NotFound(e.message),
            K::Conflict | K::NotPermitted => Error::Conflict(e.to_string()),
            K::Unavailable => Error::Unavailable(e.to_string()),
            K::Internal => Error::Internal(e.to_string()),
        }
    }
}

impl From<renkei_optout::Error> for Error {
    fn from(e: renkei_optout::Error) -> Self {
        use renkei_optout::Error as O;
        match e {
            O::Invalid(_) => Error::BadRequest(e.to_string()),
            O::NotAllowed(_) => Error::Forbidden(e.to_string()),
            O::UnknownReceipt(r) | O::NotYours(r) => {
                Error::NotFound(format!("opt-out with receipt number {r}"))
            }
            O::AlreadyWithdrawn { .. } | O::NoDeathOnRecord(_) => Error::Conflict(e.to_string()),
            O::Unavailable(message) => Error::Unavailable(message),
            O::Audit(cause) => Error::audit(cause),
            other => Error::Internal(format!("opt-out: {other}")),
        }
    }
}

impl From<renkei_identity::Error> for Error {
    /// The caller's faults as 400, 404 and 409.
    fn from(e: renkei_identity::Error) -> Self {
        use renkei_identity::Error as I;
        match e {
            I::Invalid(message) => Error::BadRequest(message),
            I::NotFound(what) => Error::NotFound(what),
            I::Conflict(message) => Error::Conflict(message),
            I::UnknownPerson(key) => Error::NotFound(format!("person {key}")),
            I::Audit(cause) => Error::audit(cause),
            other => Error::Identity(other),
        }
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The audit log refused an entry, so what it records did not happen
    /// or is not shown.
    pub fn audit(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::AuditUnavailable(Box::new(e))
    }

    /// The problem `type` (RFC 9457 §3.1.1): a relative URI for the kinds a
    /// client must tell apart, `about:blank` for the rest.
    pub fn problem_type(&self) -> &'static str {
        match self {
            Error::Unauthenticated => "/problems/unauthenticated",
            Error::NotPermitted { .. } => "/problems/not-permitted",
            Error::Csrf => "/problems/csrf",
            Error::Throttled { .. } => "/problems/throttled",
            Error::Busy { .. } => "/problems/busy",
            Error::AuditUnavailable(_) => "/problems/audit-unavailable",
            _ => "about:blank",
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthenticated | Error::BadCredentials | Error::NotIdentified => {
                StatusCode::UNAUTHORIZED
            }
            Error::NotPermitted { .. } | Error::Csrf | Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Stalled(_) => StatusCode::REQUEST_TIMEOUT,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::AuditUnavailable(_) | Error::Unavailable(_) | Error::Busy { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Config(_)
            | Error::Store(_)
            | Error::Database(_)
            | Error::Audit(_)
            | Error::Collect(_)
            | Error::Identity(_)
            | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says
    /// it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request, and where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Problem {
    /// A problem with the standard title of `status`.
    pub fn new(status: StatusCode, detail: impl Into<Option<String>>) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).expect("a problem document always serializes");
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl Error {
    /// The problem document a caller is shown. Our own faults are logged
    /// with their causes and shown without them: a cause can carry paths
    /// or SQL that callers need not see.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = if let Error::Busy { .. } = self {
            // Load, not a failure: the gate did its job.
            self.to_string()
        } else if status.is_server_error() {
            tracing::error!(error = %self, cause = ?std::error::Error::source(self), "request failed");
            match self {
                // The cause names the cluster, not the caller's data; the
                // researcher is told to try again, not that the query failed.
                Error::AuditUnavailable(_) | Error::Unavailable(_) => self.to_string(),
                _ => "the platform failed to handle this request; it has been logged".to_owned(),
            }
        } else {
            self.to_string()
        };
        let mut problem = Problem::new(status, detail);
        problem.kind = self.problem_type().to_owned();
        problem
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = self.problem().into_response();
        match &self {
            Error::Unauthenticated => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"renkei\""),
                );
            }
            Error::Throttled { retry_after_secs } | Error::Busy { retry_after_secs } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        response
    }
}
