//! Review (審査) on the API: applicants write and submit applications, the
//! secretariat (operators) screens them, sends them to a committee,
//! assigns reviewers and records decisions and permits, reviewers vote.
//!
//! Who may take which step is the route's rule (applicants submit on their
//! route, operators take their steps on theirs, reviewers vote on theirs);
//! whose application it is, and whether a reviewer is assigned, is data
//! the review service checks. The workflow refuses illegal steps (409).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use renkei_core::{Actor, Role};
use renkei_review::permit::{FeeClass, WorkspaceResources};
use renkei_review::{
    Acting, Application, ApplicationForm, ApplicationId, Permit, PermitId, PermitStatus,
    PermitTerms, Step, Transition, Vote, VoteKind,
};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::tokens::signed_in;
use crate::access::{AuditDetail, Principal};
use crate::{AppState, Error, Result};

pub(crate) fn acting(principal: &Principal) -> Result<Acting> {
    let user = signed_in(principal)?;
    Ok(Acting {
        actor: Actor::User {
            id: user.id,
            username: user.username.clone(),
            role: user.role,
        },
        username: user.username.clone(),
    })
}

fn application_id(text: &str) -> Result<ApplicationId> {
    ApplicationId::parse(text).map_err(|e| Error::BadRequest(e.to_string()))
}

/// An application with what each reader may see of its progress.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApplicationView {
    /// The application.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub application: Application,
    /// The state's Japanese label.
    pub state_ja: String,
    /// Steps the state allows.
    pub allowed: Vec<String>,
    /// Every transition, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Transition>,
    /// Assigned reviewers.
    pub reviewers: Vec<String>,
    /// Votes (reviewers and operators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub votes: Option<Vec<Vote>>,
}

pub(crate) async fn view(
    state: &AppState,
    app: Application,
    role: Role,
) -> Result<ApplicationView> {
    let review = state.review();
    let votes = match role {
        Role::Reviewer | Role::Operator => Some(review.votes(&app.id).await?),
        _ => None,
    };
    Ok(ApplicationView {
        state_ja: app.stage.label_ja().to_owned(),
        allowed: app.stage.allowed().into_iter().map(str::to_owned).collect(),
        history: review.history(&app.id).await?,
        reviewers: review.assigned(&app.id).await?,
        votes,
        application: app,
    })
}

/// The application `id` as `principal` may see it: an applicant only
/// their own.
pub(crate) async fn readable(
    state: &AppState,
    principal: &Principal,
    id: &ApplicationId,
) -> Result<Application> {
    let user = signed_in(principal)?;
    let app = state.review().get(id).await?;
    if user.role == Role::Applicant && app.applicant != user.username {
        return Err(Error::NotFound(format!("application {id}")));
    }
    Ok(app)
}

/// A new application.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// The form (it may be incomplete until it is submitted).
    #[schema(value_type = Object)]
    pub form: ApplicationForm,
    /// The permit this amends, for an amendment.
    #[serde(default)]
    pub amends: Option<String>,
}

/// Starts an application (a draft) for the calling applicant.
#[utoipa::path(post, path = "/api/v1/applications", tag = "review",
    security(("bearer" = [])), request_body = NewApplication,
    responses((status = 201, description = "The draft", body = ApplicationView),
              (status = 400, description = "A malformed form", body = crate::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<NewApplication>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let amends = body
        .amends
        .as_deref()
        .map(PermitId::parse)
        .transpose()
        .map_err(|e| Error::BadRequest(format!("amends: {e}")))?;
    let app = state.review().create(&who, body.form, amends).await?;
    let detail = format!("application={}", app.id);
    let v = view(&state, app, Role::Applicant).await?;
    Ok(AuditDetail::attach(
        detail,
        (StatusCode::CREATED, ApiJson(v)),
    ))
}

/// Applications: an applicant's own; every one for reviewers and
/// operators.
#[utoipa::path(get, path = "/api/v1/applications", tag = "review",
    security(("bearer" = [])),
    responses((status = 200, description = "Applications, newest first", body = [Object])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<ApiJson<Vec<Application>>> {
    let user = signed_in(&principal)?;
    let own = (user.role == Role::Applicant).then_some(user.username.as_str());
    Ok(ApiJson(state.review().list(own).await?))
}

/// One application with its history.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "review",
    security(("bearer" = [])), params(("id" = String, Path, description = "Application id")),
    responses((status = 200, description = "The application", body = ApplicationView),
              (status = 404, description = "No such application (or not the caller's)", body = crate::Problem)))]
