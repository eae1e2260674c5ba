//! The analysis environment's pages (解析環境): a researcher's workspaces,
//! the workspace itself (SQL editor, the result as a table and a chart,
//! saved queries, the history, outputs proposed for release), and the
//! reviewer's pages where outputs are released or refused.
//!
//! Results are shown only to the permit's named users, inside the
//! platform; what leaves goes through [`renkei_analysis::release`].

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use renkei_analysis::{Output, OutputRequest, OutputStatus, QueryResult, Workspace};
use renkei_core::{Grant, Role};
use renkei_review::PermitStatus;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::chart::{self, ChartKind};
use super::layout::{Lang, PageLang, page};
use super::login::check_csrf;
use super::patient::jst;
use crate::access::Principal;
use crate::accounts::User;
use crate::api::analysis::{decide_output, disclosure_rules, readable_output};
use crate::api::review::acting;
use crate::{AppState, Error};

/// Rows of a result the page shows (the API returns them all).
const SHOWN_ROWS: usize = 500;

fn session(principal: &Principal) -> Result<(&User, &str), Error> {
    match principal {
        Principal::Session { user, csrf } => Ok((user, csrf)),
        _ => Err(Error::Unauthenticated),
    }
}

fn field<'a>(fields: &'a HashMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map_or("", String::as_str)
}

fn status_label(l: Lang, status: PermitStatus) -> &'static str {
    match status {
        PermitStatus::Active => l.pick("有効", "active"),
        PermitStatus::Suspended => l.pick("停止中", "suspended"),
        PermitStatus::Revoked => l.pick("取消し", "revoked"),
        PermitStatus::Expired => l.pick("期限切れ", "expired"),
    }
}

/// `GET /workspaces`: the permits naming the researcher, each a workspace
/// while it is in force.
pub async fn list(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let (user, _) = session(&principal)?;
    let permits = state.review().permits_naming(&user.username).await?;
    let body = html! {
        p { (l.pick(
            "許可で指名された利用者だけが、その許可の抽出データを解析できます。結果は審査を経て初めて持ち出せます。",
            "Only a permit's named users analyse its extract here. Results leave only after review."
        )) }
        @if permits.is_empty() { p { (l.pick("あなたを指名した許可はありません。", "No permit names you.")) } }
        ul id="workspaces" {
            @for (p, status) in &permits {
                li {
                    @if *status == PermitStatus::Active {
                        a href=(format!("/workspaces/{}", p.id)) { (p.title) }
                    } @else { (p.title) }
                    " — " (p.id) " (" (status_label(l, *status)) ")"
                }
            }
        }
    };
    Ok(page(
        lang,
        l.pick("解析環境", "Analysis workspaces"),
        Some(user),
        body,
    )
    .into_response())
}

/// The editor's state.
#[derive(Debug, Default, Deserialize)]
pub struct EditorQuery {
    /// A saved query to load.
    pub saved: Option<String>,
}

/// What the page shows under the editor.
enum Answer {
    None,
    Result {
        query: i64,
        result: QueryResult,
        chart: Option<ChartKind>,
    },
    Refused(String),
}

/// `GET /workspaces/{permit}`: the workspace, with a saved query loaded
/// when `?saved=` names one.
pub async fn show(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
    Query(q): Query<EditorQuery>,
) -> Result<Response, Error> {
    let (user, csrf) = session(&principal)?;
    let (p, ws) = crate::workspaces::open(&state, &permit, &user.username).await?;
    let saved = state.analysis().saved(p.permit).await?;
    let sql = q
        .saved
        .as_deref()
        .and_then(|name| saved.iter().find(|s| s.name == name))
        .map(|s| s.sql.clone())
        .unwrap_or_else(|| default_sql(&ws));
    render(&state, lang, user, csrf, &p, &ws, &sql, None, Answer::None).await
}

fn default_sql(ws: &Workspace) -> String {
    ws.tables()
        .first()
        .map(|t| format!("SELECT * FROM {t} LIMIT 20"))
        .unwrap_or_default()
}

