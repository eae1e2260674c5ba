//! What an opt-out covers (its scope), and what a use of data is (the
//! purposes a permit touches), in the words of the opt-out form.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A kind of data a patient may keep out of every use (精神疾患, 感染症 …),
/// named by a short slug that the platform's configuration lists.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DataCategory(String);

impl DataCategory {
    /// Reads a slug: 1–32 of `a-z`, `0-9`, `_`, starting with a letter.
    pub fn parse(text: &str) -> Result<Self> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && text.as_bytes()[0].is_ascii_lowercase()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(Error::Invalid(format!(
                "data category {text:?}: expected 1-32 of a-z, 0-9 and _, starting with a letter"
            )));
        }
        Ok(Self(text.to_owned()))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DataCategory {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<DataCategory> for String {
    fn from(c: DataCategory) -> String {
        c.0
    }
}

/// One purpose an opt-out can name short of "all secondary use".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Use by a commercial organization or for profit (営利目的の利用).
    Commercial,
    /// Use by, or provision to, an organization abroad (外国の機関による利用).
    ForeignOrganization,
    /// Use of genomic data (ゲノムデータ).
    Genomic,
    /// Use of medical images (画像データ).
    Imaging,
    /// Use of one category of data.
    Category(DataCategory),
}

impl Purpose {
    /// The purposes that are not data categories, in form order.
    pub const FIXED: [Purpose; 4] = [
        Purpose::Commercial,
        Purpose::ForeignOrganization,
        Purpose::Genomic,
        Purpose::Imaging,
    ];

    /// Reads `commercial`, `foreign`, `genomic`, `imaging` or
    /// `category:<slug>`.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text.trim() {
            "commercial" => Purpose::Commercial,
            "foreign" => Purpose::ForeignOrganization,
            "genomic" => Purpose::Genomic,
            "imaging" => Purpose::Imaging,
            other => match other.strip_prefix("category:") {
                Some(slug) => Purpose::Category(DataCategory::parse(slug)?),
                None => {
                    return Err(Error::Invalid(format!(
                        "purpose {other:?}: expected commercial, foreign, genomic, imaging or category:<name>"
                    )));
                }
            },
        })
    }

    /// The Japanese label on the form and the register.
    pub fn label_ja(&self) -> String {
        match self {
            Purpose::Commercial => "営利目的での利用".to_owned(),
            Purpose::ForeignOrganization => "外国の機関による利用".to_owned(),
            Purpose::Genomic => "ゲノムデータの利用".to_owned(),
            Purpose::Imaging => "画像データの利用".to_owned(),
            Purpose::Category(c) => format!("データ区分「{}」の利用", c.as_str()),
        }
    }

    /// The English label.
    pub fn label_en(&self) -> String {
        match self {
            Purpose::Commercial => "commercial use".to_owned(),
            Purpose::ForeignOrganization => "use by foreign organizations".to_owned(),
            Purpose::Genomic => "genomic data".to_owned(),
            Purpose::Imaging => "image data".to_owned(),
            Purpose::Category(c) => format!("data category {}", c.as_str()),
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Purpose::Commercial => f.write_str("commercial"),
            Purpose::ForeignOrganization => f.write_str("foreign"),
            Purpose::Genomic => f.write_str("genomic"),
            Purpose::Imaging => f.write_str("imaging"),
            Purpose::Category(c) => write!(f, "category:{}", c.as_str()),
        }
    }
}

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
                .map(Purpose::parse)
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

/// What a use of data is, as far as opt-outs care: the purposes it
/// touches. A domestic, non-commercial study of ordinary records touches
/// none, and only opt-outs from all secondary use keep a person out of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DataUse {
    /// The purposes the use touches.
    pub purposes: BTreeSet<Purpose>,
}

impl DataUse {
    /// A use touching these purposes.
    pub fn of(purposes: impl IntoIterator<Item = Purpose>) -> Self {
        Self {
            purposes: purposes.into_iter().collect(),
        }
    }

    /// Reads purposes separated by commas; empty text is a use touching
    /// none.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(Self::of(
            text.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(Purpose::parse)
                .collect::<Result<Vec<_>>>()?,
        ))
    }
}

impl fmt::Display for DataUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.purposes.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
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
