//! Which columns go into a Bloom-filter encoding, how each is tokenized,
//! and how many bits each token sets: the agreement both sides of a
//! linkage must share.
//!
//! A schema file (TOML), as `renkei identity encode --schema-out` writes
//! it and `--schema` reads it:
//!
//! ```toml
//! bits = 1024
//!
//! [[fields]]
//! column = "surname"
//! kind = "name"      # name | text | date | code | postcode | category | address
//! hashes = 14        # bits set per token
//! ```

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::encode::tokens;
use super::{Error, Result};
use crate::linkage::auto::{Choice, infer_kind};
use crate::linkage::{Kind, Table};

/// Default filter length in bits (as clkhash's common 1024).
pub const DEFAULT_BITS: u32 = 1024;

/// Most bits a token may set.
pub const MAX_HASHES: u32 = 64;

/// One encoded column.
#[derive(Clone, Debug, PartialEq)]
pub struct ClkField {
    /// The column, as named in the header.
    pub column: String,
    /// How it is normalized and tokenized.
    pub kind: Kind,
    /// Bits set per token (k).
    pub hashes: u32,
}

/// The encoding agreement: filter length and the fields.
#[derive(Clone, Debug, PartialEq)]
pub struct ClkSchema {
    /// Filter length in bits, a multiple of 64.
    pub bits: u32,
    /// The encoded fields, in order.
    pub fields: Vec<ClkField>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    bits: u32,
    fields: Vec<FieldFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldFile {
    column: String,
    kind: String,
    hashes: u32,
}

/// How much a field of each kind should weigh in the filter, relative to
/// the others: identifying, discriminating fields more.
fn weight(kind: Kind) -> f64 {
    match kind {
        Kind::Name => 2.0,
        Kind::Date => 2.0,
        Kind::Code => 1.5,
        Kind::Postcode | Kind::Address => 1.0,
        Kind::Text => 0.75,
        Kind::Category => 0.5,
    }
}

impl ClkSchema {
    /// Checks the schema: bits a positive multiple of 64 (at most 2¹⁶),
    /// at least one field, every `hashes` in 1..=64, no column twice.
    pub fn check(&self) -> Result<()> {
        if self.bits == 0 || !self.bits.is_multiple_of(64) || self.bits > 65_536 {
            return Err(Error::Schema(format!(
                "bits must be a multiple of 64 between 64 and 65536, not {}",
                self.bits
            )));
        }
        if self.fields.is_empty() {
            return Err(Error::Schema("no field to encode".to_owned()));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if f.hashes == 0 || f.hashes > MAX_HASHES {
                return Err(Error::Schema(format!(
                    "field \"{}\": hashes must be between 1 and {MAX_HASHES}, not {}",
                    f.column, f.hashes
                )));
            }
            if self.fields[..i].iter().any(|g| g.column == f.column) {
                return Err(Error::Schema(format!(
                    "column \"{}\" is listed twice",
                    f.column
                )));
            }
        }
        Ok(())
    }

    /// A schema for `table` chosen from its columns as `renkei link` chooses
    /// comparisons (the id column and row ids, nearly empty and constant
    /// columns left out), with `hashes` set so that a typical record fills
    /// about half of a `bits`-bit filter — where a Bloom filter tells most
    /// apart — each field's share following its kind's weight.
    pub fn infer(table: &Table, id_column: &str, bits: u32) -> Result<Self> {
        let id = table.require_column(id_column, "input")?;
        let mut chosen: Vec<(String, Kind, f64)> = Vec::new();
        for (c, header) in table.columns().iter().enumerate() {
            if c == id {
                continue;
            }
            let values = (0..table.len()).map(|r| table.value(r, c));
            if let Choice::Compare(kind) = infer_kind(header, values) {
                // Mean tokens per filled value, from a sample of rows.
                let sample = (0..table.len()).step_by((table.len() / 2000).max(1));
                let (mut n, mut t) = (0usize, 0usize);
                for r in sample {
                    let v = table.value(r, c);
                    if !v.is_empty() {
                        n += 1;
                        t += tokens(kind, v).len();
                    }
                }
                let mean = if n == 0 { 1.0 } else { t as f64 / n as f64 };
                chosen.push((header.clone(), kind, mean.max(1.0)));
            }
        }
        if chosen.is_empty() {
            return Err(Error::Schema(
                "no column to encode: every column is the id or ignored".to_owned(),
            ));
        }
        // A filter of m bits with n insertions is half full at n ≈ m·ln 2.
        let budget = f64::from(bits) * std::f64::consts::LN_2;
        let total_weight: f64 = chosen.iter().map(|(_, k, _)| weight(*k)).sum();
        let fields = chosen
            .into_iter()
            .map(|(column, kind, mean_tokens)| {
                let share = budget * weight(kind) / total_weight;
                let hashes = (share / mean_tokens)
                    .round()
                    .clamp(1.0, f64::from(MAX_HASHES));
                ClkField {
                    column,
                    kind,
                    hashes: hashes as u32,
                }
            })
            .collect();
        let schema = Self { bits, fields };
        schema.check()?;
        Ok(schema)
    }

