//! Names and versions of lake tables.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// The longest table name: 63 bytes, PostgreSQL's identifier limit, so that a
/// lake table can be named the same in any SQL engine that reads it.
const MAX_LEN: usize = 63;

/// The name of a lake table: `[a-z][a-z0-9_]{0,62}`.
///
/// The name is the table's directory in the object store, so it is kept to
/// characters that need no escaping in any object store or SQL dialect, and
/// cannot start with `_` (the prefix of the lake's own entries).
///
/// ```
/// use renkei_store::lake::TableName;
///
/// let name: TableName = "claims_2026".parse().expect("a valid name");
/// assert_eq!(name.as_str(), "claims_2026");
/// assert!(TableName::parse("Claims").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName(String);

impl TableName {
    /// Checks that `name` is a valid table name.
    pub fn parse(name: &str) -> Result<Self> {
        let refuse = |reason: &str| {
            Err(Error::InvalidTable {
                table: name.to_owned(),
                reason: format!("invalid table name: {reason}"),
            })
        };
        let mut chars = name.chars();
        match chars.next() {
            None => return refuse("it is empty"),
            Some(c) if !c.is_ascii_lowercase() => {
                return refuse("it must start with a lowercase ASCII letter (a-z)");
            }
            Some(_) => {}
        }
        if let Some(c) = chars.find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_')) {
            return refuse(&format!(
                "{c:?} is not allowed; use lowercase ASCII letters, digits and '_'"
            ));
        }
        if name.len() > MAX_LEN {
            return refuse(&format!(
                "it is {} bytes long; the limit is {MAX_LEN}",
                name.len()
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TableName({:?})", self.0)
    }
}

impl FromStr for TableName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl AsRef<str> for TableName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A version of a lake table: 1 for the commit that created it, then one
/// more for each commit. Versions of a table are contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableVersion(u64);

impl TableVersion {
    /// The version a table is created at.
    pub const FIRST: Self = Self(1);

    /// The version numbered `n`, as recorded elsewhere (a lineage row, a
    /// permit extract). Whether the table has it is for the lake to say.
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// The version number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The version after this one.
    pub(crate) fn next(self) -> Self {
        Self(
            self.0
                .checked_add(1)
                .expect("a table cannot have 2^64 versions"),
        )
    }

    /// The version before this one, if any.
    pub(crate) fn parent(self) -> Option<Self> {
        self.0.checked_sub(1).filter(|&n| n > 0).map(Self)
    }
}

impl fmt::Display for TableVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lowercase_snake_names_up_to_63_bytes() {
        for name in ["a", "claims", "claims_2026", "x_", "a0_9", &"a".repeat(63)] {
            let parsed = TableName::parse(name).expect(name);
            assert_eq!(parsed.to_string(), name);
            assert_eq!(name.parse::<TableName>().expect(name), parsed);
        }
    }

    #[test]
    fn refuses_names_outside_the_pattern_saying_why() {
        let cases = [
            ("", "empty"),
            ("_manifest", "start with a lowercase"),
            ("1claims", "start with a lowercase"),
            ("Claims", "start with a lowercase"),
            ("claims-2026", "'-' is not allowed"),
            ("claims/data", "'/' is not allowed"),
            ("claims.parquet", "'.' is not allowed"),
            ("clAims", "'A' is not allowed"),
            ("請求", "start with a lowercase"),
            ("claims請求", "'請' is not allowed"),
        ];
        for (name, why) in cases {
            match TableName::parse(name) {
                Err(Error::InvalidTable { table, reason }) => {
                    assert_eq!(table, name);
                    assert!(reason.contains(why), "{name:?}: {reason}");
                }
                other => panic!("{name:?} was not refused: {other:?}"),
            }
        }
        let long = "a".repeat(64);
        match TableName::parse(&long) {
            Err(Error::InvalidTable { reason, .. }) => assert!(reason.contains("64 bytes")),
            other => panic!("a 64-byte name was not refused: {other:?}"),
        }
    }

    #[test]
    fn versions_count_from_one() {
        assert_eq!(TableVersion::FIRST.get(), 1);
        assert_eq!(TableVersion::FIRST.parent(), None);
        assert_eq!(TableVersion::FIRST.next(), TableVersion::new(2));
        assert_eq!(TableVersion::new(2).parent(), Some(TableVersion::FIRST));
        assert_eq!(TableVersion::new(17).to_string(), "17");
    }
}
