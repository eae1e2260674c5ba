//! The public side of opt-out: the register's statistics (small counts
//! suppressed) and the notice each provider must display (本人通知),
//! generated from the platform's configuration.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use renkei_core::{Function, ProviderCode};
use serde::Deserialize;

use super::layout::{Lang, PageLang, page};
use super::patient::{jst, key_label, offered};
use crate::{AppState, Error};

/// `GET /register/optouts`: opt-outs in force by scope, and changes per
/// month by scope.
pub async fn optouts(State(state): State<AppState>, lang: PageLang) -> Result<Response, Error> {
    let l = lang.lang;
    let threshold = state.config().optout.suppress_below;
    let stats = state
        .optout()
        .register_stats(threshold, state.clock().now())
        .await?;
    let body = html! {
        p { (l.pick(
            "患者の申出によるオプトアウトの件数です。特定の方を推測できないよう、",
            "Opt-outs recorded at patients' request. So that nobody can be singled out, counts from 1 to "
        )) (threshold - 1) (l.pick(
            "件以下の件数は表示しません。",
            " are not shown."
        )) }
        div class="wide" {
            table {
                caption { (l.pick("現在有効なオプトアウト（範囲別）", "Opt-outs in force, by scope")) }
                thead { tr { th scope="col" { (l.pick("範囲", "Scope")) } th scope="col" { (l.pick("件数", "Count")) } } }
                tbody {
                    @for (key, n) in &stats.in_force {
                        tr { td { (key_label(key, l)) } td { (n) } }
                    }
                }
            }
        }
        div class="wide" {
            table {
                caption { (l.pick("月別の申出と撤回（日本時間）", "Opt-outs and withdrawals per month (Japan time)")) }
                thead { tr {
                    th scope="col" { (l.pick("月", "Month")) }
                    th scope="col" { (l.pick("範囲", "Scope")) }
                    th scope="col" { (l.pick("申出", "Opt-outs")) }
                    th scope="col" { (l.pick("撤回", "Withdrawals")) }
                } }
                tbody {
                    @for m in &stats.months {
                        tr { td { (m.month) } td { (key_label(&m.scope, l)) } td { (m.opt_outs) } td { (m.withdrawals) } }
                    }
                }
            }
        }
        p class="hint" { (l.pick("集計時点（毎日0時に公表）", "As of (published daily at midnight JST)")) ": " (stats.published_at.jst_minute())
            " · " a href="/api/v1/register/optouts" { "JSON" } }
        p { a href="/patient" { (l.pick("オプトアウトを申し出る", "Opt out")) } }
    };
    Ok(page(
        lang,
        l.pick("オプトアウトの統計", "Opt-out statistics"),
        None,
        body,
    )
    .into_response())
}

/// Query of the notice: `?print=1` for the printable document.
#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    print: Option<String>,
}

fn operator_of(state: &AppState, function: Function) -> String {
    let d = &state.config().deployment;
    d.functions
        .get(&function)
        .and_then(|name| d.operators.get(name))
        .map_or_else(|| "—".to_owned(), |o| o.display_name.clone())
}

/// `GET /notice/{code}`: the notice provider `code` must display, as a
/// page, or with `?print=1` as a document for A4 paper.
pub async fn notice(
    State(state): State<AppState>,
    lang: PageLang,
    Path(code): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let code =
        ProviderCode::parse(code.trim()).map_err(|e| Error::BadRequest(format!("code: {e}")))?;
    let provider = state
        .intake()
        .provider(&code)
        .await?
        .ok_or_else(|| Error::NotFound(format!("provider {code}")))?;
    let base = state
        .config()
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config().server.listen));
    let base = base.trim_end_matches('/');
    let text = notice_text(&state, l, &provider.name, &code, base);
    let title = l.pick(
        "医療情報の二次利用に関するお知らせ",
        "Notice on the secondary use of medical information",
    );
    if q.print.as_deref().is_some_and(|p| p == "1") {
        let doc = html! {
            (DOCTYPE)
            html lang=(match l { Lang::Ja => "ja", Lang::En => "en" }) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " — " (provider.name) }
                    link rel="stylesheet" href="/assets/style.css";
                }
                body { main class="document" { h1 { (title) } (text) } }
            }
        };
        return Ok(axum::response::Html(doc.into_string()).into_response());
    }
    let body = html! {
        (text)
        p class="no-print" { a href=(format!("/notice/{code}?print=1")) { (l.pick("印刷用の文書", "Printable document")) } }
    };
    Ok(page(lang, title, None, body).into_response())
}

