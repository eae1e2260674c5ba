//! Analysis environment (解析環境): per-permit workspaces where researchers
//! query their extract, and from which only checked results leave.
//!
//! **Owns:** workspaces (an Apache DataFusion session holding one permit's
//! extract tables), per-query limits, query history, statistical disclosure
//! control of outputs, release requests.
//!
//! **Never:** depends on `renkei-identity`, reads anything but its permit's
//! extract, or releases an unchecked output.
//!
//! **Status:** filled by the analysis-environment issue; this crate holds only
//! its contract until then.
#![warn(missing_docs)]

pub mod disclosure;
