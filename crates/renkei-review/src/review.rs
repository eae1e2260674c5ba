//! The review service: applications through their workflow, reviewers,
//! votes, permits — each step audited before it counts.

use std::sync::Arc;

use renkei_core::{Actor, AuditEvent, AuditSink, Clock, Timestamp};
use renkei_store::{Db, DbName, Migrations, Stores};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::form::{ApplicationForm, ScrutinyRules};
use crate::permit::{Permit, PermitStatus, PermitTerms, RowScope};
use crate::workflow::{Draft, Stage, Step};
use crate::{ApplicationId, Error, PermitId, Result};

const DB: DbName = DbName::new("review");

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// An application as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Its id.
    pub id: ApplicationId,
    /// The applicant's account.
    pub applicant: String,
    /// The form.
    pub form: ApplicationForm,
    /// Where it stands.
    pub stage: Stage,
    /// The permit it amends, for an amendment.
    pub amends: Option<PermitId>,
    /// What calls for more scrutiny.
    pub scrutiny: Vec<String>,
    /// Created.
    pub created_at: Timestamp,
    /// First submitted.
    pub submitted_at: Option<Timestamp>,
    /// Decided.
    pub decided_at: Option<Timestamp>,
    /// Bumped by every change (optimistic concurrency).
    pub revision: i64,
}

/// One transition, as kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// From state.
    pub from: String,
    /// To state.
    pub to: String,
    /// The step.
    pub step: String,
    /// Who (`operator:alice`).
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// A reviewer's vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// Approve.
    Approve,
    /// Approve with conditions.
    ApproveWithConditions,
    /// Reject.
    Reject,
}

impl VoteKind {
    fn as_str(self) -> &'static str {
        match self {
            VoteKind::Approve => "approve",
            VoteKind::ApproveWithConditions => "approve_with_conditions",
            VoteKind::Reject => "reject",
        }
    }
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "approve" => VoteKind::Approve,
            "approve_with_conditions" => VoteKind::ApproveWithConditions,
            "reject" => VoteKind::Reject,
            _ => return None,
        })
    }
}

/// A vote with its comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The reviewer.
    pub reviewer: String,
    /// The vote.
    pub vote: VoteKind,
    /// Why.
    pub comment: String,
    /// When.
    pub at: Timestamp,
}

/// Who acts, for the audit log and the transitions table.
#[derive(Clone, Debug)]
pub struct Acting {
    /// The audit actor.
    pub actor: Actor,
    /// The account name (`alice`), compared with applicants and reviewers.
    pub username: String,
}

impl Acting {
    fn label(&self) -> String {
        match &self.actor {
            Actor::User { role, username, .. } => format!("{}:{username}", role.as_str()),
            _ => format!("system:{}", self.username),
        }
    }
}

/// The review service. Cheap to clone.
#[derive(Clone)]
pub struct Review {
    db: Db,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditSink>,
    rules: Arc<ScrutinyRules>,
    /// Figures from the lake, for risk signals.
    pub(crate) lake: Arc<dyn renkei_core::LakeStatistics>,
    /// Permits whose standing a committed step may have changed, for
    /// whoever follows them in this process ([`PermitAuthority::changes`]).
    pub(crate) changes: tokio::sync::broadcast::Sender<PermitId>,
}

impl std::fmt::Debug for Review {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Review")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str =
    "id, applicant, form, stage, amends, revision, created_us, submitted_us, decided_us";

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("{what}: {e}"))
}

