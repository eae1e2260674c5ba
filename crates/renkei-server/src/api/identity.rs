//! Identity's curation API (患者の識別子), for operators: the
//! clerical-review queue of links made on kana name, birth date and sex
//! alone, the decisions on it, merges and splits of persons, the event
//! history that maps old person keys onto current ones, and a person's
//! decrypted attributes for a stated reason.
//!
//! The access layer allows operators only and audits every call. Since a
//! merge or split names its persons in the body, not the path, each
//! handler adds them (and the event it made) to the audit entry with
//! [`AuditDetail`]. Attribute values never go into the audit entry, and
//! neither does the free-text reason: the audit event holds ids and counts
//! only, and has no field for a reason. The reasons of merges, splits and
//! decisions are kept by identity with the event (`GET
//! /api/v1/identity/events`), which the audit entry names.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use renkei_core::PersonKey;
use renkei_identity::curation::{AttributeRecord, Decision, PersonEvent, ReviewItem, ReviewState};
use serde::Deserialize;

use super::ApiJson;
use super::tokens::signed_in;
use crate::access::{AuditDetail, Principal};
use crate::accounts::User;
use crate::{AppState, Error, Result};

/// How many review items a list holds when the caller does not say.
const DEFAULT_LIMIT: u32 = 100;
/// The most a list holds.
const MAX_LIMIT: u32 = 1000;

/// Who did a curation step, as identity records it: `operator:<user name>`.
pub(crate) fn actor(user: &User) -> String {
    format!("{}:{}", user.role.as_str(), user.username)
}

/// The stated reason, trimmed; a missing or blank one is the caller's
/// fault (400).
pub(crate) fn stated<'a>(field: &str, reason: Option<&'a str>) -> Result<&'a str> {
    match reason.map(str::trim) {
        Some(r) if !r.is_empty() => Ok(r),
        _ => Err(Error::BadRequest(format!(
            "{field}: a reason is required: say why (identity keeps it with the decision or event)"
        ))),
    }
}

fn person_param(field: &str, text: &str) -> Result<PersonKey> {
    PersonKey::parse(text.trim()).map_err(|e| Error::BadRequest(format!("{field}: {e}")))
}

/// One review item; an id identity does not know is 404.
pub(crate) async fn review_item(state: &AppState, id: &str) -> Result<ReviewItem> {
    Ok(state.identity().review_item(id).await?)
}

/// `open`, `same` or `different`.
pub(crate) fn state_name(s: ReviewState) -> &'static str {
    match s {
        ReviewState::Open => "open",
        ReviewState::Same => "same",
        ReviewState::Different => "different",
    }
}

/// Decides review item `id` as `user`, the API's and the page's one path.
/// What the audit entry should name (the person, the record, the event) is
/// appended to `detail` as it becomes known, so that a refused attempt is
/// identified too.
pub(crate) async fn decide(
    state: &AppState,
    user: &User,
    id: &str,
    decision: Decision,
    reason: Option<&str>,
    detail: &mut String,
) -> Result<Option<PersonEvent>> {
    detail.push_str(match decision {
        Decision::Same => "decision=same",
        Decision::Different => "decision=different",
    });
    let reason = stated("reason", reason)?;
    let item = review_item(state, id).await?;
    detail.push_str(&format!(
        " person={} record={}",
        item.person_key, item.record_id
    ));
    if item.state != ReviewState::Open {
        return Err(Error::Conflict(format!(
            "review item {id} was already decided ({})",
            state_name(item.state)
        )));
    }
    let event = state
        .identity()
        .decide(id, decision, &user.actor(), reason)
        .await?;
    if let Some(e) = &event {
        detail.push_str(&format!(" event={} to={}", e.id, e.to_person));
    }
    Ok(event)
}

/// Which review items to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct QueueQuery {
    /// `open` (the default): those waiting for a decision; `all`: decided
    /// ones too.
    pub state: Option<String>,
    /// At most this many, oldest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Whether `state` asks for open items only.
pub(crate) fn open_only(state: Option<&str>) -> Result<bool> {
    match state {
        None | Some("" | "open") => Ok(true),
        Some("all") => Ok(false),
        Some(other) => Err(Error::BadRequest(format!(
            "query parameter state: {other:?} is not one of \"open\", \"all\""
        ))),
    }
}

/// The clerical-review queue: links made on kana name, birth date and sex
/// alone although the record carried an insurance number its person never
/// had. Ids and keys only, never an attribute.
#[utoipa::path(get, path = "/api/v1/identity/review", tag = "identity",
    security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, description = "Review items (id, record_id, person_key, reason, state, created_at), oldest first", body = [Object]),
              (status = 400, description = "An unknown state", body = crate::Problem)))]
