//! The contracts between the functions that act on a permit: review says
//! what a permit in force grants and whether it still stands
//! ([`PermitAuthority`]); processing says which extract of it is current
//! ([`ExtractCatalog`]). The others ask through these, in-process or from
//! another operator, and never read review's or processing's store.

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::{DataUse, PermitId, PersonKey, ServiceResult, Timestamp};

/// The privacy model an anonymized delivery must meet (匿名加工の基準).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyTerms {
    /// k of k-anonymity over the quasi-identifiers.
    pub k: u32,
    /// l of distinct l-diversity of the sensitive value, if required.
    #[serde(default)]
    pub l: Option<u32>,
    /// t of t-closeness of the sensitive value, if required.
    #[serde(default)]
    pub t: Option<f64>,
    /// The largest share of persons that may be suppressed.
    pub max_suppression: f64,
}

impl Default for PrivacyTerms {
    fn default() -> Self {
        Self {
            k: 5,
            l: None,
            t: None,
            max_suppression: 0.05,
        }
    }
}

/// One table of the lake and the columns of it asked for or granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSelection {
    /// A lake table (`condition`, `observation` …).
    pub table: String,
    /// Its columns (`person_key` stands for the pseudonym, which every
    /// table carries anyway).
    pub columns: Vec<String>,
}

/// The analysis workspace a permit grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceResources {
    /// CPU cores.
    pub cpus: u32,
    /// Memory, GiB.
    pub memory_gib: u32,
    /// Storage, GiB.
    pub storage_gib: u32,
}

/// How the data of a permit is delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    /// 仮名加工医療情報: pseudonymized tables, only inside the analysis
    /// environment. Statistics-only permits get these too, since their
    /// outputs leave only through disclosure control.
    Pseudonymized,
    /// 匿名加工医療情報: one anonymized table per person, with the
    /// privacy model's guarantees and a risk report.
    Anonymized(PrivacyTerms),
}

/// What a permit in force grants the functions that act on it: everything
/// processing needs to build its extract, and nothing about the applicant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// The permit.
    pub permit: PermitId,
    /// How the data is delivered.
    pub delivery: Delivery,
    /// Tables and columns.
    pub tables: Vec<TableSelection>,
    /// The cohort: persons with a diagnosis whose ICD-10 code starts with
    /// one of these. Empty means everyone.
    pub cohort_icd10: Vec<String>,
    /// First day of the period (`YYYY-MM-DD`, Japan time), inclusive.
    pub period_from: String,
    /// Last day of the period (`YYYY-MM-DD`, Japan time), inclusive.
    pub period_to: String,
    /// Dates are shifted by a per-person offset of up to this many days
    /// either way; 0 leaves them.
    pub date_shift_days: u16,
    /// The use the permit makes, in the opt-out registry's terms: which
    /// opt-outs keep a person out of its extracts.
    pub data_use: DataUse,
    /// The named users' accounts: who may open its workspace.
    pub users: Vec<String>,
    /// The workspace it grants them.
    pub workspace: WorkspaceResources,
}

/// Where a permit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// In force: its data may be built and used.
    InForce,
    /// Suspended: nothing may be built or used, but it may be reinstated,
    /// so what was built is kept.
    Suspended,
    /// Revoked or past its term, for good: what was built for it must be
    /// destroyed.
    Ended,
}

/// Review's answers about permits, as the functions acting on them ask.
pub trait PermitAuthority: Send + Sync {
    /// What `permit` grants while it is in force. A permit that is not in
    /// force is refused with [`crate::ErrorKind::NotPermitted`], naming why;
    /// an unknown one with [`crate::ErrorKind::NotFound`].
    fn grant(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Grant>>;

    /// Where `permit` stands now. Asked again and again (before an extract
    /// starts, after each table, just before it becomes visible, and by
    /// the sweeper that ends what expired), so a permit revoked meanwhile
    /// stops the work.
    fn standing(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Standing>>;

    /// What `permit` grants and where it stands, whatever its standing:
    /// for checks that must first decide whether the caller is one of its
    /// users (so a stranger learns nothing of a permit's standing).
    fn terms(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<(Grant, Standing)>>;

    /// What the public register says of `permit`: for a patient shown
    /// which projects used their data.
    fn notice(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<PermitNotice>>;

    /// Whether `reviewer` may check the outputs made under `permit`:
    /// refused with [`crate::ErrorKind::Conflict`] when they declared a
    /// conflict with its holder or are one of its named users.
    fn may_check_outputs<'a>(
        &'a self,
        reviewer: &'a str,
        permit: PermitId,
    ) -> BoxFuture<'a, ServiceResult<()>>;

    /// Permits whose standing may have just changed (suspended, reinstated,
    /// revoked, superseded), as they change: hints to ask [`Self::standing`]
    /// again, so that a revoked permit's data is destroyed at once rather
    /// than at the next sweep. Lossy by design (a follower that falls
    /// behind or reconnects misses some), so a follower also sweeps; and a
    /// permit that expires by time changes nothing here. The default is no
    /// hints at all.
    fn changes(&self) -> BoxStream<'static, PermitId> {
        futures::stream::empty().boxed()
    }
}

/// One file of an extract, as the analysis environment registers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractFile {
    /// The table's name in the workspace (the lake table's, or
    /// `anonymized`).
    pub table: String,
    /// Its path in the extract store.
    pub file: String,
}

/// The current extract of a permit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractListing {
    /// The extract's id.
    pub extract: String,
    /// Its permit.
    pub permit: PermitId,
    /// Its files.
    pub tables: Vec<ExtractFile>,
}

/// An extract that included a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractUse {
    /// Its permit.
    pub permit: PermitId,
    /// The extract's id.
    pub extract: String,
    /// When it was made.
    pub at: Timestamp,
}

/// What the public register says of a permit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitNotice {
    /// The permit.
    pub permit: PermitId,
    /// The project's title.
    pub title: String,
    /// Who holds it.
    pub holder: String,
    /// What for.
    pub purpose: String,
}

/// Processing's answers about extracts, as the analysis environment and
/// the patient portal ask.
pub trait ExtractCatalog: Send + Sync {
    /// The current (latest open) extract of `permit`; `None` when none was
    /// built yet, or the permit ended and its extracts were closed.
    fn latest(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Option<ExtractListing>>>;

    /// The extracts that included `person`, newest first.
    fn including(&self, person: PersonKey) -> BoxFuture<'_, ServiceResult<Vec<ExtractUse>>>;
}
