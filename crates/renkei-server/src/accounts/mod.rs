//! Accounts: organizations, users with one role each, API tokens for
//! machines and sessions for pages. Owns the `accounts` database.
//!
//! Secrets are never stored: passwords as Argon2id hashes, tokens and
//! session ids as SHA-256 digests (they are 256-bit random values, so a fast
//! hash is enough; a password is not, hence Argon2id). At most a few
//! Argon2id computations run at once ([`PasswordChecks`]). Page sessions
//! end at their expiry or after `session_idle_minutes` unused, whichever
//! comes first. Guessing, at sign-in and at patient identification, is
//! throttled by [`Throttle`].
//!
//! Every change that grants or removes access (an organization, an
//! account, a password, a token, a disabled account) appends its audit
//! entry inside its transaction, before the commit: if the log refuses
//! the entry the change is rolled back (DESIGN.md invariant 5; issue 15,
//! finding 8).

mod password;
mod secret;
mod throttle;

use renkei_core::{Actor, AuditEvent, AuditSink, Clock, OrgId, PersonKey, Role, Timestamp, UserId};
use renkei_store::{Db, DbName, Migrations, Stores};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::sync::Arc;

pub use password::{Password, PasswordChecks};
pub use secret::{ApiToken, PatientToken, SessionToken};
pub use throttle::{Attempt, Key, Lockout, Refused, Scope, Throttle, Tier};

use crate::{Error, Result};

const DB: DbName = DbName::new("accounts");

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    }
}

/// A signed-in account, as handlers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// The account id.
    #[schema(value_type = String)]
    pub id: UserId,
    /// The sign-in name.
    pub username: String,
    /// The name shown on pages.
    pub display_name: String,
    /// The one role the account holds.
    #[schema(value_type = String)]
    pub role: Role,
    /// The organization the account belongs to, if any.
    #[schema(value_type = Option<String>)]
    pub org_id: Option<OrgId>,
}

impl User {
    /// The account as the audit log names it.
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id,
            username: self.username.clone(),
            role: self.role,
        }
    }
}

/// What is needed to create an account.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The sign-in name: 3–64 of `a-z 0-9 . _ -`.
    pub username: String,
    /// The name shown on pages.
    pub display_name: String,
    /// The account's role.
    pub role: Role,
    /// Its organization.
    pub org_id: Option<OrgId>,
    /// A password for page sign-in; `None` for machine-only accounts.
    pub password: Option<Password>,
}

/// An API token as listed (never the token itself).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// The token's id, used to revoke it.
    pub id: String,
    /// What the owner called it.
    pub name: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was last used, if ever.
    pub last_used_at: Option<String>,
    /// When it stops working (none for tokens made before tokens expired).
    pub expires_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// The accounts store.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditSink>,
    checks: PasswordChecks,
    session_idle_us: i64,
    token_days: u32,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("db", &self.db)
            .field("token_days", &self.token_days)
            .finish_non_exhaustive()
    }
}

fn validate_username(name: &str) -> Result<()> {
    let ok_len = (3..=64).contains(&name.len());
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "user name {name:?} must be 3 to 64 of a-z, 0-9, '.', '_' and '-'"
        )))
    }
}

fn user_from_row(row: &AnyRow) -> Result<User> {
    let id: String = row.try_get("id")?;
    let role: String = row.try_get("role")?;
    let org: Option<String> = row.try_get("org_id")?;
    Ok(User {
        id: UserId::parse(&id).map_err(|e| Error::Internal(format!("stored user id: {e}")))?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: role
            .parse()
            .map_err(|e| Error::Internal(format!("stored role: {e}")))?,
        org_id: org
            .map(|o| OrgId::parse(&o))
            .transpose()
            .map_err(|e| Error::Internal(format!("stored org id: {e}")))?,
    })
}

const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.role, u.org_id";

