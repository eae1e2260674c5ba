//! Opt-out (オプトアウト管理) on the API: patients identifying themselves
//! and managing their own opt-outs, operators entering paper forms and
//! reading exclusion sets, and the register's public statistics.
//!
//! Patient routes answer about one person only — the one the patient
//! session names — so no patient route takes a person key. Every change
//! is audited twice: the access layer records the request, and the
//! registry records the change (with its receipt) before it counts.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use renkei_core::{Actor, AuditEvent, IdentifyingAttributes, Outcome, PersonKey, Sex, Timestamp};
use renkei_optout::{
    Change, Channel, DataUse, Evidence, OptOutRequest, Receipt, RegisterStats, Scope,
    StandingOptOut, Submitter, WithdrawalRequest,
};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::tokens::signed_in;
use crate::access::{AuditDetail, Principal};
use crate::accounts::{PatientSession, PatientToken, Scope as Counter};
use crate::client::ClientIp;
use crate::{AppState, Error, Result};

/// What a patient types to identify themself (the embedded
/// identification: as printed on the insurance card).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    /// Name in katakana (full- or half-width), family name first.
    pub kana_name: String,
    /// Birth date, `YYYY-MM-DD` (or `YYYY/MM/DD`).
    pub birth_date: String,
    /// `male` or `female`.
    pub sex: String,
    /// 保険者番号 (6 or 8 digits).
    pub insurer_number: String,
    /// 記号, if the card has one.
    #[serde(default)]
    pub insured_symbol: Option<String>,
    /// 番号.
    pub insured_number: String,
    /// 枝番 (2 digits), if the card has one (cards before 2021 do not).
    #[serde(default)]
    pub insured_branch: Option<String>,
}

impl IdentifyRequest {
    fn evidence(&self) -> Result<Evidence> {
        let sex = match self.sex.trim() {
            "male" | "男" | "男性" => Sex::Male,
            "female" | "女" | "女性" => Sex::Female,
            other => {
                return Err(Error::BadRequest(format!(
                    "sex: {other:?} is not \"male\" or \"female\""
                )));
            }
        };
        let required = |field: &str, value: &str| {
            if value.trim().is_empty() {
                Err(Error::BadRequest(format!("{field}: required")))
            } else {
                Ok(Some(value.trim().to_owned()))
            }
        };
        Ok(Evidence::Attributes(Box::new(IdentifyingAttributes {
            kana_name: required("kana_name", &self.kana_name)?,
            birth_date: required("birth_date", &self.birth_date)?,
            sex: Some(sex),
            insurer_number: required("insurer_number", &self.insurer_number)?,
            insured_symbol: self
                .insured_symbol
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            insured_number: required("insured_number", &self.insured_number)?,
            insured_branch: self
                .insured_branch
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            ..Default::default()
        })))
    }
}

/// A patient session, as handed to the patient once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatientSessionCreated {
    /// The secret, `rkp_…`: `Authorization: Bearer <token>` on the patient
    /// API.
    pub token: String,
    /// When it ends.
    pub expires_at: String,
    /// How the patient was identified.
    pub method: String,
}

impl IdentifyRequest {
    /// The insurance identity the request names, normalized by identity's
    /// own function (the one its index looks up), so that `０６１３…`,
    /// `0613-…` and `0613…` are one target to the throttle.
    fn target(&self) -> Result<String> {
        renkei_identity::normalize::insurance_key(
            Some(&self.insurer_number),
            self.insured_symbol.as_deref(),
            Some(&self.insured_number),
            self.insured_branch.as_deref(),
        )
        .ok_or_else(|| {
            Error::BadRequest(
                "insurer_number, insured_number: no digit or letter in one of them".to_owned(),
            )
        })
    }
}

