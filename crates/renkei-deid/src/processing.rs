//! The processing service: its store, its extract store and the calls the
//! platform makes of it.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use renkei_core::{
    Actor, AuditEvent, AuditSink, Clock, ErrorKind, OptOutRegistry, Outcome, PermitAuthority,
    PermitId, PersonKey, ServiceError, Standing, Timestamp,
};
use renkei_store::lake::Lake;
use renkei_store::{Db, DbName, Migrations, Stores};
use roaring::RoaringBitmap;
use url::Url;

use crate::extract::Manifest;
use crate::keys::{self, MasterKey};
use crate::pseudonym::Pseudonymizer;
use crate::{Error, Result};

const DB: DbName = DbName::new("processing");
const MASTER_KEY_FILE: &str = "keys/processing-master.key";
/// Where DataFusion finds the lake and the extract store.
pub(crate) const LAKE_URL: &str = "renkei-lake://lake/";
/// See [`Processing::extract_store_url`].
pub const EXTRACTS_URL: &str = "renkei-extracts://extracts/";

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// The functions processing asks, in-process or at another operator:
/// review for what a permit grants and whether it still stands, the
/// opt-out registry for who is out of its use.
#[derive(Clone)]
pub struct Peers {
    /// Review's answers about permits.
    pub permits: Arc<dyn PermitAuthority>,
    /// The opt-out registry's answers.
    pub optouts: Arc<dyn OptOutRegistry>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers").finish_non_exhaustive()
    }
}

/// Settings of processing.
#[derive(Clone, Debug)]
pub struct Options {
    /// A quasi-identifier value held by fewer persons than this is flagged
    /// in pseudonymized extracts.
    pub rare_threshold: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { rare_threshold: 10 }
    }
}

/// An extract as listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExtractSummary {
    /// Its id.
    pub extract: String,
    /// Its permit.
    pub permit: PermitId,
    /// Rows over all tables.
    pub rows: u64,
    /// Bytes over all tables.
    pub bytes: u64,
    /// Persons included.
    pub persons: u64,
    /// The lake version read.
    pub lake_version: u64,
    /// The opt-out registry version honoured.
    pub registry_version: u64,
    /// When it was made.
    pub created_at: Timestamp,
    /// When the permit ended and the extract stopped being served.
    pub closed_at: Option<Timestamp>,
}

/// What ending a permit did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PermitEnded {
    /// Whether a key existed and was destroyed now.
    pub key_destroyed: bool,
    /// Extracts closed (their files deleted).
    pub extracts_closed: u64,
}

/// The processing function (加工).
pub struct Processing {
    pub(crate) db: Db,
    pub(crate) lake: Lake,
    pub(crate) extracts: Arc<dyn ObjectStore>,
    pub(crate) master: MasterKey,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) options: Options,
    pub(crate) peers: Peers,
    /// Processing's person numbers, loaded on first use.
    pub(crate) ordinals: tokio::sync::Mutex<Option<HashMap<PersonKey, u32>>>,
}