impl Review {
    /// Opens the `review` database.
    pub async fn open(
        stores: &Stores,
        clock: Arc<dyn Clock>,
        audit: Arc<dyn AuditSink>,
        rules: ScrutinyRules,
        lake: Arc<dyn renkei_core::LakeStatistics>,
    ) -> Result<Self> {
        let db = stores.database(DB, &migrations()).await?;
        Ok(Self {
            db,
            clock,
            audit,
            rules: Arc::new(rules),
            lake,
            changes: tokio::sync::broadcast::channel(256).0,
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    fn application(&self, r: &sqlx::any::AnyRow) -> Result<Application> {
        let form: String = r.try_get("form")?;
        let form: ApplicationForm = serde_json::from_str(&form).map_err(|e| corrupt("form", e))?;
        let stage: String = r.try_get("stage")?;
        let amends: Option<String> = r.try_get("amends")?;
        let at = |c: &str| -> Result<Option<Timestamp>> {
            Ok(r.try_get::<Option<i64>, _>(c)?
                .map(Timestamp::from_unix_micros))
        };
        Ok(Application {
            id: ApplicationId::parse(&r.try_get::<String, _>("id")?)
                .map_err(|e| corrupt("id", e))?,
            applicant: r.try_get("applicant")?,
            scrutiny: form.scrutiny(&self.rules),
            form,
            stage: serde_json::from_str(&stage).map_err(|e| corrupt("stage", e))?,
            amends: amends
                .as_deref()
                .map(PermitId::parse)
                .transpose()
                .map_err(|e| corrupt("amends", e))?,
            created_at: Timestamp::from_unix_micros(r.try_get("created_us")?),
            submitted_at: at("submitted_us")?,
            decided_at: at("decided_us")?,
            revision: r.try_get("revision")?,
        })
    }

    async fn audit(&self, who: &Acting, action: String, object: String) -> Result<()> {
        self.audit
            .append(AuditEvent::success(
                self.clock.now(),
                who.actor.clone(),
                &action,
                object,
            ))
            .await
            .map_err(Error::Audit)?;
        Ok(())
    }

    /// Starts a draft for `who`; `amends` names the permit an amendment
    /// changes (the applicant must hold it).
    pub async fn create(
        &self,
        who: &Acting,
        form: ApplicationForm,
        amends: Option<PermitId>,
    ) -> Result<Application> {
        if let Some(p) = amends {
            let (permit, _) = self.permit(&p).await?;
            let original = self.get(&permit.application).await?;
            if original.applicant != who.username {
                return Err(Error::NotYours(format!(
                    "permit {p} is not held by {}",
                    who.username
                )));
            }
        }
        let id = ApplicationId::generate();
        let now = self.clock.now().unix_micros();
        let stage = Stage::Draft(Draft {});
        self.audit(who, "review.create".to_owned(), format!("application={id}"))
            .await?;
        sqlx::query(
            "INSERT INTO applications (id, applicant, organization, form, state, stage, amends, \
             revision, created_us, updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
        )
        .bind(id.to_string())
        .bind(&who.username)
        .bind(form.organization.name.trim())
        .bind(serde_json::to_string(&form).map_err(|e| corrupt("form", e))?)
        .bind(stage.name())
        .bind(serde_json::to_string(&stage).map_err(|e| corrupt("stage", e))?)
        .bind(amends.map(|p| p.to_string()))
        .bind(now)
        .execute(self.db.pool())
        .await?;
        self.get(&id).await
    }

    /// One application.
    pub async fn get(&self, id: &ApplicationId) -> Result<Application> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM applications WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| Error::NotFound(format!("application {id}")))?;
        self.application(&row)
    }

    /// Applications, newest first: an applicant's own (`Some(name)`), or
    /// all.
    pub async fn list(&self, applicant: Option<&str>) -> Result<Vec<Application>> {
        let rows = match applicant {
            Some(a) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM applications WHERE applicant = $1 ORDER BY created_us DESC, id DESC"
                ))
                .bind(a)
                .fetch_all(self.db.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM applications ORDER BY created_us DESC, id DESC"
                ))
                .fetch_all(self.db.pool())
                .await?
            }
        };
        rows.iter().map(|r| self.application(r)).collect()
    }

    /// Replaces a draft's form: its applicant only, in draft only.
    pub async fn update(
        &self,
        who: &Acting,
        id: &ApplicationId,
        form: ApplicationForm,
    ) -> Result<Application> {
        let app = self.get(id).await?;
        if app.applicant != who.username {
            return Err(Error::NotYours(format!(
                "application {id} belongs to another applicant"
            )));
        }
        if !matches!(app.stage, Stage::Draft(_)) {
            return Err(Error::IllegalTransition {
                state: app.stage.name(),
                action: "edited",
                allowed: app.stage.allowed().join(", "),
            });
        }
        self.audit(who, "review.edit".to_owned(), format!("application={id}"))
            .await?;
        let done = sqlx::query(
            "UPDATE applications SET form = $1, organization = $2, revision = revision + 1, \
             updated_us = $3 WHERE id = $4 AND revision = $5",
        )
        .bind(serde_json::to_string(&form).map_err(|e| corrupt("form", e))?)
        .bind(form.organization.name.trim())
        .bind(self.clock.now().unix_micros())
        .bind(id.to_string())
        .bind(app.revision)
        .execute(self.db.pool())
        .await?;
        if done.rows_affected() != 1 {
            return Err(Error::Stale(id.to_string()));
        }
        self.get(id).await
    }

    /// Takes `step` on application `id` for `who`, stating `reason`. The
    /// workflow decides whether the step is legal from the current state;
    /// this adds what the step needs: a submission needs a complete form
    /// and its own applicant, a decision needs a reason and at least one
    /// vote. The transition is audited, then recorded with its time.
    pub async fn step(
        &self,
        who: &Acting,
        id: &ApplicationId,
        step: Step,
        reason: &str,
    ) -> Result<Application> {
        let app = self.get(id).await?;
        match &step {
            Step::Submit => {
                if app.applicant != who.username {
                    return Err(Error::NotYours(format!(
                        "application {id} belongs to another applicant"
                    )));
                }
                if matches!(app.stage, Stage::Draft(_)) {
                    app.form.validate()?;
                }
            }
            Step::IssuePermit { .. } => {
                return Err(Error::Invalid(
                    "a permit is issued with its terms (issue_permit)".to_owned(),
                ));
            }
            Step::Approve { .. } | Step::Reject
                if matches!(app.stage, Stage::InReview(_)) && self.votes(id).await?.is_empty() =>
            {
                return Err(Error::Invalid(
                    "no reviewer has voted yet: a decision follows the committee's votes"
                        .to_owned(),
                ));
            }
            Step::SendToReview { committee } if committee.trim().is_empty() => {
                return Err(Error::Invalid("committee: required".to_owned()));
            }
            _ => {}
        }
        let needs_reason = !matches!(step, Step::Submit | Step::StartScreening);
        if needs_reason && reason.trim().is_empty() {
            return Err(Error::Invalid(format!(
                "reason: say why the application is {}",
                step.name()
            )));
        }
        self.transition(who, app, step, reason).await
    }

    async fn transition(
        &self,
        who: &Acting,
        app: Application,
        step: Step,
        reason: &str,
    ) -> Result<Application> {
        let id = app.id;
        let from = app.stage.name();
        let step_name = step.name();
        let next = app.stage.clone().apply(step)?;
        let now = self.clock.now().unix_micros();
        // The step is taken (the revision checked) inside the transaction
        // first, then audited, then committed: a step that loses a race to
        // a concurrent one is refused before anything is logged, and one
        // whose audit entry is refused is rolled back (logged before
        // visible). Only a failed commit after the entry can leave an
        // entry for a step not taken.
        let mut tx = self.db.begin_write().await?;
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM transitions WHERE application_id = $1",
        )
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE applications SET state = $1, stage = $2, revision = revision + 1, updated_us = $3, \
             submitted_us = CASE WHEN $4 = 1 AND submitted_us IS NULL THEN $3 ELSE submitted_us END, \
             decided_us = CASE WHEN $5 = 1 AND decided_us IS NULL THEN $3 ELSE decided_us END \
             WHERE id = $6 AND revision = $7",
        )
        .bind(next.name())
        .bind(serde_json::to_string(&next).map_err(|e| corrupt("stage", e))?)
        .bind(now)
        .bind(i64::from(step_name == "submitted"))
        .bind(i64::from(step_name == "approved" || step_name == "rejected"))
        .bind(id.to_string())
        .bind(app.revision)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(Error::Stale(id.to_string()));
        }
        self.audit(
            who,
            format!("review.{step_name}"),
            format!("application={id} from={from} to={}", next.name()),
        )
        .await?;
        sqlx::query(
            "INSERT INTO transitions (application_id, seq, from_state, to_state, step, actor, reason, at_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(seq)
        .bind(from)
        .bind(next.name())
        .bind(step_name)
        .bind(who.label())
        .bind(reason.trim())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(permit) = next.permit() {
            // A hint, not the record: nobody listening, or a follower that
            // fell behind, loses nothing that its sweep does not find.
            let _ = self.changes.send(permit);
        }
        self.get(&id).await
    }

    /// The transitions of an application, oldest first.
    pub async fn history(&self, id: &ApplicationId) -> Result<Vec<Transition>> {
        let rows = sqlx::query(
            "SELECT from_state, to_state, step, actor, reason, at_us FROM transitions \
             WHERE application_id = $1 ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Transition {
                    from: r.try_get("from_state")?,
                    to: r.try_get("to_state")?,
                    step: r.try_get("step")?,
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                    at: Timestamp::from_unix_micros(r.try_get("at_us")?),
                })
            })
            .collect()
    }

    /// Seconds spent in each state so far, in order of entry (the current
    /// state counts up to now).
    pub async fn time_in_states(&self, id: &ApplicationId) -> Result<Vec<(String, i64)>> {
        let app = self.get(id).await?;
        let history = self.history(id).await?;
        let mut out = Vec::new();
        let mut state = "draft".to_owned();
        let mut since = app.created_at.unix_micros();
        for t in &history {
            out.push((state, (t.at.unix_micros() - since) / 1_000_000));
            state = t.to.clone();
            since = t.at.unix_micros();
        }
        out.push((state, (self.clock.now().unix_micros() - since) / 1_000_000));
        Ok(out)
    }

    /// A reviewer declares a conflict of interest with an organization.
    pub async fn declare_conflict(&self, who: &Acting, organization: &str) -> Result<()> {
        let org = organization.trim();
        if org.is_empty() {
            return Err(Error::Invalid("organization: required".to_owned()));
        }
        self.audit(
            who,
            "review.declare_conflict".to_owned(),
            format!("reviewer={}", who.username),
        )
        .await?;
        sqlx::query(
            "INSERT INTO reviewer_conflicts (reviewer, organization, declared_us) VALUES ($1, $2, $3) \
             ON CONFLICT (reviewer, organization) DO NOTHING",
        )
        .bind(&who.username)
        .bind(org.to_lowercase())
        .bind(self.clock.now().unix_micros())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Assigns `reviewer` to an application in review, unless they
    /// declared a conflict with its organization or are named on it.
    pub async fn assign(&self, who: &Acting, id: &ApplicationId, reviewer: &str) -> Result<()> {
        let app = self.get(id).await?;
        if !matches!(app.stage, Stage::InReview(_)) {
            return Err(Error::IllegalTransition {
                state: app.stage.name(),
                action: "assigned reviewers",
                allowed: app.stage.allowed().join(", "),
            });
        }
        let named =
            app.form.users.iter().any(|u| u.username == reviewer) || app.applicant == reviewer;
        self.refuse_conflicted(reviewer, &app.form.organization.name, named)
            .await?;
        self.audit(
            who,
            "review.assign".to_owned(),
            format!("application={id} reviewer={reviewer}"),
        )
        .await?;
        sqlx::query(
            "INSERT INTO assignments (application_id, reviewer, assigned_by, assigned_us) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (application_id, reviewer) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(reviewer)
        .bind(&who.username)
        .bind(self.clock.now().unix_micros())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Refuses `reviewer` as the checker of an output made under `permit`
    /// when they declared a conflict with the permit holder's organization
    /// or are one of its named users: the same rule as for assigning them
    /// to the application.
    pub async fn may_check_outputs(&self, reviewer: &str, permit: &Permit) -> Result<()> {
        let named = permit.users.iter().any(|u| u == reviewer);
        self.refuse_conflicted(reviewer, &permit.holder.name, named)
            .await
    }

    /// [`Error::Conflict`] when `reviewer` is `named` on the matter or
    /// declared a conflict with `organization`.
    async fn refuse_conflicted(
        &self,
        reviewer: &str,
        organization: &str,
        named: bool,
    ) -> Result<()> {
        let organization = organization.trim().to_owned();
        let declared: Option<String> = sqlx::query_scalar(
            "SELECT organization FROM reviewer_conflicts WHERE reviewer = $1 AND organization = $2",
        )
        .bind(reviewer)
        .bind(organization.to_lowercase())
        .fetch_optional(self.db.pool())
        .await?;
        if declared.is_some() || named {
            return Err(Error::Conflict {
                reviewer: reviewer.to_owned(),
                organization,
            });
        }
        Ok(())
    }

    /// The reviewers assigned to an application.
    pub async fn assigned(&self, id: &ApplicationId) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT reviewer FROM assignments WHERE application_id = $1 ORDER BY reviewer",
        )
        .bind(id.to_string())
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Applications in review that `reviewer` is assigned to.
    pub async fn queue(&self, reviewer: &str) -> Result<Vec<Application>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM applications WHERE state = 'in_review' AND id IN \
             (SELECT application_id FROM assignments WHERE reviewer = $1) ORDER BY submitted_us, id"
        ))
        .bind(reviewer)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| self.application(r)).collect()
    }

    /// An assigned reviewer votes (again, replacing their vote) while the
    /// application is in review.
    pub async fn vote(
        &self,
        who: &Acting,
        id: &ApplicationId,
        vote: VoteKind,
        comment: &str,
    ) -> Result<()> {
        let app = self.get(id).await?;
        if !matches!(app.stage, Stage::InReview(_)) {
            return Err(Error::IllegalTransition {
                state: app.stage.name(),
                action: "voted on",
                allowed: app.stage.allowed().join(", "),
            });
        }
        if !self.assigned(id).await?.contains(&who.username) {
            return Err(Error::NotYours(format!(
                "{} is not assigned to application {id}",
                who.username
            )));
        }
        if comment.trim().is_empty() {
            return Err(Error::Invalid(
                "comment: give the reasons for the vote".to_owned(),
            ));
        }
        self.audit(
            who,
            "review.vote".to_owned(),
            format!("application={id} vote={}", vote.as_str()),
        )
        .await?;
        let now = self.clock.now().unix_micros();
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM votes WHERE application_id = $1 AND reviewer = $2")
            .bind(id.to_string())
            .bind(&who.username)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO votes (application_id, reviewer, vote, comment, at_us) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.to_string())
        .bind(&who.username)
        .bind(vote.as_str())
        .bind(comment.trim())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The votes on an application.
    pub async fn votes(&self, id: &ApplicationId) -> Result<Vec<Vote>> {
        let rows = sqlx::query(
            "SELECT reviewer, vote, comment, at_us FROM votes WHERE application_id = $1 ORDER BY reviewer",
        )
        .bind(id.to_string())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let v: String = r.try_get("vote")?;
                Ok(Vote {
                    reviewer: r.try_get("reviewer")?,
                    vote: VoteKind::parse(&v).ok_or_else(|| corrupt("vote", &v))?,
                    comment: r.try_get("comment")?,
                    at: Timestamp::from_unix_micros(r.try_get("at_us")?),
                })
            })
            .collect()
    }

    /// Issues the permit of an approved application. An amendment's permit
    /// replaces the one it amends, whose term ends at once.
    pub async fn issue_permit(
        &self,
        who: &Acting,
        id: &ApplicationId,
        terms: PermitTerms,
    ) -> Result<Permit> {
        let app = self.get(id).await?;
        let conditions = match &app.stage {
            Stage::Approved(a) => a.conditions.clone(),
            other => {
                return Err(Error::IllegalTransition {
                    state: other.name(),
                    action: "permitted",
                    allowed: other.allowed().join(", "),
                });
            }
        };
        let now = self.clock.now();
        if terms.expires_at <= now {
            return Err(Error::Invalid(
                "expires_at: must be in the future".to_owned(),
            ));
        }
        let permit = Permit {
            id: PermitId::generate(),
            application: *id,
            title: app.form.title.clone(),
            holder: app.form.organization.clone(),
            purpose: app.form.purpose.clone(),
            commercial: app.form.commercial,
            opt_out_purposes: app.form.opt_out_purposes(),
            delivery: app.form.delivery,
            tables: app.form.requested.tables.clone(),
            rows: RowScope {
                cohort_criteria: app.form.requested.cohort_criteria.clone(),
                period_from: app.form.requested.period_from.clone(),
                period_to: app.form.requested.period_to.clone(),
                cohort_icd10: app.form.requested.cohort_icd10.clone(),
            },
            users: app.form.users.iter().map(|u| u.username.clone()).collect(),
            resources: terms.resources,
            conditions,
            fee_class: terms.fee_class,
            date_shift_days: terms.date_shift_days,
            privacy: match app.form.delivery {
                crate::form::DeliveryType::AnonymizedDataset => {
                    Some(terms.privacy.clone().unwrap_or_default())
                }
                _ => None,
            },
            issued_at: now,
            expires_at: terms.expires_at,
        };
        sqlx::query(
            "INSERT INTO permits (id, application_id, body, issued_us, expires_us) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(permit.id.to_string())
        .bind(id.to_string())
        .bind(serde_json::to_string(&permit).map_err(|e| corrupt("permit", e))?)
        .bind(now.unix_micros())
        .bind(permit.expires_at.unix_micros())
        .execute(self.db.pool())
        .await?;
        let reason = format!("permit {} issued", permit.id);
        self.transition(
            who,
            app.clone(),
            Step::IssuePermit { permit: permit.id },
            &reason,
        )
        .await?;
        if let Some(old) = app.amends {
            let (old_permit, status) = self.permit(&old).await?;
            if matches!(status, PermitStatus::Active | PermitStatus::Suspended) {
                let original = self.get(&old_permit.application).await?;
                let reason = format!("superseded by the amendment's permit {}", permit.id);
                self.transition(who, original, Step::Expire, &reason)
                    .await?;
            }
        }
        Ok(permit)
    }

    /// A permit and where it stands now.
    pub async fn permit(&self, id: &PermitId) -> Result<(Permit, PermitStatus)> {
        let body: String = sqlx::query_scalar("SELECT body FROM permits WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| Error::NotFound(format!("permit {id}")))?;
        let permit: Permit = serde_json::from_str(&body).map_err(|e| corrupt("permit", e))?;
        let app = self.get(&permit.application).await?;
        let status = match app.stage {
            Stage::Suspended(_) => PermitStatus::Suspended,
            Stage::Revoked(_) => PermitStatus::Revoked,
            Stage::Expired(_) => PermitStatus::Expired,
            Stage::PermitActive(_) if permit.expires_at <= self.clock.now() => {
                PermitStatus::Expired
            }
            Stage::PermitActive(_) => PermitStatus::Active,
            other => {
                return Err(Error::Corrupt(format!(
                    "permit {id} belongs to an application in state {}",
                    other.name()
                )));
            }
        };
        Ok((permit, status))
    }

    /// The permits that name `username` as a user, with where each
    /// stands, newest first: the researcher's list of workspaces.
    pub async fn permits_naming(&self, username: &str) -> Result<Vec<(Permit, PermitStatus)>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM permits ORDER BY id DESC")
            .fetch_all(self.db.pool())
            .await?;
        let mut out = Vec::new();
        for id in ids {
            let id = PermitId::parse(&id).map_err(|e| corrupt("permit id", e))?;
            let (permit, status) = self.permit(&id).await?;
            if permit.users.iter().any(|u| u == username) {
                out.push((permit, status));
            }
        }
        Ok(out)
    }

    /// The permit, if it is in force now; what processing and the analysis
    /// environment ask before every extract and every session. A suspended,
    /// revoked or expired permit is refused at once.
    pub async fn permit_in_force(&self, id: &PermitId) -> Result<Permit> {
        let (permit, status) = self.permit(id).await?;
        let status = match status {
            PermitStatus::Active => return Ok(permit),
            PermitStatus::Suspended => "suspended",
            PermitStatus::Revoked => "revoked",
            PermitStatus::Expired => "expired",
        };
        Err(Error::NotInForce {
            permit: id.to_string(),
            status,
        })
    }
}
