//! Identity's merges and splits as the lake's writer asks for them
//! ([`renkei_core::PersonEvents`]): the recorded events without who did
//! them or why, which stay with identity.

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use renkei_core::{PersonEvent, PersonEvents, RecordId, ServiceResult};

use crate::{Error, PersonIndex};

impl PersonEvents for PersonIndex {
    fn since(&self, seq: i64) -> BoxFuture<'_, ServiceResult<Vec<PersonEvent>>> {
        Box::pin(async move {
            let recorded = self.events_since(seq).await?;
            let mut out = Vec::with_capacity(recorded.len());
            for e in recorded {
                out.push(match e.kind {
                    "merge" => PersonEvent::Merged {
                        seq: e.seq,
                        id: e.id,
                        from: e.from_person,
                        into: e.to_person,
                        at: e.at,
                    },
                    _ => PersonEvent::Split {
                        seq: e.seq,
                        records: e
                            .records
                            .iter()
                            .map(|r| {
                                RecordId::parse(r).map_err(|err| {
                                    Error::Corrupt(format!(
                                        "split {} names record {r:?}: {err}",
                                        e.id
                                    ))
                                })
                            })
                            .collect::<Result<_, _>>()?,
                        id: e.id,
                        from: e.from_person,
                        to: e.to_person,
                        at: e.at,
                    },
                });
            }
            Ok(out)
        })
    }

    fn changes(&self) -> BoxStream<'static, ()> {
        use tokio::sync::broadcast::error::RecvError;
        futures::stream::unfold(self.changes.subscribe(), |mut rx| async move {
            match rx.recv().await {
                // Ticks missed are one tick: ask for everything new.
                Ok(()) | Err(RecvError::Lagged(_)) => Some(((), rx)),
                Err(RecvError::Closed) => None,
            }
        })
        .boxed()
    }
}
