//! `/api/v1/audit`: the signed tree head, the log's public key, inclusion and
//! consistency proofs (RFC 9162 §2.1), and the entries themselves for
//! auditors. With a head and a proof anyone can check, without trusting the
//! operator, that an entry is in the log and that the log only grew.

use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::{AppState, Error, Result};

/// The log's current signed tree head.
#[utoipa::path(get, path = "/api/v1/audit/head", tag = "audit",
    responses((status = 200, description = "Signed tree head: tree_size, timestamp, root_hash (hex), signature (hex, Ed25519 over the RFC 6962-style TreeHeadSignature layout), key_id")))]
pub async fn head(State(state): State<AppState>) -> Result<ApiJson<renkei_audit::SignedTreeHead>> {
    Ok(ApiJson(state.audit().signed_head().await?))
}

/// The log's Ed25519 public key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// The 32-byte public key, hex.
    pub public_key_hex: String,
    /// The same key, base64.
    pub public_key_base64: String,
    /// SHA-256 of the public key, hex; heads name their key by it.
    pub key_id: String,
}

/// The key that signs tree heads.
#[utoipa::path(get, path = "/api/v1/audit/key", tag = "audit",
    responses((status = 200, description = "The signing key", body = KeyInfo)))]
pub async fn key(State(state): State<AppState>) -> ApiJson<KeyInfo> {
    let k = state.audit().public_key();
    ApiJson(KeyInfo {
        algorithm: "Ed25519",
        public_key_hex: k.to_hex(),
        public_key_base64: k.to_base64(),
        key_id: k.key_id().to_hex(),
    })
}

/// Which inclusion proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InclusionQuery {
    /// The entry's zero-based index.
    pub index: u64,
    /// The size of the tree the proof is against (default: the current size).
    pub tree_size: Option<u64>,
}

/// Proves that entry `index` is in the tree of `tree_size` entries.
#[utoipa::path(get, path = "/api/v1/audit/proof/inclusion", tag = "audit",
    params(InclusionQuery),
    responses((status = 200, description = "Inclusion proof: leaf_index, tree_size, path (hex hashes)"),
              (status = 400, description = "Index or size out of range", body = crate::Problem)))]
pub async fn inclusion(
    State(state): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> Result<ApiJson<renkei_audit::InclusionProof>> {
    let size = q.tree_size.unwrap_or_else(|| state.audit().size());
    state
        .audit()
        .inclusion_proof(q.index, size)
        .map(ApiJson)
        .map_err(range_error)
}

/// Which consistency proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub first: u64,
    /// The newer tree size (default: the current size).
    pub second: Option<u64>,
}

/// Proves that the tree of `first` entries is a prefix of the tree of
/// `second` entries.
#[utoipa::path(get, path = "/api/v1/audit/proof/consistency", tag = "audit",
    params(ConsistencyQuery),
    responses((status = 200, description = "Consistency proof: first, second, path (hex hashes)"),
              (status = 400, description = "Sizes out of range", body = crate::Problem)))]
pub async fn consistency(
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<ApiJson<renkei_audit::ConsistencyProof>> {
    let second = q.second.unwrap_or_else(|| state.audit().size());
    state
        .audit()
        .consistency_proof(q.first, second)
        .map(ApiJson)
        .map_err(range_error)
}

/// Which entries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EntriesQuery {
    /// First index (inclusive).
    pub start: u64,
    /// Last index (exclusive); at most 1000 after `start`.
    pub end: u64,
}

/// Entries `start..end` with their leaf hashes.
#[utoipa::path(get, path = "/api/v1/audit/entries", tag = "audit",
    security(("bearer" = [])),
    params(EntriesQuery),
    responses((status = 200, description = "Entries: index, event, leaf_hash"),
              (status = 400, description = "Range invalid or too long", body = crate::Problem),
              (status = 403, description = "Not an auditor or operator", body = crate::Problem)))]
pub async fn entries(
    State(state): State<AppState>,
    Query(q): Query<EntriesQuery>,
) -> Result<ApiJson<Vec<renkei_audit::StoredEntry>>> {
    if q.end < q.start || q.end - q.start > 1000 {
        return Err(Error::BadRequest(format!(
            "entries {}..{}: end must be at least start and at most start + 1000",
            q.start, q.end
        )));
    }
    let end = q.end.min(state.audit().size());
    let start = q.start.min(end);
    Ok(ApiJson(state.audit().entries(start, end).await?))
}

/// A proof asked for sizes the log does not have is the caller's mistake.
fn range_error(e: renkei_audit::Error) -> Error {
    if e.is_caller_error() {
        Error::BadRequest(e.to_string())
    } else {
        Error::Audit(e)
    }
}