/// Identifies a patient and starts their session: the one path for the
/// API and the portal's form. Throttled per insurance identity (strict,
/// from anywhere) and per address (a much higher ceiling, so that one
/// person's mistakes at a kiosk do not shut out the next), and audited
/// whether it succeeds or not — the route is public, so the access layer
/// has nobody to record.
pub(crate) async fn start_patient_session(
    state: &AppState,
    ClientIp(client): ClientIp,
    request: &IdentifyRequest,
) -> Result<(PatientToken, PatientSession)> {
    let evidence = request.evidence()?;
    let target = request.target()?;
    let accounts = &state.config().accounts;
    let throttle = state.throttle();
    let keys = [
        throttle.key(Counter::PatientTarget, &[&target], accounts.strict_tier()),
        throttle.key(
            Counter::PatientAddress,
            &[&client.to_string()],
            accounts.address_tier(),
        ),
    ];
    let attempt = throttle.begin(&keys).map_err(|refused| {
        state.metrics().throttle_refused(refused.scope);
        Error::Throttled {
            retry_after_secs: refused.retry_after_secs,
        }
    })?;
    let method = state.identification().method();
    let found = state.identification().identify(&evidence).await?;
    let (actor, outcome, status) = match found {
        Some(person) => (Actor::Patient { person_key: person }, Outcome::Success, 201),
        None => (Actor::Anonymous, Outcome::Refused, 401),
    };
    // Settled before the audit entry, so a failure counts even if the
    // log then refuses the entry.
    match found {
        Some(_) => attempt.succeeded(),
        None => state
            .metrics()
            .failed_guess("identification", &attempt.failed()),
    }
    state
        .audit()
        .append(AuditEvent {
            at: state.clock().now(),
            actor,
            action: "POST /api/v1/patient/session".to_owned(),
            object: format!("identification method={method}"),
            outcome,
            status: Some(status),
            request_id: None,
        })
        .await
        .map_err(Error::audit)?;
    let Some(person) = found else {
        return Err(Error::NotIdentified);
    };
    let minutes = state.config().optout.patient_session_minutes;
    state
        .accounts()
        .create_patient_session(person, method, minutes)
        .await
}

/// Starts a patient session: the patient presents kana name, birth date,
/// sex and insurance number, and identity must find all of them on one
/// person. A mismatch says nothing about which field failed.
#[utoipa::path(post, path = "/api/v1/patient/session", tag = "opt-out",
    request_body = IdentifyRequest,
    responses((status = 201, description = "Identified; the session token", body = PatientSessionCreated),
              (status = 400, description = "A field is missing or malformed", body = crate::Problem),
              (status = 401, description = "Not identified", body = crate::Problem),
              (status = 429, description = "Too many failed attempts", body = crate::Problem)))]
pub async fn create_session(
    State(state): State<AppState>,
    client: ClientIp,
    ApiJson(request): ApiJson<IdentifyRequest>,
) -> Result<Response> {
    let (token, session) = start_patient_session(&state, client, &request).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(PatientSessionCreated {
            token: token.expose().to_owned(),
            expires_at: session.expires.to_rfc3339(),
            method: session.method,
        }),
    )
        .into_response())
}

pub(crate) fn patient(principal: &Principal) -> Result<&PatientSession> {
    match principal {
        Principal::Patient(session) => Ok(session),
        _ => Err(Error::Unauthenticated),
    }
}

/// Ends the patient's session.
#[utoipa::path(delete, path = "/api/v1/patient/session", tag = "opt-out",
    security(("bearer" = [])),
    responses((status = 204, description = "Ended")))]
pub async fn end_session(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("Bearer "))
        .and_then(PatientToken::parse)
        .ok_or(Error::Unauthenticated)?;
    state.accounts().end_patient_session(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the portal shows a patient about themself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatientView {
    /// The registry version the view reflects.
    pub registry_version: u64,
    /// Opt-outs not withdrawn: in force, or waiting for their effective
    /// time.
    #[schema(value_type = Vec<Object>)]
    pub standing: Vec<StandingOptOut>,
    /// Every change, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Change>,
    /// Projects whose extracts included this person, read from the
    /// extracts' manifests (one line per permit, its latest extract).
    pub used_by: Vec<crate::processing::UsedBy>,
}

pub(crate) async fn patient_view(state: &AppState, person: &PersonKey) -> Result<PatientView> {
    let registry = state.optout();
    Ok(PatientView {
        registry_version: registry.version().await?,
        standing: registry.status(person, state.clock().now()).await?,
        history: registry.history(person).await?,
        used_by: crate::processing::used_by(state, person).await?,
    })
}

/// The patient's opt-outs: what stands, the whole history, and which
/// projects used their data.
#[utoipa::path(get, path = "/api/v1/patient/optouts", tag = "opt-out",
    security(("bearer" = [])),
    responses((status = 200, description = "The patient's own view", body = PatientView),
              (status = 401, description = "No patient session", body = crate::Problem)))]
