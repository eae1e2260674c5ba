//! Collection's report pages: a provider's quality report
//! (`/collect/quality`) and who is behind with what they must send
//! (`/collect/compliance`). They render the values the API serves
//! (`api::reports`), with the same rule on whose reports a caller may read.

use axum::Extension;
use axum::extract::{Query, State};
use maud::{Markup, html};
use renkei_collect::{ComplianceStatus, Provider, QualityReport, TypeQuality};
use renkei_core::{ProviderCode, Timestamp};
use serde::Deserialize;

use super::layout::{Lang, Page, PageLang, page};
use crate::access::Principal;
use crate::api::reports::{readable_provider, readable_providers, time_param};
use crate::{AppState, Error};

/// Query of the quality page.
#[derive(Debug, Deserialize)]
pub struct QualityQuery {
    /// The 医療機関コード to show; may be left out when the caller may read
    /// exactly one provider's reports.
    provider: Option<String>,
    /// The start of the window: a date (`<input type="date">`, midnight in
    /// Japan) or an RFC 3339 instant.
    since: Option<String>,
}

/// Query of the compliance page.
#[derive(Debug, Deserialize)]
pub struct ComplianceQuery {
    /// Which rows to show: `behind` (never sent or overdue), a status, or
    /// all when left out.
    status: Option<String>,
}

/// Japan's offset: providers' dates are read as Japanese days (as the
/// intake reads a FHIR date without a time), and times are shown in it.
const JST: time::UtcOffset = time::macros::offset!(+9);

/// A window start from the form: a bare date is midnight in Japan.
fn since_param(text: &str) -> Result<Timestamp, Error> {
    if text.len() == 10
        && let Ok(t) = Timestamp::parse_rfc3339(&format!("{text}T00:00:00+09:00"))
    {
        return Ok(t);
    }
    time_param("since", text)
}

/// `2026-05-01 09:00` in Japan, in a `<time>` element that carries the
/// exact instant.
pub(crate) fn when(t: Timestamp) -> Markup {
    let shown = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.unix_micros()) * 1000)
        .ok()
        .and_then(|d| {
            d.to_offset(JST)
                .format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]"
                ))
                .ok()
        })
        .unwrap_or_else(|| t.to_rfc3339());
    html! { time datetime=(t.to_rfc3339()) { (shown) } }
}

fn maybe_when(t: Option<Timestamp>) -> Markup {
    match t {
        Some(t) => when(t),
        None => html! { "—" },
    }
}

/// A wide table in a region that scrolls sideways on a narrow screen
/// instead of widening the page; focusable and named (by the table's
/// caption), so keyboard and screen-reader users can scroll it too.
fn scrolling(label: &str, table: Markup) -> Markup {
    html! { div class="wide" role="region" aria-label=(label) tabindex="0" { (table) } }
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "—".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// A resource type with its Japanese gloss for the types providers owe.
fn resource_label(l: Lang, resource_type: &str) -> String {
    let ja = match resource_type {
        "Patient" => "患者",
        "Encounter" => "受診",
        "Condition" => "病名",
        "Observation" => "検査・観察",
        "MedicationRequest" => "処方",
        "MedicationDispense" => "調剤",
        "Procedure" => "処置・手術",
        "AllergyIntolerance" => "アレルギー",
        "ImagingStudy" => "画像検査",
        "(unknown)" => return l.pick("（種別不明）", "(unknown type)").to_owned(),
        _ => return resource_type.to_owned(),
    };
    match l {
        Lang::Ja => format!("{ja}（{resource_type}）"),
        Lang::En => resource_type.to_owned(),
    }
}

fn status_label(l: Lang, s: ComplianceStatus) -> &'static str {
    match s {
        ComplianceStatus::Never => l.pick("未提出", "never sent"),
        ComplianceStatus::Overdue => l.pick("期限超過", "overdue"),
        ComplianceStatus::DueSoon => l.pick("期限間近", "due soon"),
        ComplianceStatus::Ok => l.pick("提出済み", "up to date"),
    }
}

fn status_name(s: ComplianceStatus) -> &'static str {
    match s {
        ComplianceStatus::Never => "never",
        ComplianceStatus::Overdue => "overdue",
        ComplianceStatus::DueSoon => "due_soon",
        ComplianceStatus::Ok => "ok",
    }
}

/// Which rows of the compliance report the page shows.
#[derive(Clone, Copy, Debug)]
enum Show {
    All,
    /// Never sent or overdue: who must be chased.
    Behind,
    Only(ComplianceStatus),
}

