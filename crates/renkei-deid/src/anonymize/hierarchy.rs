//! Generalization hierarchies: for each original value, its value at each
//! level up to the top (usually `*`). Level 0 is the original.
//!
//! A hierarchy must be a tree: a value at level `i` has one value at level
//! `i + 1`, whichever original it came from. The engine relies on it to
//! roll equivalence classes up from a finer node (a class of a finer node
//! lies wholly inside one class of a coarser one), and it is what makes
//! k-anonymity monotone over the lattice.
//!
//! Sources: ARX's CSV layout ([`Hierarchy::from_arx_path`]: one row per
//! original value, then its generalizations, `,` or `;` separated, no
//! header), rows given in code ([`Hierarchy::from_rows`]), or the builders
//! for the kinds of data renkei delivers: integer intervals (age bands),
//! dates (month, year), 市区町村コード (municipality → prefecture), ICD-10
//! (3 characters → chapter), JLAC10 (analyte code → class), code prefixes,
//! and a flat `*` for any other category. [`Hierarchy::auto`] picks one from
//! a column's name and values.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::Path;

use super::error::{Error, Result};

/// The top of every generated hierarchy: the value fully suppressed.
pub const TOP: &str = "*";

/// A generalization hierarchy for one column.
#[derive(Clone)]
pub struct Hierarchy {
    /// Original → its values at levels 1..height.
    up: HashMap<String, Vec<String>>,
    /// Originals in the order given, for writing.
    order: Vec<String>,
    height: usize,
    names: Vec<String>,
    description: String,
}

impl std::fmt::Debug for Hierarchy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hierarchy")
            .field("description", &self.description)
            .field("originals", &self.order.len())
            .field("levels", &self.names)
            .finish()
    }
}

impl Hierarchy {
    /// A hierarchy from rows `[original, level 1, …, top]`, all of one
    /// length; `source_name` names it in errors (line `i` is row `i`).
    pub fn from_rows<R, S>(rows: impl IntoIterator<Item = R>, source_name: &str) -> Result<Self>
    where
        R: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let bad = |line: usize, message: String| Error::InvalidHierarchy {
            source_name: source_name.to_owned(),
            line,
            message,
        };
        let mut up = HashMap::new();
        let mut order = Vec::new();
        let mut height = 0;
        // (level, value at that level) → (value one level up, first line).
        let mut parent: HashMap<(usize, String), (String, usize)> = HashMap::new();
        for (i, row) in rows.into_iter().enumerate() {
            let line = i + 1;
            let row: Vec<String> = row.into_iter().map(Into::into).collect();
            if row.is_empty() || (row.len() == 1 && row[0].is_empty()) {
                continue;
            }
            if height == 0 {
                height = row.len();
            } else if row.len() != height {
                return Err(bad(
                    line,
                    format!("has {} levels, earlier rows have {height}", row.len()),
                ));
            }
            for level in 0..row.len() - 1 {
                let key = (level, row[level].clone());
                match parent.get(&key) {
                    Some((p, first)) if *p != row[level + 1] => {
                        return Err(bad(
                            line,
                            format!(
                                "{:?} at level {level} generalizes to {:?} here but to {p:?} on line {first}: \
                                 a hierarchy must be a tree",
                                row[level],
                                row[level + 1]
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        parent.insert(key, (row[level + 1].clone(), line));
                    }
                }
            }
            let mut row = row.into_iter();
            let original = row.next().expect("rows are not empty");
            if up.contains_key(&original) {
                continue; // the same row again (the tree check above passed)
            }
            order.push(original.clone());
            up.insert(original, row.collect());
        }
        if height == 0 {
            return Err(bad(0, "has no rows".into()));
        }
        Ok(Self {
            up,
            order,
            height,
            names: (0..height)
                .map(|l| {
                    if l == 0 {
                        "original".to_owned()
                    } else {
                        format!("level {l}")
                    }
                })
                .collect(),
            description: format!("from {source_name}"),
        })
    }

    /// Reads an ARX hierarchy file: one row per original value followed by
    /// its generalizations, comma- or semicolon-separated (whichever the
    /// first line has more of), no header.
    pub fn from_arx_path(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            action: "opening",
            path: path.display().to_string(),
            source,
        })?;
        Self::from_arx_reader(file, &path.display().to_string())
    }

