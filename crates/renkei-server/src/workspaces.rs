//! Workspaces joined to review and processing: a named user of a permit in
//! force gets a workspace over the permit's latest extract, and nothing
//! else. Asked on every request, so a revoked, suspended or expired permit
//! closes the workspace at once.

use std::time::Duration;

use renkei_analysis::{ExtractTable, Limits, Workspace};
use renkei_review::{Permit, PermitId};

use crate::{AppState, Error, Result};

/// The workspace of `permit` for `username`: refused (409) when the permit
/// is not in force, 403 when the user is not named on it, 409 when it has
/// no extract yet.
pub async fn open(state: &AppState, permit: &str, username: &str) -> Result<(Permit, Workspace)> {
    let id = PermitId::parse(permit).map_err(|e| Error::BadRequest(e.to_string()))?;
    let permit = state.review().permit_in_force(&id).await?;
    if !permit.users.iter().any(|u| u == username) {
        return Err(Error::Forbidden(format!(
            "{username} is not a named user of permit {id}"
        )));
    }
    let manifest = state.processing().latest(id).await?.ok_or_else(|| {
        Error::Conflict(format!(
            "permit {id} has no extract yet: the operator builds it first"
        ))
    })?;
    let store = state.processing().extract_store();
    let mut tables = Vec::new();
    for t in &manifest.tables {
        tables.push(ExtractTable {
            name: t.table.clone(),
            files: vec![object_store::path::Path::from(t.file.as_str())],
            schema: None,
        });
    }
    let mut limits = Limits::from_resources(permit.resources.memory_gib, permit.resources.cpus);
    // A query stops by its own limit before the request's timeout would
    // cut it off, so the researcher is told why and the history has it.
    let request = Duration::from_secs(state.config().server.request_timeout_secs.max(1));
    limits.timeout = limits.timeout.min(
        request
            .saturating_sub(Duration::from_secs(2))
            .max(Duration::from_secs(1)),
    );
    let engine = state.config().analysis.engine()?;
    let pool = state.analysis().memory_pool(id, limits.memory_bytes);
    let ws = Workspace::open_sharing(&engine, id, store, &tables, limits, pool).await?;
    Ok((permit, ws))
}