    /// Reads a schema from its TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: SchemaFile =
            toml_from_str(text).map_err(|e| Error::Schema(format!("cannot read it: {e}")))?;
        let fields = file
            .fields
            .into_iter()
            .map(|f| {
                let kind = Kind::ALL
                    .into_iter()
                    .find(|k| k.as_str() == f.kind)
                    .ok_or_else(|| {
                        Error::Schema(format!(
                            "field \"{}\": unknown kind \"{}\"; kinds are {}",
                            f.column,
                            f.kind,
                            Kind::ALL.map(Kind::as_str).join(", ")
                        ))
                    })?;
                Ok(ClkField {
                    column: f.column,
                    kind,
                    hashes: f.hashes,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let schema = Self {
            bits: file.bits,
            fields,
        };
        schema.check()?;
        Ok(schema)
    }

    /// The schema as TOML, for the other side to encode with.
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "# Bloom-filter encoding schema (renkei identity encode --schema).\n\
             # Fingerprint {}: every side must encode with exactly this.\n\
             bits = {}\n",
            self.fingerprint(),
            self.bits
        );
        for f in &self.fields {
            let _ = write!(
                out,
                "\n[[fields]]\ncolumn = {}\nkind = \"{}\"\nhashes = {}\n",
                toml_string(&f.column),
                f.kind.as_str(),
                f.hashes
            );
        }
        out
    }

    /// A short fingerprint of the schema (not of the key): 16 hex digits of
    /// SHA-256 over its canonical form. Encodings with different
    /// fingerprints are not comparable.
    pub fn fingerprint(&self) -> String {
        let mut canonical = format!("renkei-clk/v1;bits={}", self.bits);
        for f in &self.fields {
            let _ = write!(
                canonical,
                ";{}:{}:{}",
                f.column.len(),
                f.column,
                f.kind.as_str()
            );
            let _ = write!(canonical, ":{}", f.hashes);
        }
        let digest = Sha256::digest(canonical.as_bytes());
        hex_lower(&digest[..8])
    }
}

impl std::fmt::Display for ClkSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Bloom-filter encoding: {} bits, schema {}",
            self.bits,
            self.fingerprint()
        )?;
        for field in &self.fields {
            writeln!(
                f,
                "  {:<20} {:<9} {} bits per token",
                field.column,
                field.kind.as_str(),
                field.hashes
            )?;
        }
        Ok(())
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_from_str(text: &str) -> std::result::Result<SchemaFile, toml::de::Error> {
    toml::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> ClkSchema {
        ClkSchema {
            bits: 1024,
            fields: vec![
                ClkField {
                    column: "surname".into(),
                    kind: Kind::Name,
                    hashes: 14,
                },
                ClkField {
                    column: "生年月日 \"dob\"".into(),
                    kind: Kind::Date,
                    hashes: 20,
                },
            ],
        }
    }

    #[test]
    fn toml_round_trips_and_keeps_the_fingerprint() {
        let s = schema();
        let back = ClkSchema::from_toml(&s.to_toml()).expect("reads back");
        assert_eq!(back, s);
        assert_eq!(back.fingerprint(), s.fingerprint());
    }

    #[test]
    fn any_change_changes_the_fingerprint() {
        let s = schema();
        let mut t = s.clone();
        t.fields[0].hashes = 15;
        assert_ne!(s.fingerprint(), t.fingerprint());
        let mut t = s.clone();
        t.bits = 2048;
        assert_ne!(s.fingerprint(), t.fingerprint());
        let mut t = s.clone();
        t.fields[1].kind = Kind::Code;
        assert_ne!(s.fingerprint(), t.fingerprint());
    }

    #[test]
    fn bad_schemas_say_what_is_wrong() {
        let err = ClkSchema::from_toml(
            "bits = 1000\n[[fields]]\ncolumn = \"a\"\nkind = \"name\"\nhashes = 3\n",
        )
        .expect_err("bits not a multiple of 64");
        assert!(err.to_string().contains("multiple of 64"), "{err}");
        let err = ClkSchema::from_toml(
            "bits = 1024\n[[fields]]\ncolumn = \"a\"\nkind = \"colour\"\nhashes = 3\n",
        )
        .expect_err("unknown kind");
        assert!(err.to_string().contains("unknown kind \"colour\""), "{err}");
        let err = ClkSchema::from_toml(
            "bits = 1024\n[[fields]]\ncolumn = \"a\"\nkind = \"name\"\nhashes = 0\n",
        )
        .expect_err("no hashes");
        assert!(err.to_string().contains("hashes must be"), "{err}");
    }

    #[test]
    fn inferred_schema_aims_at_a_half_full_filter() {
        let csv = "id,surname,given_name,dob,sex\n\
                   1,tanaka,hanako,19800101,f\n\
                   2,suzuki,ichiro,19751231,m\n\
                   3,sato,jiro,19900615,m\n\
                   4,takahashi,yoko,19850310,f\n";
        let table = Table::from_reader(csv.as_bytes()).expect("csv");
        let s = ClkSchema::infer(&table, "id", 1024).expect("a schema");
        let columns: Vec<&str> = s.fields.iter().map(|f| f.column.as_str()).collect();
        assert_eq!(columns, ["surname", "given_name", "dob", "sex"]);
        assert_eq!(s.fields[2].kind, Kind::Date);
        // Expected insertions per record stay near m·ln 2.
        let insertions: f64 = s
            .fields
            .iter()
            .map(|f| {
                let mean = (0..table.len())
                    .map(|r| {
                        tokens(
                            f.kind,
                            table.value(r, table.column(&f.column).expect("column")),
                        )
                        .len()
                    })
                    .sum::<usize>() as f64
                    / table.len() as f64;
                mean * f64::from(f.hashes)
            })
            .sum();
        let target = 1024.0 * std::f64::consts::LN_2;
        assert!(
            (insertions - target).abs() < 0.25 * target,
            "{insertions} insertions for a target of {target}"
        );
    }
}
