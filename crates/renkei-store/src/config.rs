//! Store configuration: where the databases and the lake live.

use serde::Deserialize;

/// Which database engine holds the operational stores.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DatabaseConfig {
    /// One SQLite file per function under `<data>/db/`; nothing to install.
    Sqlite {
        /// Connections per function database. SQLite serialises writers, so
        /// a few readers are all that helps.
        #[serde(default = "default_sqlite_connections")]
        max_connections: u32,
    },
    /// One schema per function (`<schema_prefix>_<function>`) in one
    /// PostgreSQL database.
    Postgres {
        /// `postgres://user:password@host:port/database`.
        url: String,
        /// Prefix of the schema names, so several platforms can share a
        /// database.
        #[serde(default = "default_schema_prefix")]
        schema_prefix: String,
        /// Connections per function database.
        #[serde(default = "default_pg_connections")]
        max_connections: u32,
    },
}

fn default_sqlite_connections() -> u32 {
    4
}
fn default_pg_connections() -> u32 {
    8
}
fn default_schema_prefix() -> String {
    "renkei".to_owned()
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig::Sqlite {
            max_connections: default_sqlite_connections(),
        }
    }
}

/// Where the stores live.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The operational databases.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// The lake's object store: unset for `<data>/lake` on the local disk,
    /// or a URL such as `file:///srv/lake` or `s3://bucket/prefix`.
    #[serde(default)]
    pub lake_url: Option<String>,
}