impl std::fmt::Debug for Processing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processing")
            .field("db", &self.db)
            .field("lake", &self.lake)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Processing {
    /// Opens the `processing` database, the master key (created once, mode
    /// 0600) and the extract store under `<data>/extracts`.
    pub async fn open(
        stores: &Stores,
        lake: Lake,
        clock: Arc<dyn Clock>,
        audit: Arc<dyn AuditSink>,
        options: Options,
        peers: Peers,
    ) -> Result<Self> {
        let db = stores.database(DB, &migrations()).await?;
        let (secret, _) = renkei_store::keys::load_or_create_secret::<32>(
            &stores.data_dir().join(MASTER_KEY_FILE),
        )?;
        let dir = stores.data_dir().join("extracts");
        // 0700, and every extract file 0600 (issue 15): extracts hold
        // pseudonymized records and are nobody else's to read.
        renkei_store::private::create_dir(&dir)
            .map_err(|e| Error::Invalid(format!("extract store {}: {e}", dir.display())))?;
        let extracts = renkei_store::private::PrivateStore::new(
            LocalFileSystem::new_with_prefix(&dir)?,
            dir.clone(),
        );
        Ok(Self {
            db,
            lake,
            extracts: Arc::new(extracts),
            master: MasterKey::new(secret),
            clock,
            audit,
            options,
            peers,
            ordinals: tokio::sync::Mutex::new(None),
        })
    }

    /// The database, for readiness checks and tests.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The extract store: paths in it are the manifests' `file`s.
    pub fn extract_store(&self) -> Arc<dyn ObjectStore> {
        self.extracts.clone()
    }

    /// The URL under which a DataFusion session registers the extract
    /// store ([`renkei_store::query::register_store`]).
    pub fn extract_store_url() -> Url {
        Url::parse(EXTRACTS_URL).expect("a constant URL")
    }

    /// The pseudonymizer of a permit whose key is alive. For the
    /// operator's independent checks (is an opted-out person in an
    /// extract?) — never for a researcher.
    pub async fn pseudonymizer(&self, permit: PermitId) -> Result<Pseudonymizer> {
        let key = keys::get(&self.db, &self.master, permit)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key of permit {permit}")))?;
        Ok(Pseudonymizer::new(&key))
    }

    /// The extracts of `permit`, newest first, closed ones included.
    pub async fn extracts(&self, permit: PermitId) -> Result<Vec<ExtractSummary>> {
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT id, permit_id, rows_total, bytes_total, persons, lake_version, registry_version, created_us, closed_us FROM extracts WHERE permit_id = $1 ORDER BY created_us DESC, id",
        )
        .bind(permit.to_string())
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter().map(SummaryRow::into_summary).collect()
    }

    /// The newest open extract of `permit`.
    pub async fn latest(&self, permit: PermitId) -> Result<Option<Manifest>> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT manifest FROM extracts WHERE permit_id = $1 AND closed_us IS NULL ORDER BY created_us DESC, id LIMIT 1",
        )
        .bind(permit.to_string())
        .fetch_optional(self.db.pool())
        .await?;
        body.map(|b| parse_manifest(&b)).transpose()
    }

    /// The manifest of an extract.
    pub async fn manifest(&self, extract: &str) -> Result<Manifest> {
        let body: String = sqlx::query_scalar("SELECT manifest FROM extracts WHERE id = $1")
            .bind(extract)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| Error::NotFound(format!("extract {extract}")))?;
        parse_manifest(&body)
    }

    /// The permits whose extracts included `person` (the patient portal's
    /// "projects that used my data"), with the extract and when it was
    /// made, newest first. Read from the manifests' bitmaps.
    pub async fn permits_including(
        &self,
        person: &PersonKey,
    ) -> Result<Vec<(PermitId, String, Timestamp)>> {
        let ordinal: Option<i64> =
            sqlx::query_scalar("SELECT ordinal FROM extract_persons WHERE person_key = $1")
                .bind(person.to_string())
                .fetch_optional(self.db.pool())
                .await?;
        let Some(ordinal) = ordinal.and_then(|o| u32::try_from(o).ok()) else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, String, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT permit_id, id, created_us, persons_bitmap FROM extracts ORDER BY created_us DESC, id",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut out = Vec::new();
        for (permit, extract, created, bitmap) in rows {
            let bitmap = RoaringBitmap::deserialize_from(&bitmap[..])
                .map_err(|e| Error::Corrupt(format!("persons bitmap of {extract}: {e}")))?;
            if bitmap.contains(ordinal) {
                let permit = PermitId::parse(&permit)
                    .map_err(|e| Error::Corrupt(format!("extract {extract}: {e}")))?;
                out.push((permit, extract, Timestamp::from_unix_micros(created)));
            }
        }
        Ok(out)
    }

    /// The permits processing still holds something of: a live key or an
    /// open extract. What the platform's sweeper asks review about, so that
    /// a permit that expires by time is ended too (not only a revoked one).
    pub async fn permits_holding_data(&self) -> Result<Vec<PermitId>> {
        let permits: Vec<String> = sqlx::query_scalar(
            "SELECT permit_id FROM permit_keys WHERE sealed IS NOT NULL \
             UNION SELECT permit_id FROM extracts WHERE closed_us IS NULL ORDER BY 1",
        )
        .fetch_all(self.db.pool())
        .await?;
        permits
            .iter()
            .map(|p| PermitId::parse(p).map_err(|e| Error::Corrupt(e.to_string())))
            .collect()
    }

    /// Builds (or finds) the extract of a permit in force: its grant from
    /// review, the persons out of its use from the opt-out registry at its
    /// latest version, and review asked again while the extract is built.
    pub async fn extract(&self, permit: PermitId, actor: Actor) -> Result<Manifest> {
        let grant = self
            .peers
            .permits
            .grant(permit)
            .await
            .map_err(|e| refused(permit, e))?;
        let exclusion = self.peers.optouts.exclusion(&grant.data_use).await?;
        self.build(&grant, &exclusion, self.peers.permits.as_ref(), actor)
            .await
    }

    /// Ends what processing holds for `permit` if review says it has ended
    /// for good (revoked or expired): its key and its extracts. A
    /// suspended permit keeps both, since it may be reinstated. Returns
    /// whether it was ended.
    pub async fn end_if_over(&self, permit: PermitId, actor: Actor) -> Result<bool> {
        let standing = self
            .peers
            .permits
            .standing(permit)
            .await
            .map_err(|e| refused(permit, e))?;
        if standing == Standing::Ended {
            self.end_permit(permit, actor).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Refuses at once a permit whose extract review would not allow now
    /// (not in force, or unknown), before a job is started for it.
    pub async fn may_extract(&self, permit: PermitId) -> Result<()> {
        self.peers
            .permits
            .grant(permit)
            .await
            .map(|_| ())
            .map_err(|e| refused(permit, e))
    }

    /// Follows review's hints of permits whose standing changed, ending
    /// each that has ended (its key and extracts) as soon as it is revoked
    /// or superseded. Runs until the hints end; the sweep
    /// ([`Self::end_permits_over`]) catches whatever a hint missed.
    pub async fn follow_permits(&self, actor: Actor) {
        use futures::StreamExt as _;
        let mut changes = self.peers.permits.changes();
        while let Some(permit) = changes.next().await {
            if let Err(e) = self.end_if_over(permit, actor.clone()).await {
                tracing::error!(permit = %permit, error = %e, "cannot end a permit; the sweep retries");
            }
        }
    }

    /// Ends every permit processing still holds data of that review says
    /// has ended: expired by time (which nothing else notices) or revoked.
    /// Returns the permits ended. Each is audited as
    /// `processing.end_permit` by `actor`; one that fails is logged and
    /// retried on the next sweep, without holding up the others.
    pub async fn end_permits_over(&self, actor: Actor) -> Result<Vec<PermitId>> {
        let mut ended = Vec::new();
        for id in self.permits_holding_data().await? {
            match self.end_if_over(id, actor.clone()).await {
                Ok(true) => {
                    tracing::info!(permit = %id, "ended a permit that is no longer in force");
                    ended.push(id);
                }
                Ok(false) => {}
                Err(e) => tracing::error!(permit = %id, error = %e, "cannot end a permit"),
            }
        }
        Ok(ended)
    }

    /// Ends a permit: destroys its key (no pseudonym of it can be made
    /// again) and closes its extracts, deleting their files. Called when a
    /// permit is revoked or expires; idempotent.
    pub async fn end_permit(&self, permit: PermitId, actor: Actor) -> Result<PermitEnded> {
        let now = self.clock.now();
        self.audit
            .append(AuditEvent {
                at: now,
                actor,
                action: "processing.end_permit".to_owned(),
                object: format!("permit={permit}"),
                outcome: Outcome::Success,
                status: None,
                request_id: None,
            })
            .await
            .map_err(Error::Audit)?;
        let key_destroyed = keys::destroy(&self.db, permit, now).await?;
        let open: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, manifest FROM extracts WHERE permit_id = $1 AND closed_us IS NULL",
        )
        .bind(permit.to_string())
        .fetch_all(self.db.pool())
        .await?;
        for (id, body) in &open {
            sqlx::query("UPDATE extracts SET closed_us = $2 WHERE id = $1")
                .bind(id)
                .bind(now.unix_micros())
                .execute(self.db.pool())
                .await?;
            let manifest = parse_manifest(body)?;
            for t in &manifest.tables {
                // Best effort: a file left behind is unreachable (no open
                // extract names it) and its pseudonyms' key is gone.
                if let Err(e) = self
                    .extracts
                    .delete(&ObjectPath::from(t.file.as_str()))
                    .await
                {
                    tracing::warn!(extract = %id, file = %t.file, error = %e, "could not delete an extract file");
                }
            }
        }
        Ok(PermitEnded {
            key_destroyed,
            extracts_closed: open.len() as u64,
        })
    }

    /// The persons bitmap of a manifest, decoded.
    pub fn persons_of(manifest: &Manifest) -> Result<RoaringBitmap> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&manifest.persons_bitmap)
            .map_err(|e| Error::Corrupt(format!("persons bitmap of {}: {e}", manifest.extract)))?;
        RoaringBitmap::deserialize_from(&bytes[..])
            .map_err(|e| Error::Corrupt(format!("persons bitmap of {}: {e}", manifest.extract)))
    }

    /// Processing's numbers of `persons` (those known; unknown ones are
    /// left out), for checking a manifest's bitmap.
    pub async fn ordinals_of(&self, persons: &[PersonKey]) -> Result<RoaringBitmap> {
        let guard = self.load_ordinals().await?;
        let map = guard.as_ref().expect("loaded above");
        Ok(persons.iter().filter_map(|p| map.get(p).copied()).collect())
    }

    pub(crate) async fn load_ordinals(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<HashMap<PersonKey, u32>>>> {
        let mut guard = self.ordinals.lock().await;
        if guard.is_none() {
            *guard = Some(read_ordinals(&self.db).await?);
        }
        Ok(guard)
    }

    /// Numbers every person of `persons`, giving new ones the next numbers.
    pub(crate) async fn number(&self, persons: &[PersonKey]) -> Result<Vec<u32>> {
        let mut guard = self.load_ordinals().await?;
        for attempt in 0..3 {
            let map = guard.as_mut().expect("loaded above");
            let missing: Vec<PersonKey> = persons
                .iter()
                .filter(|p| !map.contains_key(p))
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if missing.is_empty() {
                return Ok(persons.iter().map(|p| map[p]).collect());
            }
            match insert_ordinals(&self.db, map, &missing).await {
                Ok(()) => {}
                // Another process numbered persons meanwhile: reread and
                // try again.
                Err(e) if attempt < 2 => {
                    tracing::debug!(error = %e, "person numbering raced; rereading");
                    *guard = Some(read_ordinals(&self.db).await?);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Corrupt("person numbering kept racing".to_owned()))
    }
}

async fn read_ordinals(db: &Db) -> Result<HashMap<PersonKey, u32>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT ordinal, person_key FROM extract_persons")
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(o, k)| {
            let key = PersonKey::parse(&k)
                .map_err(|e| Error::Corrupt(format!("extract_persons: {e}")))?;
            let o = u32::try_from(o)
                .map_err(|_| Error::Corrupt(format!("extract_persons: ordinal {o}")))?;
            Ok((key, o))
        })
        .collect()
}

