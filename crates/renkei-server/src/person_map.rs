//! Propagation of identity's merges to the lake: every merge identity
//! records becomes a row of `person_key_map` (see
//! [`renkei_core::person_key_map_schema`]), so that a reader of the lake
//! maps rows keyed before the merge onto the survivor. Rows are appended,
//! never rewritten; the map and the events agree once this has run, and
//! running it again appends only what is new.
//!
//! Lives in the server because it joins two functions: identity (which
//! never writes the lake) and the lake.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use renkei_core::{PERSON_KEY_MAP_TABLE, person_key_map_schema};
use renkei_store::lake::TableName;

use crate::{AppState, Error, Result};

/// One propagation at a time: two would both append the same events.
static RUNNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Appends the merges identity recorded after the last one in the lake's
/// `person_key_map`; returns how many rows were appended.
pub async fn propagate(state: &AppState) -> Result<u64> {
    let _one = RUNNING.lock().await;
    let lake = state.stores().lake()?;
    let table = TableName::parse(PERSON_KEY_MAP_TABLE)?;
    let mut last = 0i64;
    if let Some(snapshot) = lake.current().await?.and_then(|c| c.table(&table).cloned()) {
        for batch in lake.read(&snapshot).await? {
            let seqs = batch
                .column_by_name("event_seq")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .ok_or_else(|| Error::Internal("person_key_map has no event_seq".to_owned()))?;
            for i in 0..seqs.len() {
                last = last.max(seqs.value(i));
            }
        }
    }
    let merges: Vec<_> = state
        .identity()
        .events_since(last)
        .await?
        .into_iter()
        .filter(|e| e.kind == "merge")
        .collect();
    if merges.is_empty() {
        return Ok(0);
    }
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
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(merges.iter().map(|e| e.at.unix_micros()))
                .with_timezone("UTC"),
        ),
    ];
    let batch = RecordBatch::try_new(person_key_map_schema(), columns)
        .map_err(|e| Error::Internal(format!("person_key_map rows: {e}")))?;
    lake.append(&table, &[batch]).await?;
    tracing::info!(rows = merges.len(), "merges propagated to the lake");
    Ok(merges.len() as u64)
}