impl Show {
    fn parse(text: Option<&str>) -> Result<Self, Error> {
        match text {
            None => Ok(Show::All),
            Some("behind") => Ok(Show::Behind),
            Some(name) => STATUSES
                .into_iter()
                .find(|s| status_name(*s) == name)
                .map(Show::Only)
                .ok_or_else(|| {
                    Error::BadRequest(format!(
                        "query parameter status: {name:?} is not one of behind, never, overdue, due_soon, ok"
                    ))
                }),
        }
    }

    fn keeps(self, s: ComplianceStatus) -> bool {
        match self {
            Show::All => true,
            Show::Behind => matches!(s, ComplianceStatus::Never | ComplianceStatus::Overdue),
            Show::Only(only) => s == only,
        }
    }
}

const STATUSES: [ComplianceStatus; 4] = [
    ComplianceStatus::Never,
    ComplianceStatus::Overdue,
    ComplianceStatus::DueSoon,
    ComplianceStatus::Ok,
];

/// `GET /collect/quality`.
pub async fn quality(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QualityQuery>,
) -> Result<Page, Error> {
    let l = lang.lang;
    let user = principal.user().ok_or(Error::Unauthenticated)?;
    let visible = readable_providers(&state, user).await?;
    let named = q.provider.as_deref().filter(|p| !p.is_empty());
    let chosen = match named {
        Some(text) => {
            let code = ProviderCode::parse(text)
                .map_err(|e| Error::BadRequest(format!("query parameter provider: {e}")))?;
            Some(readable_provider(&state, user, &code).await?)
        }
        None => match visible.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
    };
    let since_text = q.since.as_deref().filter(|s| !s.is_empty());
    let since = since_text.map(since_param).transpose()?;
    let report = match &chosen {
        Some(p) => Some(state.intake().quality(&p.code, since).await?),
        None => None,
    };
    let body = html! {
        p { (l.pick(
            "医療機関ごとに、提出されたデータの件数と品質（主要項目の充足率、有効なコードの割合、診療から提出までの日数、重複の割合、不受理の理由）を示します。",
            "Per provider: what its submissions brought and how good it was (completeness of key elements, share of valid codes, days from event to submission, duplicate rate, rejection reasons)."
        )) }
        @if visible.is_empty() {
            p { (l.pick(
                "閲覧できる医療機関がありません。医療機関の登録は運営者が行います。",
                "There is no provider whose report you may read. Operators register providers."
            )) }
        } @else {
            (picker(l, &visible, chosen.as_ref(), since_text))
        }
        @if let (Some(p), Some(r)) = (&chosen, &report) {
            (quality_report(l, p, r))
        }
    };
    Ok(page(
        lang,
        l.pick("品質レポート", "Quality report"),
        Some(user),
        body,
    ))
}

fn picker(l: Lang, visible: &[Provider], chosen: Option<&Provider>, since: Option<&str>) -> Markup {
    html! {
        form method="get" action="/collect/quality" {
            label for="provider" { (l.pick("医療機関", "Provider")) }
            select id="provider" name="provider" required {
                @if chosen.is_none() {
                    option value="" { (l.pick("選んでください", "Choose one")) }
                }
                @for p in visible {
                    option value=(p.code) selected[chosen.is_some_and(|c| c.code == p.code)] {
                        (p.code) " " (p.name)
                    }
                }
            }
            label for="since" { (l.pick("集計の開始日（任意）", "Count from (optional)")) }
            input id="since" name="since" type="date" value=[since];
            button type="submit" { (l.pick("表示", "Show")) }
        }
    }
}

fn quality_report(l: Lang, p: &Provider, r: &QualityReport) -> Markup {
    let all = &r.overall;
    html! {
        h2 { (p.name) " " small { code { (p.code) } } }
        dl {
            dt { (l.pick("医療機関コード", "Provider code")) } dd { code { (p.code) } }
            dt { (l.pick("種別", "Facility type")) } dd { (l.pick(p.kind.japanese(), p.kind.as_str())) }
            dt { (l.pick("集計期間", "Window")) }
            dd {
                @match r.since {
                    Some(s) => { (when(s)) (l.pick(" 以降", " onwards")) },
                    None => { (l.pick("すべての提出", "every submission")) },
                }
            }
            dt { (l.pick("提出数", "Submissions")) } dd { (all.submissions) }
            dt { (l.pick("最終提出", "Last submission")) } dd { (maybe_when(all.last_submission_at)) }
            dt { (l.pick("読み取れなかった提出", "Submissions that failed")) } dd { (r.failed_submissions) }
            dt { (l.pick("患者の到着で保留から取り込まれた件数", "Pending resources that joined when their Patient arrived")) } dd { (r.pending_joined) }
        }
        @if all.submissions == 0 {
            p { (l.pick("この期間の提出はありません。", "No submissions in this window.")) }
        } @else {
            (counts_table(l, r))
            (figures_table(l, r))
            (reasons_table(l, all))
            p { (l.pick("時刻は日本時間です。割合は、測れるものがないときは「—」です。",
                        "Times are Japan time. A share is \"—\" when there was nothing to measure.")) }
        }
    }
}

