//! 名寄せ確認 (clerical review), for operators: the queue of links made on
//! kana name, birth date and sex alone, each item's two sides compared, and
//! the decision 同一人物 (same) or 別人 (different).
//!
//! Reading attributes is an operator action with a reason. The queue and an
//! item's page show ids and keys only, never an attribute, not even masked.
//! The comparison is the answer to a POST form (CSRF token, a required
//! reason): a cross-site link cannot make an operator's browser read
//! attributes, the reason is not left in a URL, history or Referer, and the
//! page carries `Cache-Control: no-store`. Each read is audited by the
//! access layer with the review item in its path and the person key and
//! number of records added ([`AuditDetail`]); identity checks the reason.

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use renkei_core::{IdentifyingAttributes, Sex};
use renkei_identity::curation::{AttributeRecord, Decision, ReviewItem, ReviewReason, ReviewState};
use renkei_identity::normalize;
use serde::Deserialize;

use super::collect::when;
use super::layout::{Lang, Page, PageLang, page};
use super::login::check_csrf;
use crate::access::{AuditDetail, Principal};
use crate::api::identity::{
    NO_STORE, decide as decide_item, open_only, read_attributes, review_item, state_name,
};
use crate::{AppState, Error};

/// How many items the queue page lists.
const PAGE_LIMIT: u32 = 200;

/// A review item id from the path: item ids are UUIDs, so anything else is
/// an item that does not exist (and is never echoed into a header).
fn item_id(id: &str) -> Result<&str, Error> {
    uuid::Uuid::try_parse(id)
        .map(|_| id)
        .map_err(|_| Error::NotFound(format!("review item {id}")))
}

fn reason_label(l: Lang, r: ReviewReason) -> &'static str {
    match r {
        ReviewReason::NameBirthSexOnly => l.pick(
            "カナ氏名・生年月日・性別のみで連結（保険者番号または患者IDが一致しない）",
            "Linked on kana name, birth date and sex alone (the insurance number or patient id is new)",
        ),
        ReviewReason::AttributesDisagree => l.pick(
            "番号で連結、カナ氏名・生年月日・性別が一致しない",
            "Linked by a number, but the kana name, birth date or sex differ",
        ),
        ReviewReason::Probabilistic => l.pick(
            "確率的照合で別の人物と同一の可能性（自動連結の閾値未満）",
            "The probabilistic pass found another person likely the same (below the automatic threshold)",
        ),
        ReviewReason::ConcurrentLink => l.pick(
            "同時に受け付けた提出が同じ番号を別の人物に付与（先に確定した人物に残置）",
            "Two submissions at once gave one number to two persons (it stayed with the one committed first)",
        ),
    }
}

fn state_label(l: Lang, s: ReviewState) -> &'static str {
    match s {
        ReviewState::Open => l.pick("未判定", "open"),
        ReviewState::Same => l.pick("同一人物", "same person"),
        ReviewState::Different => l.pick("別人（分離済み）", "different (split off)"),
    }
}

/// Query of the queue page.
#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    /// `open` (the default) or `all`.
    state: Option<String>,
    /// The item just decided, to confirm it.
    decided: Option<String>,
}

/// `GET /identity/review`: the queue.
pub async fn queue(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueueQuery>,
) -> Result<Page, Error> {
    let l = lang.lang;
    let user = principal.user().ok_or(Error::Unauthenticated)?;
    let open = open_only(q.state.as_deref())?;
    let items = state.identity().review_queue(open, PAGE_LIMIT).await?;
    let decided = match q.decided.as_deref().map(item_id) {
        Some(Ok(id)) => review_item(&state, id).await.ok(),
        _ => None,
    };
    let body = html! {
        p { (l.pick(
            "保険者番号が一致しないまま、カナ氏名・生年月日・性別だけで同じ人物に連結された記録です（転職などによる保険の変更か、同姓同名・同日生まれの別人）。それぞれ確認し、同一人物か別人かを判定してください。別人と判定すると、その記録は新しい人物に分離されます。",
            "Records linked to a person on kana name, birth date and sex alone although their insurance number differs: an insurer change, or a namesake born the same day. Review each and decide whether it is the same person or a different one; a different one is split off into a new person."
        )) }
        @if let Some(item) = &decided {
            div class="notice" role="status" {
                p {
                    (l.pick("判定を記録しました", "Decision recorded")) ": "
                    code { (item.record_id) } " — " strong { (state_label(l, item.state)) }
                }
            }
        }
        p {
            @if open {
                (l.pick("未判定のみ表示しています。", "Showing open items only. "))
                a href="/identity/review?state=all" { (l.pick("判定済みも表示", "Show decided items too")) }
            } @else {
                (l.pick("判定済みを含めて表示しています。", "Showing decided items too. "))
                a href="/identity/review" { (l.pick("未判定のみ表示", "Show open items only")) }
            }
        }
        @if items.is_empty() {
            p { (l.pick("確認待ちの連結はありません。", "Nothing is waiting for review.")) }
        } @else {
            (queue_table(l, &items))
        }
        p { (l.pick(
            "この一覧には識別情報（氏名・保険者番号など）を表示しません。比較には閲覧理由の入力が必要で、閲覧は監査ログに記録されます。",
            "This list shows no identifying attributes (names, insurance numbers …). Comparing requires a stated reason, and the read is recorded in the audit log."
        )) }
    };
    Ok(page(
        lang,
        l.pick("名寄せ確認", "Clerical review"),
        Some(user),
        body,
    ))
}

