//! The contract between identity and the lake's writer (collection): the
//! merges and splits identity decides, in order, so that lake rows keyed
//! before a merge or split are read under the right person. Identity never
//! writes the lake; the writer asks for what is new and applies it
//! idempotently, in-process or from another operator.

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::{PersonKey, RecordId, ServiceResult, Timestamp};

/// A merge or a split identity decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PersonEvent {
    /// Two persons were one: `from` is merged into `into`.
    Merged {
        /// Order of the event among all merges and splits (1, 2, …).
        seq: i64,
        /// The event's id.
        id: String,
        /// The person merged away.
        from: PersonKey,
        /// The survivor.
        into: PersonKey,
        /// When.
        at: Timestamp,
    },
    /// Records were moved off a person onto a new one.
    Split {
        /// Order of the event among all merges and splits (1, 2, …).
        seq: i64,
        /// The event's id.
        id: String,
        /// The person the records left.
        from: PersonKey,
        /// The new person.
        to: PersonKey,
        /// The attribute records moved.
        records: Vec<RecordId>,
        /// When.
        at: Timestamp,
    },
}

impl PersonEvent {
    /// Its order among all merges and splits.
    pub fn seq(&self) -> i64 {
        match self {
            PersonEvent::Merged { seq, .. } | PersonEvent::Split { seq, .. } => *seq,
        }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        match self {
            PersonEvent::Merged { id, .. } | PersonEvent::Split { id, .. } => id,
        }
    }
}

/// Identity's merges and splits, as the lake's writer asks for them.
pub trait PersonEvents: Send + Sync {
    /// The events after `seq` (all of them from 0), in order.
    fn since(&self, seq: i64) -> BoxFuture<'_, ServiceResult<Vec<PersonEvent>>>;

    /// A tick whenever new events may be there: a hint to ask
    /// [`Self::since`] again at once rather than at the next sweep. Lossy
    /// by design, so a follower also sweeps. The default is no hints.
    fn changes(&self) -> BoxStream<'static, ()> {
        futures::stream::empty().boxed()
    }
}
