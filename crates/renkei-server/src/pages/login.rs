//! Sign-in and sign-out. The sign-in form is protected by a double-submit
//! CSRF token (a cookie and a hidden field that must match); forms after
//! sign-in use the session's own token.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use renkei_core::{Actor, AuditEvent, Outcome};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::layout::{PageLang, page};
use crate::access::{Principal, SESSION_COOKIE, cookie};
use crate::accounts::{Password, SessionToken};
use crate::{AppState, Error};

/// The sign-in form's double-submit token.
const LOGIN_CSRF: FormCsrf = FormCsrf {
    cookie: "renkei_login_csrf",
    path: "/login",
};

/// The CSRF guard of a form shown before any session exists (signing in,
/// a patient identifying): a random token both in a cookie scoped to the
/// form's path and in a hidden field, which must match when the form
/// comes back (the double-submit pattern). Forms after it use the
/// session's own token ([`check_csrf`]).
pub(crate) struct FormCsrf {
    pub(crate) cookie: &'static str,
    pub(crate) path: &'static str,
}

impl FormCsrf {
    /// A new token for the form, and the cookie that carries it.
    pub(crate) fn issue(&self, state: &AppState) -> (String, HeaderValue) {
        let token = crate::accounts::random_csrf();
        let header = cookie_header(state, self.cookie, &token, self.path, Some(3600));
        (token, header)
    }

    /// Whether the form came back with the token its cookie holds.
    pub(crate) fn holds(&self, headers: &HeaderMap, presented: &str) -> bool {
        let expected = cookie(headers, self.cookie).unwrap_or_default();
        !expected.is_empty() && same_token(expected, presented)
    }

    /// The cookie that clears the token once the form has done its work.
    pub(crate) fn clear(&self, state: &AppState) -> HeaderValue {
        cookie_header(state, self.cookie, "", self.path, Some(0))
    }
}

/// Whether two CSRF tokens are equal, in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Refuses a form whose CSRF token is not the session's.
pub fn check_csrf(principal: &Principal, presented: &str) -> Result<(), Error> {
    match principal {
        Principal::Session { csrf, .. } if same_token(csrf, presented) => Ok(()),
        Principal::Patient(session) if same_token(&session.csrf, presented) => Ok(()),
        _ => Err(Error::Csrf),
    }
}

/// Only same-site relative paths are followed after sign-in, so the form
/// cannot be used to bounce users to another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/account",
    }
}

pub(crate) fn cookie_header(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.config().server.behind_tls() {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are base64url and fixed names")
}

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

fn login_page(state: &AppState, lang: PageLang, next: &str, error: Option<&str>) -> Response {
    let l = lang.lang;
    let (csrf, csrf_cookie) = LOGIN_CSRF.issue(state);
    let body = html! {
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="next" value=(next);
            label for="username" { (l.pick("ユーザー名", "User name")) }
            input id="username" name="username" autocomplete="username" required;
            label for="password" { (l.pick("パスワード", "Password")) }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { (l.pick("ログイン", "Sign in")) }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut response = (
        status,
        page(lang, l.pick("ログイン", "Sign in"), None, body),
    )
        .into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, csrf_cookie);
    response
}

/// `GET /login`.
pub async fn form(
    State(state): State<AppState>,
    lang: PageLang,
    Query(q): Query<LoginQuery>,
) -> Response {
    login_page(&state, lang, safe_next(q.next.as_deref()), None)
}

/// The sign-in form. Its `Debug` leaves the password out.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// Sign-ins are audited by the handler: the route is public, so the access
/// layer has no signed-in caller to record, yet failed guesses matter most.
fn sign_in_event(state: &AppState, actor: Actor, outcome: Outcome, status: u16) -> AuditEvent {
    AuditEvent {
        at: state.clock().now(),
        actor,
        action: "POST /login".to_owned(),
        object: "/login".to_owned(),
        outcome,
        status: Some(status),
        request_id: None,
    }
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    lang: PageLang,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let l = lang.lang;
    let next = safe_next(form.next.as_deref()).to_owned();
    if !LOGIN_CSRF.holds(&headers, &form.csrf) {
        return Error::Csrf.into_response();
    }
    let username = form.username.trim().to_lowercase();
    let user_key = format!("user:{username}");
    let ip_key = format!("ip:{}", peer.ip());
    let keys = [user_key.as_str(), ip_key.as_str()];
    if let Some(retry_after_secs) = state.throttle().check(&keys) {
        return Error::Throttled { retry_after_secs }.into_response();
    }
    let result = state
        .accounts()
        .check_password(&username, Password::typed(form.password))
        .await;
    let user = match result {
        Ok(user) => user,
        Err(Error::BadCredentials) => {
            state.throttle().failed(&keys);
            let event = sign_in_event(&state, Actor::Anonymous, Outcome::Refused, 401);
            if let Err(e) = state.audit().append(event).await {
                return Error::AuditUnavailable(e).into_response();
            }
            let msg = l.pick(
                "ユーザー名またはパスワードが違います。",
                "Wrong user name or password.",
            );
            return login_page(&state, lang, &next, Some(msg));
        }
        Err(e) => return e.into_response(),
    };
    state.throttle().succeeded(&keys);
    let hours = state.config().accounts.session_hours;
    let (token, _csrf) = match state.accounts().create_session(&user, hours).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let actor = Actor::User {
        id: user.id,
        username: user.username.clone(),
        role: user.role,
    };
    let event = sign_in_event(&state, actor, Outcome::Success, 303);
    if let Err(e) = state.audit().append(event).await {
        return Error::AuditUnavailable(e).into_response();
    }
    let mut response = Redirect::to(&next).into_response();
    let age = i64::from(hours) * 3600;
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(&state, SESSION_COOKIE, token.expose(), "/", Some(age)),
    );
    h.append(header::SET_COOKIE, LOGIN_CSRF.clear(&state));
    response
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Error> {
    check_csrf(&principal, &form.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE).and_then(SessionToken::parse) {
        state.accounts().end_session(&token).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, SESSION_COOKIE, "", "/", Some(0)),
    );
    Ok(response)
}
