//! Review (審査): who may use which data, for what.
//!
//! **Owns:** applications ([`ApplicationForm`]: organization and country,
//! named users with training and conflict declarations, purpose and public
//! interest, requested tables, columns, cohort and period, delivery type,
//! outputs, security, funding) and the rules that flag them for scrutiny;
//! the workflow as types ([`workflow`]: each state a type, each transition
//! a method, [`Stage::apply`] the one door); reviewers' conflicts of
//! interest, assignments and votes; machine-readable permits ([`Permit`])
//! and whether one is in force; the public register's entries and the
//! median time to decision.
//!
//! **Never:** lets an illegal transition be expressed or taken, takes a
//! step before its audit entry is durable, assigns a reviewer with a
//! declared conflict, or answers "in force" for a suspended, revoked or
//! expired permit.
//!
//! **Start at:** [`Review::step`], [`Review::issue_permit`],
//! [`Review::permit_in_force`].
#![warn(missing_docs)]

mod contract;
mod error;
pub mod form;
mod ids;
pub mod permit;
mod register;
mod review;
pub mod risk;
pub mod workflow;

pub use error::{Error, Result};
pub use form::{ApplicationForm, ScrutinyRules};
pub use ids::{ApplicationId, PermitId};
pub use permit::{Permit, PermitStatus, PermitTerms, PrivacyTerms, RowScope};
pub use register::{DecisionTimes, RegisterEntry};
pub use review::{Acting, Application, Review, Transition, Vote, VoteKind};
pub use risk::RiskSignals;
pub use workflow::{Stage, Step};
