//! Turning records into Bloom filters (CLKs) under a secret key, and the
//! CSV form the provider sends: `id,clk,schema` with the filter in base64.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::schema::ClkSchema;
use super::{Error, Result};
use crate::linkage::comparison::normalized_key;
use crate::linkage::{BlockingRule, Kind, Table};

type HmacSha256 = Hmac<Sha256>;

/// The secret the providers share to encode; the platform never holds it.
/// `Debug` never shows it.
#[derive(Clone)]
pub struct ClkKey([u8; 32]);

impl fmt::Debug for ClkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClkKey(..)")
    }
}

impl ClkKey {
    /// A key from 32 secret bytes.
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

    /// The key as a file holds it: 64 hex digits and a newline.
    pub fn to_file_text(&self) -> String {
        let mut s = hex::encode(self.0);
        s.push('\n');
        s
    }

    /// Reads a key file (64 hex digits; surrounding white space allowed).
    pub fn from_file(path: &Path) -> Result<Self> {
        let err = |reason: String| Error::Key {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let bytes = hex::decode(text.trim())
            .map_err(|_| err("not hex: the file must hold 64 hex digits".to_owned()))?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| err(format!("{} bytes, not 32", b.len())))?;
        Ok(Self(secret))
    }

    /// The per-field key: fields never share bit positions for a token.
    fn field_mac(&self, column: &str, kind: Kind) -> HmacSha256 {
        let mut derive =
            HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        derive.update(b"renkei-clk/v1/field\0");
        derive.update(column.as_bytes());
        derive.update(b"\0");
        derive.update(kind.as_str().as_bytes());
        let field_key = derive.finalize().into_bytes();
        HmacSha256::new_from_slice(&field_key).expect("HMAC takes a key of any length")
    }
}

/// The tokens of one value of `kind`: empty when nothing is left after
/// normalization.
pub(crate) fn tokens(kind: Kind, raw: &str) -> Vec<String> {
    let key = normalized_key(kind, raw);
    if key.is_empty() {
        return Vec::new();
    }
    match kind {
        // One typo in a date changes one digit: tag each digit with its
        // place, so the rest still agree (bigrams would lose two).
        Kind::Date => key
            .chars()
            .enumerate()
            .map(|(i, c)| format!("{i}{c}"))
            .collect(),
        // Agreement is all that counts.
        Kind::Category => vec![key],
        // Padded bigrams: the first and last letters count too.
        Kind::Name | Kind::Text | Kind::Code | Kind::Postcode | Kind::Address => {
            let chars: Vec<char> = std::iter::once('_')
                .chain(key.chars().filter(|c| !c.is_whitespace()))
                .chain(std::iter::once('_'))
                .collect();
            chars
                .windows(2)
                .map(|w| w.iter().collect::<String>())
                .collect()
        }
    }
}

/// One encoded record: a Bloom filter of `bits` bits.
#[derive(Clone, PartialEq, Eq)]
pub struct Clk(Vec<u64>);

impl fmt::Debug for Clk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Clk({} bits, {} set)",
            self.0.len() * 64,
            self.popcount()
        )
    }
}

impl Clk {
    /// An empty filter of `bits` bits (a multiple of 64).
    pub fn zeros(bits: u32) -> Self {
        Self(vec![0; (bits / 64) as usize])
    }

    /// The filter's words.
    pub fn words(&self) -> &[u64] {
        &self.0
    }

    /// Bits set.
    pub fn popcount(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    fn set(&mut self, bit: u32) {
        self.0[(bit / 64) as usize] |= 1 << (bit % 64);
    }

    /// Big-endian bytes of the filter: bit 0 is the highest bit of byte 0.
    fn to_bytes(&self) -> Vec<u8> {
        self.0
            .iter()
            .flat_map(|w| w.reverse_bits().to_be_bytes())
            .collect()
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
            return None;
        }
        Some(Self(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_be_bytes(c.try_into().expect("chunks of 8")).reverse_bits())
                .collect(),
        ))
    }

    /// The filter in base64, as the CSV carries it.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.to_bytes())
    }

    /// Reads a filter from base64.
    pub fn from_base64(text: &str) -> Option<Self> {
        BASE64
            .decode(text.trim())
            .ok()
            .and_then(|b| Self::from_bytes(&b))
    }
}