fn notice_text(
    state: &AppState,
    l: Lang,
    provider: &str,
    code: &ProviderCode,
    base: &str,
) -> Markup {
    let cfg = &state.config().optout;
    let collector = operator_of(state, Function::Collection);
    let reviewer = operator_of(state, Function::Review);
    let registry = operator_of(state, Function::OptOut);
    let purposes: Vec<String> = offered(state)
        .iter()
        .map(|p| match l {
            Lang::Ja => p.label_ja(),
            Lang::En => p.label_en(),
        })
        .collect();
    html! {
        p { strong { (provider) } " (" (l.pick("医療機関コード ", "provider code ")) (code) ")" }
        h2 { (l.pick("情報の提供について", "What we send")) }
        p { (l.pick(
            "当院は、受診された方の診療に関する情報を、医療等情報の二次利用のための情報連携基盤に提供しています。情報連携基盤の運営者: ",
            "We send information about the care of our patients to the data linkage platform for the secondary use of medical information. Operator: "
        )) (collector) }
        h2 { (l.pick("利用の目的と方法", "How it is used")) }
        p { (l.pick(
            "提供された情報は、氏名・住所・保険証の番号などを取り除いた上で、審査（審査の運営者: ",
            "With names, addresses, insurance numbers and other identifiers removed, the information may be used for research, public administration and product development approved by review (reviewing body: "
        )) (reviewer) (l.pick(
            "）を経て許可された研究・行政・医薬品等の開発に利用されることがあります。許可されたすべての利用は公開の登録簿に掲載されます。",
            "). Every approved use is listed on a public register."
        )) }
        h2 { (l.pick("利用を望まない方へ（オプトアウト）", "If you do not want your information used (opt-out)")) }
        p { (l.pick(
            "いつでも、利用の停止を申し出ることができます。申出は次回以降のデータ抽出から反映され、撤回もできます。申出の範囲は、全ての二次利用、または次の項目から選べます: ",
            "You may ask at any time that your information not be used. The request applies from the next data extract on, and you may withdraw it. It may cover all secondary use, or any of: "
        )) (purposes.join(l.pick("、", ", "))) }
        ul {
            li { (l.pick("患者ポータル: ", "Patient portal: ")) a href=(format!("{base}/patient")) { (base) "/patient" }
                (l.pick("（保険証の記載内容で本人確認します）", " (identification with the details on your insurance card)")) }
            li { (l.pick("窓口・郵送: ", "In person or by post: ")) (contact(cfg.contact.as_deref(), l)) }
        }
        p { (l.pick(
            "未成年の方などは、法定代理人が申し出ることができます。",
            "A legal representative may ask on behalf of a minor or a person under guardianship."
        )) " " @if cfg.bereaved_family_may_act {
            (l.pick("亡くなられた方については、ご遺族が申し出ることができます。", "For a deceased person, bereaved family may ask."))
        } @else {
            (l.pick("亡くなられた方のご遺族による申出は、受け付けていません。", "Requests from bereaved family for a deceased person are not accepted."))
        } }
        p { (l.pick("オプトアウトの管理: ", "Opt-out registry operated by: ")) (registry)
            " · " a href=(format!("{base}/register/optouts")) { (l.pick("オプトアウトの統計", "Opt-out statistics")) } }
        h2 { (l.pick("お問い合わせ", "Questions")) }
        p { (contact(cfg.contact.as_deref(), l)) }
        p class="hint" { (l.pick("この文書は情報連携基盤の設定から作成されました（", "Generated from the platform's configuration (")) (jst(state.clock().now())) (l.pick("）。", ").")) }
    }
}

fn contact(configured: Option<&str>, l: Lang) -> Markup {
    match configured {
        Some(c) => html! { (c) },
        None => html! { span class="error" { (l.pick(
            "（連絡先が設定されていません: optout.contact）",
            "(no contact configured: optout.contact)"
        )) } },
    }
}

/// Query of the register page.
#[derive(Debug, Deserialize)]
pub struct DecisionsQuery {
    #[serde(default)]
    q: Option<String>,
}

