//! The person index: which person each source record belongs to.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::future::BoxFuture;
use renkei_core::{
    AuditSink, Clock, IdentifyingAttributes, IdentityBatch, IdentityResolver, LinkMethod,
    PersonKey, ProviderCode, RecordId, Resolution,
};
use renkei_store::{Backend, Db, DbName, Migrations, Stores, sql};
use sqlx::Row;

use crate::curation::ReviewReason;
use crate::normalize;
use crate::staging::staged_holders;
use crate::token::{TokenKey, TokenKind};
use crate::vault::VaultKey;
use crate::{Error, Result};

pub(crate) const RESOLVE_LOCK_KEY: i64 = RESOLVE_LOCK;
const DB: DbName = DbName::new("identity");
const TOKEN_KEY_FILE: &str = "keys/identity-token.key";
const VAULT_KEY_FILE: &str = "keys/identity-vault.key";
/// The PostgreSQL advisory lock key that serializes resolutions ("renkei-i").
const RESOLVE_LOCK: i64 = 0x7265_6e6b_6569_2d69;

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// The person index and its keys.
#[derive(Clone)]
pub struct PersonIndex {
    db: Db,
    tokens: TokenKey,
    vault: VaultKey,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditSink>,
    /// A tick after each committed merge or split, for whoever follows
    /// them in this process ([`renkei_core::PersonEvents::changes`]).
    pub(crate) changes: tokio::sync::broadcast::Sender<()>,
}