pub async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<ApiJson<ApplicationView>> {
    let id = application_id(&id)?;
    let app = readable(&state, &principal, &id).await?;
    let role = signed_in(&principal)?.role;
    Ok(ApiJson(view(&state, app, role).await?))
}

/// The risk signals of an application, computed from the lake now:
/// cohort size, rare values of the requested quasi-identifiers, the share
/// of the cohort they single out, special categories requested.
#[utoipa::path(get, path = "/api/v1/applications/{id}/risk", tag = "review",
    security(("bearer" = [])), params(("id" = String, Path, description = "Application id")),
    responses((status = 200, description = "The risk signals", body = Object)))]
pub async fn risk(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<ApiJson<renkei_review::RiskSignals>> {
    let id = application_id(&id)?;
    let k = state.config().review.risk_k;
    Ok(ApiJson(state.review().risk_signals(&id, k).await?))
}

/// A replacement form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormBody {
    /// The whole form.
    #[schema(value_type = Object)]
    pub form: ApplicationForm,
}

/// Replaces a draft's form (its applicant, while it is a draft).
#[utoipa::path(put, path = "/api/v1/applications/{id}", tag = "review",
    security(("bearer" = [])), request_body = FormBody,
    params(("id" = String, Path, description = "Application id")),
    responses((status = 200, description = "Updated", body = ApplicationView),
              (status = 409, description = "Not a draft any more", body = crate::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FormBody>,
) -> Result<ApiJson<ApplicationView>> {
    let who = acting(&principal)?;
    let id = application_id(&id)?;
    let app = state.review().update(&who, &id, body.form).await?;
    Ok(ApiJson(view(&state, app, Role::Applicant).await?))
}

/// Submits the calling applicant's draft: the form must be complete, and
/// every named user must hold an account.
#[utoipa::path(post, path = "/api/v1/applications/{id}/submit", tag = "review",
    security(("bearer" = [])), params(("id" = String, Path, description = "Application id")),
    responses((status = 200, description = "Submitted", body = ApplicationView),
              (status = 400, description = "The form is incomplete (names the field)", body = crate::Problem),
              (status = 409, description = "Not a draft", body = crate::Problem)))]
pub async fn submit(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<ApiJson<ApplicationView>> {
    let who = acting(&principal)?;
    let id = application_id(&id)?;
    let app = readable(&state, &principal, &id).await?;
    for (i, u) in app.form.users.iter().enumerate() {
        if state
            .accounts()
            .user_by_name(u.username.trim())
            .await?
            .is_none()
        {
            return Err(Error::BadRequest(format!(
                "users[{i}].username: {:?} has no account on this platform",
                u.username
            )));
        }
    }
    let app = state.review().step(&who, &id, Step::Submit, "").await?;
    Ok(ApiJson(view(&state, app, Role::Applicant).await?))
}

/// A step of the secretariat.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperatorStep {
    /// 事前確認を開始.
    StartScreening,
    /// 差戻し.
    ReturnToApplicant,
    /// 審査へ.
    SendToReview,
    /// 承認 (with `conditions`: 条件付き承認).
    Approve,
    /// 不承認.
    Reject,
    /// 一時停止.
    Suspend,
    /// 再開.
    Reinstate,
    /// 取消し.
    Revoke,
    /// 期間満了.
    Expire,
}

/// A step with its reason.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    /// The step.
    pub step: OperatorStep,
    /// Why (required for every step but starting screening).
    #[serde(default)]
    pub reason: String,
    /// The committee, for `send_to_review`.
    #[serde(default)]
    pub committee: Option<String>,
    /// Conditions, for `approve`.
    #[serde(default)]
    pub conditions: Vec<String>,
}