impl Accounts {
    /// Opens (and migrates) the accounts database; its changes are
    /// recorded in `audit`.
    pub async fn open(
        stores: &Stores,
        clock: Arc<dyn Clock>,
        audit: Arc<dyn AuditSink>,
    ) -> Result<Self> {
        let db = stores.database(DB, &migrations()).await?;
        Ok(Self {
            db,
            clock,
            audit,
            checks: PasswordChecks::new(4, 16),
            session_idle_us: i64::from(DEFAULT_SESSION_IDLE_MINUTES) * 60_000_000,
            token_days: DEFAULT_TOKEN_DAYS,
        })
    }

    /// The same store, with API tokens living at most `days` (at least
    /// one) instead of the default 365.
    pub fn with_token_days(self, days: u32) -> Self {
        Self {
            token_days: days.max(1),
            ..self
        }
    }

    /// The longest an API token may live, in days.
    pub fn token_days(&self) -> u32 {
        self.token_days
    }

    /// The same store, with page sessions ending after `minutes` unused
    /// (at least one) instead of the default 30.
    pub fn with_session_idle_minutes(self, minutes: u32) -> Self {
        Self {
            session_idle_us: i64::from(minutes.max(1)) * 60_000_000,
            ..self
        }
    }

    /// The same store, with password hashing and checking bounded by
    /// `checks` instead of the default (4 at once, 16 waiting).
    pub fn with_password_checks(self, checks: PasswordChecks) -> Self {
        Self { checks, ..self }
    }

    /// The bound on concurrent password checks.
    pub fn password_checks(&self) -> &PasswordChecks {
        &self.checks
    }

    /// The underlying database, for readiness checks.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Records the change made in `tx` and then commits it: a change the
    /// log refuses is rolled back, so no account, password or token takes
    /// effect unrecorded. Only a commit that fails after the entry can
    /// leave an entry for a change not made.
    async fn commit_logged(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        by: &Actor,
        action: &str,
        object: String,
    ) -> Result<()> {
        self.audit
            .append(AuditEvent::success(
                self.clock.now(),
                by.clone(),
                action,
                object,
            ))
            .await
            .map_err(|e| Error::AuditUnavailable(Box::new(e)))?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates an organization, or returns the existing one of that name.
    pub async fn ensure_org(&self, by: &Actor, name: &str, country: &str) -> Result<OrgId> {
        if name.trim().is_empty() {
            return Err(Error::BadRequest("organization name is empty".to_owned()));
        }
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::BadRequest(format!(
                "country {country:?} must be an ISO 3166-1 alpha-2 code such as \"JP\""
            )));
        }
        if let Some(row) = sqlx::query("SELECT id FROM organizations WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
        {
            let id: String = row.try_get("id")?;
            return OrgId::parse(&id).map_err(|e| Error::Internal(e.to_string()));
        }
        let id = OrgId::generate();
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO organizations (id, name, country, created_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(country)
        .bind(self.clock.now().unix_micros())
        .execute(&mut *tx)
        .await?;
        self.commit_logged(tx, by, "organization.create", format!("organization={id}"))
            .await?;
        Ok(id)
    }

    /// Creates an account. A taken user name is a [`Error::Conflict`].
    pub async fn create_user(&self, by: &Actor, new: NewUser) -> Result<User> {
        validate_username(&new.username)?;
        if new.display_name.trim().is_empty() {
            return Err(Error::BadRequest("display name is empty".to_owned()));
        }
        let hash = match new.password {
            Some(p) => Some(p.hash_admitted(&self.checks).await?),
            None => None,
        };
        let id = UserId::generate();
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, display_name, role, org_id, password_hash, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (username) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(&new.username)
        .bind(&new.display_name)
        .bind(new.role.as_str())
        .bind(new.org_id.map(|o| o.to_string()))
        .bind(hash)
        .bind(self.clock.now().unix_micros())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(Error::Conflict(format!(
                "user name {:?} is taken",
                new.username
            )));
        }
        let org = new
            .org_id
            .map(|o| format!(" organization={o}"))
            .unwrap_or_default();
        self.commit_logged(
            tx,
            by,
            "account.create",
            format!("user={id} role={}{org}", new.role),
        )
        .await?;
        tracing::info!(user_id = %id, role = %new.role, "account created");
        Ok(User {
            id,
            username: new.username,
            display_name: new.display_name,
            role: new.role,
            org_id: new.org_id,
        })
    }

