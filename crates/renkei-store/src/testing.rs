//! Fresh stores for tests, on both backends: a temporary SQLite directory, or
//! fresh schemas on the PostgreSQL named by `RENKEI_TEST_DATABASE_URL`.
//!
//! A PostgreSQL test with the variable unset fails, naming the variable: a
//! test that silently skips would let a backend rot. `scripts/test` sets it.

use tempfile::TempDir;

use crate::{DatabaseConfig, StoreConfig, Stores};

/// The environment variable naming the test PostgreSQL database.
pub const DATABASE_URL_VAR: &str = "RENKEI_TEST_DATABASE_URL";

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestBackend {
    /// A SQLite file per function in a temporary directory.
    Sqlite,
    /// Fresh schemas in the test PostgreSQL database.
    Postgres,
}

/// Stores that live as long as this value: the temporary data directory is
/// removed on drop (PostgreSQL schemas are left for `scripts/test`, which
/// recreates the test database on every run).
#[derive(Debug)]
pub struct TestStores {
    /// The stores.
    pub stores: Stores,
    /// The temporary data directory (lake, keys, SQLite files).
    pub dir: TempDir,
    /// The configuration the stores were opened with.
    pub config: StoreConfig,
}

/// The store configuration for `backend` with a fresh schema prefix.
pub fn test_config(backend: TestBackend) -> StoreConfig {
    let database = match backend {
        TestBackend::Sqlite => DatabaseConfig::Sqlite { max_connections: 4 },
        TestBackend::Postgres => {
            let url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
                panic!(
                    "{DATABASE_URL_VAR} is not set: PostgreSQL tests need a database; \
                     run them through scripts/test, which starts one"
                )
            });
            let unique = uuid::Uuid::new_v4().simple().to_string();
            DatabaseConfig::Postgres {
                url,
                schema_prefix: format!("t{}", &unique[..12]),
                max_connections: 4,
            }
        }
    };
    StoreConfig {
        database,
        lake_url: None,
    }
}

impl TestStores {
    /// Fresh stores on `backend`.
    pub async fn new(backend: TestBackend) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        let config = test_config(backend);
        let stores = Stores::open(dir.path(), &config)
            .await
            .expect("test stores open");
        Self {
            stores,
            dir,
            config,
        }
    }
}

/// Writes one async test body that runs twice, as `NAME::sqlite` and
/// `NAME::postgres`, each on fresh stores bound to the given name.
///
/// ```text
/// renkei_store::test_on_both_backends!(async fn appends_survive_reopen(stores) {
///     let db = stores.database(DB, &MIGRATIONS).await.unwrap();
///     // ...
/// });
/// ```
#[macro_export]
macro_rules! test_on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($stores:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let test_stores =
                    $crate::testing::TestStores::new($crate::testing::TestBackend::Sqlite).await;
                let $stores = &test_stores;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test_stores =
                    $crate::testing::TestStores::new($crate::testing::TestBackend::Postgres).await;
                let $stores = &test_stores;
                $body
            }
        }
    };
}

/// Every path under `dir` (itself included) whose mode grants anything to
/// group or others, with its mode; and every file seen (so a test can tell
/// the walk found something). For the at-rest tests of every crate.
#[cfg(unix)]
pub fn loose_paths(dir: &std::path::Path) -> (Vec<(String, u32)>, Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    let mut loose = Vec::new();
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            loose.push((path.display().to_string(), mode));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                pending.push(entry.expect("entry").path());
            }
        } else {
            files.push(path.display().to_string());
        }
    }
    (loose, files)
}
