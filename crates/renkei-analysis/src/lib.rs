//! Analysis environment (解析環境): per-permit workspaces where researchers
//! query their extract, and from which only checked results leave.
//!
//! **Owns:** workspaces (an Apache DataFusion session holding one permit's
//! extract tables and nothing else: [`Workspace`]), per-query limits, query
//! history and saved queries ([`Environment`]), statistical disclosure
//! control of outputs, and their release ([`release`]: request, automatic
//! check, a reviewer's decision, the released table); the analysis
//! cluster's nodes ([`cluster`]: Apache DataFusion Ballista scheduler and
//! executors) when workspaces run beyond one machine ([`Engine`]).
//!
//! **Never:** depends on `renkei-identity` (or any other function crate),
//! reads anything but its permit's extract, or releases an unchecked output.
//! It learns of permits and extracts only through the contracts of
//! `renkei-core` ([`renkei_core::PermitAuthority`],
//! [`renkei_core::ExtractCatalog`]), handed to it as [`Peers`].
#![warn(missing_docs)]

pub mod cluster;
pub mod disclosure;
mod environment;
mod error;
mod peers;
pub mod release;
pub mod workspace;

pub use environment::{Environment, HistoryEntry, SavedQuery};
pub use error::{Error, Result};
pub use peers::Peers;
pub use release::{Check, CheckedCell, Output, OutputId, OutputRequest, OutputStatus, Reader};
pub use workspace::{Engine, ExtractTable, Limits, QueryResult, Workspace};
