//! The patient portal (患者ポータル): identify, see what stands, opt out or
//! withdraw, and see which projects used one's data. Japanese first,
//! usable on a phone and by keyboard; no JavaScript.
//!
//! The identification form is public and protected like sign-in (a
//! double-submit CSRF cookie); the pages after it belong to the patient
//! session, whose own CSRF token every form echoes.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use renkei_core::Timestamp;
use renkei_optout::{Change, ChangeKind, DataCategory, Purpose, Scope};
use serde::Deserialize;

use super::layout::{Lang, PageLang, page};
use super::login::{FormCsrf, check_csrf, cookie_header};
use crate::access::{PATIENT_COOKIE, Principal, cookie};
use crate::accounts::PatientToken;
use crate::api::optout::{IdentifyRequest, patient, patient_view, start_patient_session};
use crate::client::ClientIp;
use crate::{AppState, Error};

/// The identification form's double-submit token (no session yet).
const IDENTIFY_CSRF: FormCsrf = FormCsrf {
    cookie: "renkei_patient_csrf",
    path: "/patient",
};

/// `YYYY-MM-DD HH:MM` in Japan.
pub(crate) fn jst(t: Timestamp) -> String {
    t.jst_minute()
}

/// A scope in the page's language.
pub(crate) fn scope_label(scope: &Scope, l: Lang) -> String {
    match l {
        Lang::Ja => scope.label_ja(),
        Lang::En => scope.label_en(),
    }
}

/// A register key (`all`, or a purpose) in the page's language.
pub(crate) fn key_label(key: &str, l: Lang) -> String {
    match Scope::parse(key) {
        Ok(scope) => scope_label(&scope, l),
        Err(_) => key.to_owned(),
    }
}

/// Every purpose the form offers: the fixed ones, then the configured
/// categories.
pub(crate) fn offered(state: &AppState) -> Vec<Purpose> {
    let mut out = Purpose::FIXED.to_vec();
    out.extend(
        state
            .config()
            .optout
            .categories
            .iter()
            .filter_map(|c| DataCategory::parse(c).ok())
            .map(Purpose::Category),
    );
    out
}

fn purpose_field(p: &Purpose) -> String {
    format!("p_{}", p.to_string().replace(':', "_"))
}

fn identify_page(state: &AppState, lang: PageLang, error: Option<&str>) -> Response {
    let l = lang.lang;
    let (csrf, csrf_cookie) = IDENTIFY_CSRF.issue(state);
    let body = html! {
        p { (l.pick(
            "あなたの医療情報を研究などに使わないよう申し出る（オプトアウト）ことができます。申し出はいつでも撤回できます。",
            "You can ask that your medical information not be used for research and other secondary uses (opt out). You can withdraw the request at any time."
        )) }
        p class="hint" { (l.pick(
            "本人確認のため、保険証に記載の内容を入力してください。入力内容が医療機関から届いた記録と一致した場合に進めます。",
            "To confirm who you are, enter the details printed on your health insurance card. You can continue when they match the records your providers sent."
        )) }
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        form method="post" action="/patient" {
            input type="hidden" name="csrf" value=(csrf);
            label for="kana_name" { (l.pick("氏名（カタカナ）", "Name in katakana")) }
            input id="kana_name" name="kana_name" autocomplete="name" required placeholder="ヤマダ タロウ";
            label for="birth_date" { (l.pick("生年月日", "Date of birth")) }
            input id="birth_date" name="birth_date" type="date" autocomplete="bday" required;
            fieldset {
                legend { (l.pick("性別", "Sex")) }
                label class="check" { input type="radio" name="sex" value="female" required; (l.pick("女性", "Female")) }
                label class="check" { input type="radio" name="sex" value="male"; (l.pick("男性", "Male")) }
            }
            label for="insurer_number" { (l.pick("保険者番号", "Insurer number")) }
            input id="insurer_number" name="insurer_number" inputmode="numeric" required;
            label for="insured_symbol" { (l.pick("記号（ある場合）", "Symbol (if any)")) }
            input id="insured_symbol" name="insured_symbol";
            label for="insured_number" { (l.pick("番号", "Number")) }
            input id="insured_number" name="insured_number" required;
            label for="insured_branch" { (l.pick("枝番", "Branch number (枝番)")) }
            input id="insured_branch" name="insured_branch" inputmode="numeric" aria-describedby="branch-hint";
            p id="branch-hint" class="hint" { (l.pick("2021年以降に発行された保険証に記載されています。記載がなければ空欄のまま。", "Printed on cards issued since 2021; leave empty if your card has none.")) }
            button type="submit" { (l.pick("本人確認して進む", "Confirm and continue")) }
        }
        p { a href="/register/optouts" { (l.pick("オプトアウトの統計（公開）", "Opt-out statistics (public)")) } }
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut response = (
        status,
        page(lang, l.pick("オプトアウトの申出", "Opt out"), None, body),
    )
        .into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, csrf_cookie);
    response
}

