//! Per-permit pseudonyms and date shifts (DESIGN.md invariant 2).
//!
//! A pseudonym is HMAC-SHA256 under the permit's own key of the person's
//! key, truncated to 128 bits: the same person has one pseudonym within a
//! permit and unlinkable ones across permits, and nobody without the key —
//! which is destroyed when the permit ends — can recompute or reverse it.
//! The date offset comes from the same key under another label, so it is
//! stable for a person within a permit (intervals between a person's events
//! survive) and unrelated between permits.

use hmac::{Hmac, Mac};
use renkei_core::PersonKey;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A person's pseudonym within one permit: 32 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(String);

impl Pseudonym {
    /// The text form written into extracts.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A permit's secret key. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct PermitKey([u8; 32]);

impl std::fmt::Debug for PermitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PermitKey(<secret>)")
    }
}

impl PermitKey {
    /// A key from its 32 secret bytes.
    pub fn new(secret: [u8; 32]) -> Self {
        Self(secret)
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self(secret)
    }

    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Makes the pseudonyms and date offsets of one permit.
#[derive(Clone, Debug)]
pub struct Pseudonymizer {
    pseudonym: HmacSha256,
    shift: HmacSha256,
}

impl Pseudonymizer {
    /// The pseudonymizer of the permit holding `key`.
    pub fn new(key: &PermitKey) -> Self {
        // Two labelled sub-keys, so that a pseudonym says nothing about a
        // date offset and the other way round.
        let derive = |label: &[u8]| {
            let mut mac =
                HmacSha256::new_from_slice(key.secret()).expect("HMAC takes a key of any length");
            mac.update(label);
            let sub = mac.finalize().into_bytes();
            HmacSha256::new_from_slice(&sub).expect("HMAC takes a key of any length")
        };
        Self {
            pseudonym: derive(b"renkei/pseudonym/v1"),
            shift: derive(b"renkei/date-shift/v1"),
        }
    }

    /// The person's pseudonym.
    pub fn pseudonym(&self, person: &PersonKey) -> Pseudonym {
        let mut mac = self.pseudonym.clone();
        mac.update(person.as_uuid().as_bytes());
        let digest = mac.finalize().into_bytes();
        Pseudonym(hex::encode(&digest[..16]))
    }

    /// The person's date offset in days, uniform in `-max_days..=max_days`
    /// and never 0 when `max_days > 0` (an unshifted person would be
    /// recognisable by an exact date).
    pub fn date_offset_days(&self, person: &PersonKey, max_days: u16) -> i32 {
        if max_days == 0 {
            return 0;
        }
        let mut mac = self.shift.clone();
        mac.update(person.as_uuid().as_bytes());
        let digest = mac.finalize().into_bytes();
        let n = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        let span = 2 * u64::from(max_days);
        // 0..span maps onto -max..-1 and 1..max: zero is skipped.
        let k = i32::try_from(n % span).expect("span fits i32");
        let max = i32::from(max_days);
        if k < max { k - max } else { k - max + 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_person_has_unlinkable_pseudonyms_in_two_permits() {
        let person = PersonKey::generate();
        let a = Pseudonymizer::new(&PermitKey::new([1; 32]));
        let b = Pseudonymizer::new(&PermitKey::new([2; 32]));
        assert_eq!(a.pseudonym(&person), a.pseudonym(&person), "stable");
        assert_ne!(a.pseudonym(&person), b.pseudonym(&person));
        assert_eq!(a.pseudonym(&person).as_str().len(), 32);
        assert!(!a.pseudonym(&person).as_str().contains(&person.to_string()));
    }

    #[test]
    fn date_offsets_stay_in_range_and_are_never_zero() {
        let p = Pseudonymizer::new(&PermitKey::new([7; 32]));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let d = p.date_offset_days(&PersonKey::generate(), 3);
            assert!((-3..=3).contains(&d) && d != 0, "{d}");
            seen.insert(d);
        }
        assert_eq!(seen.len(), 6, "every offset is reached: {seen:?}");
        assert_eq!(p.date_offset_days(&PersonKey::generate(), 0), 0);
    }
}
