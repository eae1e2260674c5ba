//! "Who used my data" in the patient portal's wire form. The answer is the
//! opt-out function's ([`renkei_optout::uses_of`]), asking processing and
//! review through the contracts of `renkei-core`.

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
/// (its latest extract): the opt-out function's answer, through the
/// contracts, in the portal's wire form.
pub async fn used_by(state: &AppState, person: &PersonKey) -> Result<Vec<UsedBy>> {
    let uses =
        renkei_optout::uses_of(*person, state.processing_shared().as_ref(), state.review()).await?;
    Ok(uses
        .into_iter()
        .map(|u| UsedBy {
            permit: u.notice.permit,
            title: u.notice.title,
            holder: u.notice.holder,
            purpose: u.notice.purpose,
            extracted_at: u.extracted_at,
        })
        .collect())
}
