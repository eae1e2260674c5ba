//! Permit keys at rest: one random key per permit, sealed with AES-256-GCM
//! under processing's master key (a 0600 file in the data directory) with
//! the permit id as associated data, so a sealed key moved onto another
//! permit's row does not open. Destroying a key clears its sealed bytes:
//! afterwards nobody — the operator included — can make that permit's
//! pseudonyms again.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use renkei_core::{PermitId, Timestamp};
use renkei_store::Db;

use crate::pseudonym::PermitKey;
use crate::{Error, Result};

/// The master key. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<secret>)")
    }
}

impl MasterKey {
    pub(crate) fn new(secret: [u8; 32]) -> Self {
        Self(Aes256Gcm::new(&secret.into()))
    }

    fn seal(&self, key: &PermitKey, permit: PermitId) -> ([u8; 12], Vec<u8>) {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: key.secret(),
                    aad: permit.to_string().as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        (nonce, sealed)
    }

    fn open(&self, nonce: &[u8], sealed: &[u8], permit: PermitId) -> Result<PermitKey> {
        if nonce.len() != 12 {
            return Err(Error::Corrupt(format!("permit key of {permit}: bad nonce")));
        }
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: permit.to_string().as_bytes(),
                },
            )
            .map_err(|_| {
                Error::Corrupt(format!(
                    "permit key of {permit} does not open under the master key"
                ))
            })?;
        let secret: [u8; 32] = plain
            .try_into()
            .map_err(|_| Error::Corrupt(format!("permit key of {permit}: not 32 bytes")))?;
        Ok(PermitKey::new(secret))
    }
}

/// The permit key of `permit`, created on first use. Refuses a destroyed
/// key.
pub(crate) async fn get_or_create(
    db: &Db,
    master: &MasterKey,
    permit: PermitId,
    now: Timestamp,
) -> Result<PermitKey> {
    if let Some(key) = get(db, master, permit).await? {
        return Ok(key);
    }
    let key = PermitKey::generate();
    let (nonce, sealed) = master.seal(&key, permit);
    // Two builders racing for a new permit: the first insert wins and the
    // loser reads the winner's key.
    let inserted = sqlx::query(
        "INSERT INTO permit_keys (permit_id, nonce, sealed, created_us) VALUES ($1, $2, $3, $4) ON CONFLICT (permit_id) DO NOTHING",
    )
    .bind(permit.to_string())
    .bind(nonce.to_vec())
    .bind(sealed)
    .bind(now.unix_micros())
    .execute(db.pool())
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(key);
    }
    get(db, master, permit)
        .await?
        .ok_or_else(|| Error::Corrupt(format!("permit key of {permit} vanished")))
}

/// The permit key of `permit` if one was made; an error if it was
/// destroyed.
pub(crate) async fn get(
    db: &Db,
    master: &MasterKey,
    permit: PermitId,
) -> Result<Option<PermitKey>> {
    // (nonce, sealed key), both null once destroyed.
    type Sealed = (Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<Sealed> =
        sqlx::query_as("SELECT nonce, sealed FROM permit_keys WHERE permit_id = $1")
            .bind(permit.to_string())
            .fetch_optional(db.pool())
            .await?;
    match row {
        None => Ok(None),
        Some((Some(nonce), Some(sealed))) => master.open(&nonce, &sealed, permit).map(Some),
        Some(_) => Err(Error::KeyDestroyed(permit.to_string())),
    }
}

/// Destroys the key of `permit`; true if a key was destroyed now.
pub(crate) async fn destroy(db: &Db, permit: PermitId, now: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE permit_keys SET nonce = NULL, sealed = NULL, destroyed_us = $2 WHERE permit_id = $1 AND sealed IS NOT NULL",
    )
    .bind(permit.to_string())
    .bind(now.unix_micros())
    .execute(db.pool())
    .await?
    .rows_affected();
    if done == 0 {
        // A permit that never had an extract still gets a tombstone, so
        // that no key can be made for it later.
        sqlx::query(
            "INSERT INTO permit_keys (permit_id, nonce, sealed, created_us, destroyed_us) VALUES ($1, NULL, NULL, $2, $2) ON CONFLICT (permit_id) DO NOTHING",
        )
        .bind(permit.to_string())
        .bind(now.unix_micros())
        .execute(db.pool())
        .await?;
    }
    // The row now holds NULLs, but the sealed bytes may survive in the
    // database's files (a WAL frame, a free page); a copy of the data
    // directory holds the master key too, so they must go.
    match db.scrub("permit_keys").await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(
                %permit,
                "a reader held the checkpoint; the destroyed key leaves the WAL at the next one"
            );
        }
        Err(e) => {
            tracing::warn!(%permit, error = %e, "cannot scrub the destroyed key from the database files");
        }
    }
    Ok(done == 1)
}
