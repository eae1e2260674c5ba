//! The person index: which person each source record belongs to.

use std::sync::Arc;

use futures::future::BoxFuture;
use renkei_core::{
    Clock, IdentifyingAttributes, IdentityResolver, LinkMethod, PersonKey, ProviderCode, Resolution,
};
use renkei_store::{Db, DbName, Migrations, Stores};
use sqlx::Row;

use crate::normalize;
use crate::token::{TokenKey, TokenKind};
use crate::vault::VaultKey;
use crate::{Error, Result};

const DB: DbName = DbName::new("identity");
const TOKEN_KEY_FILE: &str = "keys/identity-token.key";
const VAULT_KEY_FILE: &str = "keys/identity-vault.key";

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// The person index and its keys.
#[derive(Clone, Debug)]
pub struct PersonIndex {
    db: Db,
    tokens: TokenKey,
    vault: VaultKey,
    clock: Arc<dyn Clock>,
}

impl PersonIndex {
    /// Opens the `identity` database and loads (or creates, mode 0600) the
    /// token and vault keys under the data directory.
    pub async fn open(stores: &Stores, clock: Arc<dyn Clock>) -> Result<Self> {
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
        })
    }

    /// The match tokens of a record, strongest first.
    fn tokens_of(
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
        out
    }

    /// The person `attributes` from `provider` belong to: the person of the
    /// strongest matching token, else a new person. Every token of the record
    /// then points at that person, and the attributes are kept encrypted.
    ///
    /// Concurrent calls for the same new person agree: each inserts its
    /// tokens if absent and then reads back who holds the strongest one.
    pub async fn resolve(
        &self,
        provider: &ProviderCode,
        attributes: &IdentifyingAttributes,
    ) -> Result<Resolution> {
        let tokens = self.tokens_of(provider, attributes);
        let now = self.clock.now().unix_micros();
        let mut tx = self.db.begin_write().await?;

        let mut found = None;
        for (kind, token) in &tokens {
            let row =
                sqlx::query("SELECT person_key FROM match_tokens WHERE kind = $1 AND token = $2")
                    .bind(kind.as_str())
                    .bind(token.to_vec())
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(row) = row {
                let key: String = row.try_get("person_key")?;
                found = Some((parse_key(&key)?, *kind));
                break;
            }
        }
        let (mut person, method) = match found {
            Some((key, TokenKind::Insurance)) => (key, LinkMethod::InsuranceNumber),
            Some((key, TokenKind::LocalPatientId)) => (key, LinkMethod::LocalPatientId),
            None => (PersonKey::generate(), LinkMethod::NewPerson),
        };
        let mut method = method;
        let mut rest = &tokens[..];
        if method == LinkMethod::NewPerson {
            sqlx::query("INSERT INTO persons (person_key, created_us) VALUES ($1, $2)")
                .bind(person.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if let Some(((kind, token), others)) = tokens.split_first() {
                // Another transaction may be creating the same person: the
                // strongest token decides. Insert it alone first, read back
                // who holds it, and only then point the other tokens there,
                // so no token ever references a person that is dropped.
                insert_token(&mut tx, *kind, token, &person, now).await?;
                let holder: String = sqlx::query_scalar(
                    "SELECT person_key FROM match_tokens WHERE kind = $1 AND token = $2",
                )
                .bind(kind.as_str())
                .bind(token.to_vec())
                .fetch_one(&mut *tx)
                .await?;
                let holder = parse_key(&holder)?;
                if holder != person {
                    sqlx::query("DELETE FROM persons WHERE person_key = $1")
                        .bind(person.to_string())
                        .execute(&mut *tx)
                        .await?;
                    method = match kind {
                        TokenKind::Insurance => LinkMethod::InsuranceNumber,
                        TokenKind::LocalPatientId => LinkMethod::LocalPatientId,
                    };
                    person = holder;
                }
                rest = others;
            }
        }
        for (kind, token) in rest {
            insert_token(&mut tx, *kind, token, &person, now).await?;
        }

        let record = uuid::Uuid::now_v7().to_string();
        let plaintext =
            serde_json::to_vec(attributes).map_err(|e| Error::Corrupt(e.to_string()))?;
        let sealed = self
            .vault
            .seal(&plaintext, context(&record, &person).as_bytes());
        sqlx::query(
            "INSERT INTO attribute_records (id, person_key, provider_code, nonce, ciphertext, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&record)
        .bind(person.to_string())
        .bind(provider.as_str())
        .bind(sealed.nonce.to_vec())
        .bind(sealed.ciphertext)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::debug!(person_key = %person, ?method, "record resolved");
        Ok(Resolution {
            person_key: person,
            method,
        })
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

/// Points a token at a person unless it already points somewhere: a token,
/// once given, keeps its person (merges are explicit, audited operations).
async fn insert_token(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kind: TokenKind,
    token: &[u8; 32],
    person: &PersonKey,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO match_tokens (kind, token, person_key, created_us) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kind, token) DO NOTHING",
    )
    .bind(kind.as_str())
    .bind(token.to_vec())
    .bind(person.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn parse_key(text: &str) -> Result<PersonKey> {
    PersonKey::parse(text).map_err(|e| Error::Corrupt(format!("stored person key: {e}")))
}

fn context(record: &str, person: &PersonKey) -> String {
    format!("{record}|{person}")
}

impl IdentityResolver for PersonIndex {
    fn resolve(
        &self,
        provider: &ProviderCode,
        attributes: &IdentifyingAttributes,
    ) -> BoxFuture<'_, Result<Resolution, renkei_core::Error>> {
        let provider = provider.clone();
        let attributes = attributes.clone();
        Box::pin(async move {
            PersonIndex::resolve(self, &provider, &attributes)
                .await
                .map_err(Into::into)
        })
    }
}