fn queue_table(l: Lang, items: &[ReviewItem]) -> Markup {
    let caption = l.pick("確認待ちの連結（古い順）", "Links to review, oldest first");
    html! {
        div class="wide" role="region" aria-label=(caption) tabindex="0" {
            table {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { (l.pick("登録日時", "Queued")) }
                        th scope="col" { (l.pick("理由", "Why")) }
                        th scope="col" { (l.pick("連結された記録", "Record linked")) }
                        th scope="col" { (l.pick("連結先の人物", "Person linked to")) }
                        th scope="col" { (l.pick("状態", "State")) }
                    }
                }
                tbody {
                    @for item in items {
                        tr {
                            th scope="row" {
                                a href={ "/identity/review/" (item.id) } { (when(item.created_at)) }
                            }
                            td { (reason_label(l, item.reason)) }
                            td { code { (item.record_id) } }
                            td { code { (item.person_key) } }
                            td { (state_label(l, item.state)) }
                        }
                    }
                }
            }
        }
    }
}

fn item_facts(l: Lang, item: &ReviewItem) -> Markup {
    html! {
        dl {
            dt { (l.pick("確認項目ID", "Review item")) } dd { code { (item.id) } }
            dt { (l.pick("理由", "Why")) } dd { (reason_label(l, item.reason)) }
            dt { (l.pick("連結された記録", "Record linked")) } dd { code { (item.record_id) } }
            dt { (l.pick("連結先の人物", "Person linked to")) } dd { code { (item.person_key) } }
            dt { (l.pick("登録日時", "Queued")) } dd { (when(item.created_at)) }
            dt { (l.pick("状態", "State")) } dd { (state_label(l, item.state)) }
        }
    }
}