pub async fn patient_optouts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<ApiJson<PatientView>> {
    let session = patient(&principal)?;
    Ok(ApiJson(patient_view(&state, &session.person).await?))
}

/// An opt-out, as a patient or an operator asks for it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutBody {
    /// `all`, or purposes separated by commas: `commercial`, `foreign`,
    /// `genomic`, `imaging`, `category:<name>`.
    pub scope: String,
    /// When it takes effect (RFC 3339); now if absent; never in the past.
    #[serde(default)]
    pub effective_from: Option<String>,
    /// Who asks (operators only; a patient's own request is `self`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub submitter: Option<Submitter>,
    /// `paper` or `api` (operators only; the patient API is `portal`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub channel: Option<Channel>,
}

fn parse_effective(text: Option<&str>) -> Result<Option<Timestamp>> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            Timestamp::parse_rfc3339(t)
                .map_err(|e| Error::BadRequest(format!("effective_from: {e}")))
        })
        .transpose()
}

fn parse_scope(text: &str) -> Result<Scope> {
    Scope::parse(text).map_err(|e| Error::BadRequest(format!("scope: {e}")))
}

fn created(change: Change) -> Response {
    let detail = format!("receipt={} version={}", change.receipt, change.version);
    AuditDetail::attach(detail, (StatusCode::CREATED, ApiJson(change)))
}

/// Records an opt-out for the patient themself.
#[utoipa::path(post, path = "/api/v1/patient/optouts", tag = "opt-out",
    security(("bearer" = [])), request_body = OptOutBody,
    responses((status = 201, description = "Recorded: the change with its receipt number and registry version", body = Object),
              (status = 400, description = "A bad scope or effective time", body = crate::Problem)))]
pub async fn patient_opt_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<OptOutBody>,
) -> Result<Response> {
    let session = patient(&principal)?;
    if body.submitter.is_some() || body.channel.is_some() {
        return Err(Error::BadRequest(
            "submitter, channel: a patient records their own opt-out through the portal; \
             representatives ask an operator"
                .to_owned(),
        ));
    }
    let change = state
        .optout()
        .opt_out(
            OptOutRequest {
                person: session.person,
                scope: parse_scope(&body.scope)?,
                effective_from: parse_effective(body.effective_from.as_deref())?,
                submitter: Submitter::Person,
                channel: Channel::Portal,
            },
            Actor::Patient {
                person_key: session.person,
            },
        )
        .await?;
    Ok(created(change))
}

/// Withdraws one of the patient's own opt-outs, at once.
#[utoipa::path(post, path = "/api/v1/patient/optouts/{receipt}/withdraw", tag = "opt-out",
    security(("bearer" = [])),
    params(("receipt" = String, Path, description = "The opt-out's receipt number")),
    responses((status = 201, description = "Withdrawn: the withdrawal with its own receipt", body = Object),
              (status = 404, description = "No such opt-out of this patient", body = crate::Problem),
              (status = 409, description = "Already withdrawn", body = crate::Problem)))]
pub async fn patient_withdraw(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(receipt): Path<String>,
) -> Result<Response> {
    let session = patient(&principal)?;
    let (request, actor) = own_withdrawal(session.person, &receipt)?;
    let change = state.optout().withdraw(request, actor).await?;
    Ok(created(change))
}

