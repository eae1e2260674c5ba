//! The account page: who you are, your API tokens, and a form to create one
//! (its secret is shown once, on the page that answers the form).

use axum::Extension;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Lang, Page, PageLang, page};
use super::login::check_csrf;
use crate::access::{Principal, SESSION_COOKIE, cookie};
use crate::accounts::{SessionToken, User};
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
        h2 { (l.pick("パスワードの変更", "Change password")) }
        form method="post" action="/account/password" {
            input type="hidden" name="csrf" value=(csrf);
            label for="current-password" { (l.pick("現在のパスワード", "Current password")) }
            input id="current-password" name="current_password" type="password" required autocomplete="current-password";
            label for="new-password" { (l.pick("新しいパスワード(10文字以上)", "New password (at least 10 characters)")) }
            input id="new-password" name="new_password" type="password" required minlength="10" autocomplete="new-password";
            label for="confirm-password" { (l.pick("新しいパスワード(確認)", "New password, again")) }
            input id="confirm-password" name="confirm_password" type="password" required minlength="10" autocomplete="new-password";
            button type="submit" { (l.pick("パスワードを変更", "Change password")) }
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

/// The password-change form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// `POST /account/password`: the account's own password, given the
/// current one. This session stays signed in; the account's others end.
pub async fn change_password(
    State(state): State<AppState>,
    lang: PageLang,
    headers: HeaderMap,
    Extension(principal): Extension<Principal>,
    Form(form): Form<PasswordForm>,
) -> Result<Page, Error> {
    check_csrf(&principal, &form.csrf)?;
    let user = principal.user().ok_or(Error::Unauthenticated)?;
    let l = lang.lang;
    let notice = |ok: bool, text: &str| {
        html! {
            div class=(if ok { "notice" } else { "error" }) role=(if ok { "status" } else { "alert" }) { p { (text) } }
        }
    };
    if form.new_password != form.confirm_password {
        let n = notice(
            false,
            l.pick(
                "新しいパスワードが確認欄と一致しません。変更していません。",
                "The new password and its confirmation differ; nothing was changed.",
            ),
        );
        return render(&state, lang, &principal, Some(n)).await;
    }
    let keep = cookie(&headers, SESSION_COOKIE).and_then(SessionToken::parse);
    let answer = crate::api::users::change_own(
        &state,
        user,
        form.current_password,
        form.new_password,
        keep.as_ref(),
    )
    .await;
    let n = match answer {
        Ok(()) => notice(
            true,
            l.pick(
                "パスワードを変更しました。他の端末のログインは終了しました。",
                "Password changed. Sign-ins on other devices have ended.",
            ),
        ),
        Err(Error::Forbidden(_)) => notice(
            false,
            l.pick(
                "現在のパスワードが違います。変更していません。",
                "The current password is wrong; nothing was changed.",
            ),
        ),
        Err(Error::BadRequest(_)) => notice(
            false,
            l.pick(
                "新しいパスワードは10文字以上にしてください。変更していません。",
                "The new password must be at least 10 characters; nothing was changed.",
            ),
        ),
        Err(e) => return Err(e),
    };
    render(&state, lang, &principal, Some(n)).await
}