pub async fn review_queue(
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
) -> Result<ApiJson<Vec<ReviewItem>>> {
    let open = open_only(q.state.as_deref())?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    Ok(ApiJson(state.identity().review_queue(open, limit).await?))
}

/// A reviewer's answer.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// 同一人物: the record belongs to the person; the link stands.
    Same,
    /// 別人: it does not; the record is split off into a new person.
    Different,
}

impl From<DecisionKind> for Decision {
    fn from(d: DecisionKind) -> Self {
        match d {
            DecisionKind::Same => Decision::Same,
            DecisionKind::Different => Decision::Different,
        }
    }
}

/// A decision on a review item.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `same` or `different`.
    pub decision: DecisionKind,
    /// Why (kept by identity with the decision).
    pub reason: String,
}

/// Decides a review item. `different` splits the record off into a new
/// person and answers with that split; `same` answers `null`.
#[utoipa::path(post, path = "/api/v1/identity/review/{id}", tag = "identity",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The review item's id")),
    request_body = DecisionRequest,
    responses((status = 200, description = "Decided: the split event, or null for same", body = Object),
              (status = 400, description = "A missing or blank reason, or an unknown decision", body = crate::Problem),
              (status = 404, description = "No such review item", body = crate::Problem),
              (status = 409, description = "Already decided, or the record cannot be split off", body = crate::Problem)))]
pub async fn decide_item(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> Result<Response> {
    let user = signed_in(&principal)?;
    let mut detail = String::new();
    let result = decide(
        &state,
        user,
        &id,
        body.decision.into(),
        Some(&body.reason),
        &mut detail,
    )
    .await
    .map(ApiJson);
    Ok(AuditDetail::attach(detail, result))
}

/// Two persons to merge.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The person merged away (its key resolves to `into` from now on).
    pub from: String,
    /// The survivor.
    pub into: String,
    /// Why (kept by identity with the event).
    pub reason: String,
}

/// Merges one person into another: every match token of `from` names
/// `into` from now on, and `from` resolves to `into`. Both must be current
/// persons. Recorded as a `merge` event.
#[utoipa::path(post, path = "/api/v1/identity/merges", tag = "identity",
    security(("bearer" = [])), request_body = MergeRequest,
    responses((status = 201, description = "Merged: the event (seq, id, kind, from_person, to_person, actor, reason, at)", body = Object),
              (status = 400, description = "A malformed key, a person merged into itself, or a blank reason", body = crate::Problem),
              (status = 404, description = "A person the index never issued", body = crate::Problem),
              (status = 409, description = "A person was already merged away", body = crate::Problem)))]
pub async fn merge(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<MergeRequest>,
) -> Result<Response> {
    let user = signed_in(&principal)?;
    let mut detail = String::new();
    let result = async {
        let from = person_param("from", &body.from)?;
        let into = person_param("into", &body.into)?;
        detail = format!("from={from} into={into}");
        let reason = stated("reason", Some(&body.reason))?;
        if from == into {
            return Err(Error::BadRequest(format!(
                "from and into are both {from}: a person cannot be merged into itself"
            )));
        }
        state
            .identity()
            .merge(&from, &into, &user.actor(), reason)
            .await
            .map_err(Error::from)
    }
    .await;
    if let Ok(e) = &result {
        detail.push_str(&format!(" event={}", e.id));
    }
    Ok(AuditDetail::attach(
        detail,
        result.map(|e| (StatusCode::CREATED, ApiJson(e))),
    ))
}

/// Records to split off.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    /// Attribute record ids, all of one current person, not all of its
    /// records.
    pub records: Vec<String>,
    /// Why (kept by identity with the event).
    pub reason: String,
}

/// Splits records off their person into a new one, with the match tokens
/// only they produce. Recorded as a `split` event.
#[utoipa::path(post, path = "/api/v1/identity/splits", tag = "identity",
    security(("bearer" = [])), request_body = SplitRequest,
    responses((status = 201, description = "Split: the event (from_person is the person left, to_person the new one, records moved)", body = Object),
              (status = 400, description = "No records named, or a blank reason", body = crate::Problem),
              (status = 409, description = "A record that does not exist or is not of the same person, or all of a person's records", body = crate::Problem)))]
pub async fn split(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<SplitRequest>,
) -> Result<Response> {
    let user = signed_in(&principal)?;
    let mut detail = String::new();
    let result = async {
        if body.records.is_empty() {
            return Err(Error::BadRequest(
                "records: name at least one attribute record to split off".to_owned(),
            ));
        }
        for (i, r) in body.records.iter().enumerate() {
            uuid::Uuid::try_parse(r).map_err(|e| {
                Error::BadRequest(format!("records[{i}]: not an attribute record id: {e}"))
            })?;
        }
        // The event lists every record; the entry names a few at most.
        detail = if body.records.len() <= 20 {
            format!("records={}", body.records.join(","))
        } else {
            format!("records={} (listed in the event)", body.records.len())
        };
        let reason = stated("reason", Some(&body.reason))?;
        state
            .identity()
            .split(&body.records, &user.actor(), reason)
            .await
            .map_err(Error::from)
    }
    .await;
    if let Ok(e) = &result {
        detail.push_str(&format!(
            " from={} to={} event={}",
            e.from_person, e.to_person, e.id
        ));
    }
    Ok(AuditDetail::attach(
        detail,
        result.map(|e| (StatusCode::CREATED, ApiJson(e))),
    ))
}