/// `POST /workspaces/{permit}`: runs the editor's SQL, audited and kept in
/// the history, and shows the result.
pub async fn run(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    check_csrf(&principal, field(&fields, "csrf"))?;
    let (user, csrf) = session(&principal)?;
    let who = acting(&principal)?;
    let (p, ws) = crate::workspaces::open(&state, &permit, &user.username).await?;
    let sql = field(&fields, "sql").to_owned();
    let chart = ChartKind::parse(field(&fields, "chart"));
    let (query, result) = state
        .analysis()
        .run(&ws, &who.username, who.actor, &sql)
        .await?;
    let answer = match result {
        Ok(result) => Answer::Result {
            query,
            result,
            chart,
        },
        Err(e) => Answer::Refused(e.to_string()),
    };
    render(&state, lang, user, csrf, &p, &ws, &sql, None, answer).await
}

/// `POST /workspaces/{permit}/saved`: saves the editor's SQL by name.
pub async fn save(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    check_csrf(&principal, field(&fields, "csrf"))?;
    let (user, _) = session(&principal)?;
    let (opened, _) = crate::workspaces::open(&state, &permit, &user.username).await?;
    let saved = state
        .analysis()
        .save(
            opened.permit,
            &user.username,
            field(&fields, "name"),
            field(&fields, "sql"),
        )
        .await?;
    let to = format!(
        "/workspaces/{permit}?saved={}",
        url::form_urlencoded::byte_serialize(saved.name.as_bytes()).collect::<String>()
    );
    Ok(Redirect::to(&to).into_response())
}