async fn insert_ordinals(
    db: &Db,
    map: &mut HashMap<PersonKey, u32>,
    missing: &[PersonKey],
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    let next: Option<i64> = sqlx::query_scalar("SELECT MAX(ordinal) FROM extract_persons")
        .fetch_one(&mut *tx)
        .await?;
    let mut next = next.map_or(0, |n| n + 1);
    let mut added = Vec::with_capacity(missing.len());
    for chunk in missing.chunks(500) {
        let mut sql = String::from("INSERT INTO extract_persons (ordinal, person_key) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
        }
        let mut q = sqlx::query(&sql);
        for key in chunk {
            q = q.bind(next).bind(key.to_string());
            added.push((*key, next));
            next += 1;
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    for (key, o) in added {
        let o =
            u32::try_from(o).map_err(|_| Error::Invalid("more than 4 billion persons".into()))?;
        map.insert(key, o);
    }
    Ok(())
}

pub(crate) fn parse_manifest(body: &str) -> Result<Manifest> {
    serde_json::from_str(body).map_err(|e| Error::Corrupt(format!("extract manifest: {e}")))
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: String,
    permit_id: String,
    rows_total: i64,
    bytes_total: i64,
    persons: i64,
    lake_version: i64,
    registry_version: i64,
    created_us: i64,
    closed_us: Option<i64>,
}

impl SummaryRow {
    fn into_summary(self) -> Result<ExtractSummary> {
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        let permit = PermitId::parse(&self.permit_id)
            .map_err(|e| Error::Corrupt(format!("extract {}: {e}", self.id)))?;
        Ok(ExtractSummary {
            extract: self.id,
            permit,
            rows: u(self.rows_total),
            bytes: u(self.bytes_total),
            persons: u(self.persons),
            lake_version: u(self.lake_version),
            registry_version: u(self.registry_version),
            created_at: Timestamp::from_unix_micros(self.created_us),
            closed_at: self.closed_us.map(Timestamp::from_unix_micros),
        })
    }
}

/// Review's refusal in processing's terms: a permit not in force or not
/// known is said as such; anything else is review failing to answer.
fn refused(permit: PermitId, e: ServiceError) -> Error {
    match e.kind {
        ErrorKind::NotPermitted => Error::Refused(e.message),
        ErrorKind::NotFound => Error::NotFound(format!("permit {permit}")),
        _ => Error::Peer(e),
    }
}
