//! What a use of data is, in the words of the opt-out form: the purposes a
//! permit touches. Review writes them on a permit, the opt-out registry
//! answers who is out of a use, and processing records them in each
//! extract's manifest, so all three share these words.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A kind of data a patient may keep out of every use (精神疾患, 感染症 …),
/// named by a short slug that the platform's configuration lists.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DataCategory(String);

impl DataCategory {
    /// Reads a slug: 1–32 of `a-z`, `0-9`, `_`, starting with a letter.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && text.as_bytes()[0].is_ascii_lowercase()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(Error::InvalidId {
                kind: "data category",
                value: text.to_owned(),
                reason: "expected 1-32 of a-z, 0-9 and _, starting with a letter".to_owned(),
            });
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
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<DataCategory> for String {
    fn from(c: DataCategory) -> String {
        c.0
    }
}

/// One purpose an opt-out can name short of "all secondary use".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
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
    pub fn parse(text: &str) -> Result<Self, Error> {
        Ok(match text.trim() {
            "commercial" => Purpose::Commercial,
            "foreign" => Purpose::ForeignOrganization,
            "genomic" => Purpose::Genomic,
            "imaging" => Purpose::Imaging,
            other => match other.strip_prefix("category:") {
                Some(slug) => Purpose::Category(DataCategory::parse(slug)?),
                None => {
                    return Err(Error::unknown(
                        "purpose",
                        other,
                        &[
                            "commercial",
                            "foreign",
                            "genomic",
                            "imaging",
                            "category:<name>",
                        ],
                    ));
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

impl FromStr for Purpose {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Purpose {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<Purpose> for String {
    fn from(p: Purpose) -> String {
        p.to_string()
    }
}

/// What a use of data is, as far as opt-outs care: the purposes it
/// touches. A domestic, non-commercial study of ordinary records touches
/// none, and only opt-outs from all secondary use keep a person out of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    pub fn parse(text: &str) -> Result<Self, Error> {
        Ok(Self::of(
            text.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(Purpose::parse)
                .collect::<Result<Vec<_>, _>>()?,
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
    fn purposes_read_back_what_they_write_and_name_what_they_refuse() {
        let used = DataUse::parse("commercial, genomic,category:mental_health").expect("use");
        assert_eq!(
            used.to_string(),
            "commercial,genomic,category:mental_health"
        );
        assert_eq!(DataUse::parse(&used.to_string()).expect("again"), used);
        let json = serde_json::to_string(&used).expect("json");
        assert_eq!(serde_json::from_str::<DataUse>(&json).expect("back"), used);
        let err = Purpose::parse("marketing").expect_err("unknown");
        assert!(err.to_string().contains("marketing"), "{err}");
        assert!(Purpose::parse("category:Mental").is_err());
        assert!(serde_json::from_str::<Purpose>("\"category:\"").is_err());
    }
}