    /// Reads an ARX hierarchy from any reader.
    pub fn from_arx_reader(mut reader: impl Read, source_name: &str) -> Result<Self> {
        let mut text = Vec::new();
        reader.read_to_end(&mut text).map_err(|source| Error::Io {
            action: "reading",
            path: source_name.to_owned(),
            source,
        })?;
        let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
        let count = |c: u8| first.iter().filter(|&&b| b == c).count();
        let delimiter = if count(b';') > count(b',') {
            b';'
        } else {
            b','
        };
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text.as_slice());
        let mut rows = Vec::new();
        for record in r.records() {
            let record = record.map_err(|source| Error::Csv {
                file: source_name.to_owned(),
                line: source.position().map_or(0, csv::Position::line),
                source,
            })?;
            rows.push(record.iter().map(str::to_owned).collect::<Vec<_>>());
        }
        Self::from_rows(rows, source_name)
    }

    /// Writes the hierarchy in ARX's layout (comma-separated).
    pub fn write_arx(&self, writer: impl Write, dest_name: &str) -> Result<()> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(writer);
        for original in &self.order {
            let mut row = vec![original.as_str()];
            row.extend(self.up[original].iter().map(String::as_str));
            w.write_record(&row).map_err(|source| Error::Csv {
                file: dest_name.to_owned(),
                line: 0,
                source,
            })?;
        }
        w.flush().map_err(|source| Error::Io {
            action: "writing",
            path: dest_name.to_owned(),
            source,
        })
    }

    /// Levels, counting the original as level 0 (so a `value → *`
    /// hierarchy has height 2).
    pub fn height(&self) -> usize {
        self.height
    }

    /// The name of a level ("original", "5-year bands", "prefecture", "*").
    pub fn level_name(&self, level: usize) -> &str {
        self.names.get(level).map_or("?", String::as_str)
    }

    /// How the hierarchy was made ("from age.csv", "integer intervals…").
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The originals, in the order given.
    pub fn originals(&self) -> impl Iterator<Item = &str> + '_ {
        self.order.iter().map(String::as_str)
    }

    /// The value of `original` at `level`; `None` for an unknown original
    /// or a level past the top.
    pub fn generalize<'a>(&'a self, original: &'a str, level: usize) -> Option<&'a str> {
        let ups = self.up.get(original)?;
        match level {
            0 => Some(original),
            l => ups.get(l - 1).map(String::as_str),
        }
    }

    /// Renames the levels (the original keeps its name if `names` is one
    /// shorter than the height).
    fn named(mut self, names: &[&str], description: String) -> Self {
        let offset = self.height - names.len();
        for (i, n) in names.iter().enumerate() {
            self.names[offset + i] = (*n).to_owned();
        }
        self.description = description;
        self
    }

    /// Builds from distinct values and a function giving each value's
    /// levels above 0; empty values (missing) stay empty until the top.
    fn build<'a>(
        column: &str,
        values: impl IntoIterator<Item = &'a str>,
        kind: &'static str,
        levels: usize,
        f: impl Fn(&str) -> std::result::Result<Vec<String>, &'static str>,
    ) -> Result<Self> {
        let distinct: BTreeSet<&str> = values.into_iter().collect();
        let mut rows = Vec::with_capacity(distinct.len());
        for v in distinct {
            let mut row = vec![v.to_owned()];
            if v.is_empty() {
                row.extend(std::iter::repeat_n(String::new(), levels - 1));
            } else {
                let ups = f(v).map_err(|why| Error::UnfitValue {
                    column: column.to_owned(),
                    value: v.to_owned(),
                    kind,
                    why,
                })?;
                debug_assert_eq!(ups.len(), levels - 1);
                row.extend(ups);
            }
            row.push(TOP.to_owned());
            rows.push(row);
        }
        if rows.is_empty() {
            rows.push(vec![String::new(); levels + 1]);
        }
        Self::from_rows(rows, &format!("built for {column:?}"))
    }

    /// Integer intervals of width `base`, then doubling (2×, 4×, …) until
    /// one interval would hold every value, then `*`. Intervals are aligned
    /// at multiples of their width, so each nests in the next; a band is
    /// written `20-24` (both ends included).
    pub fn intervals<'a>(
        column: &str,
        values: impl IntoIterator<Item = &'a str> + Clone,
        base: i64,
    ) -> Result<Self> {
        let parse = |v: &str| v.trim().parse::<i64>();
        let nums: Vec<i64> = values
            .clone()
            .into_iter()
            .filter(|v| !v.is_empty())
            .filter_map(|v| parse(v).ok())
            .collect();
        let (lo, hi) = (
            nums.iter().copied().min().unwrap_or(0),
            nums.iter().copied().max().unwrap_or(0),
        );
        // Double the width while more than one interval is needed; a width
        // at which every value falls in one interval says no more than `*`.
        let mut widths = Vec::new();
        let mut w = base.max(1);
        while lo.div_euclid(w) != hi.div_euclid(w) {
            widths.push(w);
            w = w.saturating_mul(2);
        }
        let n = widths.len();
        let names: Vec<String> = widths
            .iter()
            .map(|w| format!("{w}-wide intervals"))
            .chain([TOP.to_owned()])
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let h = Self::build(column, values, "integer interval", n + 1, |v| {
            let x = parse(v).map_err(|_| "an integer")?;
            Ok(widths
                .iter()
                .map(|w| {
                    let start = x.div_euclid(*w) * w;
                    format!("{start}-{}", start + w - 1)
                })
                .collect())
        })?;
        let description = format!(
            "integer intervals of width {}, then *",
            widths
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(h.named(&names, description))
    }

    /// Ages in 5-year bands (0-4, 5-9, …), then 10, 20, 40… years, then `*`.
    pub fn age_bands<'a>(
        column: &str,
        values: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<Self> {
        Self::intervals(column, values, 5)
    }

    /// Dates `YYYY-MM-DD` → month `YYYY-MM` → year `YYYY` → `*`; months
    /// `YYYY-MM` → year → `*`.
    pub fn dates<'a>(
        column: &str,
        values: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<Self> {
        let first = values
            .clone()
            .into_iter()
            .find(|v| !v.is_empty())
            .unwrap_or("");
        if first.len() == 7 {
            let h = Self::build(column, values, "month", 2, |v| {
                if is_month(v) {
                    Ok(vec![v[..4].to_owned()])
                } else {
                    Err("YYYY-MM like the column's first value")
                }
            })?;
            return Ok(h.named(&["year", TOP], "months → year → *".into()));
        }
        let h = Self::build(column, values, "date", 3, |v| {
            if is_date(v) {
                Ok(vec![v[..7].to_owned(), v[..4].to_owned()])
            } else {
                Err("YYYY-MM-DD")
            }
        })?;
        Ok(h.named(&["month", "year", TOP], "dates → month → year → *".into()))
    }

    /// 市区町村コード (JIS X 0402: 5 digits, or 6 with the check digit) →
    /// 都道府県コード (the first 2 digits, 01–47) → `*`.
    pub fn municipalities<'a>(
        column: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self> {
        let h = Self::build(column, values, "municipality code", 2, |v| {
            if is_municipality(v) || is_prefecture_only(v) {
                Ok(vec![v[..2].to_owned()])
            } else {
                Err(
                    "5 or 6 digits starting with a prefecture code 01-47 (or the prefecture code and *** when only the prefecture is known)",
                )
            }
        })?;
        Ok(h.named(
            &["prefecture", TOP],
            "市区町村コード → prefecture (first 2 digits) → *".into(),
        ))
    }

    /// ICD-10 codes (`I10`, `E11.9`, `E119`) → 3-character category →
    /// chapter (`IX I00-I99`) → `*`.
    pub fn icd10<'a>(column: &str, values: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let h = Self::build(column, values, "ICD-10", 3, |v| {
            let chapter = icd10_chapter(v).ok_or("a letter, two digits, then optional detail")?;
            Ok(vec![v[..3].to_owned(), chapter.to_owned()])
        })?;
        Ok(h.named(
            &["3-character category", "chapter", TOP],
            "ICD-10 → 3-character category → chapter → *".into(),
        ))
    }

    /// JLAC10 codes (17 characters: analyte 5, identification 4, specimen
    /// 3, method 3, result 2) → the analyte code (first 5: 分析物コード) →
    /// its first 2 characters (the analyte group: e.g. `3D` carbohydrates)
    /// → `*`.
    pub fn jlac10<'a>(column: &str, values: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let h = Self::build(column, values, "JLAC10", 3, |v| {
            if is_jlac10(v) {
                Ok(vec![v[..5].to_owned(), v[..2].to_owned()])
            } else {
                Err("17 letters or digits")
            }
        })?;
        Ok(h.named(
            &["analyte (first 5)", "analyte group (first 2)", TOP],
            "JLAC10 → analyte code (first 5) → analyte group (first 2) → *".into(),
        ))
    }

    /// Codes truncated to each of `keep` leading characters (longest first;
    /// the rest masked with `*`), then `*`: postcodes, provider codes.
    pub fn prefixes<'a>(
        column: &str,
        values: impl IntoIterator<Item = &'a str>,
        keep: &[usize],
    ) -> Result<Self> {
        let mut keep = keep.to_vec();
        keep.sort_unstable_by(|a, b| b.cmp(a));
        keep.dedup();
        let h = Self::build(column, values, "prefix", keep.len() + 1, |v| {
            let chars: Vec<char> = v.chars().collect();
            Ok(keep
                .iter()
                .map(|&n| {
                    chars
                        .iter()
                        .enumerate()
                        .map(|(i, c)| if i < n { *c } else { '*' })
                        .collect()
                })
                .collect())
        })?;
        let names: Vec<String> = keep
            .iter()
            .map(|n| format!("first {n}"))
            .chain([TOP.to_owned()])
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let description = format!(
            "prefixes of {} characters, then *",
            keep.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(h.named(&names, description))
    }

    /// Every value → `*`: a category with no structure to keep.
    pub fn flat<'a>(column: &str, values: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let h = Self::build(column, values, "category", 1, |_| Ok(Vec::new()))?;
        Ok(h.named(&[TOP], "value → *".into()))
    }

    /// Chooses and builds a hierarchy from a column's name and values:
    ///
    /// - integers in a column named like an age (`age`, `*_age`, `年齢`):
    ///   5-year bands;
    /// - `YYYY-MM-DD` dates or `YYYY-MM` months: month, year;
    /// - 5–6 digit codes in a column named like a municipality (`municipality`,
    ///   `city_code`, `市区町村`): prefecture;
    /// - ICD-10 codes: category, chapter; JLAC10 codes: analyte, group;
    /// - postcodes (`zip`, `postcode`, `postal`, `郵便番号`) and other codes of
    ///   one length (≥ 3, with a digit): prefixes;
    /// - other integers with more than 10 distinct values: intervals of a
    ///   round width near a twentieth of the range;
    /// - anything else (a category): `*`.
    pub fn auto<'a>(
        column: &str,
        values: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<Self> {
        let has_empty = values.clone().into_iter().any(str::is_empty);
        let distinct: BTreeSet<&str> = values.into_iter().filter(|v| !v.is_empty()).collect();
        let name = column.to_lowercase();
        let named = |words: &[&str]| words.iter().any(|w| name.contains(w));
        let all = |p: fn(&str) -> bool| !distinct.is_empty() && distinct.iter().all(|v| p(v));
        let ints = all(|v| v.parse::<i64>().is_ok());
        // Missing values (empty) get a row of their own only if present.
        let empty: &[&str] = if has_empty { &[""] } else { &[] };
        let vals = || distinct.iter().copied().chain(empty.iter().copied());
        if ints && (name == "age" || named(&["_age", "age_", "年齢"])) {
            return Self::age_bands(column, vals());
        }
        if all(is_date) || all(is_month) {
            return Self::dates(column, vals());
        }
        if all(is_municipality) && named(&["municipal", "city", "市区町村", "shikuchoson"]) {
            return Self::municipalities(column, vals());
        }
        if all(|v| icd10_chapter(v).is_some()) {
            return Self::icd10(column, vals());
        }
        if all(is_jlac10) {
            return Self::jlac10(column, vals());
        }
        let one_length = distinct
            .iter()
            .map(|v| v.chars().count())
            .collect::<BTreeSet<_>>();
        let code_like = one_length.len() == 1
            && distinct.iter().all(|v| {
                v.chars().all(|c| c.is_ascii_alphanumeric())
                    && v.chars().any(|c| c.is_ascii_digit())
            });
        let len = one_length.first().copied().unwrap_or(0);
        let postcode = named(&["zip", "postcode", "postal", "郵便番号"]);
        let leading_zero = distinct.iter().any(|v| v.starts_with('0'));
        if code_like && len >= 3 && (postcode || !ints || leading_zero) {
            return Self::prefixes(column, vals(), &prefix_lengths(len));
        }
        if ints && distinct.len() > 10 {
            let nums: Vec<i64> = distinct.iter().filter_map(|v| v.parse().ok()).collect();
            let range = nums.iter().max().unwrap_or(&0) - nums.iter().min().unwrap_or(&0);
            return Self::intervals(column, vals(), round_width(range / 20));
        }
        Self::flat(column, vals())
    }
}

