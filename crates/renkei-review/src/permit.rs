//! Permits (利用許可): exactly what may be extracted, for whom, until when.
//! Processing and the analysis environment obey the permit and nothing
//! else, and ask [`crate::Review::permit_in_force`] each time.

pub use renkei_core::{PrivacyTerms, WorkspaceResources};
use renkei_core::{Purpose, Timestamp};
use serde::{Deserialize, Serialize};

use crate::form::{DeliveryType, Organization, TableSelection};
use crate::{ApplicationId, PermitId};

/// The fee class billing charges by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeClass {
    /// Academic research.
    Academic,
    /// Public bodies.
    Public,
    /// Commercial use.
    Commercial,
}

/// Which rows: the cohort and the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowScope {
    /// The cohort, as approved.
    pub cohort_criteria: String,
    /// First day (`YYYY-MM-DD`).
    pub period_from: String,
    /// Last day (`YYYY-MM-DD`).
    pub period_to: String,
    /// The cohort's ICD-10 codes or prefixes; empty means everyone.
    #[serde(default)]
    pub cohort_icd10: Vec<String>,
}

/// A permit, machine-readable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Permit {
    /// Its id.
    pub id: PermitId,
    /// The application it answers.
    pub application: ApplicationId,
    /// The project's title.
    pub title: String,
    /// Who holds it.
    pub holder: Organization,
    /// What for.
    pub purpose: String,
    /// Commercial use.
    pub commercial: bool,
    /// The purposes in the opt-out vocabulary (`commercial`, `foreign`,
    /// `genomic`, `imaging`, `category:<name>`): the opt-outs that keep a
    /// person out of this permit's extracts.
    pub opt_out_purposes: Vec<Purpose>,
    /// How data is delivered.
    pub delivery: DeliveryType,
    /// Tables and columns.
    pub tables: Vec<TableSelection>,
    /// Rows.
    pub rows: RowScope,
    /// The named users' accounts.
    pub users: Vec<String>,
    /// The workspace.
    pub resources: WorkspaceResources,
    /// Conditions of the approval.
    pub conditions: Vec<String>,
    /// Fee class.
    pub fee_class: FeeClass,
    /// Dates in extracts are shifted per person by up to this many days
    /// either way (0: not shifted).
    #[serde(default)]
    pub date_shift_days: u16,
    /// For an anonymized dataset, the privacy model it must meet.
    #[serde(default)]
    pub privacy: Option<PrivacyTerms>,
    /// Issued.
    pub issued_at: Timestamp,
    /// Ends.
    pub expires_at: Timestamp,
}

/// What the operator decides when issuing a permit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermitTerms {
    /// When it ends.
    pub expires_at: Timestamp,
    /// Fee class.
    pub fee_class: FeeClass,
    /// Workspace.
    pub resources: WorkspaceResources,
    /// Per-person date shift in extracts, in days (0: none).
    #[serde(default)]
    pub date_shift_days: u16,
    /// The privacy model of an anonymized dataset; the platform's default
    /// (k = 5, up to 5% suppressed) when absent.
    #[serde(default)]
    pub privacy: Option<PrivacyTerms>,
}

/// Where a permit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermitStatus {
    /// In force.
    Active,
    /// Suspended.
    Suspended,
    /// Past its term.
    Expired,
    /// Revoked.
    Revoked,
}