/// Records encoded under one schema: ids and filters, in input order.
#[derive(Clone, Debug)]
pub struct EncodedTable {
    /// The record ids.
    pub ids: Vec<String>,
    /// One filter per record.
    pub clks: Vec<Clk>,
    /// The schema's fingerprint.
    pub schema: String,
    /// Per record, its keyed blocking tokens, when encoded with blocking
    /// rules.
    pub blocks: Option<Vec<Vec<u64>>>,
}

/// Encodes every record of `table` under `key` and `schema`, with a keyed
/// blocking token per record and rule of `blocking` (none when empty). A
/// column that the table lacks is an error naming it.
pub fn encode(
    key: &ClkKey,
    schema: &ClkSchema,
    table: &Table,
    id_column: &str,
    blocking: &[BlockingRule],
) -> Result<EncodedTable> {
    schema.check()?;
    let id = table.require_column(id_column, "input")?;
    let blocks = if blocking.is_empty() {
        None
    } else {
        Some(block_tokens(key, schema, table, blocking)?)
    };
    let fields = schema
        .fields
        .iter()
        .map(|f| {
            Ok((
                table.require_column(&f.column, "input")?,
                f,
                key.field_mac(&f.column, f.kind),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut clks = Vec::with_capacity(table.len());
    for row in 0..table.len() {
        let mut clk = Clk::zeros(schema.bits);
        for (column, field, mac) in &fields {
            for token in tokens(field.kind, table.value(row, *column)) {
                set_token(&mut clk, mac, &token, field.hashes, schema.bits);
            }
        }
        clks.push(clk);
    }
    Ok(EncodedTable {
        ids: (0..table.len())
            .map(|r| table.value(r, id).to_owned())
            .collect(),
        clks,
        schema: schema.fingerprint(),
        blocks,
    })
}

/// The keyed blocking tokens of every record: for each rule whose keys are
/// all present, HMAC(key, rule ‖ normalized keys) cut to 64 bits. The
/// platform can group records on them but not read the values; each key
/// is normalized as its column's kind in the schema (as a code otherwise).
fn block_tokens(
    key: &ClkKey,
    schema: &ClkSchema,
    table: &Table,
    rules: &[BlockingRule],
) -> Result<Vec<Vec<u64>>> {
    let mut derive = HmacSha256::new_from_slice(&key.0).expect("HMAC takes a key of any length");
    derive.update(b"renkei-clk/v1/blocking");
    let block_key = derive.finalize().into_bytes();
    let mac = HmacSha256::new_from_slice(&block_key).expect("HMAC takes a key of any length");
    let rules = rules
        .iter()
        .map(|rule| {
            let keys = rule
                .keys
                .iter()
                .map(|k| {
                    let kind = schema
                        .fields
                        .iter()
                        .find(|f| f.column == k.column)
                        .map_or(Kind::Code, |f| f.kind);
                    Ok((table.require_column(&k.column, "input")?, kind, k.prefix))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((rule.to_string(), keys))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(table.len());
    for row in 0..table.len() {
        let mut tokens = Vec::with_capacity(rules.len());
        'rules: for (text, keys) in &rules {
            let mut m = mac.clone();
            m.update(text.as_bytes());
            for &(column, kind, prefix) in keys {
                let value = normalized_key(kind, table.value(row, column));
                if value.is_empty() {
                    continue 'rules;
                }
                let value: String = match prefix {
                    Some(n) => value.chars().take(n).collect(),
                    None => value,
                };
                m.update(b"\0");
                m.update(value.as_bytes());
            }
            let digest = m.finalize().into_bytes();
            tokens.push(u64::from_be_bytes(
                digest[..8].try_into().expect("a digest has 8 bytes"),
            ));
        }
        out.push(tokens);
    }
    Ok(out)
}

/// Sets the `hashes` bits of one token: 32-bit slices of
/// HMAC(field key, token ‖ round), each reduced modulo `bits`.
fn set_token(clk: &mut Clk, mac: &HmacSha256, token: &str, hashes: u32, bits: u32) {
    let mut left = hashes;
    let mut round = 0u8;
    while left > 0 {
        let mut m = mac.clone();
        m.update(token.as_bytes());
        m.update(&[0, round]);
        let digest = m.finalize().into_bytes();
        for chunk in digest.chunks_exact(4) {
            if left == 0 {
                break;
            }
            let v = u32::from_be_bytes(chunk.try_into().expect("chunks of 4"));
            clk.set(v % bits);
            left -= 1;
        }
        round += 1;
    }
}

impl EncodedTable {
    /// Writes `id,clk,schema` CSV.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let err = |source| {
            Error::Records(crate::linkage::Error::Csv {
                path: path.to_owned(),
                source,
            })
        };
        let mut w = csv::Writer::from_path(path).map_err(err)?;
        if self.blocks.is_some() {
            w.write_record(["id", "clk", "schema", "blocks"])
                .map_err(err)?;
        } else {
            w.write_record(["id", "clk", "schema"]).map_err(err)?;
        }
        for (r, (id, clk)) in self.ids.iter().zip(&self.clks).enumerate() {
            let mut record = vec![id.clone(), clk.to_base64(), self.schema.clone()];
            if let Some(blocks) = &self.blocks {
                let tokens: Vec<String> = blocks[r].iter().map(|t| format!("{t:016x}")).collect();
                record.push(tokens.join(" "));
            }
            w.write_record(&record).map_err(err)?;
        }
        w.flush().map_err(|e| err(e.into()))
    }

    /// Whether a table is an encoded file (has `clk` and `schema` columns).
    pub fn is_encoded(table: &Table) -> bool {
        table.column("clk").is_some() && table.column("schema").is_some()
    }

    /// Reads an encoded table (`id_column`, `clk`, `schema`): every filter
    /// must decode, all of one length, all under one schema.
    pub fn from_table(table: &Table, id_column: &str, side: &'static str) -> Result<Self> {
        let id = table.require_column(id_column, side)?;
        let clk = table.require_column("clk", side)?;
        let schema = table.require_column("schema", side)?;
        let blocks = table.column("blocks");
        let mut out = Self {
            ids: Vec::with_capacity(table.len()),
            clks: Vec::with_capacity(table.len()),
            schema: String::new(),
            blocks: blocks.map(|_| Vec::with_capacity(table.len())),
        };
        for r in 0..table.len() {
            let line = r + 2;
            let bad = |reason: String| Error::Encoding { side, line, reason };
            let fingerprint = table.value(r, schema);
            if r == 0 {
                out.schema = fingerprint.to_owned();
            } else if fingerprint != out.schema {
                return Err(bad(format!(
                    "schema {fingerprint} differs from the first record's {}",
                    out.schema
                )));
            }
            let filter = Clk::from_base64(table.value(r, clk))
                .ok_or_else(|| bad("clk is not base64 of a whole number of 64-bit words".into()))?;
            if let Some(first) = out.clks.first()
                && first.words().len() != filter.words().len()
            {
                return Err(bad(format!(
                    "clk has {} bits, the first record's {}",
                    filter.words().len() * 64,
                    first.words().len() * 64
                )));
            }
            if let (Some(column), Some(all)) = (blocks, out.blocks.as_mut()) {
                let tokens = table
                    .value(r, column)
                    .split_whitespace()
                    .map(|t| u64::from_str_radix(t, 16))
                    .collect::<std::result::Result<Vec<u64>, _>>()
                    .map_err(|_| {
                        bad("blocks must be 16-digit hex tokens separated by spaces".into())
                    })?;
                all.push(tokens);
            }
            out.ids.push(table.value(r, id).to_owned());
            out.clks.push(filter);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pprl::ClkField;

    fn schema() -> ClkSchema {
        ClkSchema {
            bits: 512,
            fields: vec![
                ClkField {
                    column: "name".into(),
                    kind: Kind::Name,
                    hashes: 10,
                },
                ClkField {
                    column: "dob".into(),
                    kind: Kind::Date,
                    hashes: 10,
                },
            ],
        }
    }

    fn table(rows: &[(&str, &str, &str)]) -> Table {
        Table::new(
            vec!["id".into(), "name".into(), "dob".into()],
            rows.iter()
                .map(|(a, b, c)| vec![(*a).into(), (*b).into(), (*c).into()])
                .collect(),
        )
    }

    #[test]
    fn tokens_follow_the_kind() {
        assert_eq!(tokens(Kind::Name, "Ab"), ["_a", "ab", "b_"]);
        assert_eq!(
            tokens(Kind::Date, "1956-04-09"),
            ["01", "19", "25", "36", "40", "54", "60", "79"]
        );
        assert_eq!(tokens(Kind::Category, "F"), ["f"]);
        assert!(tokens(Kind::Name, "  ").is_empty());
    }

    #[test]
    fn normalization_happens_before_hashing() {
        // Full-width and half-width kana, hiragana and katakana, 髙 and 高
        // encode alike, as the probabilistic linkage compares them.
        let key = ClkKey::new([7; 32]);
        let t = table(&[
            ("1", "髙橋　ハナコ", "1980-01-02"),
            ("2", "高橋 はなこ", "昭和55年1月2日"),
        ]);
        let e = encode(&key, &schema(), &t, "id", &[]).expect("encodes");
        assert_eq!(e.clks[0], e.clks[1]);
    }

    #[test]
    fn the_key_decides_the_bits() {
        let t = table(&[("1", "tanaka", "19800102")]);
        let a = encode(&ClkKey::new([1; 32]), &schema(), &t, "id", &[]).expect("encodes");
        let b = encode(&ClkKey::new([2; 32]), &schema(), &t, "id", &[]).expect("encodes");
        assert_ne!(a.clks[0], b.clks[0]);
        let again = encode(&ClkKey::new([1; 32]), &schema(), &t, "id", &[]).expect("encodes");
        assert_eq!(a.clks[0], again.clks[0], "encoding is deterministic");
    }

    #[test]
    fn base64_round_trips() {
        let t = table(&[("1", "suzuki", "19751231")]);
        let e = encode(&ClkKey::new([3; 32]), &schema(), &t, "id", &[]).expect("encodes");
        let text = e.clks[0].to_base64();
        assert_eq!(Clk::from_base64(&text), Some(e.clks[0].clone()));
        assert_eq!(Clk::from_base64("not base64!"), None);
        assert_eq!(Clk::from_base64("AAAA"), None, "3 bytes is no whole word");
    }

    #[test]
    fn a_key_file_must_hold_32_bytes_of_hex() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        let key = ClkKey::generate();
        std::fs::write(&path, key.to_file_text()).expect("write");
        let back = ClkKey::from_file(&path).expect("reads");
        assert_eq!(back.0, key.0);
        std::fs::write(&path, "abcd\n").expect("write");
        let err = ClkKey::from_file(&path).expect_err("too short");
        assert!(err.to_string().contains("2 bytes, not 32"), "{err}");
        assert_eq!(format!("{key:?}"), "ClkKey(..)");
    }

    #[test]
    fn a_missing_column_is_named() {
        let t = Table::new(vec!["id".into(), "name".into()], vec![]);
        let err = encode(&ClkKey::new([0; 32]), &schema(), &t, "id", &[]).expect_err("no dob");
        assert!(err.to_string().contains("\"dob\""), "{err}");
    }
}
