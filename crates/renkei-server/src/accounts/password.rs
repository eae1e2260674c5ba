//! Passwords: Argon2id hashes in the PHC string format, computed off the
//! async runtime (a hash takes tens of milliseconds on purpose).

use std::fmt;

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
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2()
                .hash_password(self.0.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("argon2 hashing failed: {e}")))
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
    }

    /// Whether this password matches `stored` (a PHC string). `None` (no
    /// such user, or a machine-only account) is checked against a dummy hash
    /// and never matches.
    pub async fn verify(self, stored: Option<String>) -> Result<bool> {
        tokio::task::spawn_blocking(move || {
            let real = stored.is_some();
            let phc = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
            let parsed = PasswordHash::new(&phc)
                .map_err(|e| Error::Internal(format!("stored password hash is malformed: {e}")))?;
            let ok = argon2().verify_password(self.0.as_bytes(), &parsed).is_ok();
            Ok(real && ok)
        })
        .await
        .map_err(|e| Error::Internal(format!("verification task failed: {e}")))?
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
