//! Bearer secrets: API tokens and session ids. 256 random bits each, shown
//! to their owner once, stored only as SHA-256 digests.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes as URL-safe base64.
pub(crate) fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

macro_rules! bearer_secret {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// A fresh secret.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_text()))
            }

            /// Wraps a presented secret; `None` if it is not of this kind.
            pub fn parse(text: &str) -> Option<Self> {
                let body = text.strip_prefix($prefix)?;
                let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
                (bytes.len() == 32).then(|| Self(text.to_owned()))
            }

            /// The secret as handed to its owner.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// The SHA-256 digest that is stored.
            pub fn digest(&self) -> [u8; 32] {
                Sha256::digest(self.0.as_bytes()).into()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(<redacted>)", stringify!($name))
            }
        }
    };
}

bearer_secret!(
    /// An API token for machines: `rk_` followed by 43 base64url characters.
    ApiToken,
    "rk_"
);
bearer_secret!(
    /// A page session id, as held in the session cookie.
    SessionToken,
    "rs_"
);
bearer_secret!(
    /// A patient session id: the portal's cookie, or a bearer token for
    /// the patient API (`rkp_`, so it is never taken for an account's).
    PatientToken,
    "rkp_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_parses_back_and_other_kinds_do_not() {
        let t = ApiToken::generate();
        assert_eq!(ApiToken::parse(t.expose()), Some(t.clone()));
        assert_eq!(SessionToken::parse(t.expose()), None);
        assert_eq!(ApiToken::parse("rk_short"), None);
    }

    #[test]
    fn debug_redacts() {
        let t = ApiToken::generate();
        assert_eq!(format!("{t:?}"), "ApiToken(<redacted>)");
    }
}