/// `GET /patient`: the identification form, or on to the status page for
/// a patient already identified.
pub async fn identify_form(
    State(state): State<AppState>,
    lang: PageLang,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = cookie(&headers, PATIENT_COOKIE).and_then(PatientToken::parse)
        && let Ok(Some(_)) = state.accounts().patient_session(&token).await
    {
        return Redirect::to("/patient/optouts").into_response();
    }
    identify_page(&state, lang, None)
}

/// The identification form as posted.
#[derive(Deserialize)]
pub struct IdentifyForm {
    csrf: String,
    kana_name: String,
    birth_date: String,
    #[serde(default)]
    sex: String,
    insurer_number: String,
    #[serde(default)]
    insured_symbol: String,
    insured_number: String,
    #[serde(default)]
    insured_branch: String,
}

impl std::fmt::Debug for IdentifyForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentifyForm(<redacted>)")
    }
}

/// `POST /patient`.
pub async fn identify(
    State(state): State<AppState>,
    client: ClientIp,
    lang: PageLang,
    headers: HeaderMap,
    Form(form): Form<IdentifyForm>,
) -> Response {
    let l = lang.lang;
    if !IDENTIFY_CSRF.holds(&headers, &form.csrf) {
        return Error::Csrf.into_response();
    }
    let request = IdentifyRequest {
        kana_name: form.kana_name,
        birth_date: form.birth_date,
        sex: form.sex,
        insurer_number: form.insurer_number,
        insured_symbol: Some(form.insured_symbol),
        insured_number: form.insured_number,
        insured_branch: Some(form.insured_branch),
    };
    let (token, session) = match start_patient_session(&state, client, &request).await {
        Ok(s) => s,
        Err(Error::NotIdentified) => {
            let msg = l.pick(
                "入力された内容と一致する記録が見つかりませんでした。保険証の記載と照らし合わせてください。",
                "No record matches the details you entered. Please check them against your insurance card.",
            );
            return identify_page(&state, lang, Some(msg));
        }
        Err(Error::BadRequest(detail)) => {
            let msg = format!(
                "{} ({detail})",
                l.pick(
                    "入力内容に不備があります。",
                    "Something is missing or malformed."
                )
            );
            return identify_page(&state, lang, Some(&msg));
        }
        Err(e) => return e.into_response(),
    };
    let age = i64::from(state.config().optout.patient_session_minutes) * 60;
    let mut response = Redirect::to("/patient/optouts").into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(&state, PATIENT_COOKIE, token.expose(), "/", Some(age)),
    );
    h.append(header::SET_COOKIE, IDENTIFY_CSRF.clear(&state));
    drop(session);
    response
}

/// Query of the status page: what was just done.
#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    error: Option<String>,
}

fn change_kind(c: &Change, l: Lang) -> &'static str {
    match c.kind {
        ChangeKind::OptOut => l.pick("オプトアウト", "Opt-out"),
        ChangeKind::Withdrawal { .. } => l.pick("撤回", "Withdrawal"),
    }
}