/// `GET /identity/review/{id}`: an item, and the form that asks why its
/// attributes are to be read.
pub async fn item(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Page, Error> {
    let l = lang.lang;
    let Principal::Session { user, csrf } = &principal else {
        return Err(Error::Unauthenticated);
    };
    let item = review_item(&state, item_id(&id)?).await?;
    let body = html! {
        (item_facts(l, &item))
        @if item.state == ReviewState::Open {
            h2 { (l.pick("識別情報を比較する", "Compare the identifying attributes")) }
            p { (l.pick(
                "比較には、この記録と連結先の人物の記録を復号して表示します。閲覧は運営者の操作として、あなたのアカウント・日時・person_key とともに監査ログに記録されます。閲覧の理由を入力してください。",
                "Comparing decrypts and shows this record and the other records of the person it was linked to. The read is an operator action, recorded in the audit log with your account, the time and the person_key. State why you read them."
            )) }
            form method="post" action={ "/identity/review/" (item.id) "/attributes" } {
                input type="hidden" name="csrf" value=(csrf);
                label for="read-reason" { (l.pick("閲覧理由", "Reason for reading")) }
                textarea id="read-reason" name="reason" required maxlength="500" rows="2" {}
                button type="submit" { (l.pick("識別情報を表示して比較", "Show and compare")) }
            }
        } @else {
            p { (l.pick("この連結は判定済みです。", "This link has been decided.")) }
        }
        p { a href="/identity/review" { (l.pick("一覧に戻る", "Back to the queue")) } }
    };
    Ok(page(
        lang,
        l.pick("名寄せ確認", "Clerical review"),
        Some(user),
        body,
    ))
}

/// The attribute-read form.
#[derive(Debug, Deserialize)]
pub struct ReadForm {
    csrf: String,
    reason: Option<String>,
}

/// `POST /identity/review/{id}/attributes`: both sides compared, and the
/// decision form. Not cached; audited with the person key.
pub async fn compare(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<ReadForm>,
) -> Result<Response, Error> {
    check_csrf(&principal, &form.csrf)?;
    let Principal::Session { user, csrf } = &principal else {
        return Err(Error::Unauthenticated);
    };
    let l = lang.lang;
    let item = review_item(&state, item_id(&id)?).await?;
    if item.state != ReviewState::Open {
        return Err(Error::Conflict(format!(
            "review item {} was already decided ({})",
            item.id,
            state_name(item.state)
        )));
    }
    let mut detail = format!("person={}", item.person_key);
    let records = match read_attributes(
        &state,
        user,
        &item.person_key,
        form.reason.as_deref(),
        &mut detail,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return Ok(AuditDetail::attach(detail, e)),
    };
    let (linked, others): (Vec<&AttributeRecord>, Vec<&AttributeRecord>) =
        records.iter().partition(|r| r.id == item.record_id);
    let body = html! {
        (item_facts(l, &item))
        div class="notice" role="status" {
            p { (l.pick(
                "識別情報を表示しています。この閲覧は監査ログに記録されました。画面を閉じると再表示には再び理由が必要です。",
                "Showing identifying attributes. This read has been recorded in the audit log; showing them again needs a reason again."
            )) }
        }
        @match linked.first() {
            Some(record) => {
                (comparison(l, record, &others))
                h2 { (l.pick("判定", "Decision")) }
                form method="post" action={ "/identity/review/" (item.id) } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="decision-reason" { (l.pick("判定理由", "Reason for the decision")) }
                    textarea id="decision-reason" name="reason" required maxlength="500" rows="2" {}
                    button type="submit" name="decision" value="same" { (l.pick("同一人物（連結を維持）", "Same person (keep the link)")) }
                    " "
                    button type="submit" name="decision" value="different" { (l.pick("別人（記録を分離）", "Different person (split the record off)")) }
                }
            },
            None => {
                p class="error" { (l.pick(
                    "この記録は既に連結先の人物から分離されています。判定は不要です。",
                    "This record has already been split off the person; there is nothing to decide."
                )) }
            },
        }
        p { a href="/identity/review" { (l.pick("一覧に戻る", "Back to the queue")) } }
    };
    let page = page(
        lang,
        l.pick("名寄せ確認", "Clerical review"),
        Some(user),
        body,
    );
    Ok(AuditDetail::attach(detail, (NO_STORE, page)))
}

/// One row of the comparison: a label, how to show the value, and how to
/// compare two values (`None`: not comparable across providers).
struct Field {
    ja: &'static str,
    en: &'static str,
    value: fn(&IdentifyingAttributes, Lang) -> Option<String>,
    key: Option<fn(&str) -> String>,
}

fn date_key(text: &str) -> String {
    normalize::date::date_iso(text).unwrap_or_else(|_| text.trim().to_owned())
}

fn sex_label(sex: Sex, l: Lang) -> String {
    match sex {
        Sex::Male => l.pick("男性", "male"),
        Sex::Female => l.pick("女性", "female"),
        Sex::Other => l.pick("その他", "other"),
        Sex::Unknown => l.pick("不明", "unknown"),
    }
    .to_owned()
}

const FIELDS: [Field; 12] = [
    Field {
        ja: "氏名（カナ）",
        en: "Name (kana)",
        value: |a, _| a.kana_name.clone(),
        key: Some(normalize::name::kana_name_key),
    },
    Field {
        ja: "氏名（漢字）",
        en: "Name (kanji)",
        value: |a, _| a.kanji_name.clone(),
        key: Some(normalize::name::kanji_name_key),
    },
    Field {
        ja: "生年月日",
        en: "Birth date",
        value: |a, _| a.birth_date.clone(),
        key: Some(date_key),
    },
    Field {
        ja: "性別",
        en: "Sex",
        value: |a, l| a.sex.map(|s| sex_label(s, l)),
        key: Some(str::to_owned),
    },
    Field {
        ja: "保険者番号",
        en: "Insurer number",
        value: |a, _| a.insurer_number.clone(),
        key: Some(normalize::identifier),
    },
    Field {
        ja: "被保険者証記号",
        en: "Insured symbol",
        value: |a, _| a.insured_symbol.clone(),
        key: Some(normalize::identifier),
    },
    Field {
        ja: "被保険者証番号",
        en: "Insured number",
        value: |a, _| a.insured_number.clone(),
        key: Some(normalize::identifier),
    },
    Field {
        ja: "枝番",
        en: "Branch number",
        value: |a, _| a.insured_branch.clone(),
        key: Some(normalize::identifier),
    },
    Field {
        ja: "郵便番号",
        en: "Postal code",
        value: |a, _| a.postal_code.clone(),
        key: Some(normalize::identifier),
    },
    Field {
        ja: "住所",
        en: "Address",
        value: |a, _| a.address.clone(),
        key: Some(normalize::name::text_key),
    },
    Field {
        ja: "電話番号",
        en: "Telephone",
        value: |a, _| a.phone.clone(),
        key: Some(normalize::identifier),
    },
    Field {
        ja: "医療機関の患者ID",
        en: "Provider's patient id",
        value: |a, _| a.local_patient_id.clone(),
        key: None,
    },
];

