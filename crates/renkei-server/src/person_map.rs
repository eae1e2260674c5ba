//! Propagation of identity's merges and splits to the lake: every merge
//! identity records becomes a row of `person_key_map` (see
//! [`renkei_core::person_key_map_schema`]), so that a reader of the lake
//! maps rows keyed before the merge onto the survivor; every record a
//! split moves becomes a row of `record_key_map` (see
//! [`renkei_core::record_key_map_schema`]), so that a reader maps the rows
//! resolved through that record onto the new person. Rows are appended,
//! never rewritten; the maps and the events agree once this has run, and
//! running it again appends only what is new.
//!
//! Lives in the server because it joins two functions: identity (which
//! never writes the lake) and the lake.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use renkei_core::{
    PERSON_KEY_MAP_TABLE, RECORD_KEY_MAP_TABLE, RecordId, Timestamp, person_key_map_schema,
    record_key_map_schema,
};
use renkei_identity::curation::PersonEvent;
use renkei_store::lake::TableName;

use crate::{AppState, Error, Result};

/// One propagation at a time: two would both append the same events.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What one propagation appended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Propagated {
    /// Rows appended to `person_key_map`: one per merge.
    pub merges: u64,
    /// Rows appended to `record_key_map`: one per record a split moved.
    pub split_records: u64,
}

/// Appends the merges and splits identity recorded after the last ones in
/// the lake's `person_key_map` and `record_key_map`.
///
/// Each table remembers its own last event, so a propagation stopped
/// between the two appends (each is a lake commit of its own) completes on
/// the next run without losing or repeating an event.
pub async fn propagate(state: &AppState) -> Result<Propagated> {
    let _one = RUNNING.lock().await;
    let merges_table = TableName::parse(PERSON_KEY_MAP_TABLE)?;
    let splits_table = TableName::parse(RECORD_KEY_MAP_TABLE)?;
    let last_merge = last_seq(state, &merges_table).await?;
    let last_split = last_seq(state, &splits_table).await?;
    let events = state
        .identity()
        .events_since(last_merge.min(last_split))
        .await?;
    let merges: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "merge" && e.seq > last_merge)
        .collect();
    let mut moved: Vec<(RecordId, &PersonEvent)> = Vec::new();
    for e in events
        .iter()
        .filter(|e| e.kind == "split" && e.seq > last_split)
    {
        for record in &e.records {
            let record = RecordId::parse(record).map_err(|err| {
                Error::Internal(format!("split {} names record {record:?}: {err}", e.id))
            })?;
            moved.push((record, e));
        }
    }
    let lake = state.stores().lake()?;
    let mut out = Propagated::default();
    if !merges.is_empty() {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                merges.iter().map(|e| e.from_person.to_string()),
            )),
            Arc::new(StringArray::from_iter_values(
                merges.iter().map(|e| e.to_person.to_string()),
            )),
            Arc::new(Int64Array::from_iter_values(merges.iter().map(|e| e.seq))),
            Arc::new(StringArray::from_iter_values(
                merges.iter().map(|e| e.id.clone()),
            )),
            timestamps(merges.iter().map(|e| e.at)),
        ];
        let batch = RecordBatch::try_new(person_key_map_schema(), columns)
            .map_err(|e| Error::Internal(format!("person_key_map rows: {e}")))?;
        lake.append(&merges_table, &[batch]).await?;
        out.merges = merges.len() as u64;
    }
    if !moved.is_empty() {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                moved.iter().map(|(r, _)| r.to_string()),
            )),
            Arc::new(StringArray::from_iter_values(
                moved.iter().map(|(_, e)| e.to_person.to_string()),
            )),
            Arc::new(StringArray::from_iter_values(
                moved.iter().map(|(_, e)| e.from_person.to_string()),
            )),
            Arc::new(Int64Array::from_iter_values(
                moved.iter().map(|(_, e)| e.seq),
            )),
            Arc::new(StringArray::from_iter_values(
                moved.iter().map(|(_, e)| e.id.clone()),
            )),
            timestamps(moved.iter().map(|(_, e)| e.at)),
        ];
        let batch = RecordBatch::try_new(record_key_map_schema(), columns)
            .map_err(|e| Error::Internal(format!("record_key_map rows: {e}")))?;
        lake.append(&splits_table, &[batch]).await?;
        out.split_records = moved.len() as u64;
    }
    if out != Propagated::default() {
        tracing::info!(
            merges = out.merges,
            split_records = out.split_records,
            "person index events propagated to the lake"
        );
    }
    Ok(out)
}

/// The highest `event_seq` a key-map table of the lake holds (0 if none).
async fn last_seq(state: &AppState, table: &TableName) -> Result<i64> {
    let lake = state.stores().lake()?;
    let mut last = 0i64;
    if let Some(snapshot) = lake.current().await?.and_then(|c| c.table(table).cloned()) {
        for batch in lake.read(&snapshot).await? {
            let seqs = batch
                .column_by_name("event_seq")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .ok_or_else(|| Error::Internal(format!("{table} has no event_seq")))?;
            for i in 0..seqs.len() {
                last = last.max(seqs.value(i));
            }
        }
    }
    Ok(last)
}

fn timestamps(at: impl Iterator<Item = Timestamp>) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from_iter_values(at.map(|t| t.unix_micros()))
            .with_timezone("UTC"),
    )
}
