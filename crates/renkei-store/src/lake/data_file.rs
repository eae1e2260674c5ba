//! Writing one data file, and reading it back from the object store by byte
//! ranges, so that a reader holds the Parquet footer and the pages being
//! decoded, not the file.
//!
//! parquet's own `ParquetObjectReader` is deprecated in favour of readers
//! like this one (apache/arrow-rs#10308); knowing the file size from the
//! manifest saves the `HEAD` request it would make.

use std::ops::Range;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use object_store::{ObjectStore, ObjectStoreExt, path::Path as ObjectPath};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ArrowWriter, ParquetRecordBatchStreamBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;

use super::schema::with_schema;
use super::{DataFile, TableName, invalid};
use crate::Error;

/// Bytes fetched from the end of a file in the first request, enough for the
/// footer of most files, so that opening one takes one request, not two.
const FOOTER_PREFETCH: usize = 64 * 1024;

/// A Parquet file in an object store, of a known size.
struct DataFileReader {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    size: u64,
}

impl DataFileReader {
    fn new(store: Arc<dyn ObjectStore>, path: ObjectPath, size: u64) -> Self {
        Self { store, path, size }
    }
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for DataFileReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_metadata_options(options.map(|o| o.metadata_options().clone()))
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// How the lake writes Parquet: zstd at its default level, parquet's
/// defaults otherwise. Public so that a benchmark writing Parquet outside
/// the lake writes it the same way.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build()
}

/// `batches` as the bytes of one Parquet file, with [`writer_properties`].
pub(super) fn encode_parquet(
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> parquet::errors::Result<Vec<u8>> {
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(writer_properties()))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.into_inner()
}

/// The batches of one data file, checked against its manifest entry.
pub(super) async fn open_data_file(
    store: Arc<dyn ObjectStore>,
    table: TableName,
    schema: SchemaRef,
    file: DataFile,
) -> crate::Result<BoxStream<'static, crate::Result<RecordBatch>>> {
    let location = file.path().to_string();
    let parquet_error = {
        let location = location.clone();
        move |source| Error::Parquet {
            location: location.clone(),
            source,
        }
    };
    let reader = DataFileReader::new(store, file.path().clone(), file.bytes());
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(&parquet_error)?;
    let rows = builder.metadata().file_metadata().num_rows();
    if u64::try_from(rows).ok() != Some(file.rows()) {
        return Err(invalid(
            &table,
            &format!(
                "data file {location} holds {rows} rows but its manifest says {}",
                file.rows()
            ),
        ));
    }
    let batches = builder.build().map_err(&parquet_error)?;
    Ok(batches
        .map(move |batch| {
            let batch = batch.map_err(&parquet_error)?;
            with_schema(&schema, &batch).map_err(|e| {
                invalid(
                    &table,
                    &format!("data file {location} does not have the table's schema: {e}"),
                )
            })
        })
        .boxed())
}