/// `GET /patient/optouts`: what stands, the form, which projects used the
/// data, and the whole history.
pub async fn status(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, Error> {
    let l = lang.lang;
    let session = patient(&principal)?;
    let view = patient_view(&state, &session.person).await?;
    let done = match q.done.as_deref().map(renkei_optout::Receipt::parse) {
        Some(Ok(receipt)) => state.optout().change(&receipt).await.ok(),
        _ => None,
    };
    let done = done.filter(|c| c.person == session.person);
    let body = html! {
        @if let Some(c) = &done {
            div class="ok" role="status" {
                p { (change_kind(c, l)) (l.pick("を受け付けました。", " recorded.")) }
                p { (l.pick("受付番号", "Receipt number")) ": " span class="receipt" { (c.receipt) } }
                p class="hint" { (l.pick(
                    "受付番号は控えておいてください。次回以降のデータ抽出から反映されます。",
                    "Keep the receipt number. The change applies from the next data extract on."
                )) }
            }
        }
        @if let Some(e) = q.error.as_deref().and_then(FormError::parse) {
            p class="error" role="alert" { (e.message(l)) }
        }
        h2 { (l.pick("現在の設定", "Where you stand")) }
        @if view.standing.is_empty() {
            p { (l.pick(
                "オプトアウトしていません。あなたの医療情報は、氏名などを取り除いた上で、審査を経て許可された研究などに利用されることがあります。",
                "You have not opted out. Your medical information, with your name and other identifiers removed, may be used for research and other uses that pass review."
            )) }
        } @else {
            div class="wide" {
                table {
                    caption { (l.pick("有効なオプトアウト", "Your opt-outs")) }
                    thead { tr {
                        th scope="col" { (l.pick("範囲", "Scope")) }
                        th scope="col" { (l.pick("適用", "Applies")) }
                        th scope="col" { (l.pick("受付番号", "Receipt")) }
                        th scope="col" { span class="no-print" { (l.pick("操作", "Action")) } }
                    } }
                    tbody {
                        @for s in &view.standing {
                            tr {
                                td { (scope_label(&s.change.scope, l)) }
                                td {
                                    @if s.in_force { (l.pick("適用中（", "in force (since ")) (jst(s.change.effective_from)) (l.pick("から）", ")")) }
                                    @else { (jst(s.change.effective_from)) (l.pick(" から適用", " onwards")) }
                                }
                                td class="receipt" { (s.change.receipt) }
                                td {
                                    form class="inline" method="post" action=(format!("/patient/optouts/{}/withdraw", s.change.receipt)) {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        button type="submit" aria-label=(format!("{} {}", l.pick("撤回する", "Withdraw"), s.change.receipt)) { (l.pick("撤回する", "Withdraw")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 id="optout-form" { (l.pick("オプトアウトを申し出る", "Opt out")) }
        (opt_out_form(&state, l, &session.csrf))
        h2 { (l.pick("あなたのデータを利用したプロジェクト", "Projects that used your data")) }
        @if view.used_by.is_empty() {
            p { (l.pick(
                "あなたのデータを含む抽出の記録はありません。許可されたプロジェクトは公開の登録簿で確認できます。",
                "No extract on record includes your data. Permitted projects are listed on the public register."
            )) " " a href="/register" { (l.pick("公開登録簿", "Public register")) } }
        } @else {
            div class="wide" {
                table id="used-by" {
                    caption { (l.pick("あなたのデータを含む抽出が作られたプロジェクト", "Projects given an extract that includes your data")) }
                    thead { tr {
                        th scope="col" { (l.pick("プロジェクト", "Project")) }
                        th scope="col" { (l.pick("利用者", "Holder")) }
                        th scope="col" { (l.pick("目的", "Purpose")) }
                        th scope="col" { (l.pick("抽出日時", "Extracted")) }
                    } }
                    tbody {
                        @for u in &view.used_by {
                            tr {
                                td { (u.title) }
                                td { (u.holder) }
                                td { (u.purpose) }
                                td { (jst(u.extracted_at)) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.pick("履歴", "History")) }
        @if view.history.is_empty() {
            p { (l.pick("まだ申出はありません。", "Nothing yet.")) }
        } @else {
            div class="wide" {
                table {
                    caption { (l.pick("これまでの申出（古い順）", "Every change, oldest first")) }
                    thead { tr {
                        th scope="col" { (l.pick("受付日時", "Recorded")) }
                        th scope="col" { (l.pick("種類", "Kind")) }
                        th scope="col" { (l.pick("範囲", "Scope")) }
                        th scope="col" { (l.pick("申出者", "By")) }
                        th scope="col" { (l.pick("受付番号", "Receipt")) }
                    } }
                    tbody {
                        @for c in &view.history {
                            tr {
                                td { (jst(c.recorded_at)) }
                                td { (change_kind(c, l)) }
                                td { (scope_label(&c.scope, l)) }
                                td { (c.submitter.label_ja()) }
                                td class="receipt" { (c.receipt) }
                            }
                        }
                    }
                }
            }
        }
        p class="hint" { (l.pick("登録簿の版", "Registry version")) ": " (view.registry_version) }
        form class="no-print" method="post" action="/patient/signout" {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" { (l.pick("終了する", "Sign out")) }
        }
    };
    Ok(page(
        lang,
        l.pick("オプトアウトの状況", "Your opt-out status"),
        None,
        body,
    )
    .into_response())
}

fn opt_out_form(state: &AppState, l: Lang, csrf: &str) -> Markup {
    html! {
        form method="post" action="/patient/optouts" {
            input type="hidden" name="csrf" value=(csrf);
            fieldset {
                legend { (l.pick("範囲（いずれかを選んでください）", "Scope (choose at least one)")) }
                label class="check" { input type="checkbox" name="all" value="on"; (l.pick("全ての二次利用", "All secondary use")) }
                @for p in offered(state) {
                    label class="check" { input type="checkbox" name=(purpose_field(&p)) value="on"; (match l { Lang::Ja => p.label_ja(), Lang::En => p.label_en() }) }
                }
            }
            label for="effective_date" { (l.pick("適用開始日（空欄なら直ちに）", "Effective from (empty: at once)")) }
            input id="effective_date" name="effective_date" type="date";
            button type="submit" { (l.pick("申し出る", "Opt out")) }
        }
    }
}

/// What can go wrong with a portal form, as named in the status page's
/// `?error=` code. The page shows a fixed message for a known code and
/// nothing for any other, so the URL cannot put text of someone else's
/// choosing on the platform's page (content injection through a link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FormError {
    NoScope,
    UnreadableDate,
    PastDate,
    AlreadyWithdrawn,
}

impl FormError {
    const ALL: [FormError; 4] = [
        FormError::NoScope,
        FormError::UnreadableDate,
        FormError::PastDate,
        FormError::AlreadyWithdrawn,
    ];

    fn code(self) -> &'static str {
        match self {
            FormError::NoScope => "no-scope",
            FormError::UnreadableDate => "unreadable-date",
            FormError::PastDate => "past-date",
            FormError::AlreadyWithdrawn => "already-withdrawn",
        }
    }

    fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }

    fn message(self, l: Lang) -> &'static str {
        match self {
            FormError::NoScope => l.pick(
                "範囲を一つ以上選んでください。",
                "Choose at least one scope.",
            ),
            FormError::UnreadableDate => l.pick(
                "適用開始日を読み取れません。",
                "The effective date cannot be read.",
            ),
            FormError::PastDate => l.pick(
                "過去の日付は指定できません。",
                "The effective date cannot be in the past.",
            ),
            FormError::AlreadyWithdrawn => {
                l.pick("すでに撤回されています。", "It was already withdrawn.")
            }
        }
    }
}

fn back_with_error(error: FormError) -> Response {
    Redirect::to(&format!("/patient/optouts?error={}", error.code())).into_response()
}

/// `POST /patient/optouts`.
pub async fn opt_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    check_csrf(&principal, form.get("csrf").map_or("", String::as_str))?;
    let session = patient(&principal)?;
    let scope = if form.contains_key("all") {
        Scope::All
    } else {
        let chosen: Vec<Purpose> = offered(&state)
            .into_iter()
            .filter(|p| form.contains_key(&purpose_field(p)))
            .collect();
        match Scope::purposes(chosen) {
            Ok(s) => s,
            Err(_) => {
                return Ok(back_with_error(FormError::NoScope));
            }
        }
    };
    let effective_from = match form.get("effective_date").map(|d| d.trim()) {
        None | Some("") => None,
        Some(date) => {
            let Ok(t) = Timestamp::parse_rfc3339(&format!("{date}T00:00:00+09:00")) else {
                return Ok(back_with_error(FormError::UnreadableDate));
            };
            let now = state.clock().now();
            if t <= now {
                if jst(t).get(..10) == jst(now).get(..10) {
                    None
                } else {
                    return Ok(back_with_error(FormError::PastDate));
                }
            } else {
                Some(t)
            }
        }
    };
    let change = state
        .optout()
        .opt_out(
            renkei_optout::OptOutRequest {
                person: session.person,
                scope,
                effective_from,
                submitter: renkei_optout::Submitter::Person,
                channel: renkei_optout::Channel::Portal,
            },
            renkei_core::Actor::Patient {
                person_key: session.person,
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/patient/optouts?done={}", change.receipt)).into_response())
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /patient/optouts/{receipt}/withdraw`.
pub async fn withdraw(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(receipt): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Error> {
    check_csrf(&principal, &form.csrf)?;
    let session = patient(&principal)?;
    let (request, actor) = crate::api::optout::own_withdrawal(session.person, &receipt)?;
    let result = state.optout().withdraw(request, actor).await;
    match result {
        Ok(change) => {
            Ok(Redirect::to(&format!("/patient/optouts?done={}", change.receipt)).into_response())
        }
        Err(renkei_optout::Error::AlreadyWithdrawn { .. }) => {
            Ok(back_with_error(FormError::AlreadyWithdrawn))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /patient/signout`.
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Error> {
    check_csrf(&principal, &form.csrf)?;
    if let Some(token) = cookie(&headers, PATIENT_COOKIE).and_then(PatientToken::parse) {
        state.accounts().end_patient_session(&token).await?;
    }
    let mut response = Redirect::to("/patient").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&state, PATIENT_COOKIE, "", "/", Some(0)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_error_code_reads_back() {
        for e in FormError::ALL {
            assert_eq!(FormError::parse(e.code()), Some(e));
        }
        assert_eq!(
            FormError::parse("Call 0120-000-000 to keep your data"),
            None
        );
    }
}