/// The linked record beside every other record of the person, a row per
/// attribute, each other value marked as agreeing or not.
fn comparison(l: Lang, linked: &AttributeRecord, others: &[&AttributeRecord]) -> Markup {
    let caption = l.pick(
        "識別情報の比較（左: 確認対象の記録、右: 連結先の人物の記録）",
        "Identifying attributes compared (left: the record under review; right: the person's records)",
    );
    html! {
        div class="wide" role="region" aria-label=(caption) tabindex="0" {
            table {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { (l.pick("項目", "Attribute")) }
                        th scope="col" {
                            (l.pick("確認対象の記録", "Record under review")) br;
                            small { (l.pick("医療機関 ", "provider ")) code { (linked.provider) } }
                        }
                        @for (i, r) in others.iter().enumerate() {
                            th scope="col" {
                                (l.pick("連結先の記録 ", "Person's record ")) (i + 1) br;
                                small { (l.pick("医療機関 ", "provider ")) code { (r.provider) } }
                            }
                        }
                    }
                }
                tbody {
                    @for f in &FIELDS {
                        @let mine = (f.value)(&linked.attributes, l);
                        tr {
                            th scope="row" { (l.pick(f.ja, f.en)) }
                            td { (mine.as_deref().unwrap_or("—")) }
                            @for r in others {
                                @let theirs = (f.value)(&r.attributes, l);
                                td {
                                    (theirs.as_deref().unwrap_or("—"))
                                    @if let (Some(key), Some(a), Some(b)) = (f.key, mine.as_deref(), theirs.as_deref()) {
                                        " "
                                        @if key(a) == key(b) {
                                            span class="same" { (l.pick("（一致）", "(agrees)")) }
                                        } @else {
                                            span class="differs" { (l.pick("（不一致）", "(differs)")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if others.is_empty() {
            p { (l.pick("連結先の人物には、ほかの記録がありません。", "The person has no other record.")) }
        }
    }
}

/// `GET /identity/review/{id}/attributes` (the language switch on the
/// comparison, or a reload): reading again needs a reason again, so back to
/// the item.
pub async fn compare_again(
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Redirect, Error> {
    let id = item_id(&id)?;
    let lang = match q.lang.as_deref() {
        Some(code @ ("ja" | "en")) => format!("?lang={code}"),
        _ => String::new(),
    };
    Ok(Redirect::to(&format!("/identity/review/{id}{lang}")))
}

/// Just the language of a query.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The decision form.
#[derive(Debug, Deserialize)]
pub struct DecideForm {
    csrf: String,
    decision: String,
    reason: Option<String>,
}

/// `POST /identity/review/{id}`: records the decision and goes back to the
/// queue, which confirms it.
pub async fn decide(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Result<Response, Error> {
    check_csrf(&principal, &form.csrf)?;
    let user = principal.user().ok_or(Error::Unauthenticated)?;
    let id = item_id(&id)?;
    let decision = match form.decision.as_str() {
        "same" => Decision::Same,
        "different" => Decision::Different,
        other => {
            return Err(Error::BadRequest(format!(
                "decision: {other:?} is not one of \"same\", \"different\""
            )));
        }
    };
    let mut detail = String::new();
    let result = decide_item(
        &state,
        user,
        id,
        decision,
        form.reason.as_deref(),
        &mut detail,
    )
    .await
    .map(|_| Redirect::to(&format!("/identity/review?decided={id}")));
    Ok(AuditDetail::attach(detail, result.into_response()))
}