fn counts_table(l: Lang, r: &QualityReport) -> Markup {
    let row = |name: Markup, t: &TypeQuality| {
        html! {
            tr {
                th scope="row" { (name) }
                td { (t.submissions) }
                td { (t.counts.received) }
                td { (t.counts.accepted) }
                td { (t.counts.rejected) }
                td { (t.counts.unchanged) }
                td { (t.counts.superseded) }
                td { (t.counts.stale) }
                td { (t.pending_now) }
            }
        }
    };
    let caption = l.pick("リソース種別ごとの件数", "Resources by type");
    scrolling(
        caption,
        html! {
            table {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { (l.pick("種別", "Type")) }
                        th scope="col" { (l.pick("提出", "Submissions")) }
                        th scope="col" { (l.pick("受信", "Received")) }
                        th scope="col" { (l.pick("受理", "Accepted")) }
                        th scope="col" { (l.pick("不受理", "Rejected")) }
                        th scope="col" { (l.pick("変更なし", "Unchanged")) }
                        th scope="col" { (l.pick("更新", "Superseding")) }
                        th scope="col" { (l.pick("古い版", "Stale")) }
                        th scope="col" { (l.pick("保留中", "Pending now")) }
                    }
                }
                tbody {
                    @for (ty, t) in &r.by_type { (row(html! { (resource_label(l, ty)) }, t)) }
                }
                tfoot { (row(html! { (l.pick("全体", "All")) }, &r.overall)) }
            }
        },
    )
}

fn figures_table(l: Lang, r: &QualityReport) -> Markup {
    let row = |name: Markup, t: &TypeQuality| {
        html! {
            tr {
                th scope="row" { (name) }
                td { (percent(t.completeness)) }
                td { (percent(t.valid_codes)) }
                td { (percent(t.duplicate_rate)) }
                td { (t.timeliness.mean_lag_days.map_or_else(|| "—".to_owned(), |d| format!("{d:.1}"))) }
                td { (percent(t.timeliness.within_7d)) }
                td { (percent(t.timeliness.within_30d)) }
                td { (percent(t.timeliness.within_90d)) }
            }
        }
    };
    let caption = l.pick("品質指標", "Quality figures");
    scrolling(
        caption,
        html! {
            table {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { (l.pick("種別", "Type")) }
                        th scope="col" { (l.pick("主要項目の充足率", "Completeness")) }
                        th scope="col" { (l.pick("有効なコード", "Valid codes")) }
                        th scope="col" { (l.pick("重複率", "Duplicate rate")) }
                        th scope="col" { (l.pick("提出までの平均日数", "Mean days to submission")) }
                        th scope="col" { (l.pick("7日以内", "Within 7 days")) }
                        th scope="col" { (l.pick("30日以内", "Within 30 days")) }
                        th scope="col" { (l.pick("90日以内", "Within 90 days")) }
                    }
                }
                tbody {
                    @for (ty, t) in &r.by_type { (row(html! { (resource_label(l, ty)) }, t)) }
                }
                tfoot { (row(html! { (l.pick("全体", "All")) }, &r.overall)) }
            }
        },
    )
}

fn reasons_table(l: Lang, all: &TypeQuality) -> Markup {
    html! {
        @if all.rejection_reasons.is_empty() {
            p { (l.pick("不受理はありません。", "Nothing was rejected.")) }
        } @else {
            table {
                caption { (l.pick("不受理の理由（多い順）", "Rejection reasons, most frequent first")) }
                thead {
                    tr {
                        th scope="col" { (l.pick("理由と箇所", "Reason and where")) }
                        th scope="col" { (l.pick("件数", "Count")) }
                    }
                }
                tbody {
                    @for reason in &all.rejection_reasons {
                        tr { th scope="row" { code { (reason.reason) } } td { (reason.count) } }
                    }
                    @if all.other_reasons > 0 {
                        tr { th scope="row" { (l.pick("その他", "Others")) } td { (all.other_reasons) } }
                    }
                }
            }
        }
    }
}