impl std::fmt::Debug for PersonIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonIndex")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl PersonIndex {
    /// Opens the `identity` database and loads (or creates, mode 0600) the
    /// token and vault keys under the data directory.
    /// Curation steps (merges, splits, review decisions) are recorded in
    /// `audit` before they commit.
    pub async fn open(
        stores: &Stores,
        clock: Arc<dyn Clock>,
        audit: Arc<dyn AuditSink>,
    ) -> Result<Self> {
        let db = stores.database(DB, &migrations()).await?;
        let dir = stores.data_dir();
        let (token_secret, _) =
            renkei_store::keys::load_or_create_secret::<32>(&dir.join(TOKEN_KEY_FILE))?;
        let (vault_secret, _) =
            renkei_store::keys::load_or_create_secret::<32>(&dir.join(VAULT_KEY_FILE))?;
        Ok(Self {
            db,
            tokens: TokenKey::new(token_secret),
            vault: VaultKey::new(vault_secret),
            clock,
            audit,
            changes: tokio::sync::broadcast::channel(64).0,
        })
    }

    pub(crate) fn audit(&self) -> &Arc<dyn AuditSink> {
        &self.audit
    }

    pub(crate) fn token_key(&self) -> &TokenKey {
        &self.tokens
    }

    pub(crate) fn vault(&self) -> &VaultKey {
        &self.vault
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The match tokens of a record, strongest first.
    pub(crate) fn tokens_of(
        &self,
        provider: &ProviderCode,
        a: &IdentifyingAttributes,
    ) -> Vec<(TokenKind, [u8; 32])> {
        let mut out = Vec::new();
        if let Some(key) = normalize::insurance_key(
            a.insurer_number.as_deref(),
            a.insured_symbol.as_deref(),
            a.insured_number.as_deref(),
            a.insured_branch.as_deref(),
        ) {
            out.push((
                TokenKind::Insurance,
                self.tokens.token(TokenKind::Insurance, &key),
            ));
        }
        if let Some(id) = a
            .local_patient_id
            .as_deref()
            .map(normalize::identifier)
            .filter(|s| !s.is_empty())
        {
            let value = format!("{provider}|{id}");
            out.push((
                TokenKind::LocalPatientId,
                self.tokens.token(TokenKind::LocalPatientId, &value),
            ));
        }
        if let Some(value) = name_birth_sex(a) {
            out.push((
                TokenKind::NameBirthSex,
                self.tokens.token(TokenKind::NameBirthSex, &value),
            ));
        }
        out
    }

    /// The person `attributes` from `provider` belong to: the person of the
    /// strongest matching token, else a new person. Every token of the record
    /// then points at that person, and the attributes are kept encrypted.
    pub async fn resolve(
        &self,
        provider: &ProviderCode,
        attributes: &IdentifyingAttributes,
    ) -> Result<Resolution> {
        let mut out = self
            .resolve_batch(provider, std::slice::from_ref(attributes))
            .await?;
        Ok(out.pop().expect("one answer per record"))
    }

    /// [`resolve`](Self::resolve) for many records of one provider, in one
    /// transaction; answers in order. Records of one person within the batch
    /// agree, since each sees the tokens the ones before it gave.
    ///
    /// Resolutions are serialized: SQLite's `BEGIN IMMEDIATE` and, on
    /// PostgreSQL, a transaction-scoped advisory lock. Two concurrent
    /// batches could otherwise both create the same new person; batching
    /// keeps the serialization cheap (one lock per thousands of records).
    pub async fn resolve_batch(
        &self,
        provider: &ProviderCode,
        records: &[IdentifyingAttributes],
    ) -> Result<Vec<Resolution>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // Staged and committed in one transaction under the lock: nothing
        // can take a token in between, so the commit meets no conflict.
        let batch = IdentityBatch::generate();
        let mut tx = self.begin_locked().await?;
        let out = self.stage_in(&mut tx, &batch, provider, records).await?;
        self.commit_in(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// [`resolve_batch`](Self::resolve_batch), staged under `batch`: later
    /// calls with the same batch see what it wrote, nobody else does until
    /// [`commit_batch`](Self::commit_batch); [`discard_batch`](Self::discard_batch)
    /// removes it.
    pub async fn resolve_staged(
        &self,
        batch: &IdentityBatch,
        provider: &ProviderCode,
        records: &[IdentifyingAttributes],
    ) -> Result<Vec<Resolution>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_locked().await?;
        let out = self.stage_in(&mut tx, batch, provider, records).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// A write transaction holding the resolution lock.
    pub(crate) async fn begin_locked(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.db.begin_write().await?;
        if self.db.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(RESOLVE_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Resolves `records` against the committed index and what `batch`
    /// staged before, and stages the result under `batch`.
    async fn stage_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        batch: &IdentityBatch,
        provider: &ProviderCode,
        records: &[IdentifyingAttributes],
    ) -> Result<Vec<Resolution>> {
        let tokens: Vec<Vec<(TokenKind, [u8; 32])>> = records
            .iter()
            .map(|a| self.tokens_of(provider, a))
            .collect();
        let now = self.clock.now().unix_micros();
        let all: Vec<[u8; 32]> = tokens.iter().flatten().map(|(_, t)| *t).collect();
        let mut holders = known_holders(tx, &all).await?;
        // The batch's own tokens win over ones committed meanwhile by
        // another batch, so that its records of one person keep agreeing;
        // the commit settles the difference.
        holders.extend(staged_holders(tx, batch, &all).await?);

        let mut new_persons = Vec::new();
        let mut new_tokens = Vec::new();
        let mut out = Vec::with_capacity(records.len());
        // Records whose link needs a reviewer, and why. They are linked
        // (their rows carry the person's key, so a split can move them)
        // but not trusted: they bind no token, and identification and the
        // probabilistic pass ignore them until a reviewer accepts them.
        let mut to_review: Vec<(usize, ReviewReason)> = Vec::new();
        for (i, record_tokens) in tokens.iter().enumerate() {
            let found = record_tokens
                .iter()
                .find_map(|(kind, t)| holders.get(&(kind.as_str(), *t)).map(|p| (*p, *kind)));
            let (person, method, review) = match found {
                Some((key, kind @ (TokenKind::Insurance | TokenKind::LocalPatientId))) => {
                    let method = if kind == TokenKind::Insurance {
                        LinkMethod::InsuranceNumber
                    } else {
                        LinkMethod::LocalPatientId
                    };
                    // A number names the person, but the record's kana
                    // name, birth date and sex are not ones the person is
                    // known by: a typo, a name changed by marriage — or a
                    // sender claiming someone else's card under an
                    // invented name, to be identified as them at the
                    // portal. Only a reviewer can tell.
                    let disagrees = record_tokens.iter().any(|(kind, t)| {
                        *kind == TokenKind::NameBirthSex
                            && holders.get(&(kind.as_str(), *t)) != Some(&key)
                    });
                    (
                        key,
                        method,
                        disagrees.then_some(ReviewReason::AttributesDisagree),
                    )
                }
                Some((key, TokenKind::NameBirthSex)) => {
                    // Linked by name, birth date and sex alone although the
                    // record carries a number the person never had (no
                    // number matched): an insurer change, a first visit
                    // elsewhere, or a namesake born the same day. Binding
                    // that number on a weak link would let whoever knows a
                    // person's name and birthday give them a card of
                    // their choosing.
                    let carries_number = record_tokens
                        .iter()
                        .any(|(kind, _)| *kind != TokenKind::NameBirthSex);
                    (
                        key,
                        LinkMethod::NameBirthSex,
                        carries_number.then_some(ReviewReason::NameBirthSexOnly),
                    )
                }
                None => {
                    let key = PersonKey::generate();
                    new_persons.push(key);
                    (key, LinkMethod::NewPerson, None)
                }
            };
            match review {
                Some(reason) => to_review.push((i, reason)),
                // A token, once given, keeps its person: merges are
                // explicit, audited operations, never a side effect of a
                // new record.
                None => new_tokens.extend(
                    bind_vacant(&mut holders, record_tokens, person)
                        .into_iter()
                        .map(|(kind, t)| (i, kind, t, person)),
                ),
            }
            out.push(Resolution {
                person_key: person,
                method,
                record: RecordId::generate(),
            });
        }

        let batch_text = batch.to_string();
        for chunk in new_persons.chunks(sql::rows_per_statement(3)) {
            let text = format!(
                "INSERT INTO staged_persons (batch, person_key, created_us) VALUES {}",
                sql::values(chunk.len(), 3)
            );
            let mut q = sqlx::query(&text);
            for key in chunk {
                q = q.bind(batch_text.as_str()).bind(key.to_string()).bind(now);
            }
            q.execute(&mut **tx).await?;
        }
        for chunk in new_tokens.chunks(sql::rows_per_statement(6)) {
            let text = format!(
                "INSERT INTO staged_tokens (batch, kind, token, person_key, record_id, created_us) \
                 VALUES {}",
                sql::values(chunk.len(), 6)
            );
            let mut q = sqlx::query(&text);
            for (i, kind, token, person) in chunk {
                q = q
                    .bind(batch_text.as_str())
                    .bind(kind.as_str())
                    .bind(token.to_vec())
                    .bind(person.to_string())
                    .bind(out[*i].record.to_string())
                    .bind(now);
            }
            q.execute(&mut **tx).await?;
        }
        let mut sealed_rows = Vec::with_capacity(records.len());
        let in_review: HashSet<usize> = to_review.iter().map(|(i, _)| *i).collect();
        for (i, (attributes, resolution)) in records.iter().zip(&out).enumerate() {
            let record = resolution.record.to_string();
            let plaintext =
                serde_json::to_vec(attributes).map_err(|e| Error::Corrupt(e.to_string()))?;
            let sealed = self.vault.seal(
                &plaintext,
                context(&record, &resolution.person_key).as_bytes(),
            );
            let state = if in_review.contains(&i) {
                LinkState::InReview
            } else {
                LinkState::Linked
            };
            sealed_rows.push((record, resolution.person_key, sealed, state));
        }
        for chunk in sealed_rows.chunks(sql::rows_per_statement(8)) {
            let text = format!(
                "INSERT INTO staged_records \
                 (batch, id, person_key, provider_code, nonce, ciphertext, created_us, link_state) \
                 VALUES {}",
                sql::values(chunk.len(), 8)
            );
            let mut q = sqlx::query(&text);
            for (record, person, sealed, state) in chunk {
                q = q
                    .bind(batch_text.as_str())
                    .bind(record.as_str())
                    .bind(person.to_string())
                    .bind(provider.as_str())
                    .bind(sealed.nonce.to_vec())
                    .bind(sealed.ciphertext.as_slice())
                    .bind(now)
                    .bind(state.as_str());
            }
            q.execute(&mut **tx).await?;
        }
        for chunk in to_review.chunks(sql::rows_per_statement(6)) {
            let text = format!(
                "INSERT INTO staged_reviews (batch, id, record_id, person_key, reason, created_us) \
                 VALUES {}",
                sql::values(chunk.len(), 6)
            );
            let mut q = sqlx::query(&text);
            for (i, reason) in chunk {
                let (record, person, _, _) = &sealed_rows[*i];
                q = q
                    .bind(batch_text.as_str())
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(record.as_str())
                    .bind(person.to_string())
                    .bind(reason.as_str())
                    .bind(now);
            }
            q.execute(&mut **tx).await?;
        }
        tracing::debug!(
            records = records.len(),
            new_persons = new_persons.len(),
            queued = to_review.len(),
            "records resolved (staged)"
        );
        Ok(out)
    }

    /// The persons known under `provider`'s own patient ids; creates nothing.
    pub async fn find_local(
        &self,
        provider: &ProviderCode,
        local_patient_ids: &[String],
    ) -> Result<Vec<Option<PersonKey>>> {
        let tokens: Vec<Option<[u8; 32]>> = local_patient_ids
            .iter()
            .map(|id| {
                let id = normalize::identifier(id);
                (!id.is_empty()).then(|| {
                    self.tokens
                        .token(TokenKind::LocalPatientId, &format!("{provider}|{id}"))
                })
            })
            .collect();
        let all: Vec<[u8; 32]> = tokens.iter().flatten().copied().collect();
        let mut conn = self.db.pool().acquire().await?;
        let holders = known_holders(&mut conn, &all).await?;
        Ok(tokens
            .iter()
            .map(|t| {
                t.and_then(|t| {
                    holders
                        .get(&(TokenKind::LocalPatientId.as_str(), t))
                        .copied()
                })
            })
            .collect())
    }

    /// How many persons the index holds.
    pub async fn person_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons")
            .fetch_one(self.db.pool())
            .await?;
        u64::try_from(n).map_err(|_| Error::Corrupt(format!("negative count {n}")))
    }

    /// The database, for tests and readiness checks.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// Which person each of `tokens` already names, by (kind, token).
pub(crate) async fn known_holders(
    conn: &mut sqlx::AnyConnection,
    tokens: &[[u8; 32]],
) -> Result<HashMap<(&'static str, [u8; 32]), PersonKey>> {
    let mut out = HashMap::with_capacity(tokens.len());
    for chunk in tokens.chunks(sql::rows_per_statement(1)) {
        let text = format!(
            "SELECT kind, token, person_key FROM match_tokens WHERE token IN ({})",
            sql::list(1, chunk.len())
        );
        let mut q = sqlx::query(&text);
        for t in chunk {
            q = q.bind(t.to_vec());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let (key, person) = token_row(&row, "a stored")?;
            out.insert(key, person);
        }
    }
    Ok(out)
}

/// A `(kind, token, person_key)` row of `match_tokens` or `staged_tokens`;
/// `what` names the table's tokens in an error.
pub(crate) fn token_row(
    row: &sqlx::any::AnyRow,
    what: &str,
) -> Result<((&'static str, [u8; 32]), PersonKey)> {
    let kind: String = row.try_get("kind")?;
    let token: Vec<u8> = row.try_get("token")?;
    let person: String = row.try_get("person_key")?;
    let kind = TokenKind::parse(&kind)
        .ok_or_else(|| Error::Corrupt(format!("unknown token kind {kind:?}")))?;
    let token: [u8; 32] = token
        .try_into()
        .map_err(|_| Error::Corrupt(format!("{what} token is not 32 bytes")))?;
    Ok(((kind.as_str(), token), parse_key(&person)?))
}

/// Inserts `tokens` (kind, token, person) into `match_tokens`.
pub(crate) async fn insert_tokens(
    conn: &mut sqlx::AnyConnection,
    tokens: &[(TokenKind, [u8; 32], PersonKey)],
    now: i64,
) -> Result<()> {
    for chunk in tokens.chunks(sql::rows_per_statement(4)) {
        let text = format!(
            "INSERT INTO match_tokens (kind, token, person_key, created_us) VALUES {}",
            sql::values(chunk.len(), 4)
        );
        let mut q = sqlx::query(&text);
        for (kind, token, person) in chunk {
            q = q
                .bind(kind.as_str())
                .bind(token.to_vec())
                .bind(person.to_string())
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Points every token of a record that names nobody yet at `person`,
/// noting it in `holders` (so later records of a batch see it); returns
/// the tokens bound.
pub(crate) fn bind_vacant(
    holders: &mut HashMap<(&'static str, [u8; 32]), PersonKey>,
    record_tokens: &[(TokenKind, [u8; 32])],
    person: PersonKey,
) -> Vec<(TokenKind, [u8; 32])> {
    let mut bound = Vec::new();
    for (kind, t) in record_tokens {
        if let std::collections::hash_map::Entry::Vacant(e) = holders.entry((kind.as_str(), *t)) {
            e.insert(person);
            bound.push((*kind, *t));
        }
    }
    bound
}

/// Whether the platform trusts an attribute record's link to its person
/// (`attribute_records.link_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Trusted: its tokens name the person, identification may use it.
    Linked,
    /// Awaiting a reviewer: no token, no identification.
    InReview,
}

impl LinkState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LinkState::Linked => "linked",
            LinkState::InReview => "in_review",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self> {
        match text {
            "linked" => Ok(LinkState::Linked),
            "in_review" => Ok(LinkState::InReview),
            other => Err(Error::Corrupt(format!("unknown link state {other:?}"))),
        }
    }
}

/// The value of the name–birth–sex token: normalized kana name, ISO birth
/// date and sex, when all three are known (sex male or female). Weakest of
/// the tokens: it is tried after both numbers, so that a person who changed
/// insurer (a new number) is still found, while namesakes born the same day
/// are told apart by any number that already names one of them.
pub(crate) fn name_birth_sex(a: &IdentifyingAttributes) -> Option<String> {
    let kana = normalize::name::kana_name_key(a.kana_name.as_deref()?);
    let birth = normalize::date::date_iso(a.birth_date.as_deref()?).ok()?;
    let sex = match a.sex? {
        renkei_core::Sex::Male => "M",
        renkei_core::Sex::Female => "F",
        renkei_core::Sex::Other | renkei_core::Sex::Unknown => return None,
    };
    (!kana.is_empty()).then(|| format!("{kana}|{birth}|{sex}"))
}

pub(crate) fn parse_key(text: &str) -> Result<PersonKey> {
    PersonKey::parse(text).map_err(|e| Error::Corrupt(format!("stored person key: {e}")))
}

pub(crate) fn context(record: &str, person: &PersonKey) -> String {
    format!("{record}|{person}")
}

impl IdentityResolver for PersonIndex {
    fn resolve(
        &self,
        provider: &ProviderCode,
        attributes: &IdentifyingAttributes,
    ) -> BoxFuture<'_, Result<Resolution, renkei_core::ServiceError>> {
        let provider = provider.clone();
        let attributes = attributes.clone();
        Box::pin(async move {
            PersonIndex::resolve(self, &provider, &attributes)
                .await
                .map_err(Into::into)
        })
    }

    fn resolve_batch<'a>(
        &'a self,
        provider: &'a ProviderCode,
        records: &'a [IdentifyingAttributes],
    ) -> BoxFuture<'a, Result<Vec<Resolution>, renkei_core::ServiceError>> {
        Box::pin(async move {
            PersonIndex::resolve_batch(self, provider, records)
                .await
                .map_err(Into::into)
        })
    }

    fn resolve_staged<'a>(
        &'a self,
        batch: &'a IdentityBatch,
        provider: &'a ProviderCode,
        records: &'a [IdentifyingAttributes],
    ) -> BoxFuture<'a, Result<Vec<Resolution>, renkei_core::ServiceError>> {
        Box::pin(async move {
            PersonIndex::resolve_staged(self, batch, provider, records)
                .await
                .map_err(Into::into)
        })
    }

    fn commit_batch<'a>(
        &'a self,
        batch: &'a IdentityBatch,
    ) -> BoxFuture<'a, Result<(), renkei_core::ServiceError>> {
        Box::pin(async move {
            PersonIndex::commit_batch(self, batch)
                .await
                .map_err(Into::into)
        })
    }

    fn discard_batch<'a>(
        &'a self,
        batch: &'a IdentityBatch,
    ) -> BoxFuture<'a, Result<(), renkei_core::ServiceError>> {
        Box::pin(async move {
            PersonIndex::discard_batch(self, batch)
                .await
                .map_err(Into::into)
        })
    }

    fn find_local<'a>(
        &'a self,
        provider: &'a ProviderCode,
        local_patient_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<PersonKey>>, renkei_core::ServiceError>> {
        Box::pin(async move {
            PersonIndex::find_local(self, provider, local_patient_ids)
                .await
                .map_err(Into::into)
        })
    }

    fn identify<'a>(
        &'a self,
        attributes: &'a IdentifyingAttributes,
    ) -> BoxFuture<'a, Result<Option<PersonKey>, renkei_core::ServiceError>> {
        Box::pin(async move {
            PersonIndex::identify(self, attributes)
                .await
                .map_err(Into::into)
        })
    }
}
