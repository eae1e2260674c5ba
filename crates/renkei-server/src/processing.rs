//! "Who used my data": processing's extracts joined to review's permits,
//! for the patient portal. The last of the processing glue in the server;
//! building extracts and ending permits are processing's own, through the
//! contracts of `renkei-core`.

use renkei_core::{PersonKey, Timestamp};
use renkei_review::PermitId;
use serde::Serialize;

use crate::{AppState, Result};

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
