//! The opt-out contract as this registry serves it: processing asks who is
//! out of a use through [`renkei_core::OptOutRegistry`], never through the
//! registry's own types, so it can be answered from another operator.

use futures::future::BoxFuture;
use renkei_core::{DataUse, Exclusion, OptOutRegistry, ServiceResult};

use crate::Registry;

impl OptOutRegistry for Registry {
    fn exclusion(&self, used: &DataUse) -> BoxFuture<'_, ServiceResult<Exclusion>> {
        let used = used.clone();
        Box::pin(async move {
            let set = Registry::exclusion(self, &used, self.clock.now()).await?;
            Ok(Exclusion {
                registry_version: set.version(),
                persons: set.person_keys().into_iter().collect(),
            })
        })
    }
}
