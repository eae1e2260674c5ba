//! Parquet files as DataFusion tables, for the extract builder (lake
//! snapshots) and the analysis environment (an extract's files). Behind
//! the `query` feature, so that crates without a query engine do not build
//! one.
//!
//! Only the files named are registered — never a directory, a glob or a
//! URL the caller chose — so a query sees exactly the versions and the
//! extracts it was given and nothing else in the store.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use url::Url;

use crate::{Error, Result};

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Query(e.to_string())
    }
}

/// Registers `store` in `ctx` under `scheme://name/`, so that
/// [`register_files`] can name paths in it.
pub fn register_store(ctx: &SessionContext, base: &Url, store: Arc<dyn ObjectStore>) {
    ctx.register_object_store(base, store);
}

/// Registers the Parquet files at `paths` (in the store registered under
/// `base`) as table `name` with `schema`.
pub fn register_files(
    ctx: &SessionContext,
    base: &Url,
    name: &str,
    schema: SchemaRef,
    paths: &[ObjectPath],
) -> Result<()> {
    let provider: Arc<dyn datafusion::catalog::TableProvider> = if paths.is_empty() {
        Arc::new(datafusion::datasource::empty::EmptyTable::new(schema))
    } else {
        let urls = urls(base, paths)?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema);
        Arc::new(ListingTable::try_new(config)?)
    };
    ctx.register_table(name, provider)?;
    Ok(())
}

/// As [`register_files`], with the schema read from the files' footers.
pub async fn register_files_inferring_schema(
    ctx: &SessionContext,
    base: &Url,
    name: &str,
    paths: &[ObjectPath],
) -> Result<()> {
    if paths.is_empty() {
        return Err(Error::Query(format!("table {name} has no file")));
    }
    let urls = urls(base, paths)?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

fn urls(base: &Url, paths: &[ObjectPath]) -> Result<Vec<ListingTableUrl>> {
    paths
        .iter()
        .map(|p| {
            let url = base
                .join(p.as_ref())
                .map_err(|e| Error::Query(format!("file {p} cannot be named under {base}: {e}")))?;
            Ok(ListingTableUrl::parse(url.as_str())?)
        })
        .collect()
}