/// Takes a step of the secretariat or the committee's decision. Illegal
/// steps from the application's state answer 409 naming what is allowed.
#[utoipa::path(post, path = "/api/v1/applications/{id}/steps", tag = "review",
    security(("bearer" = [])), request_body = StepBody,
    params(("id" = String, Path, description = "Application id")),
    responses((status = 200, description = "The application after the step", body = ApplicationView),
              (status = 400, description = "A missing reason or committee", body = crate::Problem),
              (status = 409, description = "Not allowed from the current state", body = crate::Problem)))]
pub async fn step(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StepBody>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let id = application_id(&id)?;
    let step = match body.step {
        OperatorStep::StartScreening => Step::StartScreening,
        OperatorStep::ReturnToApplicant => Step::ReturnToApplicant,
        OperatorStep::SendToReview => Step::SendToReview {
            committee: body.committee.clone().unwrap_or_default(),
        },
        OperatorStep::Approve => Step::Approve {
            conditions: body
                .conditions
                .iter()
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect(),
        },
        OperatorStep::Reject => Step::Reject,
        OperatorStep::Suspend => Step::Suspend,
        OperatorStep::Reinstate => Step::Reinstate,
        OperatorStep::Revoke => Step::Revoke,
        OperatorStep::Expire => Step::Expire,
    };
    let detail = format!("application={id} step={}", step.name());
    let app = state.review().step(&who, &id, step, &body.reason).await;
    let app = match app {
        Ok(app) => app,
        Err(e) => return Ok(AuditDetail::attach(detail, Error::from(e))),
    };
    let v = view(&state, app, Role::Operator).await?;
    Ok(AuditDetail::attach(detail, ApiJson(v)))
}

/// A reviewer to assign.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The reviewer's user name.
    pub reviewer: String,
}

/// Assigns a reviewer to an application in review; refused (409) for a
/// reviewer with a declared conflict with the applicant organization or
/// named on the application.
#[utoipa::path(post, path = "/api/v1/applications/{id}/assignments", tag = "review",
    security(("bearer" = [])), request_body = AssignBody,
    params(("id" = String, Path, description = "Application id")),
    responses((status = 204, description = "Assigned"),
              (status = 400, description = "Not a reviewer account", body = crate::Problem),
              (status = 409, description = "A conflict of interest, or not in review", body = crate::Problem)))]
pub async fn assign(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let id = application_id(&id)?;
    let reviewer = body.reviewer.trim();
    match state.accounts().user_by_name(reviewer).await? {
        Some(u) if u.role == Role::Reviewer => {}
        _ => {
            return Err(Error::BadRequest(format!(
                "reviewer: {reviewer:?} is not a reviewer account"
            )));
        }
    }
    state.review().assign(&who, &id, reviewer).await?;
    Ok(AuditDetail::attach(
        format!("application={id} reviewer={reviewer}"),
        StatusCode::NO_CONTENT,
    ))
}

/// A vote.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    /// `approve`, `approve_with_conditions` or `reject`.
    #[schema(value_type = String)]
    pub vote: VoteKind,
    /// The reasons.
    pub comment: String,
}

/// An assigned reviewer votes on an application in review.
#[utoipa::path(post, path = "/api/v1/applications/{id}/votes", tag = "review",
    security(("bearer" = [])), request_body = VoteBody,
    params(("id" = String, Path, description = "Application id")),
    responses((status = 204, description = "Recorded"),
              (status = 403, description = "Not assigned to it", body = crate::Problem),
              (status = 409, description = "Not in review", body = crate::Problem)))]
pub async fn vote(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VoteBody>,
) -> Result<StatusCode> {
    let who = acting(&principal)?;
    let id = application_id(&id)?;
    state
        .review()
        .vote(&who, &id, body.vote, &body.comment)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An organization a reviewer has a conflict of interest with.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConflictBody {
    /// The organization's name, as applicants write it.
    pub organization: String,
}

/// The calling reviewer declares a conflict of interest.
#[utoipa::path(post, path = "/api/v1/reviewers/conflicts", tag = "review",
    security(("bearer" = [])), request_body = ConflictBody,
    responses((status = 204, description = "Declared")))]
