//! What every function appends to the audit log, and the trait it appends
//! through. DESIGN.md invariant 5: an access or decision is appended before
//! its effect can be seen, so [`AuditSink::append`] resolves only once the
//! entry is durable.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::{Error, Role, Timestamp, UserId};

/// Who did something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Actor {
    /// A signed-in account acting in its role.
    User {
        /// The account.
        id: UserId,
        /// The account's sign-in name (never a patient's real name: patient
        /// accounts are named by the platform).
        username: String,
        /// The role the account acted in.
        role: Role,
    },
    /// A patient identified to the portal (patient session), named by
    /// their person_key: the portal's patients have no account.
    Patient {
        /// The person the patient proved to be.
        person_key: crate::PersonKey,
    },
    /// Someone not signed in (a public page, a failed sign-in).
    Anonymous,
    /// The platform itself (a scheduled job, start-up, the command line).
    System {
        /// Which part of the platform (`cli`, `demo`, `scheduler`).
        component: String,
    },
}

impl Actor {
    /// The role, when the actor is an account.
    pub fn role(&self) -> Option<Role> {
        match self {
            Actor::User { role, .. } => Some(*role),
            _ => None,
        }
    }
}

/// How the audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It was done.
    Success,
    /// It was refused: not signed in, not permitted, or bad input.
    Refused,
    /// It failed on the platform's side.
    Failed,
}

impl Outcome {
    /// The outcome an HTTP status stands for.
    pub fn from_http_status(status: u16) -> Self {
        match status {
            0..=399 => Outcome::Success,
            400..=499 => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

/// One entry of the audit log. Holds ids and counts, never names, addresses,
/// insurance numbers or clinical values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it.
    pub actor: Actor,
    /// What was done: `"GET /api/v1/audit/head"`, `"account.create"`.
    pub action: String,
    /// What it was done to: a path, an id.
    pub object: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The HTTP status or exit code, when there was one.
    pub status: Option<u16>,
    /// The request id that ties the entry to the server's logs.
    pub request_id: Option<String>,
}

impl AuditEvent {
    /// A step a function took and that succeeded, outside any HTTP request
    /// (no status, no request id): what a function appends before its
    /// change commits.
    pub fn success(at: crate::Timestamp, actor: Actor, action: &str, object: String) -> Self {
        Self {
            at,
            actor,
            action: action.to_owned(),
            object,
            outcome: Outcome::Success,
            status: None,
            request_id: None,
        }
    }
}

/// Proof that an event was appended: its index in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReceipt {
    /// The entry's zero-based index (its leaf index in the Merkle tree).
    pub index: u64,
}

/// Where functions append audit events. Implemented by `renkei-audit` in
/// process, and by an HTTP client when the audit log runs elsewhere.
pub trait AuditSink: Send + Sync + 'static {
    /// Appends the event and resolves once it is durable. An error means the
    /// event was not recorded and what it describes must not take effect.
    fn append(&self, event: AuditEvent) -> BoxFuture<'_, Result<AuditReceipt, Error>>;
}