    /// Every account, by user name.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.username"
        ))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// The account with this user name, if it exists and is enabled.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1 AND u.disabled_us IS NULL"
        ))
        .bind(username)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Disables an account: its sign-in, tokens and sessions stop working
    /// at once (every lookup requires an enabled account), and its
    /// sessions are deleted. The account and its audit trail stay. An
    /// account cannot disable itself, so an operator cannot lock the
    /// platform out of its last operator by a slip.
    pub async fn disable_user(&self, by: &User, id: &UserId) -> Result<()> {
        if by.id == *id {
            return Err(Error::Conflict(
                "an account cannot disable itself; ask another operator".to_owned(),
            ));
        }
        let mut tx = self.db.begin_write().await?;
        let done =
            sqlx::query("UPDATE users SET disabled_us = $1 WHERE id = $2 AND disabled_us IS NULL")
                .bind(self.clock.now().unix_micros())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("enabled account {id}")));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        self.commit_logged(tx, &by.actor(), "account.disable", format!("user={id}"))
            .await?;
        tracing::info!(user_id = %id, by = %by.id, "account disabled");
        Ok(())
    }

    /// Sets the password of the enabled account `id` and ends its page
    /// sessions (but `keep`, the session of someone changing their own
    /// password), so whoever held the old password is signed out. The
    /// caller has checked that `by` may: the account itself after giving
    /// its current password, or an operator resetting it.
    pub async fn set_password(
        &self,
        by: &Actor,
        id: &UserId,
        password: Password,
        keep: Option<&SessionToken>,
    ) -> Result<()> {
        let hash = password.hash_admitted(&self.checks).await?;
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND disabled_us IS NULL",
        )
        .bind(hash)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("enabled account {id}")));
        }
        let kept = keep.map(|t| t.digest().to_vec()).unwrap_or_default();
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(id.to_string())
            .bind(kept)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.commit_logged(
            tx,
            by,
            "account.password",
            format!("user={id} sessions_ended={ended}"),
        )
        .await?;
        tracing::info!(user_id = %id, sessions_ended = ended, "password set");
        Ok(())
    }

    /// Checks a user name and password. Unknown names cost as much time as
    /// wrong passwords, so that timing does not tell which names exist.
    pub async fn check_password(&self, username: &str, password: Password) -> Result<User> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u \
             WHERE u.username = $1 AND u.disabled_us IS NULL"
        ))
        .bind(username)
        .fetch_optional(self.db.pool())
        .await?;
        let stored: Option<String> = match &row {
            Some(r) => r.try_get("password_hash")?,
            None => None,
        };
        let matches = password.verify_admitted(stored, &self.checks).await?;
        match (row, matches) {
            (Some(r), true) => user_from_row(&r),
            _ => Err(Error::BadCredentials),
        }
    }

    /// Issues an API token for `user` that lives the longest allowed
    /// ([`Accounts::token_days`]). The token is returned once and only its
    /// digest is kept.
    pub async fn create_token(&self, user: &User, name: &str) -> Result<(TokenInfo, ApiToken)> {
        self.create_token_for(user, name, self.token_days).await
    }

    /// Issues an API token for `user` that stops working after `days`
    /// (1 to [`Accounts::token_days`]).
    pub async fn create_token_for(
        &self,
        user: &User,
        name: &str,
        days: u32,
    ) -> Result<(TokenInfo, ApiToken)> {
        if name.trim().is_empty() || name.len() > 100 {
            return Err(Error::BadRequest(
                "token name must be 1 to 100 characters".to_owned(),
            ));
        }
        if !(1..=self.token_days).contains(&days) {
            return Err(Error::BadRequest(format!(
                "expires_in_days: {days} is not between 1 and {} (accounts.token_days)",
                self.token_days
            )));
        }
        let token = ApiToken::generate();
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.clock.now();
        let expires = now.plus_micros(i64::from(days) * 86_400_000_000);
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_us, expires_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(user.id.to_string())
        .bind(name)
        .bind(token.digest().to_vec())
        .bind(now.unix_micros())
        .bind(expires.unix_micros())
        .execute(&mut *tx)
        .await?;
        self.commit_logged(
            tx,
            &user.actor(),
            "token.create",
            format!("token={id} user={} days={days}", user.id),
        )
        .await?;
        tracing::info!(user_id = %user.id, token_id = %id, "api token created");
        let info = TokenInfo {
            id,
            name: name.to_owned(),
            created_at: now.to_rfc3339(),
            last_used_at: None,
            expires_at: Some(expires.to_rfc3339()),
            revoked_at: None,
        };
        Ok((info, token))
    }

    /// The tokens of `user`, newest first.
    pub async fn list_tokens(&self, user: &User) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_us, last_used_us, expires_us, revoked_us FROM api_tokens \
             WHERE user_id = $1 ORDER BY created_us DESC, id DESC",
        )
        .bind(user.id.to_string())
        .fetch_all(self.db.pool())
        .await?;
        let time = |us: Option<i64>| us.map(|u| Timestamp::from_unix_micros(u).to_rfc3339());
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: time(Some(r.try_get("created_us")?)).unwrap_or_default(),
                    last_used_at: time(r.try_get("last_used_us")?),
                    expires_at: time(r.try_get("expires_us")?),
                    revoked_at: time(r.try_get("revoked_us")?),
                })
            })
            .collect()
    }

    /// Revokes one of `user`'s tokens. Another user's token is "not found":
    /// whether it exists is none of the caller's business.
    pub async fn revoke_token(&self, user: &User, token_id: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_us = $1 WHERE id = $2 AND user_id = $3 AND revoked_us IS NULL",
        )
        .bind(self.clock.now().unix_micros())
        .bind(token_id)
        .bind(user.id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(format!("active token {token_id:?}")));
        }
        // The id is the platform's (a UUID): safe to log as it stands.
        self.commit_logged(
            tx,
            &user.actor(),
            "token.revoke",
            format!("token={token_id} user={}", user.id),
        )
        .await?;
        tracing::info!(user_id = %user.id, token_id, "api token revoked");
        Ok(())
    }

    /// The account an API token belongs to, if the token is valid: not
    /// revoked, not expired, and its account not disabled.
    pub async fn user_by_token(&self, token: &ApiToken) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, t.id AS token_id, t.last_used_us FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_us IS NULL AND u.disabled_us IS NULL \
             AND (t.expires_us IS NULL OR t.expires_us > $2)"
        ))
        .bind(token.digest().to_vec())
        .bind(self.clock.now().unix_micros())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token_id: String = row.try_get("token_id")?;
        // "Last used" is for people judging whether a token is still in
        // use, so a minute's precision is plenty; writing it on every
        // request put a durable commit in front of every API call.
        let now = self.clock.now().unix_micros();
        let last: Option<i64> = row.try_get("last_used_us")?;
        if last.is_none_or(|t| t < now - LAST_USED_PRECISION_US) {
            sqlx::query("UPDATE api_tokens SET last_used_us = $1 WHERE id = $2")
                .bind(now)
                .bind(token_id)
                .execute(self.db.pool())
                .await?;
        }
        user_from_row(&row).map(Some)
    }

    /// Starts a page session for `user`; returns the cookie value and the
    /// session's CSRF token.
    pub async fn create_session(&self, user: &User, hours: u32) -> Result<(SessionToken, String)> {
        let token = SessionToken::generate();
        let csrf = secret::random_text();
        let now = self.clock.now();
        let expires = now.plus_micros(i64::from(hours) * 3_600_000_000);
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_us, expires_us) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token.digest().to_vec())
        .bind(user.id.to_string())
        .bind(&csrf)
        .bind(now.unix_micros())
        .bind(expires.unix_micros())
        .execute(self.db.pool())
        .await?;
        Ok((token, csrf))
    }

    /// The account and CSRF token of a live session: not expired, and
    /// used within the idle timeout.
    pub async fn session(&self, token: &SessionToken) -> Result<Option<(User, String)>> {
        let now = self.clock.now().unix_micros();
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, s.csrf, COALESCE(s.last_seen_us, s.created_us) AS seen_us \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_us > $2 AND u.disabled_us IS NULL \
             AND COALESCE(s.last_seen_us, s.created_us) > $3"
        ))
        .bind(token.digest().to_vec())
        .bind(now)
        .bind(now - self.session_idle_us)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        // Like a token's "last used", a minute's precision is enough for an
        // idle timeout of many minutes, and spares a write per page.
        let seen: i64 = row.try_get("seen_us")?;
        if seen < now - LAST_USED_PRECISION_US {
            sqlx::query("UPDATE sessions SET last_seen_us = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(token.digest().to_vec())
                .execute(self.db.pool())
                .await?;
        }
        let csrf: String = row.try_get("csrf")?;
        Ok(Some((user_from_row(&row)?, csrf)))
    }

    /// Ends a session.
    pub async fn end_session(&self, token: &SessionToken) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(token.digest().to_vec())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// How stale a token's "last used" time may be.
