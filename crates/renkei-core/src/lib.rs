//! The shared vocabulary of renkei: the words every function uses, and the
//! traits through which one function calls another.
//!
//! **Owns:** id newtypes ([`UserId`], [`OrgId`], [`PersonKey`],
//! [`ProviderCode`]), the identity contract ([`IdentityResolver`],
//! [`IdentifyingAttributes`]), the permit contract ([`PermitAuthority`],
//! [`Grant`], [`ExtractCatalog`]), identity's merges and splits
//! ([`PersonEvents`]), figures from the lake ([`LakeStatistics`]), the
//! opt-out contract ([`OptOutRegistry`], [`Exclusion`],
//! [`DataUse`]), the one error a function answers another with
//! ([`ServiceError`]), [`Role`], [`Function`] and
//! [`OperatingModel`], [`Timestamp`] and [`Clock`], the audit event that every
//! function appends ([`AuditEvent`]) and the [`AuditSink`] trait it appends
//! through, and the canonical lake tables with their Arrow schemas
//! ([`LakeTable`]).
//!
//! **Never:** holds logic that belongs to a function, touches a store or the
//! network, or depends on another renkei crate. A trait here is the whole
//! contract between two functions: the in-process and the HTTP implementation
//! must behave the same (DESIGN.md invariant 7).
//!
//! **Start at:** [`AuditSink`], [`Role`], [`Function`].
#![warn(missing_docs)]

mod audit;
mod clock;
mod error;
mod exclusion;
mod function;
mod identity;
mod ids;
mod lake;
mod permit;
mod person_events;
pub mod prefecture;
mod purpose;
mod role;
mod service;
mod statistics;

pub use audit::{Actor, AuditEvent, AuditReceipt, AuditSink, Outcome};
pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use error::{Error, Result};
pub use exclusion::{Exclusion, OptOutRegistry};
pub use function::{Function, OperatingModel, OperatorKind};
pub use identity::{
    IdentifyingAttributes, IdentityResolver, LinkMethod, ProviderCode, Resolution, Sex,
};
pub use ids::{
    ApplicationId, IdentityBatch, OrgId, PermitId, PersonKey, RecordId, SubmissionId, UserId,
};
pub use lake::{
    LakeTable, PERSON_KEY_MAP_TABLE, RECORD_KEY_MAP_TABLE, SUPERSEDED_TABLE,
    lineage as lake_lineage_columns, person_key_map_schema, record_key_map_schema,
    superseded_schema,
};
pub use permit::{
    Delivery, ExtractCatalog, ExtractFile, ExtractListing, ExtractUse, Grant, PermitAuthority,
    PermitNotice, PrivacyTerms, Standing, TableSelection, WorkspaceResources,
};
pub use person_events::{PersonEvent, PersonEvents};
pub use prefecture::Prefecture;
pub use purpose::{DataCategory, DataUse, Purpose};
pub use role::Role;
pub use service::{ErrorKind, ServiceError, ServiceResult};
pub use statistics::{CohortQuestion, CohortStatistics, LakeStatistics, RareValues};
