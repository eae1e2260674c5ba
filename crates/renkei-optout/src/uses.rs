//! "Who used my data" (私のデータを利用したプロジェクト): the projects whose
//! extracts included a patient, as the patient portal shows them. The
//! registry learns it through the contracts of `renkei-core`: processing
//! says which extracts included the person, review what the public
//! register says of each permit.

use renkei_core::{ExtractCatalog, PermitAuthority, PermitNotice, PersonKey, Timestamp};

use crate::{Error, Result};

/// A project whose extract included a patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Use {
    /// What the register says of its permit.
    pub notice: PermitNotice,
    /// When its latest extract that included the patient was made.
    pub extracted_at: Timestamp,
}

/// The projects whose extracts included `person`, one per permit (its
/// latest such extract), newest first.
pub async fn uses_of(
    person: PersonKey,
    extracts: &dyn ExtractCatalog,
    permits: &dyn PermitAuthority,
) -> Result<Vec<Use>> {
    let unavailable = |e: renkei_core::ServiceError| Error::Unavailable(e.to_string());
    let mut out: Vec<Use> = Vec::new();
    for u in extracts.including(person).await.map_err(unavailable)? {
        if out.iter().any(|o| o.notice.permit == u.permit) {
            continue;
        }
        out.push(Use {
            notice: permits.notice(u.permit).await.map_err(unavailable)?,
            extracted_at: u.at,
        });
    }
    Ok(out)
}
