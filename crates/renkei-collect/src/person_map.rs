//! Identity's merges and splits, applied to the lake by its writer: every
//! merge becomes a row of `person_key_map` (see
//! [`renkei_core::person_key_map_schema`]), so that a reader of the lake
//! maps rows keyed before the merge onto the survivor; every record a
//! split moves becomes a row of `record_key_map` (see
//! [`renkei_core::record_key_map_schema`]), so that a reader maps the rows
//! resolved through that record onto the new person. Rows are appended,
//! never rewritten.
//!
//! Each event is one lake commit whose commit id is the event's id, so
//! applying is idempotent across retries, crashes and processes: two
//! writers that both apply an event land it once, with no lock between
//! them. Events are applied in order, so the highest `event_seq` in the
//! maps says where to go on.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use futures::StreamExt as _;
use renkei_core::{
    PERSON_KEY_MAP_TABLE, PersonEvent, PersonEvents, RECORD_KEY_MAP_TABLE, Timestamp,
    person_key_map_schema, record_key_map_schema,
};
use renkei_store::lake::{Change, Lake, LakeChange, TableName};

use crate::{Error, Intake, Result};

/// What one application of identity's events appended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Propagated {
    /// Rows appended to `person_key_map`: one per merge.
    pub merges: u64,
    /// Rows appended to `record_key_map`: one per record a split moved.
    pub split_records: u64,
}

impl Intake {
    /// Appends the merges and splits identity recorded after the last ones
    /// in the lake's key maps.
    pub async fn apply_person_events(&self, events: &dyn PersonEvents) -> Result<Propagated> {
        let lake = self.lake();
        let merges = TableName::parse(PERSON_KEY_MAP_TABLE)?;
        let splits = TableName::parse(RECORD_KEY_MAP_TABLE)?;
        let last = last_seq(lake, &merges)
            .await?
            .max(last_seq(lake, &splits).await?);
        let mut out = Propagated::default();
        for event in events.since(last).await? {
            let (table, batch, rows) = match &event {
                PersonEvent::Merged {
                    seq,
                    id,
                    from,
                    into,
                    at,
                } => {
                    let columns: Vec<ArrayRef> = vec![
                        strings([from.to_string()]),
                        strings([into.to_string()]),
                        Arc::new(Int64Array::from(vec![*seq])),
                        strings([id.clone()]),
                        timestamps(1, *at),
                    ];
                    (&merges, batch(person_key_map_schema(), columns)?, 1)
                }
                PersonEvent::Split {
                    seq,
                    id,
                    from,
                    to,
                    records,
                    at,
                } => {
                    // A split that moved no record maps nothing.
                    if records.is_empty() {
                        continue;
                    }
                    let n = records.len();
                    let columns: Vec<ArrayRef> = vec![
                        strings(records.iter().map(ToString::to_string)),
                        strings(std::iter::repeat_n(to.to_string(), n)),
                        strings(std::iter::repeat_n(from.to_string(), n)),
                        Arc::new(Int64Array::from(vec![*seq; n])),
                        strings(std::iter::repeat_n(id.clone(), n)),
                        timestamps(n, *at),
                    ];
                    (&splits, batch(record_key_map_schema(), columns)?, n as u64)
                }
            };
            lake.commit_all(
                LakeChange::new()
                    .table(table.clone(), Change::new().add_batches([batch]))
                    .operation("person-event")
                    .commit_id(format!("person-event-{}", event.id())),
            )
            .await?;
            match event {
                PersonEvent::Merged { .. } => out.merges += rows,
                PersonEvent::Split { .. } => out.split_records += rows,
            }
        }
        if out != Propagated::default() {
            tracing::info!(
                merges = out.merges,
                split_records = out.split_records,
                "identity's merges and splits applied to the lake"
            );
        }
        Ok(out)
    }

    /// Applies identity's events now and again on each of its hints, for
    /// as long as they come. A failure is logged and made good by the next
    /// application, which appends everything not yet in the lake.
    pub async fn follow_person_events(&self, events: Arc<dyn PersonEvents>) {
        let mut hints = events.changes();
        loop {
            if let Err(e) = self.apply_person_events(events.as_ref()).await {
                tracing::warn!(error = %e, "merges and splits not yet applied to the lake");
            }
            if hints.next().await.is_none() {
                return;
            }
        }
    }
}

/// The highest `event_seq` a key-map table of the lake holds (0 if none).
async fn last_seq(lake: &Lake, table: &TableName) -> Result<i64> {
    let mut last = 0i64;
    if let Some(snapshot) = lake.current().await?.and_then(|c| c.table(table).cloned()) {
        for batch in lake.read(&snapshot).await? {
            let seqs = batch
                .column_by_name("event_seq")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .ok_or_else(|| Error::Corrupt(format!("{table} has no event_seq")))?;
            for i in 0..seqs.len() {
                last = last.max(seqs.value(i));
            }
        }
    }
    Ok(last)
}

fn batch(schema: arrow::datatypes::SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(schema, columns)
        .map_err(|e| Error::Corrupt(format!("a key-map row does not fit its schema: {e}")))
}

fn strings(values: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn timestamps(n: usize, at: Timestamp) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from_iter_values(std::iter::repeat_n(at.unix_micros(), n))
            .with_timezone("UTC"),
    )
}
