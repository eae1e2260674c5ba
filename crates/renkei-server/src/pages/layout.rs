//! The base layout every page shares, the language switch, and the
//! stylesheet.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::access::cookie;
use crate::accounts::User;
use crate::routes::{
    APPLICANTS, APPLICATION_READERS, COMPLIANCE_READERS, IDENTITY_CURATORS, OUTPUT_REVIEWERS,
    QUALITY_READERS,
};

/// The page language. Japanese is the default: the platform's users are
/// Japanese patients and staff; English serves researchers and reviewers
/// from abroad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// 日本語.
    Ja,
    /// English.
    En,
}

const LANG_COOKIE: &str = "renkei_lang";

impl Lang {
    /// The text in this language.
    pub fn pick<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// The language a page is asked in: `?lang=` (which is remembered in a
/// cookie), else the cookie, else Japanese.
#[derive(Clone, Copy, Debug)]
pub struct PageLang {
    /// The language to render in.
    pub lang: Lang,
    remember: bool,
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = Query::<LangQuery>::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|q| q.0.lang)
            .and_then(|l| Lang::parse(&l));
        if let Some(lang) = query {
            return Ok(PageLang {
                lang,
                remember: true,
            });
        }
        let lang = cookie(&parts.headers, LANG_COOKIE)
            .and_then(Lang::parse)
            .unwrap_or(Lang::Ja);
        Ok(PageLang {
            lang,
            remember: false,
        })
    }
}

/// A rendered page, remembering the language choice if one was made.
#[derive(Debug)]
pub struct Page {
    markup: Markup,
    lang: PageLang,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = Html(self.markup.into_string()).into_response();
        if self.lang.remember {
            let c = format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                self.lang.lang.code()
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }
}

/// Wraps `body` in the shared layout: header with the platform's name, the
/// signed-in account and the language switch; footer.
pub fn page(lang: PageLang, title: &str, user: Option<&User>, body: Markup) -> Page {
    let l = lang.lang;
    let markup = html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (l.pick("renkei 情報連携基盤", "renkei data linkage platform")) }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                a class="skip" href="#main" { (l.pick("本文へ移動", "Skip to content")) }
                header {
                    nav aria-label=(l.pick("メインメニュー", "Main menu")) {
                        a class="brand" href="/" { "renkei " span { (l.pick("情報連携基盤", "data linkage platform")) } }
                        ul {
                            @if let Some(u) = user {
                                // Links only to pages the role may open,
                                // from the same role lists as the route table.
                                @if QUALITY_READERS.contains(&u.role) {
                                    li { a href="/collect/quality" { (l.pick("品質レポート", "Quality")) } }
                                }
                                @if COMPLIANCE_READERS.contains(&u.role) {
                                    li { a href="/collect/compliance" { (l.pick("提出状況", "Compliance")) } }
                                }
                                @if APPLICATION_READERS.contains(&u.role) {
                                    li { a href="/applications" { (l.pick("利用申請", "Applications")) } }
                                }
                                @if APPLICANTS.contains(&u.role) {
                                    li { a href="/workspaces" { (l.pick("解析環境", "Workspaces")) } }
                                }
                                @if OUTPUT_REVIEWERS.contains(&u.role) {
                                    li { a href="/outputs" { (l.pick("持ち出し審査", "Output review")) } }
                                }
                                @if IDENTITY_CURATORS.contains(&u.role) {
                                    li { a href="/identity/review" { (l.pick("名寄せ確認", "Clerical review")) } }
                                }
                                li { a href="/account" { (u.display_name) " (" (l.pick(u.role.label_ja(), u.role.as_str())) ")" } }
                            } @else {
                                li { a href="/register" { (l.pick("公開登録簿", "Register")) } }
                                li { a href="/patient" { (l.pick("オプトアウト", "Opt out")) } }
                                li { a href="/login" { (l.pick("ログイン", "Sign in")) } }
                            }
                            li {
                                @match l {
                                    Lang::Ja => a href="?lang=en" lang="en" hreflang="en" { "English" },
                                    Lang::En => a href="?lang=ja" lang="ja" hreflang="ja" { "日本語" },
                                }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
                footer {
                    p { (l.pick(
                        "すべての操作は検証可能な監査ログに記録されます。",
                        "Every action is recorded in a verifiable audit log."
                    )) " " a href="/api/docs" { "API" } }
                }
            }
        }
    };
    Page { markup, lang }
}

/// The one stylesheet: readable, high-contrast, usable on a phone.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("style.css"),
    )
}
