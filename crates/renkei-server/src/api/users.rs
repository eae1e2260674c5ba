//! `/api/v1/users`: operators manage accounts.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use renkei_core::{Role, UserId};
use serde::Deserialize;

use super::ApiJson;
use super::tokens::signed_in;
use crate::access::Principal;
use crate::accounts::{NewUser, Password, Scope, SessionToken, User};
use crate::{AppState, Error, Result};

/// A new account, as an operator submits it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Sign-in name: 3–64 of `a-z 0-9 . _ -`.
    pub username: String,
    /// Name shown on pages.
    pub display_name: String,
    /// One of provider, patient, applicant, reviewer, operator, auditor.
    pub role: String,
    /// Organization name; created if new.
    pub organization: Option<String>,
    /// ISO 3166-1 alpha-2 country of the organization (default `JP`).
    pub country: Option<String>,
    /// Initial password (at least 10 characters); omit for token-only
    /// machine accounts.
    pub password: Option<String>,
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, description = "Accounts by user name", body = [User]),
              (status = 403, description = "Not an operator", body = crate::Problem)))]
pub async fn list(State(state): State<AppState>) -> Result<ApiJson<Vec<User>>> {
    Ok(ApiJson(state.accounts().list_users().await?))
}

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts",
    security(("bearer" = [])),
    request_body = CreateUser,
    responses((status = 201, description = "Created", body = User),
              (status = 400, description = "Invalid field", body = crate::Problem),
              (status = 409, description = "User name taken", body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, ApiJson<User>)> {
    let by = signed_in(&principal)?.actor();
    let role: Role = body
        .role
        .parse()
        .map_err(|e: renkei_core::Error| Error::BadRequest(e.to_string()))?;
    let org_id = match &body.organization {
        Some(name) => Some(
            state
                .accounts()
                .ensure_org(&by, name, body.country.as_deref().unwrap_or("JP"))
                .await?,
        ),
        None => None,
    };
    let password = body.password.map(Password::new).transpose()?;
    let user = state
        .accounts()
        .create_user(
            &by,
            NewUser {
                username: body.username,
                display_name: body.display_name,
                role,
                org_id,
                password,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, ApiJson(user)))
}

/// Disables an account: its sign-in, API tokens and page sessions stop
/// working at once; the account and its audit trail stay.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "accounts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The account's id")),
    responses((status = 204, description = "Disabled"),
              (status = 404, description = "No such enabled account", body = crate::Problem),
              (status = 409, description = "The caller's own account", body = crate::Problem)))]
pub async fn disable(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let by = signed_in(&principal)?;
    let id = UserId::parse(id.trim()).map_err(|e| Error::BadRequest(format!("id: {e}")))?;
    state.accounts().disable_user(by, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password an operator sets for an account (a reset).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The new password (at least 10 characters), to be handed to the
    /// account's owner out of band.
    pub password: String,
}

/// Resets an account's password: the new one works at once, and the
/// account's page sessions end (its API tokens stay).
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "accounts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The account's id")),
    request_body = ResetPassword,
    responses((status = 204, description = "Set"),
              (status = 400, description = "Too short", body = crate::Problem),
              (status = 404, description = "No such enabled account", body = crate::Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResetPassword>,
) -> Result<StatusCode> {
    let by = signed_in(&principal)?;
    let id = UserId::parse(id.trim()).map_err(|e| Error::BadRequest(format!("id: {e}")))?;
    let password = Password::new(body.password)?;
    state
        .accounts()
        .set_password(&by.actor(), &id, password, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A password change by the account's owner.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The password in use now.
    pub current_password: String,
    /// The new one (at least 10 characters).
    pub new_password: String,
}

/// Changes the caller's own password, given the current one. The caller's
/// other page sessions end.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "accounts",
    security(("bearer" = [])),
    request_body = ChangePassword,
    responses((status = 204, description = "Changed"),
              (status = 400, description = "Too short", body = crate::Problem),
              (status = 403, description = "The current password is wrong", body = crate::Problem),
              (status = 429, description = "Too many wrong tries", body = crate::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode> {
    let user = signed_in(&principal)?;
    change_own(&state, user, body.current_password, body.new_password, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes `user`'s own password after checking the current one, ending
/// their page sessions but `keep`. Wrong current passwords are throttled
/// as sign-ins are: a stolen session must not become a way to guess the
/// password behind it.
pub(crate) async fn change_own(
    state: &AppState,
    user: &User,
    current: String,
    new: String,
    keep: Option<&SessionToken>,
) -> Result<()> {
    let new = Password::new(new)?;
    let throttle = state.throttle();
    let key = throttle.key(
        Scope::AccountAddress,
        &[&user.username, "password change"],
        state.config().accounts.strict_tier(),
    );
    let attempt = throttle.begin(&[key]).map_err(|refused| {
        state.metrics().throttle_refused(refused.scope);
        Error::Throttled {
            retry_after_secs: refused.retry_after_secs,
        }
    })?;
    match state
        .accounts()
        .check_password(&user.username, Password::typed(current))
        .await
    {
        Ok(_) => attempt.succeeded(),
        Err(Error::BadCredentials) => {
            state
                .metrics()
                .failed_guess("password_change", &attempt.failed());
            return Err(Error::Forbidden("the current password is wrong".to_owned()));
        }
        Err(e) => return Err(e),
    }
    state
        .accounts()
        .set_password(&user.actor(), &user.id, new, keep)
        .await
}