/// `GET /register`: the public register (公開登録簿) of every decision and
/// permit, searchable, with the median time to decision.
pub async fn decisions(
    State(state): State<AppState>,
    lang: PageLang,
    Query(q): Query<DecisionsQuery>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let review = state.review();
    let entries = review.register(q.q.as_deref()).await?;
    let times = review.decision_times().await?;
    let mut outputs = crate::api::analysis::register_outputs(&state).await?;
    // The search covers released outputs too: their title, permit and holder.
    if let Some(q) = q.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let q = q.to_lowercase();
        outputs.retain(|o| {
            [&o.title, &o.permit, &o.holder]
                .iter()
                .any(|f| f.to_lowercase().contains(&q))
        });
    }
    let body = html! {
        p { (l.pick(
            "審査で決定されたすべての申請と許可を公開しています。",
            "Every application decided by review, and every permit."
        )) }
        form method="get" action="/register" role="search" {
            label for="q" { (l.pick("検索（題名・機関・目的）", "Search (title, organization, purpose)")) }
            input id="q" name="q" type="search" value=(q.q.clone().unwrap_or_default());
            button type="submit" { (l.pick("検索", "Search")) }
        }
        div class="wide" {
            table {
                caption { (l.pick("決定と許可", "Decisions and permits")) " (" (entries.len()) ")" }
                thead { tr {
                    th scope="col" { (l.pick("題名", "Title")) }
                    th scope="col" { (l.pick("申請者", "Applicant")) }
                    th scope="col" { (l.pick("目的", "Purpose")) }
                    th scope="col" { (l.pick("データ", "Data")) }
                    th scope="col" { (l.pick("状態", "Status")) }
                    th scope="col" { (l.pick("決定日", "Decided")) }
                    th scope="col" { (l.pick("許可期限", "Permit until")) }
                } }
                tbody {
                    @for e in &entries {
                        tr id=(e.application.to_string()) {
                            td { (e.title) }
                            td { (e.holder.name) " (" (e.holder.country) ")" }
                            td { (e.purpose) @if e.commercial { " " span class="hint" { (l.pick("［営利］", "[commercial]")) } } }
                            td { @for (i, t) in e.tables.iter().enumerate() { @if i > 0 { ", " } (t.table) } br; span class="hint" { (e.delivery.label_ja()) } }
                            td { (match l { Lang::Ja => e.status_ja.clone(), Lang::En => e.status.replace('_', " ") })
                                 @if let Some(r) = &e.decision_reason { br; span class="hint" { (r) } } }
                            td { (e.decided_at.map(jst).unwrap_or_default()) }
                            td { (e.expires_at.map(jst).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        div class="wide" {
            table id="outputs" {
                caption { (l.pick("公開された解析結果", "Released outputs")) " (" (outputs.len()) ")" }
                thead { tr {
                    th scope="col" { (l.pick("題名", "Title")) }
                    th scope="col" { (l.pick("許可", "Permit")) }
                    th scope="col" { (l.pick("利用者", "Holder")) }
                    th scope="col" { (l.pick("公開日", "Released")) }
                    th scope="col" { (l.pick("セル数（秘匿）", "Cells (suppressed)")) }
                    th scope="col" { (l.pick("表", "Table")) }
                } }
                tbody {
                    @for o in &outputs {
                        tr {
                            td { (o.title) }
                            td { (o.permit) }
                            td { (o.holder) }
                            td { (o.released.map(jst).unwrap_or_default()) }
                            td {
                                (o.cells) " (" (o.suppressed) ")"
                                @if let Some(e) = &o.noise_epsilon {
                                    " " (l.pick(&format!("ノイズ付き ε = {e}"), &format!("with noise, ε = {e}")))
                                }
                            }
                            td { a href=(o.download) { "CSV" } }
                        }
                    }
                }
            }
        }
        div class="wide" {
            table {
                caption { (l.pick("申請から決定までの日数（中央値、月別）", "Median days from submission to decision, by month")) }
                thead { tr { th scope="col" { (l.pick("月", "Month")) } th scope="col" { (l.pick("決定数", "Decisions")) } th scope="col" { (l.pick("中央値（日）", "Median (days)")) } } }
                tbody { @for t in &times { tr { td { (t.month) } td { (t.decisions) } td { (t.median_days) } } } }
            }
        }
        p {
            a href="/register/feed.atom" { "Atom" } " · "
            a href="/api/v1/register" { "JSON" } " · "
            a href="/api/v1/register/catalogue" { (l.pick("データカタログ（DCAT）", "Dataset catalogue (DCAT)")) } " · "
            a href="/register/optouts" { (l.pick("オプトアウトの統計", "Opt-out statistics")) }
        }
    };
    Ok(page(lang, l.pick("公開登録簿", "Public register"), None, body).into_response())
}
