//! Ids of applications and permits: shared vocabulary, defined in
//! `renkei-core` so that every function names a permit the same way.

pub use renkei_core::{ApplicationId, PermitId};
