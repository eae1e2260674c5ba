//! Keyed match tokens: HMAC-SHA-256 over normalized attributes with a secret
//! only identity holds, so the index can match without keeping attributes in
//! the clear, and a stolen index cannot be matched against a list of names
//! without the key (in the manner of NDB's hashed IDs, but keyed).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a token was computed from; part of the MAC input, so tokens of two
/// kinds never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Insurer + symbol + number + 枝番.
    Insurance,
    /// Provider code + the provider's own patient id.
    LocalPatientId,
    /// Normalized kana name + birth date + sex.
    NameBirthSex,
}

impl TokenKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Insurance => "insurance",
            TokenKind::LocalPatientId => "local_patient_id",
            TokenKind::NameBirthSex => "name_birth_sex",
        }
    }

    /// The kind of a stored name, `None` for a name this build does not know.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "insurance" => Some(TokenKind::Insurance),
            "local_patient_id" => Some(TokenKind::LocalPatientId),
            "name_birth_sex" => Some(TokenKind::NameBirthSex),
            _ => None,
        }
    }
}

/// The token key. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<secret>)")
    }
}

impl TokenKey {
    /// A key from its 32 secret bytes.
    pub fn new(secret: [u8; 32]) -> Self {
        Self(secret)
    }

    /// The token of `value` (already normalized) of `kind`.
    pub fn token(&self, kind: TokenKind, value: &str) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(kind.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_key_kind_and_value() {
        let k = TokenKey::new([7; 32]);
        let a = k.token(TokenKind::Insurance, "x");
        assert_eq!(a, k.token(TokenKind::Insurance, "x"));
        assert_ne!(a, k.token(TokenKind::LocalPatientId, "x"));
        assert_ne!(a, k.token(TokenKind::Insurance, "y"));
        assert_ne!(a, TokenKey::new([8; 32]).token(TokenKind::Insurance, "x"));
    }
}
