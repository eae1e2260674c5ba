//! Receipt numbers (受付番号): what a patient keeps to prove and to undo
//! what they asked.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Crockford's base-32 alphabet: no I, L, O or U, so a number read aloud
/// or copied from paper is hard to get wrong.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `OPT-XXXX-XXXX-XXXXC`: 60 random bits, then a check character over the
/// twelve (a hybrid system in the manner of ISO 7064, modulus 33), so a
/// mistyped character is always caught, and most swapped pairs, before
/// the registry is asked.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Receipt(String);

fn check_char(body: &[u8]) -> u8 {
    // Each step is injective in the character (2 is invertible mod 33), so
    // changing any one character changes the result.
    let mut p: u32 = 32;
    for &c in body {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap_or(0) as u32;
        let s = (p + v) % 32;
        let s = if s == 0 { 32 } else { s };
        p = (s * 2) % 33;
    }
    let check = (33 - p) % 32;
    ALPHABET[check as usize]
}

impl Receipt {
    /// A new random receipt number.
    pub fn generate() -> Self {
        let mut rng = rand::thread_rng();
        let body: Vec<u8> = (0..12).map(|_| ALPHABET[rng.gen_range(0..32)]).collect();
        Self::from_body(&body)
    }

    fn from_body(body: &[u8]) -> Self {
        let c = check_char(body);
        let text = format!(
            "OPT-{}-{}-{}{}",
            String::from_utf8_lossy(&body[0..4]),
            String::from_utf8_lossy(&body[4..8]),
            String::from_utf8_lossy(&body[8..12]),
            c as char
        );
        Self(text)
    }

    /// Reads a receipt number as a patient may type it: any case, with or
    /// without hyphens and spaces, O for 0 and I or L for 1.
    pub fn parse(text: &str) -> Result<Self> {
        let cleaned: Vec<u8> = text
            .trim()
            .to_ascii_uppercase()
            .trim_start_matches("OPT")
            .bytes()
            .filter(|b| !matches!(b, b'-' | b' '))
            .map(|b| match b {
                b'O' => b'0',
                b'I' | b'L' => b'1',
                other => other,
            })
            .collect();
        let invalid = |why: &str| Error::Invalid(format!("receipt number {text:?}: {why}"));
        if cleaned.len() != 13 || !cleaned.iter().all(|c| ALPHABET.contains(c)) {
            return Err(invalid("expected OPT- and 13 letters or digits"));
        }
        let receipt = Self::from_body(&cleaned[..12]);
        if receipt.0.as_bytes().last() != cleaned.last() {
            return Err(invalid(
                "a character is wrong (the check character does not match)",
            ));
        }
        Ok(receipt)
    }

    /// The number as printed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Receipt({})", self.0)
    }
}

impl TryFrom<String> for Receipt {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<Receipt> for String {
    fn from(r: Receipt) -> String {
        r.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_read_back_as_a_patient_types_them() {
        let r = Receipt::generate();
        assert!(
            r.as_str().starts_with("OPT-") && r.as_str().len() == 19,
            "{r}"
        );
        assert_eq!(Receipt::parse(r.as_str()).expect("parse"), r);
        let typed = r.as_str().to_lowercase().replace('-', " ");
        assert_eq!(Receipt::parse(&typed).expect("typed"), r);
    }

    #[test]
    fn one_wrong_character_is_caught() {
        let r = Receipt::generate();
        let mut bytes = r.as_str().as_bytes().to_vec();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(bytes).expect("ascii");
        let err = Receipt::parse(&typo).expect_err("typo");
        assert!(err.to_string().contains("check character"), "{err}");
    }
}
