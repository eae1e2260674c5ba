//! Sign-in and sign-out. The sign-in form is protected by a double-submit
//! CSRF token (a cookie and a hidden field that must match); forms after
//! sign-in use the session's own token.

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use renkei_core::{Actor, AuditEvent, Outcome};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::layout::{PageLang, page};
use crate::access::{Principal, SESSION_COOKIE, cookie};
use crate::accounts::{Password, Scope, SessionToken};
use crate::client::ClientIp;
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

/// Where sign-in lands when `next` is absent or refused.
const START_PAGE: &str = "/";

/// The longest `next` followed.
const MAX_NEXT: usize = 1024;

/// The page to land on after signing in: `next` if it is a path on this
/// site, else the start page. A path is `/` followed by RFC 3986 path and
/// query characters only (unreserved, sub-delims, `:@/?%`), never `//`:
/// no scheme, no authority, no backslash, no whitespace or control
/// character. Browsers drop TAB, CR and LF inside URLs (WHATWG URL §4.4),
/// so `/\t/evil.example` would become `//evil.example`, another site;
/// and CR or LF cannot be put in a `Location` header at all.
fn safe_next(next: Option<&str>) -> &str {
    let allowed = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'_' | b'~' // unreserved
                    | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' // sub-delims
                    | b':' | b'@' | b'/' | b'?' | b'%'
            )
    };
    match next {
        Some(n)
            if n.len() <= MAX_NEXT
                && n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(allowed) =>
        {
            n
        }
        _ => START_PAGE,
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
    if state.config().server.secure_cookies() {
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
    ClientIp(client): ClientIp,
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
    let ip = client.to_string();
    let accounts = &state.config().accounts;
    let throttle = state.throttle();
    // The strict counter is the account from this address; the address
    // has a ceiling across accounts; the account has a slow one across
    // addresses, which an address that signed in to it before is spared,
    // so that nobody can shut its owner out from elsewhere.
    let pair = throttle.key(
        Scope::AccountAddress,
        &[&username, &ip],
        accounts.strict_tier(),
    );
    let mut keys = vec![throttle.key(Scope::SignInAddress, &[&ip], accounts.address_tier())];
    if !throttle.trusted(&pair) {
        keys.push(throttle.key(Scope::Account, &[&username], accounts.account_tier()));
    }
    keys.push(pair);
    let attempt = match throttle.begin(&keys) {
        Ok(attempt) => attempt,
        Err(refused) => {
            state.metrics().throttle_refused(refused.scope);
            return Error::Throttled {
                retry_after_secs: refused.retry_after_secs,
            }
            .into_response();
        }
    };
    let result = state
        .accounts()
        .check_password(&username, Password::typed(form.password))
        .await;
    let user = match result {
        Ok(user) => {
            attempt.succeeded();
            user
        }
        Err(Error::BadCredentials) => {
            state.metrics().failed_guess("sign_in", &attempt.failed());
            let event = sign_in_event(&state, Actor::Anonymous, Outcome::Refused, 401);
            if let Err(e) = state.audit().append(event).await {
                return Error::audit(e).into_response();
            }
            let msg = l.pick(
                "ユーザー名またはパスワードが違います。",
                "Wrong user name or password.",
            );
            return login_page(&state, lang, &next, Some(msg));
        }
        // Not a guess that failed (the gate was full, a store failed): the
        // reservation is freed when `attempt` drops.
        Err(e) => return e.into_response(),
    };
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
        return Error::audit(e).into_response();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_followed_only_to_a_path_on_this_site() {
        for ok in [
            "/account",
            "/applications/42?tab=votes&x=1",
            "/a%2Fb",
            "/notice/1310000017",
        ] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for hostile in [
            "/\t/evil.example",
            "/\r\nLocation: //evil.example",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil.example",
            "/\u{3000}",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), START_PAGE, "{hostile:?}");
        }
        assert_eq!(
            safe_next(Some(&format!("/{}", "a".repeat(MAX_NEXT)))),
            START_PAGE
        );
        assert_eq!(safe_next(None), START_PAGE);
    }
}