pub async fn declare_conflict(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<ConflictBody>,
) -> Result<StatusCode> {
    let who = acting(&principal)?;
    state
        .review()
        .declare_conflict(&who, &body.organization)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling reviewer's queue: applications in review assigned to them.
#[utoipa::path(get, path = "/api/v1/review/queue", tag = "review",
    security(("bearer" = [])),
    responses((status = 200, description = "Applications, oldest submission first", body = [Object])))]
pub async fn queue(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<ApiJson<Vec<Application>>> {
    let user = signed_in(&principal)?;
    Ok(ApiJson(state.review().queue(&user.username).await?))
}

/// The terms of a permit.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermitBody {
    /// When it ends (RFC 3339).
    pub expires_at: String,
    /// `academic`, `public` or `commercial`.
    #[schema(value_type = String)]
    pub fee_class: FeeClass,
    /// The workspace.
    #[schema(value_type = Object)]
    pub resources: WorkspaceResources,
    /// Per-person date shift in extracts, in days either way (0: none).
    #[serde(default)]
    pub date_shift_days: u16,
    /// For an anonymized dataset: `{"k": 5, "l": 2, "t": 0.3,
    /// "max_suppression": 0.05}`; k = 5 and 5% by default.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub privacy: Option<renkei_review::PrivacyTerms>,
}

/// Issues the permit of an approved application.
#[utoipa::path(post, path = "/api/v1/applications/{id}/permit", tag = "review",
    security(("bearer" = [])), request_body = PermitBody,
    params(("id" = String, Path, description = "Application id")),
    responses((status = 201, description = "The permit", body = Object),
              (status = 409, description = "Not approved", body = crate::Problem)))]
pub async fn issue_permit(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PermitBody>,
) -> Result<Response> {
    let who = acting(&principal)?;
    let id = application_id(&id)?;
    let expires_at = renkei_core::Timestamp::parse_rfc3339(body.expires_at.trim())
        .map_err(|e| Error::BadRequest(format!("expires_at: {e}")))?;
    let permit = state
        .review()
        .issue_permit(
            &who,
            &id,
            PermitTerms {
                expires_at,
                fee_class: body.fee_class,
                resources: body.resources,
                date_shift_days: body.date_shift_days,
                privacy: body.privacy,
            },
        )
        .await?;
    Ok(AuditDetail::attach(
        format!("application={id} permit={}", permit.id),
        (StatusCode::CREATED, ApiJson(permit)),
    ))
}

/// A permit and where it stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PermitView {
    /// The permit.
    #[schema(value_type = Object)]
    pub permit: Permit,
    /// `active`, `suspended`, `expired` or `revoked`.
    #[schema(value_type = String)]
    pub status: PermitStatus,
}

/// A permit: for operators and reviewers, and for its holder.
#[utoipa::path(get, path = "/api/v1/permits/{id}", tag = "review",
    security(("bearer" = [])), params(("id" = String, Path, description = "Permit id")),
    responses((status = 200, description = "The permit", body = PermitView),
              (status = 404, description = "No such permit (or not the caller's)", body = crate::Problem)))]
pub async fn permit(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<ApiJson<PermitView>> {
    let id = PermitId::parse(&id).map_err(|e| Error::BadRequest(e.to_string()))?;
    let (permit, status) = state.review().permit(&id).await?;
    readable(&state, &principal, &permit.application)
        .await
        .map_err(|_| Error::NotFound(format!("permit {id}")))?;
    Ok(ApiJson(PermitView { permit, status }))
}

/// Register search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RegisterQuery {
    /// Keep entries whose title, organization or purpose contains this.
    pub q: Option<String>,
}

/// The public register: every decision and permit, and the median time
/// from submission to decision per month.
#[utoipa::path(get, path = "/api/v1/register", tag = "register", params(RegisterQuery),
    responses((status = 200, description = "Entries, newest decision first, and decision times", body = Object)))]
pub async fn register(
    State(state): State<AppState>,
    Query(q): Query<RegisterQuery>,
) -> Result<impl IntoResponse> {
    let review = state.review();
    Ok(ApiJson(serde_json::json!({
        "entries": review.register(q.q.as_deref()).await?,
        "decision_times": review.decision_times().await?,
    })))
}
