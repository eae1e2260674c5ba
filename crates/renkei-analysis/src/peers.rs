//! Who gets which workspace. A named user of a permit in force gets one
//! over the permit's current extract, and nothing else. The environment
//! asks review and processing through the contracts of `renkei-core`,
//! every time a workspace is opened, so a revoked, suspended or expired
//! permit closes its workspaces at once.

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use renkei_core::{ErrorKind, ExtractCatalog, Grant, PermitAuthority, PermitId, ServiceError};

use crate::workspace::{Engine, ExtractTable, Limits, Workspace};
use crate::{Environment, Error, Result};

/// The functions the environment asks, in-process or at another operator,
/// and where the extracts they name are read.
#[derive(Clone)]
pub struct Peers {
    /// Review's answers about permits.
    pub permits: Arc<dyn PermitAuthority>,
    /// Processing's answers about extracts.
    pub extracts: Arc<dyn ExtractCatalog>,
    /// The store that holds the extracts' files.
    pub extract_store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers").finish_non_exhaustive()
    }
}

impl Environment {
    /// The workspace of `permit` for `username`, running on `engine`, each
    /// query stopped after at most `max_query` (the caller's own deadline,
    /// so a query ends by its limit, with its reason in the history,
    /// before the caller gives up on it). Refused when the permit is not in
    /// force, when the user is not named on it, or when it has no extract
    /// yet.
    pub async fn workspace(
        &self,
        permit: PermitId,
        username: &str,
        engine: &Engine,
        max_query: Duration,
    ) -> Result<(Grant, Workspace)> {
        let grant = self
            .peers
            .permits
            .grant(permit)
            .await
            .map_err(|e| refused(permit, e))?;
        if !grant.users.iter().any(|u| u == username) {
            return Err(Error::NotNamed(format!(
                "{username} is not a named user of permit {permit}"
            )));
        }
        let listing = self.peers.extracts.latest(permit).await?.ok_or_else(|| {
            Error::Conflict(format!(
                "permit {permit} has no extract yet: the operator builds it first"
            ))
        })?;
        let tables: Vec<ExtractTable> = listing
            .tables
            .iter()
            .map(|t| ExtractTable {
                name: t.table.clone(),
                files: vec![object_store::path::Path::from(t.file.as_str())],
                schema: None,
            })
            .collect();
        let mut limits = Limits::from_resources(grant.workspace.memory_gib, grant.workspace.cpus);
        limits.timeout = limits.timeout.min(max_query.max(Duration::from_secs(1)));
        let pool = self.memory_pool(permit, limits.memory_bytes);
        let ws = Workspace::open_sharing(
            engine,
            permit,
            self.peers.extract_store.clone(),
            &tables,
            limits,
            pool,
        )
        .await?;
        Ok((grant, ws))
    }
}

/// Review's refusal in the environment's terms: a permit not in force is a
/// conflict with its state, as before; anything else is passed on.
fn refused(permit: PermitId, e: ServiceError) -> Error {
    match e.kind {
        ErrorKind::NotPermitted => Error::Conflict(format!("permit {permit}: {}", e.message)),
        ErrorKind::NotFound => Error::NotFound(format!("permit {permit}")),
        _ => Error::Peer(e),
    }
}
