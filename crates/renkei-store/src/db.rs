//! Operational databases: one per function, on SQLite or PostgreSQL.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Once};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};
use tokio::sync::Mutex;

use crate::lake::Lake;
use crate::{DatabaseConfig, Error, Result, StoreConfig};

/// The engine behind a [`Db`]. Functions branch on it only where the two SQL
/// dialects truly differ, and say why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file per function (embedded default).
    Sqlite,
    /// PostgreSQL, one schema per function.
    Postgres,
}

/// The name of a function's database: lowercase ASCII letters and `_`, used
/// as the SQLite file stem and the PostgreSQL schema suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DbName(&'static str);

impl DbName {
    /// A database name. Panics at compile time (in a `const`) or at first use
    /// if `name` is not lowercase ASCII letters and `_`, since names are
    /// fixed in code, never taken from input.
    pub const fn new(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty(), "database name must not be empty");
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i].is_ascii_lowercase() || bytes[i] == b'_',
                "database name must be lowercase ASCII letters and '_'"
            );
            i += 1;
        }
        Self(name)
    }

    /// The name as text.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for DbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A function's migrations, one set per dialect (`sqlx::migrate!` over
/// `migrations/sqlite` and `migrations/postgres`).
#[derive(Debug)]
pub struct Migrations {
    /// Migrations for SQLite.
    pub sqlite: Migrator,
    /// Migrations for PostgreSQL.
    pub postgres: Migrator,
}