/// A patient's withdrawal of their own opt-out through the portal (the API
/// and the page alike): they submit it themselves, online, as themselves.
pub(crate) fn own_withdrawal(
    person: PersonKey,
    receipt: &str,
) -> Result<(WithdrawalRequest, Actor)> {
    let receipt = Receipt::parse(receipt).map_err(|e| Error::BadRequest(e.to_string()))?;
    Ok((
        WithdrawalRequest {
            person,
            opt_out: receipt,
            submitter: Submitter::Person,
            channel: Channel::Portal,
        },
        Actor::Patient { person_key: person },
    ))
}

/// An operator's opt-out on a person's behalf (a paper form, a
/// representative at the counter).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorOptOutBody {
    /// The person, as identity named them.
    pub person_key: String,
    /// The opt-out.
    #[serde(flatten)]
    pub opt_out: OptOutBody,
}

fn operator_actor(principal: &Principal) -> Result<Actor> {
    let user = signed_in(principal)?;
    Ok(Actor::User {
        id: user.id,
        username: user.username.clone(),
        role: user.role,
    })
}

/// Records an opt-out entered by an operator: `submitter` says who asked
/// (`{"kind":"self"}`, `{"kind":"representative","relation":"親権者"}`,
/// `{"kind":"bereaved_family","relation":"配偶者"}`), `channel` how
/// (`paper`, the default, or `api`).
#[utoipa::path(post, path = "/api/v1/optouts", tag = "opt-out",
    security(("bearer" = [])), request_body = OperatorOptOutBody,
    responses((status = 201, description = "Recorded", body = Object),
              (status = 400, description = "A bad field", body = crate::Problem),
              (status = 403, description = "The policy does not let this submitter act", body = crate::Problem)))]
pub async fn operator_opt_out(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<OperatorOptOutBody>,
) -> Result<Response> {
    let actor = operator_actor(&principal)?;
    let person = PersonKey::parse(body.person_key.trim())
        .map_err(|e| Error::BadRequest(format!("person_key: {e}")))?;
    let channel = body.opt_out.channel.unwrap_or(Channel::Paper);
    if channel == Channel::Portal {
        return Err(Error::BadRequest(
            "channel: \"portal\" is the patients' own; an operator enters \"paper\" or \"api\""
                .to_owned(),
        ));
    }
    let submitter = body.opt_out.submitter.unwrap_or(Submitter::Person);
    let change = state
        .optout()
        .opt_out(
            OptOutRequest {
                person,
                scope: parse_scope(&body.opt_out.scope)?,
                effective_from: parse_effective(body.opt_out.effective_from.as_deref())?,
                submitter,
                channel,
            },
            actor,
        )
        .await?;
    Ok(created(change))
}

/// Who asks an operator to withdraw, and how.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorWithdrawBody {
    /// Who asked (default: the person).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub submitter: Option<Submitter>,
    /// `paper` (default) or `api`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub channel: Option<Channel>,
}

/// Withdraws an opt-out on a person's behalf.
#[utoipa::path(post, path = "/api/v1/optouts/{receipt}/withdraw", tag = "opt-out",
    security(("bearer" = [])), request_body = OperatorWithdrawBody,
    params(("receipt" = String, Path, description = "The opt-out's receipt number")),
    responses((status = 201, description = "Withdrawn", body = Object),
              (status = 404, description = "No such opt-out", body = crate::Problem),
              (status = 409, description = "Already withdrawn", body = crate::Problem)))]
pub async fn operator_withdraw(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(receipt): Path<String>,
    ApiJson(body): ApiJson<OperatorWithdrawBody>,
) -> Result<Response> {
    let actor = operator_actor(&principal)?;
    let receipt = Receipt::parse(&receipt).map_err(|e| Error::BadRequest(e.to_string()))?;
    let opt_out = state.optout().change(&receipt).await?;
    let submitter = body.submitter.unwrap_or(Submitter::Person);
    let change = state
        .optout()
        .withdraw(
            WithdrawalRequest {
                person: opt_out.person,
                opt_out: receipt,
                submitter,
                channel: body.channel.unwrap_or(Channel::Paper),
            },
            actor,
        )
        .await?;
    Ok(created(change))
}

