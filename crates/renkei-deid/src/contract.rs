//! The extract catalog as processing serves it: the analysis environment
//! asks for a permit's current extract through
//! [`renkei_core::ExtractCatalog`], never through processing's own types.

use futures::future::BoxFuture;
use renkei_core::{
    ExtractCatalog, ExtractFile, ExtractListing, ExtractUse, PermitId, PersonKey, ServiceResult,
};

use crate::Processing;

impl ExtractCatalog for Processing {
    fn latest(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Option<ExtractListing>>> {
        Box::pin(async move {
            let manifest = Processing::latest(self, permit).await?;
            Ok(manifest.map(|m| ExtractListing {
                extract: m.extract,
                permit: m.permit,
                tables: m
                    .tables
                    .into_iter()
                    .map(|t| ExtractFile {
                        table: t.table,
                        file: t.file,
                    })
                    .collect(),
            }))
        })
    }

    fn including(&self, person: PersonKey) -> BoxFuture<'_, ServiceResult<Vec<ExtractUse>>> {
        Box::pin(async move {
            Ok(self
                .permits_including(&person)
                .await?
                .into_iter()
                .map(|(permit, extract, at)| ExtractUse {
                    permit,
                    extract,
                    at,
                })
                .collect())
        })
    }
}
