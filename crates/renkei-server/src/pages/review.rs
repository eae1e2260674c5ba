//! The applicant and reviewer pages of review (審査): an applicant writes
//! and submits an application and follows it; a reviewer sees their
//! queue, an application with its risk signals, and votes. The
//! secretariat's steps are on the API.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use renkei_core::Role;
use renkei_review::form::{
    DeliveryType, NamedUser, Organization, OrganizationKind, RequestedData, TableSelection,
};
use renkei_review::{Acting, ApplicationForm, ApplicationId, Step, VoteKind};

use super::layout::{Lang, PageLang, page};
use super::login::check_csrf;
use super::patient::jst;
use crate::access::Principal;
use crate::accounts::User;
use crate::api::review::{acting, readable, view};
use crate::{AppState, Error};

fn session(principal: &Principal) -> Result<(&User, &str), Error> {
    match principal {
        Principal::Session { user, csrf } => Ok((user, csrf)),
        _ => Err(Error::Unauthenticated),
    }
}

/// `GET /applications`: an applicant's own applications (everyone's for
/// reviewers and operators), and for a reviewer their queue.
pub async fn list(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let (user, _) = session(&principal)?;
    let own = (user.role == Role::Applicant).then_some(user.username.as_str());
    let apps = state.review().list(own).await?;
    let queue = if user.role == Role::Reviewer {
        state.review().queue(&user.username).await?
    } else {
        Vec::new()
    };
    let body = html! {
        @if user.role == Role::Applicant {
            p { a href="/applications/new" { (l.pick("新しい利用申請を作成する", "Start a new application")) } }
        }
        @if user.role == Role::Reviewer {
            h2 { (l.pick("担当する審査", "Assigned to you")) }
            @if queue.is_empty() { p { (l.pick("担当する申請はありません。", "Nothing is assigned to you.")) } }
            ul { @for a in &queue { li { a href=(format!("/applications/{}", a.id)) { (a.form.title) } " — " (a.form.organization.name) } } }
        }
        div class="wide" {
            table {
                caption { (l.pick("利用申請", "Applications")) }
                thead { tr {
                    th scope="col" { (l.pick("題名", "Title")) }
                    th scope="col" { (l.pick("申請者", "Applicant")) }
                    th scope="col" { (l.pick("状態", "State")) }
                    th scope="col" { (l.pick("作成", "Created")) }
                } }
                tbody {
                    @for a in &apps {
                        tr {
                            td { a href=(format!("/applications/{}", a.id)) { (a.form.title) } }
                            td { (a.form.organization.name) }
                            td class="state" { (a.stage.label_ja()) }
                            td { (jst(a.created_at)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(lang, l.pick("利用申請", "Applications"), Some(user), body).into_response())
}

fn field(id: &str, label: &str, value: &str, required: bool) -> Markup {
    html! {
        label for=(id) { (label) }
        input id=(id) name=(id) value=(value) required[required];
    }
}

fn area(id: &str, label: &str, hint: Option<&str>) -> Markup {
    html! {
        label for=(id) { (label) }
        @if let Some(h) = hint { p id=(format!("{id}-hint")) class="hint" { (h) } }
        textarea id=(id) name=(id) rows="3" required aria-describedby=[hint.map(|_| format!("{id}-hint"))] {}
    }
}

fn new_form(l: Lang, csrf: &str, user: &User, error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        form method="post" action="/applications" {
            input type="hidden" name="csrf" value=(csrf);
            (field("title", l.pick("題名", "Title"), "", true))
            fieldset {
                legend { (l.pick("申請機関", "Organization")) }
                (field("org_name", l.pick("機関名", "Name"), "", true))
                (field("org_country", l.pick("国（ISOコード）", "Country (ISO code)"), "JP", true))
                label for="org_kind" { (l.pick("種別", "Kind")) }
                select id="org_kind" name="org_kind" {
                    option value="academic" { (l.pick("大学・研究機関", "Academic")) }
                    option value="public" { (l.pick("行政機関", "Public body")) }
                    option value="company" { (l.pick("民間企業", "Company")) }
                    option value="other" { (l.pick("その他", "Other")) }
                }
            }
            fieldset {
                legend { (l.pick("利用者（あなた）", "User (you)")) }
                p { (user.username) }
                label for="training" { (l.pick("研修修了日", "Training completed on")) }
                input id="training" name="training" type="date" required;
                (field("coi", l.pick("利益相反の申告", "Conflict-of-interest declaration"), "none", true))
            }
            (area("purpose", l.pick("利用目的", "Purpose"), None))
            (area("public_interest", l.pick("公益性", "Public interest"), None))
            label class="check" { input type="checkbox" name="commercial" value="on"; (l.pick("営利目的を含む", "Includes commercial use")) }
            label class="check" { input type="checkbox" name="abroad" value="on"; (l.pick("国外で処理・保存する", "Processed or stored abroad")) }
            (area("tables", l.pick("データ（1行に1表: 表名: 列, 列）", "Data (one table per line: table: column, column)"),
                Some(l.pick("例: condition: icd10, onset_date", "e.g. condition: icd10, onset_date"))))
            (field("cohort", l.pick("対象者の条件", "Cohort criteria"), "", true))
            (field("cohort_icd10", l.pick("対象者のICD-10（カンマ区切り、任意）", "Cohort ICD-10 prefixes (comma-separated, optional)"), "", false))
            label for="period_from" { (l.pick("期間（開始）", "Period from")) }
            input id="period_from" name="period_from" type="date" required;
            label for="period_to" { (l.pick("期間（終了）", "Period to")) }
            input id="period_to" name="period_to" type="date" required;
            label for="delivery" { (l.pick("提供形態", "Delivery")) }
            select id="delivery" name="delivery" {
                option value="pseudonymized_in_environment" { (DeliveryType::PseudonymizedInEnvironment.label_ja()) }
                option value="anonymized_dataset" { (DeliveryType::AnonymizedDataset.label_ja()) }
                option value="statistics_only" { (DeliveryType::StatisticsOnly.label_ja()) }
            }
            (area("outputs", l.pick("予定する成果物", "Planned outputs"), None))
            (area("security", l.pick("安全管理措置", "Security measures"), None))
            (field("funding", l.pick("資金", "Funding"), "", true))
            button type="submit" { (l.pick("申請する", "Submit the application")) }
        }
    }
}

/// `GET /applications/new`.
pub async fn new(
    lang: PageLang,
    Extension(principal): Extension<Principal>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let (user, csrf) = session(&principal)?;
    let body = new_form(l, csrf, user, None);
    Ok(page(
        lang,
        l.pick("利用申請の作成", "New application"),
        Some(user),
        body,
    )
    .into_response())
}

fn form_from(fields: &HashMap<String, String>, user: &User) -> Result<ApplicationForm, Error> {
    let get = |k: &str| {
        fields
            .get(k)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let kind = match get("org_kind").as_str() {
        "public" => OrganizationKind::Public,
        "company" => OrganizationKind::Company,
        "other" => OrganizationKind::Other,
        _ => OrganizationKind::Academic,
    };
    let delivery = match get("delivery").as_str() {
        "anonymized_dataset" => DeliveryType::AnonymizedDataset,
        "statistics_only" => DeliveryType::StatisticsOnly,
        _ => DeliveryType::PseudonymizedInEnvironment,
    };
    let mut tables = Vec::new();
    for (i, line) in get("tables").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((table, columns)) = line.split_once(':') else {
            return Err(Error::BadRequest(format!(
                "tables, line {}: write \"table: column, column\"",
                i + 1
            )));
        };
        tables.push(TableSelection {
            table: table.trim().to_owned(),
            columns: columns
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect(),
        });
    }
    Ok(ApplicationForm {
        title: get("title"),
        organization: Organization {
            name: get("org_name"),
            country: get("org_country").to_uppercase(),
            kind,
        },
        users: vec![NamedUser {
            username: user.username.clone(),
            training_completed_on: get("training"),
            conflict_of_interest: get("coi"),
        }],
        purpose: get("purpose"),
        public_interest: get("public_interest"),
        commercial: fields.contains_key("commercial"),
        processing_abroad: fields.contains_key("abroad"),
        requested: RequestedData {
            tables,
            cohort_criteria: get("cohort"),
            cohort_icd10: get("cohort_icd10")
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect(),
            period_from: get("period_from"),
            period_to: get("period_to"),
            genomic: false,
            imaging: false,
            data_categories: Vec::new(),
        },
        delivery,
        planned_outputs: get("outputs"),
        security_measures: get("security"),
        funding: get("funding"),
    })
}

/// `POST /applications`: creates the application and submits it; a form
/// that cannot be submitted is shown again with what is wrong (the draft
/// is kept).
pub async fn create(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    check_csrf(&principal, fields.get("csrf").map_or("", String::as_str))?;
    let l = lang.lang;
    let (user, csrf) = session(&principal)?;
    let who: Acting = acting(&principal)?;
    let form = form_from(&fields, user)?;
    let app = state.review().create(&who, form, None).await?;
    match state.review().step(&who, &app.id, Step::Submit, "").await {
        Ok(_) => Ok(Redirect::to(&format!("/applications/{}", app.id)).into_response()),
        Err(renkei_review::Error::Invalid(message)) => {
            let body = html! {
                (new_form(l, csrf, user, Some(&format!("{} {message}", l.pick("申請できません:", "Cannot submit:")))))
                p class="hint" { (l.pick("下書きとして保存しました: ", "Saved as a draft: ")) a href=(format!("/applications/{}", app.id)) { (app.id) } }
            };
            Ok((
                axum::http::StatusCode::BAD_REQUEST,
                page(
                    lang,
                    l.pick("利用申請の作成", "New application"),
                    Some(user),
                    body,
                ),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /applications/{id}`: the application, its history; for a
/// reviewer the risk signals and the vote form.
pub async fn show(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let (user, csrf) = session(&principal)?;
    let id = ApplicationId::parse(&id).map_err(|e| Error::BadRequest(e.to_string()))?;
    let app = readable(&state, &principal, &id).await?;
    let v = view(&state, app, user.role).await?;
    let reviewing = user.role == Role::Reviewer && v.reviewers.contains(&user.username);
    let risk = if matches!(user.role, Role::Reviewer | Role::Operator) {
        Some(
            state
                .review()
                .risk_signals(&id, state.config().review.risk_k)
                .await?,
        )
    } else {
        None
    };
    let a = &v.application;
    let body = html! {
        dl {
            dt { (l.pick("状態", "State")) } dd id="state" { (v.state_ja) }
            dt { (l.pick("申請機関", "Organization")) } dd { (a.form.organization.name) " (" (a.form.organization.country) ")" }
            dt { (l.pick("目的", "Purpose")) } dd { (a.form.purpose) }
            dt { (l.pick("データ", "Data")) } dd { @for t in &a.form.requested.tables { (t.table) ": " (t.columns.join(", ")) br; } }
            dt { (l.pick("提供形態", "Delivery")) } dd { (a.form.delivery.label_ja()) }
            @if !a.scrutiny.is_empty() {
                dt { (l.pick("重点審査事項", "Needs scrutiny")) } dd { (a.scrutiny.join(", ")) }
            }
        }
        @if let Some(r) = &risk {
            h2 { (l.pick("リスク指標", "Risk signals")) }
            dl id="risk" {
                dt { (l.pick("対象者数（推計）", "Cohort (estimate)")) } dd { (r.cohort_estimate) }
                dt { (l.pick("準識別子", "Quasi-identifiers")) } dd { (r.quasi_identifiers.join(", ")) }
                dt { (l.pick("一意となる割合", "Share unique")) } dd { (r.uniqueness) }
                dt { (l.pick("k未満の割合", "Share below k")) } dd { (r.below_k) " (k=" (r.k) ")" }
                @for rv in &r.rare_values { dt { (l.pick("希少な値: ", "Rare values: ")) (rv.column) } dd { (rv.rare_values) } }
                @if !r.special.is_empty() { dt { (l.pick("要配慮情報", "Special categories")) } dd { (r.special.join(", ")) } }
            }
        }
        @if reviewing && v.allowed.iter().any(|s| s == "approved") {
            h2 { (l.pick("投票", "Vote")) }
            form method="post" action=(format!("/applications/{id}/votes")) {
                input type="hidden" name="csrf" value=(csrf);
                fieldset {
                    legend { (l.pick("判断", "Your vote")) }
                    label class="check" { input type="radio" name="vote" value="approve" required; (l.pick("承認", "Approve")) }
                    label class="check" { input type="radio" name="vote" value="approve_with_conditions"; (l.pick("条件付き承認", "Approve with conditions")) }
                    label class="check" { input type="radio" name="vote" value="reject"; (l.pick("不承認", "Reject")) }
                }
                label for="comment" { (l.pick("理由", "Reasons")) }
                textarea id="comment" name="comment" rows="3" required {}
                button type="submit" { (l.pick("投票する", "Vote")) }
            }
        }
        @if let Some(votes) = &v.votes {
            @if !votes.is_empty() {
                h2 { (l.pick("投票", "Votes")) }
                ul id="votes" { @for vote in votes { li { (vote.reviewer) ": " (format!("{:?}", vote.vote)) " — " (vote.comment) } } }
            }
        }
        h2 { (l.pick("経過", "History")) }
        div class="wide" {
            table {
                thead { tr { th scope="col" { (l.pick("日時", "When")) } th scope="col" { (l.pick("手続", "Step")) } th scope="col" { (l.pick("担当", "By")) } th scope="col" { (l.pick("理由", "Reason")) } } }
                tbody { @for t in &v.history { tr { td { (jst(t.at)) } td { (t.step) } td { (t.actor) } td { (t.reason) } } } }
            }
        }
        p { a href="/applications" { (l.pick("一覧に戻る", "Back to the list")) } }
    };
    Ok(page(lang, &a.form.title, Some(user), body).into_response())
}

/// `POST /applications/{id}/votes`.
pub async fn vote(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    check_csrf(&principal, fields.get("csrf").map_or("", String::as_str))?;
    let who = acting(&principal)?;
    let id = ApplicationId::parse(&id).map_err(|e| Error::BadRequest(e.to_string()))?;
    let vote = match fields.get("vote").map(String::as_str) {
        Some("approve") => VoteKind::Approve,
        Some("approve_with_conditions") => VoteKind::ApproveWithConditions,
        Some("reject") => VoteKind::Reject,
        _ => return Err(Error::BadRequest("vote: choose one".to_owned())),
    };
    let comment = fields.get("comment").map_or("", String::as_str);
    state.review().vote(&who, &id, vote, comment).await?;
    Ok(Redirect::to(&format!("/applications/{id}")).into_response())
}