/// A person's opt-out history, for an operator answering an inquiry.
#[utoipa::path(get, path = "/api/v1/optouts/persons/{key}", tag = "opt-out",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The person key")),
    responses((status = 200, description = "Every change, oldest first", body = [Object])))]
pub async fn person_history(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<ApiJson<Vec<Change>>> {
    let person =
        PersonKey::parse(key.trim()).map_err(|e| Error::BadRequest(format!("person key: {e}")))?;
    Ok(ApiJson(state.optout().history(&person).await?))
}

/// Which exclusion set to compute.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExclusionQuery {
    /// The purposes the use touches, separated by commas (empty: an
    /// ordinary study, kept out only by opt-outs from all use).
    #[serde(rename = "use", default)]
    pub used: String,
    /// The instant (RFC 3339); now if absent.
    pub at: Option<String>,
    /// The registry version to answer as of (to check a recorded
    /// extract); the current one if absent.
    pub version: Option<u64>,
    /// Whether to list the person keys (default: the bitmap only).
    #[serde(default)]
    pub keys: bool,
}

/// An exclusion set as the API gives it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExclusionAnswer {
    /// The registry version the set reflects (record it in the extract's
    /// manifest).
    pub registry_version: u64,
    /// The instant.
    pub at: String,
    /// The use.
    #[serde(rename = "use")]
    pub used: String,
    /// How many persons are out.
    pub excluded: u64,
    /// The set over the registry's person numbers: a roaring bitmap in the
    /// portable serialization, base64.
    pub bitmap: String,
    /// The person keys, if asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_keys: Option<Vec<String>>,
}

/// The persons kept out of a use at an instant, with the registry version
/// the answer reflects.
#[utoipa::path(get, path = "/api/v1/optouts/exclusion", tag = "opt-out",
    security(("bearer" = [])), params(ExclusionQuery),
    responses((status = 200, description = "The exclusion set", body = ExclusionAnswer),
              (status = 400, description = "A bad use, instant or version", body = crate::Problem)))]
pub async fn exclusion(
    State(state): State<AppState>,
    Query(q): Query<ExclusionQuery>,
) -> Result<ApiJson<ExclusionAnswer>> {
    let used = DataUse::parse(&q.used).map_err(|e| Error::BadRequest(format!("use: {e}")))?;
    let at = parse_effective(q.at.as_deref())?.unwrap_or_else(|| state.clock().now());
    let set = match q.version {
        Some(v) => state.optout().exclusion_as_of(&used, at, v).await?,
        None => state.optout().exclusion(&used, at).await?,
    };
    let mut bytes = Vec::with_capacity(set.bitmap().serialized_size());
    set.bitmap()
        .serialize_into(&mut bytes)
        .map_err(|e| Error::Internal(format!("bitmap: {e}")))?;
    Ok(ApiJson(ExclusionAnswer {
        registry_version: set.version(),
        at: set.at().to_rfc3339(),
        used: set.data_use().to_string(),
        excluded: set.len(),
        bitmap: base64::engine::general_purpose::STANDARD.encode(bytes),
        person_keys: q
            .keys
            .then(|| set.person_keys().iter().map(ToString::to_string).collect()),
    }))
}

/// The register's opt-out statistics as published at the last midnight in
/// Japan (never live, so that no single change can be seen): in force by
/// scope, and changes per month (in Japan) by scope, counts below
/// `optout.suppress_below` shown as `"<N"` objects (`{"below": N}`).
#[utoipa::path(get, path = "/api/v1/register/optouts", tag = "opt-out",
    responses((status = 200, description = "Statistics", body = Object)))]
pub async fn register(State(state): State<AppState>) -> Result<ApiJson<RegisterStats>> {
    let threshold = state.config().optout.suppress_below;
    Ok(ApiJson(
        state
            .optout()
            .register_stats(threshold, state.clock().now())
            .await?,
    ))
}
