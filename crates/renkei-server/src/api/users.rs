//! `/api/v1/users`: operators manage accounts.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use renkei_core::{Role, UserId};
use serde::Deserialize;

use super::ApiJson;
use super::tokens::signed_in;
use crate::access::Principal;
use crate::accounts::{NewUser, Password, User};
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
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, ApiJson<User>)> {
    let role: Role = body
        .role
        .parse()
        .map_err(|e: renkei_core::Error| Error::BadRequest(e.to_string()))?;
    let org_id = match &body.organization {
        Some(name) => Some(
            state
                .accounts()
                .ensure_org(name, body.country.as_deref().unwrap_or("JP"))
                .await?,
        ),
        None => None,
    };
    let password = body.password.map(Password::new).transpose()?;
    let user = state
        .accounts()
        .create_user(NewUser {
            username: body.username,
            display_name: body.display_name,
            role,
            org_id,
            password,
        })
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
