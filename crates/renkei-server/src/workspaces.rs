//! Opening a workspace from a request: the permit id from the path, the
//! engine from the configuration, and a query limit inside the request's
//! timeout. Who may open which workspace is the analysis environment's
//! decision ([`renkei_analysis::Environment::workspace`]).

use std::time::Duration;

use renkei_analysis::Workspace;
use renkei_core::Grant;
use renkei_review::PermitId;

use crate::{AppState, Error, Result};

/// The workspace of `permit` for `username`: refused (409) when the permit
/// is not in force, 403 when the user is not named on it, 409 when it has
/// no extract yet.
pub async fn open(state: &AppState, permit: &str, username: &str) -> Result<(Grant, Workspace)> {
    let id = PermitId::parse(permit).map_err(|e| Error::BadRequest(e.to_string()))?;
    // A query stops by its own limit before the request's timeout would
    // cut it off, so the researcher is told why and the history has it.
    let request = Duration::from_secs(state.config().server.request_timeout_secs.max(1));
    let max_query = request.saturating_sub(Duration::from_secs(2));
    let engine = state.config().analysis.engine()?;
    Ok(state
        .analysis()
        .workspace(id, username, &engine, max_query)
        .await?)
}