/// Where the event history starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// Only events after this sequence number (0, the default: all).
    pub since: Option<u64>,
}

/// Runs the probabilistic pass over the person index: Fellegi–Sunter
/// linkage of every attribute record (m and u by EM from the index), merges
/// of the persons the guarded clustering joins, and the band below the
/// link threshold queued for review. A batch job: it decrypts every
/// attribute record in memory.
#[utoipa::path(post, path = "/api/v1/identity/relink", tag = "identity",
    security(("bearer" = [])),
    responses((status = 202, description = "Started: the job, at `Location`; its result is what the pass did (records, persons before, pairs compared, merged, queued, thresholds)", body = crate::jobs::Job)))]
pub async fn relink(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response> {
    let user = signed_in(&principal)?;
    let work = {
        let (state, actor) = (state.clone(), user.actor());
        Box::pin(async move {
            let report = state
                .identity()
                .probabilistic_pass(&renkei_identity::linkage::Settings::default(), &actor)
                .await?;
            Ok(crate::jobs::Done {
                detail: format!("merged={} queued={}", report.merged, report.queued),
                result: serde_json::to_value(&report)
                    .map_err(|e| Error::Internal(format!("relink report: {e}")))?,
            })
        })
    };
    let job = state
        .jobs()
        .start(crate::jobs::JobKind::Relink, "index".to_owned(), user, work)
        .await?;
    Ok(super::jobs::accepted(&job, "index".to_owned()))
}

/// Merges and splits after `since`, in order: what a reader of the lake
/// replays to map rows keyed by an old person_key onto the current one.
#[utoipa::path(get, path = "/api/v1/identity/events", tag = "identity",
    security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, description = "Events in order of seq", body = [Object]),
              (status = 400, description = "A malformed since", body = crate::Problem)))]
pub async fn events(
    State(state): State<AppState>,
    Query(q): Query<EventsQuery>,
) -> Result<ApiJson<Vec<PersonEvent>>> {
    let since = i64::try_from(q.since.unwrap_or(0))
        .map_err(|_| Error::BadRequest("query parameter since: too large".to_owned()))?;
    Ok(ApiJson(state.identity().events_since(since).await?))
}

/// Why the attributes are read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReadReason {
    /// Why you read them (required, not blank). The read is audited.
    pub reason: Option<String>,
}

/// Reads `person`'s attribute records (and those of persons merged into
/// it) for `reason`; answers with `Cache-Control: no-store`, and names the
/// person and the number of records in `detail` for the audit entry.
pub(crate) async fn read_attributes(
    state: &AppState,
    user: &User,
    person: &PersonKey,
    reason: Option<&str>,
    detail: &mut String,
) -> Result<Vec<AttributeRecord>> {
    let reason = stated("reason", reason)?;
    // Identity records who read and why; the audit entry names that read.
    let read = state
        .identity()
        .attributes_of(person, &actor(user), reason)
        .await?;
    detail.push_str(&format!(" records={} read={}", read.records.len(), read.id));
    Ok(read.records)
}

/// Decrypted values must not stay in a browser's or a proxy's cache.
pub(crate) const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

/// A person's identifying attributes, decrypted: one record per source,
/// including those of persons merged into it. Operators only, with a
/// stated reason; the read is audited.
#[utoipa::path(get, path = "/api/v1/identity/persons/{key}/attributes", tag = "identity",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The person_key (a merged-away key reads its survivor)"), ReadReason),
    responses((status = 200, description = "Attribute records (id, provider, stored_under, attributes); not to be cached", body = [Object]),
              (status = 400, description = "A missing or blank reason, or a malformed key", body = crate::Problem),
              (status = 404, description = "A person the index never issued", body = crate::Problem)))]
pub async fn attributes(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(key): Path<String>,
    Query(q): Query<ReadReason>,
) -> Result<Response> {
    let user = signed_in(&principal)?;
    let person = person_param("path parameter key", &key)?;
    let mut detail = String::new();
    let result = read_attributes(&state, user, &person, q.reason.as_deref(), &mut detail)
        .await
        .map(|records| (NO_STORE, ApiJson(records)));
    Ok(AuditDetail::attach(detail, result).into_response())
}
