//! Response hardening every answer gets, whatever produced it (a page, an
//! API handler, a 404, a problem from a timeout or a panic): one layer,
//! so no route can forget it; and request ids that are safe to log.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Pages use no script, no inline style, no frame, and post forms only to
/// this site; the API answers JSON. So the policy allows only the
/// platform's own stylesheet and images (the charts are inline SVG, which
/// needs nothing more), and no one may frame a page (clickjacking of the
/// opt-out and review forms).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Two years, the HSTS preload list's minimum being one.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Middleware on every response: CSP with `frame-ancestors 'none'`,
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (for
/// browsers without CSP 2), `Referrer-Policy: no-referrer` (page URLs can
/// carry a receipt number or an application id), and HSTS when the
/// platform is reached over https (`server.public_url`). A handler that
/// set one of them keeps its own.
pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        h.entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    if state.config().server.behind_tls() {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}

/// The longest `x-request-id` taken from a client.
const MAX_REQUEST_ID: usize = 64;

/// Whether a client's `x-request-id` can be kept: 1 to 64 of
/// `A-Z a-z 0-9 - _ . :`. It goes into logs, the audit log and the
/// response, so anything else (control characters, a megabyte, text made
/// to look like another log field) is replaced by a fresh id.
pub fn acceptable_request_id(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Middleware that drops an unacceptable `x-request-id` (and all but the
/// first of several), so that the next layer gives the request a fresh
/// one.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let name = HeaderName::from_static("x-request-id");
    let headers = request.headers_mut();
    let mut values = headers.get_all(&name).iter();
    let keep = match (values.next(), values.next()) {
        (Some(first), None) if acceptable_request_id(first.as_bytes()) => Some(first.clone()),
        _ => None,
    };
    headers.remove(&name);
    if let Some(v) = keep {
        headers.insert(name, v);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_and_plain() {
        assert!(acceptable_request_id(
            b"0190f3a2-7c1e-7d3b-9a55-0c2f8e1d4b6a"
        ));
        assert!(acceptable_request_id(b"lb-1:abc_DEF.9"));
        assert!(!acceptable_request_id(b""));
        assert!(!acceptable_request_id(&[b'a'; 65]));
        assert!(!acceptable_request_id(b"abc def"));
        assert!(!acceptable_request_id(b"abc\" level=error"));
        assert!(!acceptable_request_id("ｘ".as_bytes()));
    }
}
