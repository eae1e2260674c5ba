//! Opt-out management (オプトアウト管理): patients saying no, and the platform
//! being sure it holds.
//!
//! **Owns:** the opt-out registry ([`Registry`]: scopes, effective times,
//! withdrawals, the full history, receipt numbers), the policy for who may
//! act (representatives; bereaved family for a deceased person, if
//! configured), the exclusion set of person_keys for a use and an instant
//! ([`ExclusionSet`], a roaring bitmap stamped with the registry version it
//! reflects), the register's opt-out statistics, and the trait patients
//! identify through ([`PatientIdentification`]).
//!
//! **Never:** forgets or rewrites a change (history is append-only: a
//! withdrawal is a new change), makes a change count before its audit
//! entry is durable, answers an exclusion set without the version it
//! reflects, or holds an identifying attribute — it knows persons only by
//! person_key, and identification goes through identity.
//!
//! **Start at:** [`Registry::opt_out`], [`Registry::exclusion`].
#![warn(missing_docs)]

mod change;
mod contract;
mod error;
mod exclusion;
mod identification;
mod index;
mod receipt;
mod register;
mod registry;
mod scope;
mod uses;

pub use change::{
    Change, ChangeKind, Channel, OptOutRequest, StandingOptOut, Submitter, WithdrawalRequest,
};
pub use error::{Error, Result};
pub use exclusion::ExclusionSet;
pub use identification::{ByAttributes, Evidence, PatientIdentification};
pub use receipt::Receipt;
pub use register::{MonthRow, Published, RegisterStats, publication_instant};
pub use registry::{Policy, Registry};
pub use scope::{DataCategory, DataUse, Purpose, Scope};
pub use uses::{Use, uses_of};
