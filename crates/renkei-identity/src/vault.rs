//! Attributes at rest: AES-256-GCM with a key only identity holds, a fresh
//! random 96-bit nonce per record, and the record's id and person as
//! associated data, so a ciphertext copied onto another row fails to
//! decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

/// The attribute key. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct VaultKey(Aes256Gcm);

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultKey(<secret>)")
    }
}

/// A sealed record: nonce and ciphertext (with its tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The 12-byte nonce.
    pub nonce: [u8; 12],
    /// The ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

impl VaultKey {
    /// A key from its 32 secret bytes.
    pub fn new(secret: [u8; 32]) -> Self {
        Self(Aes256Gcm::new(&secret.into()))
    }

    /// Encrypts `plaintext` bound to `context` (the row it belongs to).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Sealed {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        Sealed { nonce, ciphertext }
    }

    /// Decrypts a sealed record; `None` if the key, the context or a byte is
    /// wrong.
    pub fn open(&self, sealed: &Sealed, context: &[u8]) -> Option<Vec<u8>> {
        self.0
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: context,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_only_with_its_key_and_context() {
        let key = VaultKey::new([1; 32]);
        let sealed = key.seal("山田 太郎".as_bytes(), b"rec-1");
        assert!(!sealed.ciphertext.windows(3).any(|w| w == "山".as_bytes()));
        assert_eq!(
            key.open(&sealed, b"rec-1").as_deref(),
            Some("山田 太郎".as_bytes())
        );
        assert_eq!(key.open(&sealed, b"rec-2"), None, "moved to another row");
        assert_eq!(
            VaultKey::new([2; 32]).open(&sealed, b"rec-1"),
            None,
            "wrong key"
        );
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert_eq!(key.open(&flipped, b"rec-1"), None, "altered");
    }
}
