//! Submissions and their receipts.

use std::collections::BTreeMap;
use std::fmt;

use renkei_core::{ProviderCode, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A submission's id (shared vocabulary: `renkei_core::SubmissionId`).
pub use renkei_core::SubmissionId;

/// Where in a submission a resource was: the NDJSON line (1-based) and,
/// for a Bundle, the entry (0-based, as in `Bundle.entry[i]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The line, for NDJSON; `None` for a single JSON document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The entry of a Bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.entry) {
            (Some(l), Some(e)) => write!(f, "line {l}, Bundle.entry[{e}]"),
            (Some(l), None) => write!(f, "line {l}"),
            (None, Some(e)) => write!(f, "Bundle.entry[{e}]"),
            (None, None) => f.write_str("the document"),
        }
    }
}

/// What happened to the resources of one type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    /// Resources of this type in the submission.
    pub received: u64,
    /// Valid and now in the lake (new or superseding an older version).
    pub accepted: u64,
    /// Refused; each has an OperationOutcome in the receipt.
    pub rejected: u64,
    /// The same content as the version already held: nothing written.
    pub unchanged: u64,
    /// Of the accepted, those that replaced an older version.
    pub superseded: u64,
    /// Not newer (`meta.lastUpdated`) than the version held: ignored.
    pub stale: u64,
    /// Deleted by a Bundle `DELETE` entry.
    pub deleted: u64,
    /// Valid, but their patient has not arrived: held in the pending area.
    pub pending: u64,
}

/// A refused resource and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// Where it was.
    pub location: Location,
    /// Its `resourceType`, if it had one.
    pub resource_type: Option<String>,
    /// Its `id`, if it had one.
    pub id: Option<String>,
    /// A FHIR OperationOutcome with every issue found.
    pub outcome: serde_json::Value,
}

/// Something about an accepted resource the provider should know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Where it was.
    pub location: Location,
    /// `resourceType/id`.
    pub resource: String,
    /// What to know, e.g. that it waits for its patient.
    pub message: String,
}

/// How a submission ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionState {
    /// Being read.
    Receiving,
    /// Read; the lake commit is under way.
    Committing,
    /// Committed: its accepted rows are in the lake.
    Committed,
    /// Abandoned: nothing from it is in the lake.
    Failed,
}

impl SubmissionState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Receiving => "receiving",
            Self::Committing => "committing",
            Self::Committed => "committed",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "receiving" => Self::Receiving,
            "committing" => Self::Committing,
            "committed" => Self::Committed,
            "failed" => Self::Failed,
            other => return Err(Error::Corrupt(format!("submission state {other:?}"))),
        })
    }
}

/// At most this many rejections and notices are listed in a receipt; the
/// counts always cover all of them.
pub const MAX_LISTED: usize = 1000;

/// What a provider gets back for a submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The submission.
    pub submission_id: SubmissionId,
    /// Who sent it.
    pub provider: ProviderCode,
    /// How it ended.
    pub state: SubmissionState,
    /// When reading began.
    pub received_at: Timestamp,
    /// When its rows became visible in the lake.
    pub committed_at: Option<Timestamp>,
    /// The lake version that made them visible (`None` when nothing was
    /// written: everything refused, unchanged or pending).
    pub lake_version: Option<u64>,
    /// SHA-256 of the submission's content (after gzip decoding): the same
    /// content sent again returns this receipt.
    pub content_sha256: String,
    /// Bytes of content read.
    pub bytes: u64,
    /// Per resource type.
    pub counts: BTreeMap<String, TypeCounts>,
    /// Refused resources (the first [`MAX_LISTED`]).
    pub rejected: Vec<Rejected>,
    /// Notices about accepted resources (the first [`MAX_LISTED`]).
    pub notices: Vec<Notice>,
    /// Resources held pending from earlier submissions whose patient came
    /// with this one, and which joined the lake with it.
    pub pending_joined: u64,
    /// Why a failed submission failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Receipt {
    /// Totals over all types.
    pub fn totals(&self) -> TypeCounts {
        let mut t = TypeCounts::default();
        for c in self.counts.values() {
            t.received += c.received;
            t.accepted += c.accepted;
            t.rejected += c.rejected;
            t.unchanged += c.unchanged;
            t.superseded += c.superseded;
            t.stale += c.stale;
            t.deleted += c.deleted;
            t.pending += c.pending;
        }
        t
    }
}