/// Prefix lengths for a code of `len` characters: every length for short
/// codes, else about four steps.
fn prefix_lengths(len: usize) -> Vec<usize> {
    let step = if len <= 5 { 1 } else { len.div_ceil(4) };
    (1..len).rev().step_by(step).collect()
}

/// The round number (1, 2, 5 × 10ⁿ) at or above `x`.
fn round_width(x: i64) -> i64 {
    let mut p = 1i64;
    loop {
        for m in [1, 2, 5] {
            if m * p >= x {
                return m * p;
            }
        }
        p = p.saturating_mul(10);
    }
}

fn is_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&v[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&v[8..10].parse::<u8>().unwrap_or(0))
}

fn is_month(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
        && (1..=12).contains(&v[5..7].parse::<u8>().unwrap_or(0))
}

fn is_municipality(v: &str) -> bool {
    (v.len() == 5 || v.len() == 6)
        && v.bytes().all(|c| c.is_ascii_digit())
        && (1..=47).contains(&v[..2].parse::<u8>().unwrap_or(0))
}

/// `13***`: a person known to live in a prefecture, not in which of its
/// municipalities; generalized with the rest at the prefecture level.
pub(crate) fn is_prefecture_only(v: &str) -> bool {
    v.len() == 5 && v.ends_with("***") && (1..=47).contains(&v[..2].parse::<u8>().unwrap_or(0))
}

