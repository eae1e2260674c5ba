//! Processing (加工) joined to review and opt-out: a permit in force
//! becomes an extract spec, the opt-out registry gives the exclusion for
//! the permit's purposes, and review answers, again and again while the
//! extract is built, whether the permit is still in force.
//!
//! Lives in the server because it joins three functions; each of them
//! stays ignorant of the others' stores.

use futures::future::BoxFuture;
use renkei_core::{Actor, PersonKey, Timestamp};
use renkei_deid::{
    AnonymizedTerms, Delivery, Exclusion, ExtractSpec, Manifest, PermitGuard, TableSelection,
};
use renkei_optout::{DataUse, Purpose};
use renkei_review::form::DeliveryType;
use renkei_review::{Permit, PermitId, PermitStatus};
use serde::Serialize;

use crate::{AppState, Error, Result};

/// What processing needs of a permit.
pub fn spec_of(permit: &Permit) -> ExtractSpec {
    let delivery = match permit.delivery {
        DeliveryType::AnonymizedDataset => {
            let p = permit.privacy.clone().unwrap_or_default();
            Delivery::Anonymized(AnonymizedTerms {
                k: p.k,
                l: p.l,
                t: p.t,
                max_suppression: p.max_suppression,
            })
        }
        DeliveryType::PseudonymizedInEnvironment | DeliveryType::StatisticsOnly => {
            Delivery::Pseudonymized
        }
    };
    ExtractSpec {
        permit: permit.id,
        delivery,
        tables: permit
            .tables
            .iter()
            .map(|t| TableSelection {
                table: t.table.clone(),
                columns: t.columns.clone(),
            })
            .collect(),
        cohort_icd10: permit.rows.cohort_icd10.clone(),
        period_from: permit.rows.period_from.clone(),
        period_to: permit.rows.period_to.clone(),
        date_shift_days: permit.date_shift_days,
        opt_out_purposes: permit.opt_out_purposes.clone(),
    }
}

/// The use a permit makes, in the opt-out registry's terms.
pub fn data_use(permit: &Permit) -> Result<DataUse> {
    let purposes = permit
        .opt_out_purposes
        .iter()
        .map(|p| Purpose::parse(p))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(format!("permit {}: {e}", permit.id)))?;
    Ok(DataUse::of(purposes))
}

/// Review's answer, asked by the extract builder.
struct ReviewGuard<'a>(&'a AppState);

impl PermitGuard for ReviewGuard<'_> {
    fn in_force(&self, permit: PermitId) -> BoxFuture<'_, std::result::Result<(), String>> {
        Box::pin(async move {
            self.0
                .review()
                .permit_in_force(&permit)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Builds (or finds) the extract of a permit in force, honouring every
/// opt-out in force now for the permit's purposes.
pub async fn extract(state: &AppState, permit: &PermitId, actor: Actor) -> Result<Manifest> {
    let permit = state.review().permit_in_force(permit).await?;
    let set = state
        .optout()
        .exclusion(&data_use(&permit)?, state.clock().now())
        .await?;
    let exclusion = Exclusion {
        registry_version: set.version(),
        persons: set.person_keys().into_iter().collect(),
    };
    Ok(state
        .processing()
        .build(&spec_of(&permit), &exclusion, &ReviewGuard(state), actor)
        .await?)
}

/// Ends what processing holds for a permit that stopped being in force for
/// good (revoked or expired): its key and its extracts. A suspended permit
/// keeps both, since it may be reinstated.
pub async fn end_if_over(state: &AppState, permit: &PermitId, actor: Actor) -> Result<bool> {
    let (_, status) = state.review().permit(permit).await?;
    if matches!(status, PermitStatus::Revoked | PermitStatus::Expired) {
        state.processing().end_permit(*permit, actor).await?;
        return Ok(true);
    }
    Ok(false)
}

/// Ends every permit processing still holds data of that is no longer in
/// force for good: expired by time (which nothing else notices) or revoked.
/// Returns the permits ended. Each is audited by processing as
/// `processing.end_permit` by the `permit-sweeper`; one that fails is
/// logged and retried on the next sweep, without holding up the others.
pub async fn end_permits_over(state: &AppState) -> Result<Vec<PermitId>> {
    let actor = Actor::System {
        component: "permit-sweeper".to_owned(),
    };
    let mut ended = Vec::new();
    for id in state.processing().permits_holding_data().await? {
        match end_if_over(state, &id, actor.clone()).await {
            Ok(true) => {
                tracing::info!(permit = %id, "ended a permit that is no longer in force");
                ended.push(id);
            }
            Ok(false) => {}
            Err(e) => tracing::error!(permit = %id, error = %e, "cannot end a permit"),
        }
    }
    Ok(ended)
}

/// A project whose extract included a patient.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UsedBy {
    /// The permit.
    #[schema(value_type = String)]
    pub permit: PermitId,
    /// The project's title.
    pub title: String,
    /// Who holds the permit.
    pub holder: String,
    /// What for.
    pub purpose: String,
    /// When the extract was made.
    #[schema(value_type = String)]
    pub extracted_at: Timestamp,
}

/// The projects whose extracts included `person`, one line per permit
/// (its latest extract).
pub async fn used_by(state: &AppState, person: &PersonKey) -> Result<Vec<UsedBy>> {
    let mut out: Vec<UsedBy> = Vec::new();
    for (permit, _, at) in state.processing().permits_including(person).await? {
        if out.iter().any(|u| u.permit == permit) {
            continue;
        }
        let (p, _) = state.review().permit(&permit).await?;
        out.push(UsedBy {
            permit,
            title: p.title,
            holder: p.holder.name,
            purpose: p.purpose,
            extracted_at: at,
        });
    }
    Ok(out)
}
