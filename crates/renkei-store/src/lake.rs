//! The lake: Parquet files on an object store (placeholder being filled in this change).

use std::path::Path;

use crate::Result;

/// The lake.
#[derive(Debug, Clone)]
pub struct Lake {}

impl Lake {
    /// Opens a lake in a local directory.
    pub fn open_local(_dir: &Path) -> Result<Self> {
        Ok(Self {})
    }
    /// Opens a lake by URL.
    pub fn open_url(_url: &str) -> Result<Self> {
        Ok(Self {})
    }
}
