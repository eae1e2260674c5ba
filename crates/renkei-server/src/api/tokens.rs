//! `/api/v1/me` and `/api/v1/tokens`: an account's own profile and API
//! tokens.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::access::Principal;
use crate::accounts::{TokenInfo, User};
use crate::{AppState, Error, Result};

pub(crate) fn signed_in(principal: &Principal) -> Result<&User> {
    principal.user().ok_or(Error::Unauthenticated)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, description = "The calling account", body = User),
              (status = 401, description = "No valid token", body = crate::Problem)))]
pub async fn me(Extension(principal): Extension<Principal>) -> Result<ApiJson<User>> {
    Ok(ApiJson(signed_in(&principal)?.clone()))
}

/// A request for a new token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for (`"nightly export"`).
    pub name: String,
    /// Days until it stops working, 1 to `accounts.token_days` (the
    /// default, and the most).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A freshly created token: the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token's metadata.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The secret, `rk_…`; send it as `Authorization: Bearer <token>`.
    pub token: String,
}

/// The caller's API tokens (never the secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, description = "Tokens, newest first", body = [TokenInfo])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<ApiJson<Vec<TokenInfo>>> {
    let user = signed_in(&principal)?;
    Ok(ApiJson(state.accounts().list_tokens(user).await?))
}

/// Creates an API token for the caller; the secret is in this response only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts",
    security(("bearer" = [])),
    request_body = NewToken,
    responses((status = 201, description = "Created; keep the token, it is not shown again", body = CreatedToken),
              (status = 400, description = "Bad name", body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, ApiJson<CreatedToken>)> {
    let user = signed_in(&principal)?;
    let accounts = state.accounts();
    let days = body.expires_in_days.unwrap_or(accounts.token_days());
    let (info, token) = accounts.create_token_for(user, &body.name, days).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedToken {
            info,
            token: token.expose().to_owned(),
        }),
    ))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"),
              (status = 404, description = "No such active token of yours", body = crate::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let user = signed_in(&principal)?;
    state.accounts().revoke_token(user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
