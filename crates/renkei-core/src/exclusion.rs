//! The contract between the opt-out registry and processing: who is kept
//! out of a use, and which registry version the answer reflects, so that
//! an extract can show later which opt-outs it honoured.

use std::collections::HashSet;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::{DataUse, PersonKey, ServiceResult};

/// The persons an extract must leave out, and the opt-out registry
/// version the set reflects (recorded in the manifest): every change up to
/// the version is wholly in the set, every later one wholly out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// The registry version.
    pub registry_version: u64,
    /// The persons out.
    pub persons: HashSet<PersonKey>,
}

/// The opt-out registry's answer, as processing asks it.
pub trait OptOutRegistry: Send + Sync {
    /// Who is out of `used` now, at the registry's latest version.
    fn exclusion(&self, used: &DataUse) -> BoxFuture<'_, ServiceResult<Exclusion>>;
}
