//! Staging: writing data files that no version lists yet, and deleting
//! those nobody will commit.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use futures::{StreamExt, stream};
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use tracing::{debug, warn};

use super::data_file::encode_parquet;
use super::log::CONCURRENT_READS;
use super::manifest::data_dir;
use super::schema::conform_batches;
use super::{DataFile, Lake, ObjectPath, StagedFile, TableName};
use crate::{Error, Result};

impl Lake {
    /// Writes `batches` as one Parquet file for `table`, visible to no reader
    /// until a commit adds it with [`Change::add_staged`](super::Change::add_staged); `None` if they
    /// hold no rows. The file's schema is the first batch's (the others must
    /// have it); it is checked against the table's at commit.
    ///
    /// Encoding runs on a blocking thread; the file is held in memory only
    /// until it is stored, so a large submission is staged as many files.
    pub async fn stage(
        &self,
        table: &TableName,
        batches: Vec<RecordBatch>,
    ) -> Result<Option<StagedFile>> {
        let Some(first) = batches.first() else {
            return Ok(None);
        };
        let schema = first.schema();
        let batches = conform_batches(table, &schema, "the first batch's schema", batches)?;
        let file = self.write_data_file(table, &schema, batches).await?;
        if let Some(file) = &file {
            debug!(table = %table, path = %file.path(), rows = file.rows(), "staged a data file");
        }
        Ok(file.map(|file| StagedFile::new(table.clone(), file, schema)))
    }

    /// Deletes the files of a submission that will not be committed. Best
    /// effort: a file that cannot be deleted is logged and left as an orphan
    /// (invisible, for a later vacuum).
    pub async fn discard(&self, staged: Vec<StagedFile>) {
        self.delete_all(staged.iter().map(|s| s.path().clone()).collect())
            .await;
    }

    /// Writes `batches` as one Parquet file under `<table>/data/`; nothing
    /// for no rows.
    pub(crate) async fn write_data_file(
        &self,
        table: &TableName,
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<Option<DataFile>> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(None);
        }
        let path = data_dir(table).join(format!("{}.parquet", uuid::Uuid::now_v7()).as_str());
        let schema = schema.clone();
        // Encoding and compression are CPU work: keep them off the runtime's
        // worker threads.
        let encoded = tokio::task::spawn_blocking(move || encode_parquet(schema, &batches))
            .await
            .expect("parquet encoding does not panic");
        let bytes = encoded.map_err(|source| Error::Parquet {
            location: path.to_string(),
            source,
        })?;
        let size = bytes.len() as u64;
        self.inner
            .store
            .put_opts(&path, PutPayload::from(bytes), PutMode::Create.into())
            .await
            .map_err(|source| Error::ObjectStore {
                location: path.to_string(),
                source,
            })?;
        Ok(Some(DataFile::new(path, rows as u64, size)))
    }

    /// Deletes `paths`, best effort.
    pub(crate) async fn delete_all(&self, paths: Vec<ObjectPath>) {
        stream::iter(paths)
            .for_each_concurrent(CONCURRENT_READS, |path| async move {
                match self.inner.store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(error) => warn!(
                        path = %path,
                        %error,
                        "cannot delete a file no version references; it is left as an orphan"
                    ),
                }
            })
            .await;
    }
}