const LAST_USED_PRECISION_US: i64 = 60_000_000;

/// How long a page session may go unused before it ends.
pub const DEFAULT_SESSION_IDLE_MINUTES: u32 = 30;

/// The longest an API token lives, in days, unless configured otherwise.
pub const DEFAULT_TOKEN_DAYS: u32 = 365;

/// A live patient session: who the patient proved to be.
#[derive(Clone, Debug)]
pub struct PatientSession {
    /// The person identity found.
    pub person: PersonKey,
    /// How the patient was identified (`attributes`, `jpki`, `oidc`).
    pub method: String,
    /// The session's CSRF token, which every portal form must echo.
    pub csrf: String,
    /// When it ends.
    pub expires: Timestamp,
}

impl Accounts {
    /// Starts a patient session for `person`, identified by `method`, for
    /// `minutes`; returns the secret and the session.
    pub async fn create_patient_session(
        &self,
        person: PersonKey,
        method: &str,
        minutes: u32,
    ) -> Result<(PatientToken, PatientSession)> {
        let token = PatientToken::generate();
        let csrf = secret::random_text();
        let now = self.clock.now();
        let expires = now.plus_micros(i64::from(minutes) * 60_000_000);
        sqlx::query(
            "INSERT INTO patient_sessions (id_hash, person_key, method, csrf, created_us, expires_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.digest().to_vec())
        .bind(person.to_string())
        .bind(method)
        .bind(&csrf)
        .bind(now.unix_micros())
        .bind(expires.unix_micros())
        .execute(self.db.pool())
        .await?;
        // Expired sessions are of no use to anyone; clearing them here keeps
        // the table small without a scheduler.
        sqlx::query("DELETE FROM patient_sessions WHERE expires_us <= $1")
            .bind(now.unix_micros())
            .execute(self.db.pool())
            .await?;
        Ok((
            token,
            PatientSession {
                person,
                method: method.to_owned(),
                csrf,
                expires,
            },
        ))
    }

    /// The live patient session of `token`.
    pub async fn patient_session(&self, token: &PatientToken) -> Result<Option<PatientSession>> {
        let row = sqlx::query(
            "SELECT person_key, method, csrf, expires_us FROM patient_sessions \
             WHERE id_hash = $1 AND expires_us > $2",
        )
        .bind(token.digest().to_vec())
        .bind(self.clock.now().unix_micros())
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let person: String = row.try_get("person_key")?;
        Ok(Some(PatientSession {
            person: PersonKey::parse(&person)
                .map_err(|e| Error::Internal(format!("stored patient session: {e}")))?,
            method: row.try_get("method")?,
            csrf: row.try_get("csrf")?,
            expires: Timestamp::from_unix_micros(row.try_get("expires_us")?),
        }))
    }

    /// Ends a patient session.
    pub async fn end_patient_session(&self, token: &PatientToken) -> Result<()> {
        sqlx::query("DELETE FROM patient_sessions WHERE id_hash = $1")
            .bind(token.digest().to_vec())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// A fresh random token for a form's CSRF field.
pub fn random_csrf() -> String {
    secret::random_text()
}
