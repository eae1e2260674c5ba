//! The registry's records: opt-outs, withdrawals, who asked and how.

use renkei_core::{PersonKey, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Receipt, Scope};

/// Who asks for a change on a person's behalf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Submitter {
    /// The person themself (本人).
    #[serde(rename = "self")]
    Person,
    /// A legal representative (法定代理人): a parent of a minor, a guardian.
    Representative {
        /// The relation as stated (親権者, 成年後見人 …).
        relation: String,
    },
    /// Bereaved family of a deceased person (遺族), if the policy allows.
    BereavedFamily {
        /// The relation as stated (配偶者, 子 …).
        relation: String,
    },
}

impl Submitter {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Submitter::Person => "self",
            Submitter::Representative { .. } => "representative",
            Submitter::BereavedFamily { .. } => "bereaved_family",
        }
    }

    pub(crate) fn relation(&self) -> Option<&str> {
        match self {
            Submitter::Person => None,
            Submitter::Representative { relation } | Submitter::BereavedFamily { relation } => {
                Some(relation)
            }
        }
    }

    pub(crate) fn from_parts(kind: &str, relation: Option<String>) -> Option<Self> {
        Some(match kind {
            "self" => Submitter::Person,
            "representative" => Submitter::Representative {
                relation: relation?,
            },
            "bereaved_family" => Submitter::BereavedFamily {
                relation: relation?,
            },
            _ => return None,
        })
    }

    /// The Japanese label.
    pub fn label_ja(&self) -> String {
        match self {
            Submitter::Person => "本人".to_owned(),
            Submitter::Representative { relation } => format!("法定代理人（{relation}）"),
            Submitter::BereavedFamily { relation } => format!("遺族（{relation}）"),
        }
    }
}

/// How the request reached the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The patient portal.
    Portal,
    /// The API, by an operator or a provider's system.
    Api,
    /// A paper form entered by an operator (窓口・郵送).
    Paper,
}

impl Channel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Api => "api",
            Channel::Paper => "paper",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "portal" => Channel::Portal,
            "api" => Channel::Api,
            "paper" => Channel::Paper,
            _ => return None,
        })
    }
}

/// A request to opt a person out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptOutRequest {
    /// The person (as identity named them).
    pub person: PersonKey,
    /// What it covers.
    pub scope: Scope,
    /// When it takes effect: now when `None`; never in the past.
    pub effective_from: Option<Timestamp>,
    /// Who asks.
    pub submitter: Submitter,
    /// How the request came.
    pub channel: Channel,
}

/// A request to withdraw one opt-out of a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawalRequest {
    /// The person asking (must be the opt-out's person).
    pub person: PersonKey,
    /// The receipt of the opt-out to withdraw.
    pub opt_out: Receipt,
    /// Who asks.
    pub submitter: Submitter,
    /// How the request came.
    pub channel: Channel,
}

/// What a change was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// An opt-out.
    OptOut,
    /// A withdrawal of the opt-out with this receipt.
    Withdrawal {
        /// The withdrawn opt-out's receipt.
        withdraws: Receipt,
    },
}

/// One entry of the registry's history: what the registry answers after a
/// change and when a person asks for their history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The registry version this change made (versions count changes; an
    /// exclusion set names the version it reflects).
    pub version: u64,
    /// The receipt number the patient keeps.
    pub receipt: Receipt,
    /// Opt-out or withdrawal.
    pub kind: ChangeKind,
    /// The person.
    pub person: PersonKey,
    /// The scope of the opt-out (of the withdrawn one, for a withdrawal).
    pub scope: Scope,
    /// When it takes (took) effect.
    pub effective_from: Timestamp,
    /// When the registry recorded it.
    pub recorded_at: Timestamp,
    /// Who asked.
    pub submitter: Submitter,
    /// How the request came.
    pub channel: Channel,
}

/// One opt-out as it stands at an instant, for the person's status page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingOptOut {
    /// The opt-out.
    pub change: Change,
    /// Whether it applies at the instant asked (false: it takes effect
    /// later).
    pub in_force: bool,
}
