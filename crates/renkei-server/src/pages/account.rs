//! The account page: who you are, your API tokens, and a form to create one
//! (its secret is shown once, on the page that answers the form).

use axum::Extension;
use axum::extract::{Form, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Lang, Page, PageLang, page};
use super::login::check_csrf;
use crate::access::Principal;
use crate::accounts::User;
use crate::{AppState, Error};

async fn render(
    state: &AppState,
    lang: PageLang,
    principal: &Principal,
    created: Option<Markup>,
) -> Result<Page, Error> {
    let l = lang.lang;
    let Principal::Session { user, csrf } = principal else {
        return Err(Error::Unauthenticated);
    };
    let tokens = state.accounts().list_tokens(user).await?;
    let body = html! {
        (profile(l, user))
        @if let Some(c) = created { (c) }
        h2 { (l.pick("APIトークン", "API tokens")) }
        @if tokens.is_empty() {
            p { (l.pick("まだありません。", "None yet.")) }
        } @else {
            table {
                thead { tr { th { (l.pick("名前", "Name")) } th { (l.pick("作成", "Created")) } th { (l.pick("最終使用", "Last used")) } th { (l.pick("状態", "Status")) } } }
                tbody {
                    @for t in &tokens {
                        tr {
                            td { (t.name) }
                            td { (t.created_at) }
                            td { (t.last_used_at.as_deref().unwrap_or("—")) }
                            td { @if t.revoked_at.is_some() { (l.pick("失効", "revoked")) } @else { (l.pick("有効", "active")) } }
                        }
                    }
                }
            }
        }
        form method="post" action="/account/tokens" {
            input type="hidden" name="csrf" value=(csrf);
            label for="token-name" { (l.pick("新しいトークンの名前", "Name of a new token")) }
            input id="token-name" name="name" required maxlength="100";
            button type="submit" { (l.pick("トークンを作成", "Create token")) }
        }
        form method="post" action="/logout" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (l.pick("ログアウト", "Sign out")) }
        }
    };
    Ok(page(
        lang,
        l.pick("アカウント", "Account"),
        Some(user),
        body,
    ))
}

fn profile(l: Lang, user: &User) -> Markup {
    html! {
        dl {
            dt { (l.pick("ユーザー名", "User name")) } dd { code { (user.username) } }
            dt { (l.pick("表示名", "Display name")) } dd { (user.display_name) }
            dt { (l.pick("役割", "Role")) } dd { (l.pick(user.role.label_ja(), user.role.as_str())) }
        }
    }
}

/// `GET /account`.
pub async fn show(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
) -> Result<Page, Error> {
    render(&state, lang, &principal, None).await
}

/// The new-token form.
#[derive(Debug, Deserialize)]
pub struct NewTokenForm {
    csrf: String,
    name: String,
}

/// `POST /account/tokens`.
pub async fn create_token(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Form(form): Form<NewTokenForm>,
) -> Result<Page, Error> {
    check_csrf(&principal, &form.csrf)?;
    let user = principal.user().ok_or(Error::Unauthenticated)?;
    let (_info, token) = state
        .accounts()
        .create_token(user, form.name.trim())
        .await?;
    let l = lang.lang;
    let created = html! {
        div class="notice" role="status" {
            p { (l.pick("トークンを作成しました。この画面を離れると二度と表示されません:", "Token created. It will not be shown again once you leave this page:")) }
            p class="secret" id="new-token" { (token.expose()) }
        }
    };
    render(&state, lang, &principal, Some(created)).await
}
