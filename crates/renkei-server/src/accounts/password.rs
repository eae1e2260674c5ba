//! Passwords: Argon2id hashes in the PHC string format, computed off the
//! async runtime (a hash takes tens of milliseconds on purpose) and
//! never more at once than [`PasswordChecks`] admits: each takes 19 MiB,
//! so unbounded concurrent guesses were a way to exhaust memory.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Error, Result};

/// A password as typed. Redacted in `Debug`; never logged.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// OWASP's recommended Argon2id setting (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody knows, verified against when the user name
/// does not exist so that the answer takes as long either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2ZAqKs6v2hztjk1DVvY9vVqjd1SM7RwWlIEiqV7L3Xg";

impl Password {
    /// A password for a new account: at least 10 characters.
    pub fn new(text: String) -> Result<Self> {
        if text.chars().count() < 10 {
            return Err(Error::BadRequest(
                "password must be at least 10 characters".to_owned(),
            ));
        }
        Ok(Self(text))
    }

    /// A password as typed at sign-in; not checked for strength.
    pub fn typed(text: String) -> Self {
        Self(text)
    }

    /// The Argon2id PHC string of this password with a fresh salt.
    pub async fn hash(self) -> Result<String> {
        tokio::task::spawn_blocking(move || self.hash_now())
            .await
            .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
    }

    /// [`Password::hash`], once `checks` admits it.
    pub(crate) async fn hash_admitted(self, checks: &PasswordChecks) -> Result<String> {
        let permit = checks.admit().await?;
        tokio::task::spawn_blocking(move || {
            // The permit lives as long as the hash, even if the request
            // that asked for it is gone.
            let _permit = permit;
            self.hash_now()
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
    }

    fn hash_now(self) -> Result<String> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("argon2 hashing failed: {e}")))
    }

    /// Whether this password matches `stored` (a PHC string). `None` (no
    /// such user, or a machine-only account) is checked against a dummy hash
    /// and never matches.
    pub async fn verify(self, stored: Option<String>) -> Result<bool> {
        tokio::task::spawn_blocking(move || self.verify_now(stored))
            .await
            .map_err(|e| Error::Internal(format!("verification task failed: {e}")))?
    }

    /// [`Password::verify`], once `checks` admits it.
    pub(crate) async fn verify_admitted(
        self,
        stored: Option<String>,
        checks: &PasswordChecks,
    ) -> Result<bool> {
        let permit = checks.admit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            self.verify_now(stored)
        })
        .await
        .map_err(|e| Error::Internal(format!("verification task failed: {e}")))?
    }

    fn verify_now(self, stored: Option<String>) -> Result<bool> {
        let real = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| Error::Internal(format!("stored password hash is malformed: {e}")))?;
        let ok = argon2().verify_password(self.0.as_bytes(), &parsed).is_ok();
        Ok(real && ok)
    }
}

/// How many Argon2id computations may run at once (`running`) and wait
/// for a turn (`waiting`). Past both, a check is refused at once with
/// [`Error::Busy`]: a flood of guesses costs queue slots, not memory.
#[derive(Clone, Debug)]
pub struct PasswordChecks {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    active: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

/// A turn at Argon2id; frees it when dropped.
struct Turn {
    _running: OwnedSemaphorePermit,
    _admitted: OwnedSemaphorePermit,
    active: Arc<AtomicUsize>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordChecks {
    /// At most `running` computations at once (at least one), and
    /// `waiting` more in line.
    pub fn new(running: usize, waiting: usize) -> Self {
        let running = running.max(1);
        Self {
            running: Arc::new(Semaphore::new(running)),
            admitted: Arc::new(Semaphore::new(running + waiting)),
            active: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    async fn admit(&self) -> Result<Turn> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Busy {
                retry_after_secs: 1,
            })?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal("the password check gate is closed".to_owned()))?;
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Ok(Turn {
            _running: running,
            _admitted: admitted,
            active: self.active.clone(),
        })
    }

    /// The most computations that ever ran at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_only_the_same_password() {
        let hash = Password::new("correct horse battery".to_owned())
            .expect("long enough")
            .hash()
            .await
            .expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let right = Password::typed("correct horse battery".to_owned());
        assert!(right.verify(Some(hash.clone())).await.expect("verify"));
        let wrong = Password::typed("correct horse battery!".to_owned());
        assert!(!wrong.verify(Some(hash)).await.expect("verify"));
    }

    #[tokio::test]
    async fn missing_hash_never_matches() {
        let p = Password::typed("anything at all".to_owned());
        assert!(!p.verify(None).await.expect("dummy hash parses"));
    }

    #[tokio::test]
    async fn checks_past_the_running_and_waiting_slots_are_refused() {
        let checks = PasswordChecks::new(1, 1);
        let first = checks.admit().await.expect("runs");
        let mut second = Box::pin(checks.admit());
        assert!(
            futures::poll!(&mut second).is_pending(),
            "the second waits in line"
        );
        let third = checks.admit().await.err().expect("no slot left");
        assert!(matches!(third, Error::Busy { .. }), "{third:?}");
        drop(first);
        drop(second.await.expect("its turn came"));
        assert_eq!(checks.peak(), 1);
    }

    #[test]
    fn short_password_is_refused() {
        let err = Password::new("short".to_owned()).expect_err("too short");
        assert_eq!(err.to_string(), "password must be at least 10 characters");
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let p = Password::typed("hunter2hunter2".to_owned());
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
