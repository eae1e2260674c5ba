//! What an opt-out covers (its scope), in the words of the opt-out form.
//! What a use of data is ([`DataUse`], the purposes a permit touches) is
//! shared vocabulary, in `renkei-core`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use renkei_core::{DataCategory, DataUse, Purpose};

use crate::{Error, Result};

/// What one opt-out covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every secondary use (全ての二次利用).
    All,
    /// Only uses that touch one of these purposes; never empty.
    Purposes(BTreeSet<Purpose>),
}

impl Scope {
    /// A scope of some purposes; refuses an empty set, which would be an
    /// opt-out from nothing.
    pub fn purposes(purposes: impl IntoIterator<Item = Purpose>) -> Result<Self> {
        let set: BTreeSet<Purpose> = purposes.into_iter().collect();
        if set.is_empty() {
            return Err(Error::Invalid(
                "an opt-out must cover all secondary use or at least one purpose".to_owned(),
            ));
        }
        Ok(Scope::Purposes(set))
    }

    /// Reads `all`, or purposes separated by commas.
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim() == "all" {
            return Ok(Scope::All);
        }
        Self::purposes(
            text.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| Purpose::parse(p).map_err(|e| Error::Invalid(e.to_string())))
                .collect::<Result<Vec<_>>>()?,
        )
    }

    /// Whether an opt-out with this scope keeps a person out of `used`.
    pub fn covers(&self, used: &DataUse) -> bool {
        match self {
            Scope::All => true,
            Scope::Purposes(p) => p.iter().any(|p| used.purposes.contains(p)),
        }
    }

    /// The Japanese label.
    pub fn label_ja(&self) -> String {
        match self {
            Scope::All => "全ての二次利用".to_owned(),
            Scope::Purposes(p) => p
                .iter()
                .map(Purpose::label_ja)
                .collect::<Vec<_>>()
                .join("・"),
        }
    }

    /// The English label.
    pub fn label_en(&self) -> String {
        match self {
            Scope::All => "all secondary use".to_owned(),
            Scope::Purposes(p) => p
                .iter()
                .map(Purpose::label_en)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("all"),
            Scope::Purposes(p) => {
                let parts: Vec<String> = p.iter().map(ToString::to_string).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

impl FromStr for Scope {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Scope::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_back_what_they_write() {
        for text in [
            "all",
            "commercial",
            "commercial,genomic,category:mental_health",
        ] {
            assert_eq!(Scope::parse(text).expect(text).to_string(), text);
        }
        assert!(Scope::parse("").is_err(), "an empty scope covers nothing");
        let err = Scope::parse("commercial,marketing").expect_err("unknown purpose");
        assert!(err.to_string().contains("marketing"), "{err}");
        assert!(Purpose::parse("category:Mental").is_err());
    }

    #[test]
    fn a_scope_covers_a_use_that_touches_one_of_its_purposes() {
        let genomic = Scope::parse("genomic").expect("scope");
        assert!(genomic.covers(&DataUse::parse("commercial,genomic").expect("use")));
        assert!(!genomic.covers(&DataUse::parse("commercial").expect("use")));
        assert!(!genomic.covers(&DataUse::default()));
        assert!(Scope::All.covers(&DataUse::default()));
    }
}