fn is_jlac10(v: &str) -> bool {
    v.len() == 17 && v.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// The ICD-10 (WHO 2019) chapter of a code, or `None` if it is not one.
pub fn icd10_chapter(code: &str) -> Option<&'static str> {
    let b = code.as_bytes();
    if b.len() < 3
        || !b[0].is_ascii_uppercase()
        || !b[1].is_ascii_digit()
        || !b[2].is_ascii_digit()
        || !b[3..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.')
    {
        return None;
    }
    let n = u32::from(b[1] - b'0') * 10 + u32::from(b[2] - b'0');
    Some(match (b[0], n) {
        (b'A' | b'B', _) => "I A00-B99",
        (b'C', _) | (b'D', 0..=48) => "II C00-D48",
        (b'D', _) => "III D50-D89",
        (b'E', _) => "IV E00-E90",
        (b'F', _) => "V F00-F99",
        (b'G', _) => "VI G00-G99",
        (b'H', 0..=59) => "VII H00-H59",
        (b'H', _) => "VIII H60-H95",
        (b'I', _) => "IX I00-I99",
        (b'J', _) => "X J00-J99",
        (b'K', _) => "XI K00-K93",
        (b'L', _) => "XII L00-L99",
        (b'M', _) => "XIII M00-M99",
        (b'N', _) => "XIV N00-N99",
        (b'O', _) => "XV O00-O99",
        (b'P', _) => "XVI P00-P96",
        (b'Q', _) => "XVII Q00-Q99",
        (b'R', _) => "XVIII R00-R99",
        (b'S' | b'T', _) => "XIX S00-T98",
        (b'V' | b'W' | b'X' | b'Y', _) => "XX V01-Y98",
        (b'Z', _) => "XXI Z00-Z99",
        (b'U', _) => "XXII U00-U99",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(h: &Hierarchy, v: &str) -> Vec<String> {
        (0..h.height())
            .map(|l| h.generalize(v, l).expect("known").to_owned())
            .collect()
    }

    #[test]
    fn arx_files_with_semicolons_are_read() {
        let h = Hierarchy::from_arx_reader(
            "34;30-39;*\n35;30-39;*\n41;40-49;*\n".as_bytes(),
            "age.csv",
        )
        .expect("reads");
        assert_eq!(h.height(), 3);
        assert_eq!(h.generalize("41", 1), Some("40-49"));
        assert_eq!(h.generalize("42", 1), None);
    }

    #[test]
    fn a_hierarchy_that_is_not_a_tree_is_refused_with_its_line() {
        let err = Hierarchy::from_arx_reader("1,a,*\n2,a,*\n3,b,*\n4,a,x\n".as_bytes(), "h.csv")
            .expect_err("not a tree");
        assert!(
            matches!(err, Error::InvalidHierarchy { line: 4, .. }),
            "{err:?}"
        );
        let err =
            Hierarchy::from_arx_reader("1,a,*\n2,a\n".as_bytes(), "h.csv").expect_err("ragged");
        assert!(
            matches!(err, Error::InvalidHierarchy { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn age_bands_nest_and_end_in_a_star() {
        let values = ["0", "4", "5", "37", "99"];
        let h = Hierarchy::age_bands("age", values).expect("builds");
        assert_eq!(
            levels(&h, "37"),
            ["37", "35-39", "30-39", "20-39", "0-39", "0-79", "*"]
        );
        assert_eq!(h.level_name(1), "5-wide intervals");
    }

    #[test]
    fn codes_generalize_as_documented() {
        let icd = Hierarchy::icd10("dx", ["E11.9", "I10", "S72.0"]).expect("icd");
        assert_eq!(levels(&icd, "E11.9"), ["E11.9", "E11", "IV E00-E90", "*"]);
        let muni =
            Hierarchy::municipalities("municipality", ["131016", "01100", "13***"]).expect("muni");
        assert_eq!(levels(&muni, "131016"), ["131016", "13", "*"]);
        assert_eq!(levels(&muni, "13***"), ["13***", "13", "*"]);
        assert!(Hierarchy::municipalities("municipality", ["48***"]).is_err());
        let jlac = Hierarchy::jlac10("lab", ["3D010000001927101"]).expect("jlac");
        assert_eq!(
            levels(&jlac, "3D010000001927101")[1..],
            ["3D010", "3D", "*"]
        );
        let dates = Hierarchy::dates("d", ["2024-03-15", "2023-12-01"]).expect("dates");
        assert_eq!(
            levels(&dates, "2024-03-15"),
            ["2024-03-15", "2024-03", "2024", "*"]
        );
        let zip = Hierarchy::prefixes("zip", ["1000001"], &prefix_lengths(7)).expect("zip");
        assert_eq!(
            levels(&zip, "1000001"),
            ["1000001", "100000*", "1000***", "10*****", "*"]
        );
    }

    #[test]
    fn a_value_unfit_for_its_kind_is_named() {
        let err = Hierarchy::icd10("dx", ["E11", "diabetes"]).expect_err("not ICD");
        assert!(err.to_string().contains("\"diabetes\""), "{err}");
    }

    #[test]
    fn auto_chooses_by_name_and_values() {
        let ages: Vec<String> = (0..90).map(|a| a.to_string()).collect();
        let h = Hierarchy::auto("age", ages.iter().map(String::as_str)).expect("age");
        assert!(
            h.description().starts_with("integer intervals of width 5"),
            "{}",
            h.description()
        );
        let h = Hierarchy::auto("municipality_code", ["131016", "271004"]).expect("muni");
        assert_eq!(h.level_name(1), "prefecture");
        let h = Hierarchy::auto("diagnosis", ["E11", "I10"]).expect("icd");
        assert_eq!(h.level_name(2), "chapter");
        let h = Hierarchy::auto("zip", ["02138", "02139"]).expect("zip");
        assert_eq!(h.generalize("02138", 1), Some("0213*"));
        let h = Hierarchy::auto("sex", ["F", "M", ""]).expect("sex");
        assert_eq!(levels(&h, "F"), ["F", "*"]);
        assert_eq!(levels(&h, ""), ["", "*"]);
        let h = Hierarchy::auto("admitted", ["2024-01-05", ""]).expect("date");
        assert_eq!(levels(&h, ""), ["", "", "", "*"]);
    }

    #[test]
    fn written_hierarchies_read_back_the_same() {
        let h = Hierarchy::icd10("dx", ["E11.9", "I10"]).expect("icd");
        let mut out = Vec::new();
        h.write_arx(&mut out, "mem").expect("writes");
        let back = Hierarchy::from_arx_reader(out.as_slice(), "mem").expect("reads");
        for v in ["E11.9", "I10"] {
            assert_eq!(levels(&back, v), levels(&h, v));
        }
    }
}