/// `GET /collect/compliance`.
pub async fn compliance(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Query(q): Query<ComplianceQuery>,
) -> Result<Page, Error> {
    let l = lang.lang;
    let user = principal.user().ok_or(Error::Unauthenticated)?;
    let filter = q.status.as_deref().filter(|s| !s.is_empty());
    let show = Show::parse(filter)?;
    let report = state
        .intake()
        .compliance(&state.config().collect.compliance, state.clock().now())
        .await?;
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter(|r| show.keeps(r.status))
        .collect();
    let c = report.counts;
    let rows_caption = l.pick(
        "提出状況（遅れているものから）",
        "Submission status, most behind first",
    );
    let body = html! {
        p { (l.pick(
            "施設の種別ごとに定めたデータ（例: 特定機能病院は検査結果と処方を毎月）を、各医療機関が期限内に提出しているかを示します。期限を過ぎたものから順に並べています。",
            "Whether each provider has sent the data sets its facility type must send (e.g. a 特定機能病院 sends labs and prescriptions monthly), most overdue first."
        )) }
        p { (l.pick("基準日時", "As of")) ": " (when(report.now)) }
        table {
            caption { (l.pick("状態ごとの件数", "Rows by status")) }
            thead { tr { th scope="col" { (l.pick("状態", "Status")) } th scope="col" { (l.pick("件数", "Count")) } } }
            tbody {
                @for (s, n) in [(ComplianceStatus::Never, c.never), (ComplianceStatus::Overdue, c.overdue), (ComplianceStatus::DueSoon, c.due_soon), (ComplianceStatus::Ok, c.ok)] {
                    tr {
                        th scope="row" { a href={ "/collect/compliance?status=" (status_name(s)) } { (status_label(l, s)) } }
                        td { (n) }
                    }
                }
            }
        }
        form method="get" action="/collect/compliance" {
            label for="status" { (l.pick("表示する行", "Rows to show")) }
            select id="status" name="status" {
                option value="" selected[filter.is_none()] { (l.pick("すべて", "All")) }
                option value="behind" selected[filter == Some("behind")] { (l.pick("遅れているもの（未提出・期限超過）", "Behind (never sent or overdue)")) }
                @for s in STATUSES {
                    option value=(status_name(s)) selected[filter == Some(status_name(s))] { (status_label(l, s)) }
                }
            }
            button type="submit" { (l.pick("表示", "Show")) }
        }
        @if report.rows.is_empty() {
            p { (l.pick(
                "提出義務のある医療機関はありません（医療機関が未登録か、collect.compliance に義務がありません）。",
                "No provider owes anything (none is registered, or collect.compliance names no obligation)."
            )) }
        } @else if rows.is_empty() {
            p { (l.pick("この条件に当てはまる行はありません。", "No row has this status.")) }
        } @else {
            (scrolling(rows_caption, html! { table {
                caption { (rows_caption) }
                thead {
                    tr {
                        th scope="col" { (l.pick("医療機関", "Provider")) }
                        th scope="col" { (l.pick("種別", "Facility type")) }
                        th scope="col" { (l.pick("データ", "Data set")) }
                        th scope="col" { (l.pick("周期", "Every")) }
                        th scope="col" { (l.pick("最終提出", "Last sent")) }
                        th scope="col" { (l.pick("経過日数", "Days since")) }
                        th scope="col" { (l.pick("期限", "Due")) }
                        th scope="col" { (l.pick("状態", "Status")) }
                    }
                }
                tbody {
                    @for r in &rows {
                        tr {
                            th scope="row" {
                                a href={ "/collect/quality?provider=" (r.provider) } { code { (r.provider) } }
                                " " (r.name)
                            }
                            td { (l.pick(r.kind.japanese(), r.kind.as_str())) }
                            td { (resource_label(l, &r.resource_type)) }
                            td { (r.every_days) (l.pick("日", " days")) }
                            td { (maybe_when(r.last.as_ref().map(|d| d.at))) }
                            td { @match r.days_since { Some(d) => { (d) }, None => { "—" } } }
                            td { (when(r.due_at)) }
                            td class={ "status-" (status_name(r.status)) } { (status_label(l, r.status)) }
                        }
                    }
                }
            } }))
            p { (l.pick("時刻は日本時間です。未提出の期限は、登録日から周期が過ぎた時点です。",
                        "Times are Japan time. For a data set never sent, the due time is the registration plus the period.")) }
        }
    };
    Ok(page(
        lang,
        l.pick("提出状況", "Submission compliance"),
        Some(user),
        body,
    ))
}