/// `POST /workspaces/{permit}/outputs`: proposes an output for release;
/// on success, its page with the automatic check; otherwise the workspace
/// again with the reason.
pub async fn propose(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Path(permit): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    check_csrf(&principal, field(&fields, "csrf"))?;
    let (user, csrf) = session(&principal)?;
    let who = acting(&principal)?;
    let (p, ws) = crate::workspaces::open(&state, &permit, &user.username).await?;
    let value = field(&fields, "value").trim();
    // A noisy release: ε, and the categories of each dimension, one line
    // per dimension.
    let epsilon = field(&fields, "epsilon").trim();
    let privacy = if epsilon.is_empty() {
        Ok(None)
    } else {
        renkei_analysis::disclosure::dp::Epsilon::parse(epsilon)
            .map(|epsilon| {
                Some(renkei_analysis::release::PrivacyRequest {
                    epsilon,
                    categories: field(&fields, "categories")
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| {
                            l.split([',', '、'])
                                .map(str::trim)
                                .filter(|c| !c.is_empty())
                                .map(str::to_owned)
                                .collect()
                        })
                        .collect(),
                })
            })
            .map_err(|e| renkei_analysis::Error::Invalid(format!("privacy.epsilon: {e}")))
    };
    let dimensions: Result<Vec<renkei_analysis::release::Dimension>, _> =
        field(&fields, "dimensions")
            .split([',', '、', ' '])
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::parse)
            .collect();
    let cohort = field(&fields, "cohort").trim();
    let request = OutputRequest {
        title: field(&fields, "title").to_owned(),
        cohort: (!cohort.is_empty()).then(|| cohort.to_owned()),
        table: field(&fields, "table").trim().to_owned(),
        dimensions: dimensions.as_ref().cloned().unwrap_or_default(),
        value: (!value.is_empty()).then(|| value.to_owned()),
        margins: fields.contains_key("margins"),
        kind: if fields.contains_key("genomic") {
            renkei_analysis::disclosure::DataKind::Genomic
        } else {
            renkei_analysis::disclosure::DataKind::General
        },
        privacy: None,
    };
    let sql = cohort.to_owned();
    let privacy = match dimensions {
        Ok(_) => privacy,
        Err(e) => Err(e),
    };
    let proposed = match privacy {
        Ok(privacy) => {
            let request = OutputRequest { privacy, ..request };
            state
                .analysis()
                .propose(
                    &ws,
                    &who.username,
                    who.actor,
                    request,
                    &disclosure_rules(&state),
                )
                .await
        }
        Err(e) => Err(e),
    };
    match proposed {
        Ok(output) => Ok(Redirect::to(&format!("/outputs/{}", output.id)).into_response()),
        Err(e @ (renkei_analysis::Error::Invalid(_) | renkei_analysis::Error::Query(_))) => {
            let refused = Some(e.to_string());
            render(
                &state,
                lang,
                user,
                csrf,
                &p,
                &ws,
                &sql,
                refused,
                Answer::None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    lang: PageLang,
    user: &User,
    csrf: &str,
    grant: &Grant,
    ws: &Workspace,
    sql: &str,
    output_refused: Option<String>,
    answer: Answer,
) -> Result<Response, Error> {
    let l = lang.lang;
    // The grant says what the workspace may do; the title is for people.
    let (permit, _) = state.review().permit(&grant.permit).await?;
    let id = permit.id.to_string();
    let analysis = state.analysis();
    let saved = analysis.saved(permit.id).await?;
    let history = analysis.history(permit.id, 20).await?;
    let outputs = analysis.outputs(permit.id).await?;
    let rules = disclosure_rules(state);
    // Offered only where the platform has a budget for it.
    // A budget lowered below what was spent offers nothing more, and must
    // not take the workspace page down with it.
    let dp = match rules.dp_budget {
        Some(_) => analysis.dp_accountant(permit.id, &rules).await.ok(),
        None => None,
    };
    let body = html! {
        p class="hint" { (l.pick("許可", "Permit")) " " (id) " · " (l.pick("表", "Tables")) ": "
            @for (i, t) in ws.tables().iter().enumerate() { @if i > 0 { ", " } code { (t) } } }
        form method="post" action=(format!("/workspaces/{id}")) id="editor" {
            input type="hidden" name="csrf" value=(csrf);
            label for="sql" { "SQL" }
            textarea id="sql" name="sql" rows="8" spellcheck="false" class="code" { (sql) }
            label for="chart" { (l.pick("グラフ", "Chart")) }
            select id="chart" name="chart" {
                option value="" { (l.pick("なし", "None")) }
                option value="bar" { (l.pick("棒グラフ", "Bar")) }
                option value="line" { (l.pick("折れ線", "Line")) }
                option value="histogram" { (l.pick("ヒストグラム", "Histogram")) }
            }
            button type="submit" id="run" { (l.pick("実行", "Run")) }
        }
        @match &answer {
            Answer::None => {}
            Answer::Refused(message) => {
                p class="error" role="alert" id="refused" { (l.pick("実行できません: ", "Refused: ")) (message) }
            }
            Answer::Result { query, result, chart } => {
                (result_view(l, *query, result, *chart)?)
            }
        }
        details {
            summary { (l.pick("この問合せを保存する", "Save this query")) }
            form method="post" action=(format!("/workspaces/{id}/saved")) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="sql" value=(sql);
                label for="name" { (l.pick("名前", "Name")) }
                input id="name" name="name" required maxlength="100";
                button type="submit" { (l.pick("保存", "Save")) }
            }
        }
        h2 { (l.pick("結果の持ち出し申請", "Request release of an output")) }
        p class="hint" { (l.pick(
            "集計表は、抽出データの表の列から解析環境が計算します（一人は一つのセルに一度だけ数え、人数が最小セル数に満たないカテゴリは「その他」にまとめます）。自動で秘匿処理（最小セル数 ",
            "The table is computed by the workspace from the columns of an extract table (each person counted once, in one cell; categories shared by fewer persons than the minimum become その他) and checked automatically (minimum cell count "
        )) (rules.min_count) (l.pick(
            "、補完秘匿、差分）を行ったうえで審査に回ります。",
            ", complementary suppression, differencing) before a reviewer decides."
        )) }
        @if let Some(why) = &output_refused {
            p class="error" role="alert" id="output-refused" { (why) }
        }
        form method="post" action=(format!("/workspaces/{id}/outputs")) id="release" {
            input type="hidden" name="csrf" value=(csrf);
            label for="out-title" { (l.pick("題名", "Title")) }
            input id="out-title" name="title" required maxlength="200";
            label for="out-table" { (l.pick("集計する表", "Table to count")) }
            select id="out-table" name="table" required {
                @for t in ws.tables() {
                    @if ws.table_schema(t).is_some_and(|s| s.field_with_name("pseudonym").is_ok()) {
                        option value=(t) { (t) }
                    }
                }
            }
            label for="out-cohort" { (l.pick("対象者の問合せ（任意。pseudonym 列を返す問合せ。空欄なら表の全員）", "Cohort query (optional: a query returning a pseudonym column; empty for everyone in the table)")) }
            textarea id="out-cohort" name="cohort" rows="4" class="code" { (sql) }
            label for="out-dims" { (l.pick("次元（表の列名をカンマ区切り、最大4。例: sex, birth_date:year10, icd10:prefix3）", "Dimensions (columns of the table, comma-separated, at most 4; e.g. sex, birth_date:year10, icd10:prefix3)")) }
            input id="out-dims" name="dimensions" required;
            label for="out-value" { (l.pick("合計する列（任意）", "Column to sum (optional)")) }
            input id="out-value" name="value";
            label class="check" { input type="checkbox" name="margins" value="1"; (l.pick("合計（周辺度数）を含める", "Include totals (margins)")) }
            label class="check" { input type="checkbox" name="genomic" value="1"; (l.pick("ゲノム集計（より厳しい最小セル数）", "Genomic aggregate (stricter minimum)")) }
            @if let Some(budget) = &dp {
                fieldset id="noisy" {
                    legend { (l.pick("差分プライバシー（任意）", "Differential privacy (optional)")) }
                    p class="hint" { (l.pick(
                        &format!("秘匿の代わりにノイズを加えた件数表として持ち出します。予算 ε = {}、残り ε = {}。", budget.budget(), budget.remaining()),
                        &format!("Released as a count table with noise instead of suppression. Budget ε = {}, left ε = {}.", budget.budget(), budget.remaining()),
                    )) }
                    label for="out-epsilon" { (l.pick("使う ε（空欄ならノイズなし）", "ε to spend (empty: no noise)")) }
                    input id="out-epsilon" name="epsilon" inputmode="decimal";
                    label for="out-categories" { (l.pick("各次元のカテゴリ（次元ごとに1行、カンマ区切り。データからではなく、公開された一覧から）", "Categories of each dimension (a line per dimension, comma-separated; from a public list, not from the data)")) }
                    textarea id="out-categories" name="categories" rows="3" {}
                }
            }
            button type="submit" id="request-release" { (l.pick("持ち出しを申請", "Request release")) }
        }
        @if !outputs.is_empty() {
            h2 { (l.pick("持ち出し申請", "Outputs")) }
            (outputs_table(l, &outputs))
        }
        @if !saved.is_empty() {
            h2 { (l.pick("保存した問合せ", "Saved queries")) }
            ul id="saved" { @for s in &saved {
                li { a href=(format!("/workspaces/{id}?saved={}", url::form_urlencoded::byte_serialize(s.name.as_bytes()).collect::<String>())) { (s.name) } " — " (s.username) }
            } }
        }
        h2 { (l.pick("履歴", "History")) }
        div class="wide" {
            table id="history" {
                thead { tr {
                    th scope="col" { "#" }
                    th scope="col" { (l.pick("利用者", "User")) }
                    th scope="col" { "SQL" }
                    th scope="col" { (l.pick("結果", "Outcome")) }
                    th scope="col" { (l.pick("行", "Rows")) }
                    th scope="col" { "ms" }
                } }
                tbody { @for h in &history { tr {
                    td { (h.id) } td { (h.username) } td { code { (h.sql) } }
                    td { (h.outcome.clone().unwrap_or_default()) } td { (h.rows.map(|r| r.to_string()).unwrap_or_default()) }
                    td { (h.elapsed_ms.map(|r| r.to_string()).unwrap_or_default()) }
                } } }
            }
        }
    };
    Ok(page(
        lang,
        &format!("{} — {}", l.pick("解析環境", "Workspace"), permit.title),
        Some(user),
        body,
    )
    .into_response())
}

fn result_view(
    l: Lang,
    query: i64,
    result: &QueryResult,
    chart: Option<ChartKind>,
) -> Result<Markup, Error> {
    let columns = result.columns();
    let rows: Vec<Map<String, Value>> = result.to_json_rows()?;
    Ok(html! {
        section id="result" {
            h2 { (l.pick("結果", "Result")) }
            p class="hint" { "#" (query) " · " (result.rows) (l.pick(" 行", " rows"))
                @if result.truncated { (l.pick("（上限で打切り）", " (cut at the limit)")) }
                " · " (result.elapsed.as_millis()) " ms"
                @if rows.len() > SHOWN_ROWS { " · " (l.pick("先頭", "first ")) (SHOWN_ROWS) (l.pick("行を表示", " shown")) } }
            @if let Some(kind) = chart { (chart::render(kind, &columns, &rows)) }
            div class="wide" {
                table {
                    thead { tr { @for c in &columns { th scope="col" { (c) } } } }
                    tbody { @for r in rows.iter().take(SHOWN_ROWS) { tr { @for c in &columns {
                        td { (match r.get(c) { Some(Value::String(s)) => s.clone(), Some(Value::Null) | None => String::new(), Some(v) => v.to_string() }) }
                    } } } }
                }
            }
        }
    })
}

fn outputs_table(l: Lang, outputs: &[Output]) -> Markup {
    html! {
        div class="wide" {
            table id="outputs" {
                thead { tr {
                    th scope="col" { "#" }
                    th scope="col" { (l.pick("題名", "Title")) }
                    th scope="col" { (l.pick("許可", "Permit")) }
                    th scope="col" { (l.pick("申請者", "By")) }
                    th scope="col" { (l.pick("秘匿セル", "Suppressed")) }
                    th scope="col" { (l.pick("状態", "Status")) }
                } }
                tbody { @for o in outputs { tr {
                    td { (o.id) }
                    td { a href=(format!("/outputs/{}", o.id)) { (o.title) } }
                    td { (o.permit) }
                    td { (o.requested_by) }
                    td { (o.check.suppressed) " / " (o.check.cells.len()) }
                    td class="status" { (status_text(l, o.status)) }
                } } }
            }
        }
    }
}

fn status_text(l: Lang, status: OutputStatus) -> &'static str {
    match status {
        OutputStatus::Pending => l.pick("審査待ち", "pending"),
        OutputStatus::Released => l.pick("公開済み", "released"),
        OutputStatus::Refused => l.pick("不承認", "refused"),
    }
}

