//! One writer per log. Two processes appending to the same log (an operator
//! running `renkei admin` beside `renkei serve`) would both take the next
//! index from their own copy of the tree, and one of them would fail every
//! batch until it re-read the log. So opening a log for writing takes an
//! exclusive lock and a second writer is refused at once, saying why.
//!
//! The lock is a `flock` on `<data>/audit.lock` (released by the kernel
//! when the process dies) and, on PostgreSQL, also a session-level advisory
//! lock keyed by the log's schema, so that two platforms on different
//! machines sharing one database cannot both write (released by the server
//! when the connection closes).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};

use renkei_store::{Backend, Db, Stores};
use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::{Error, Result};

/// Held for as long as the log is open for writing.
#[derive(Debug)]
pub(crate) struct WriterLock {
    _file: File,
    // A connection is not Sync; the Mutex makes the lock shareable, and it
    // is never locked: the value only has to live.
    _session: std::sync::Mutex<Option<sqlx::AnyConnection>>,
}

impl WriterLock {
    pub(crate) async fn acquire(stores: &Stores, db: &Db) -> Result<Self> {
        let path = stores.data_dir().join("audit.lock");
        let io = |source| Error::Lock {
            reason: format!("cannot open {}: {source}", path.display()),
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::InUse {
                    holder: holder.trim().to_owned(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Say who holds it, for the message a second writer gets.
        let _ = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(drop))
            .and_then(|()| writeln!(file, "process {}", std::process::id()));

        let session = match db.backend() {
            Backend::Sqlite => None,
            Backend::Postgres => Some(advisory_lock(db).await?),
        };
        Ok(Self {
            _file: file,
            _session: std::sync::Mutex::new(session),
        })
    }
}

impl WriterLock {
    /// Releases the lock now, rather than when the server notices the
    /// connection is gone: a process that closes the log and another that
    /// opens it right after must not race.
    pub(crate) async fn release(self) {
        let session = self
            ._session
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(mut conn) = session {
            let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}

async fn advisory_lock(db: &Db) -> Result<sqlx::AnyConnection> {
    let failed = |e: sqlx::Error| Error::Lock {
        reason: format!("cannot take the PostgreSQL advisory lock: {e}"),
    };
    // A connection of its own, outside the pool, so the lock lives exactly
    // as long as this value.
    let mut conn = db.pool().acquire().await.map_err(failed)?.detach();
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut conn)
        .await
        .map_err(failed)?;
    let digest = Sha256::digest(format!("renkei-audit:{schema}").as_bytes());
    let key = i64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 8 bytes"),
    );
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut conn)
        .await
        .map_err(failed)?;
    if !got {
        let _ = conn.close().await;
        return Err(Error::InUse {
            holder: format!("another platform using schema {schema}"),
        });
    }
    Ok(conn)
}