/// A function's database: a connection pool on its own file or schema.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    name: DbName,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// The pool to run queries on.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine behind this database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Which function's database this is.
    pub fn name(&self) -> DbName {
        self.name
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`): a deferred transaction that reads
    /// first and writes later can meet another doing the same, and SQLite
    /// then fails one of them with "database is locked" instead of waiting.
    /// On PostgreSQL it is an ordinary transaction.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// Removes what was just deleted or overwritten in `table` from the
    /// database's files, after a secret was destroyed. SQLite: with
    /// `secure_delete` the new page versions carry zeros where the secret
    /// was, and a `wal_checkpoint(TRUNCATE)` writes them over the main file
    /// and empties the WAL, which still held the old pages; `false` if a
    /// reader kept the checkpoint from finishing (the WAL is emptied at a
    /// later checkpoint). PostgreSQL: `VACUUM` removes the dead row
    /// versions from the table's pages, but neither zeroes the space nor
    /// reaches the server's WAL and backups, so there the secret must also
    /// be useless without something destroyed outside the database.
    pub async fn scrub(&self, table: &str) -> Result<bool> {
        match self.backend {
            Backend::Sqlite => {
                // (busy, frames in the WAL, frames checkpointed)
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(busy == 0)
            }
            Backend::Postgres => {
                // The name is the caller's constant; VACUUM takes no
                // parameter and cannot run inside a transaction.
                sqlx::query(&format!("VACUUM {table}"))
                    .execute(&self.pool)
                    .await?;
                Ok(true)
            }
        }
    }

    /// Whether the database answers a trivial query (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }
}

/// Every store of one platform instance: the function databases, opened on
/// demand and migrated on first open, and the lake.
#[derive(Clone)]
pub struct Stores {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    config: StoreConfig,
    open: Mutex<HashMap<DbName, Db>>,
    /// Opened once: for S3 a lake holds an HTTP client and its connections.
    lake: std::sync::OnceLock<Lake>,
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores")
            .field("data_dir", &self.inner.data_dir)
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

static INSTALL_DRIVERS: Once = Once::new();

impl Stores {
    /// Prepares the stores under `data_dir` (created if absent). Databases
    /// are opened by [`Stores::database`].
    pub async fn open(data_dir: &Path, config: &StoreConfig) -> Result<Self> {
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
        // 0700: nobody but the platform's account reads its data (issue 15).
        crate::private::create_dir(data_dir)?;
        let data_dir = std::fs::canonicalize(data_dir).map_err(|source| Error::Io {
            path: data_dir.to_owned(),
            source,
        })?;
        if let DatabaseConfig::Postgres { schema_prefix, .. } = &config.database {
            let valid = !schema_prefix.is_empty()
                && schema_prefix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(Error::Config(format!(
                    "database.schema_prefix {schema_prefix:?} must be lowercase letters, digits and '_'"
                )));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                data_dir,
                config: config.clone(),
                open: Mutex::new(HashMap::new()),
                lake: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The data directory (absolute).
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The engine behind every function database.
    pub fn backend(&self) -> Backend {
        match self.inner.config.database {
            DatabaseConfig::Sqlite { .. } => Backend::Sqlite,
            DatabaseConfig::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Where a database lives, for messages (never includes a password).
    pub fn location(&self, name: DbName) -> String {
        match &self.inner.config.database {
            DatabaseConfig::Sqlite { .. } => self.sqlite_path(name).display().to_string(),
            DatabaseConfig::Postgres { schema_prefix, .. } => {
                format!("schema {schema_prefix}_{name}")
            }
        }
    }

    fn sqlite_path(&self, name: DbName) -> PathBuf {
        self.inner
            .data_dir
            .join("db")
            .join(format!("{name}.sqlite"))
    }

    /// Opens (once) and migrates the database of one function.
    pub async fn database(&self, name: DbName, migrations: &Migrations) -> Result<Db> {
        let mut open = self.inner.open.lock().await;
        if let Some(db) = open.get(&name) {
            return Ok(db.clone());
        }
        let db = match &self.inner.config.database {
            DatabaseConfig::Sqlite { max_connections } => {
                self.open_sqlite(name, *max_connections).await?
            }
            DatabaseConfig::Postgres {
                url,
                schema_prefix,
                max_connections,
            } => {
                self.open_postgres(name, url, schema_prefix, *max_connections)
                    .await?
            }
        };
        let migrator = match db.backend {
            Backend::Sqlite => &migrations.sqlite,
            Backend::Postgres => &migrations.postgres,
        };
        migrator
            .run(&db.pool)
            .await
            .map_err(|source| Error::Migrate {
                name: name.to_string(),
                source,
            })?;
        tracing::debug!(db = %name, backend = ?db.backend, "database ready");
        open.insert(name, db.clone());
        Ok(db)
    }

    async fn open_sqlite(&self, name: DbName, max_connections: u32) -> Result<Db> {
        let path = self.sqlite_path(name);
        let dir = path.parent().expect("a joined path has a parent");
        crate::private::create_dir(dir)?;
        // SQLite would create the file 0644 and gives -wal and -shm the
        // database file's mode: so the file is made here first, 0600, and
        // files from before this rule are tightened.
        crate::private::create_file(&path)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.clone().into_os_string();
            side.push(suffix);
            crate::private::tighten(Path::new(&side), crate::private::FILE_MODE)?;
        }
        let open_err = |source| Error::Open {
            name: name.to_string(),
            location: path.display().to_string(),
            source,
        };
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let options = AnyConnectOptions::from_str(&url)
            .map_err(open_err)?
            .disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers proceed while one writer commits;
                    // synchronous=FULL makes a commit durable before it
                    // returns (the audit log relies on it). secure_delete
                    // overwrites deleted and replaced content with zeros, so
                    // a destroyed secret (a permit key, a password hash) is
                    // not left in a free page for a copy of the file to find
                    // (issue 15, finding 11; see `Db::scrub` for the WAL).
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                         PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON; \
                         PRAGMA secure_delete=ON",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_err)?;
        Ok(Db {
            pool,
            backend: Backend::Sqlite,
            name,
        })
    }

    async fn open_postgres(
        &self,
        name: DbName,
        url: &str,
        schema_prefix: &str,
        max_connections: u32,
    ) -> Result<Db> {
        let schema = format!("{schema_prefix}_{name}");
        let open_err = |source| Error::Open {
            name: name.to_string(),
            location: format!("schema {schema}"),
            source,
        };
        let options = AnyConnectOptions::from_str(url)
            .map_err(open_err)?
            .disable_statement_logging();
        let mut conn = options.connect().await.map_err(open_err)?;
        // The schema name is built from validated parts only, so quoting it
        // as an identifier is enough.
        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
            .await
            .map_err(open_err)?;
        conn.close().await.map_err(open_err)?;
        let search_path = format!("SET search_path TO \"{schema}\"");
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .after_connect(move |conn, _meta| {
                let search_path = search_path.clone();
                Box::pin(async move {
                    conn.execute(search_path.as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_err)?;
        Ok(Db {
            pool,
            backend: Backend::Postgres,
            name,
        })
    }

    /// The lake, on the configured object store; opened on first use and
    /// shared by every caller after that.
    pub fn lake(&self) -> Result<Lake> {
        if let Some(lake) = self.inner.lake.get() {
            return Ok(lake.clone());
        }
        let lake = match &self.inner.config.lake_url {
            None => Lake::open_local(&self.inner.data_dir.join("lake"))?,
            Some(url) => Lake::open_url(url)?,
        };
        // Two first callers may both open one; either is as good.
        Ok(self.inner.lake.get_or_init(|| lake).clone())
    }

    /// Closes every open pool, waiting for connections to be returned.
    pub async fn close(&self) {
        let open = self.inner.open.lock().await;
        for db in open.values() {
            db.pool.close().await;
        }
    }
}