/// `GET /outputs`: the reviewer's queue of outputs waiting for a decision.
pub async fn queue(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let (user, _) = session(&principal)?;
    let pending = state.analysis().pending_outputs().await?;
    let body = html! {
        @if pending.is_empty() { p { (l.pick("審査待ちの持ち出し申請はありません。", "No output is waiting.")) } }
        @else { (outputs_table(l, &pending)) }
    };
    Ok(page(
        lang,
        l.pick("持ち出し審査", "Output review"),
        Some(user),
        body,
    )
    .into_response())
}

/// `GET /outputs/{id}`: an output with its check, every cell with its true
/// value and, for a suppressed one, why; the reviewer's decision form
/// while it is pending; the download once released.
pub async fn show_output(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let (user, csrf) = session(&principal)?;
    let o = readable_output(&state, &principal, &id).await?;
    let dims = &o.check.dimensions;
    let has_sums = o.check.cells.iter().any(|c| c.sum.is_some());
    let body = html! {
        dl {
            dt { (l.pick("状態", "Status")) } dd id="status" { (status_text(l, o.status)) }
            dt { (l.pick("許可", "Permit")) } dd { (o.permit) }
            dt { (l.pick("申請者", "Requested by")) } dd { (o.requested_by) " · " (jst(o.requested_at)) }
            dt { (l.pick("集計した表", "Table counted")) } dd { code { (o.request.table) } " · " (o.request.dimensions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
            dt { (l.pick("対象者", "Cohort")) } dd { @match &o.request.cohort {
                Some(sql) => code { (sql) },
                None => (l.pick("表の全員", "everyone in the table")),
            } }
            @if o.check.several_values > 0 {
                dt { (l.pick("複数の値を持つ人", "Persons with several values")) }
                dd { (o.check.several_values) (l.pick("人（最も多い値の組で一度だけ数えました）", " (each counted once, under their most frequent values)")) }
            }
            @if o.check.recoded > 0 {
                dt { (l.pick("「その他」にまとめたカテゴリ", "Categories shown as その他")) }
                dd { (o.check.recoded) }
            }
            dt { (l.pick("秘匿セル", "Suppressed cells")) } dd id="suppressed" { (o.check.suppressed) " / " (o.check.cells.len()) }
            dt { (l.pick("照合した過去の公開", "Earlier releases compared")) } dd { (o.check.compared_with) }
            @if let Some(epsilon) = o.check.noisy {
                dt { (l.pick("差分プライバシー", "Differential privacy")) }
                dd id="noise-note" { (l.pick(
                    &format!("公開時に各セルへノイズを加え、許可の予算から ε = {epsilon} を使います（秘匿はしません）。下の値は真の件数です。"),
                    &format!("Noise is added to every cell when released, spending ε = {epsilon} of the permit's budget (nothing is suppressed). The values below are the true counts."),
                )) }
            }
            @if !o.check.audit_holds {
                dt { (l.pick("監査", "Audit")) } dd class="error" { (l.pick("線形計画による監査で保護できず、表全体を留保", "The linear-programming audit could not protect the table: all withheld")) }
            }
            @if let Some(r) = &o.reviewer {
                dt { (l.pick("審査者", "Reviewer")) } dd { (r) @if let Some(t) = o.decided_at { " · " (jst(t)) } }
            }
            @if let Some(r) = &o.reason { dt { (l.pick("理由", "Reasons")) } dd id="reason" { (r) } }
        }
        @if o.status == OutputStatus::Released {
            p { a id="download" href=(format!("/register/outputs/{}/table.csv", o.id)) { (l.pick("公開された表（CSV）", "The released table (CSV)")) } }
        }
        h2 { (l.pick("自動チェック（内部値）", "Automatic check (true values, internal)")) }
        p class="hint" { (l.pick(
            "この表の値は解析環境の内部にとどまります。公開されるのは、秘匿セルを X とした表だけです。",
            "These values stay inside the platform. Only the table with suppressed cells shown as X is released."
        )) }
        div class="wide" {
            table id="cells" {
                thead { tr {
                    @for d in dims { th scope="col" { (d) } }
                    th scope="col" { (l.pick("人数", "Persons")) }
                    @if has_sums { th scope="col" { (l.pick("合計", "Sum")) } }
                    th scope="col" { (l.pick("判定", "Decision")) }
                } }
                tbody { @for c in &o.check.cells {
                    tr class=(if c.released { "released" } else { "suppressed" }) {
                        @for k in &c.key { td { (k) } }
                        td { (c.persons) }
                        @if has_sums { td { (c.sum.map(|s| s.to_string()).unwrap_or_default()) } }
                        td { @if c.released { (l.pick("公開", "release")) } @else {
                            strong { "X " } (match l { Lang::Ja => c.why_ja.clone(), Lang::En => c.why_en.clone() }.unwrap_or_default())
                        } }
                    }
                } }
            }
        }
        @if user.role == Role::Reviewer && o.status == OutputStatus::Pending {
            h2 { (l.pick("判断", "Decision")) }
            form method="post" action=(format!("/outputs/{}/decision", o.id)) id="decide" {
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { (l.pick("この表を", "This table")) }
                    label class="check" { input type="radio" name="decision" value="release" required; (l.pick("公開する", "Release")) }
                    label class="check" { input type="radio" name="decision" value="refuse"; (l.pick("公開しない", "Refuse")) }
                }
                label for="reason-text" { (l.pick("理由", "Reasons")) }
                textarea id="reason-text" name="reason" rows="3" required {}
                button type="submit" { (l.pick("決定する", "Decide")) }
            }
        }
    };
    Ok(page(lang, &o.title, Some(user), body).into_response())
}

/// `POST /outputs/{id}/decision`: a reviewer releases or refuses.
pub async fn decide(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    check_csrf(&principal, field(&fields, "csrf"))?;
    let release = match field(&fields, "decision") {
        "release" => true,
        "refuse" => false,
        _ => return Err(Error::BadRequest("decision: release or refuse".to_owned())),
    };
    let output = decide_output(&state, &principal, &id, release, field(&fields, "reason")).await?;
    Ok(Redirect::to(&format!("/outputs/{}", output.id)).into_response())
}
