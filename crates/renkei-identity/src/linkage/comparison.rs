//! Fields, their kinds, and the comparison levels of a pair of values.
//!
//! Each value is normalized once per record ([`Prepared`]), interned to a
//! small id (equal ids are equal normalized values), and compared by id
//! and `char` slices, so comparing a pair allocates nothing.
//!
//! Levels, best first; level 0 is *null*: a value is missing on either
//! side, which is no evidence either way (Bayes factor 1).
//!
//! | kind | levels |
//! | --- | --- |
//! | name, text | exact · Jaro–Winkler ≥ t₁ · ≥ t₂ · else |
//! | date | exact · one of y/m/d differs (or one typo) · day and month swapped · within a year · else |
//! | code, postcode | exact · one edit (typo or swap) · else |
//! | category | exact · else |
//! | address | exact · same town · same municipality · same prefecture · else |

use std::collections::HashMap;
use std::fmt;

use super::similarity::{jaro_winkler, within_one_edit};
use super::table::Table;
use crate::normalize::{self, address, date, name};

/// What a field holds, which decides how it is normalized and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A person's or place's name: [`name::name_key`] (any script: kana
    /// folded, variant kanji, case), compared by Jaro–Winkler bands.
    Name,
    /// Free text such as an address line: [`name::text_key`], compared by
    /// Jaro–Winkler bands.
    Text,
    /// A date, 西暦 or 和暦 ([`date::date`]); unreadable dates are compared
    /// as digit strings.
    Date,
    /// A number or code ([`normalize::identifier`]): exact, or one edit.
    Code,
    /// A postcode: like a code.
    Postcode,
    /// A value from a short list (sex, state): exact or not.
    Category,
    /// A Japanese address ([`address::parse`]), compared part by part.
    Address,
}

impl Kind {
    /// The kind's name as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Text => "text",
            Kind::Date => "date",
            Kind::Code => "code",
            Kind::Postcode => "postcode",
            Kind::Category => "category",
            Kind::Address => "address",
        }
    }

    /// Every kind.
    pub const ALL: [Kind; 7] = [
        Kind::Name,
        Kind::Text,
        Kind::Date,
        Kind::Code,
        Kind::Postcode,
        Kind::Category,
        Kind::Address,
    ];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Default Jaro–Winkler bands of names and text.
pub const DEFAULT_JARO_WINKLER: [f64; 2] = [0.92, 0.80];

/// A field to compare: a column (the same name in both files when
/// linking) and how.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    /// The column.
    pub column: String,
    /// How it is normalized and compared.
    pub kind: Kind,
    /// Jaro–Winkler thresholds of the two similarity levels (names and
    /// text), higher first.
    pub jaro_winkler: [f64; 2],
}

impl FieldSpec {
    /// A field with the default thresholds.
    pub fn new(column: impl Into<String>, kind: Kind) -> Self {
        Self {
            column: column.into(),
            kind,
            jaro_winkler: DEFAULT_JARO_WINKLER,
        }
    }

    /// The labels of the non-null levels, best first.
    pub fn level_labels(&self) -> Vec<String> {
        let [t1, t2] = self.jaro_winkler;
        match self.kind {
            Kind::Name | Kind::Text => vec![
                "exact".into(),
                format!("jaro-winkler>={t1}"),
                format!("jaro-winkler>={t2}"),
                "else".into(),
            ],
            Kind::Date => vec![
                "exact".into(),
                "one of y/m/d differs or one typo".into(),
                "day and month swapped".into(),
                "within a year".into(),
                "else".into(),
            ],
            Kind::Code | Kind::Postcode => {
                vec!["exact".into(), "one edit".into(), "else".into()]
            }
            Kind::Category => vec!["exact".into(), "else".into()],
            Kind::Address => vec![
                "exact".into(),
                "same town".into(),
                "same municipality".into(),
                "same prefecture".into(),
                "else".into(),
            ],
        }
    }

    /// The number of non-null levels.
    pub fn levels(&self) -> usize {
        match self.kind {
            Kind::Name | Kind::Text => 4,
            Kind::Date | Kind::Address => 5,
            Kind::Code | Kind::Postcode => 3,
            Kind::Category => 2,
        }
    }
}

impl fmt::Display for FieldSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.column,
            self.kind,
            self.level_labels().join(", ")
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Ymd {
    year: i32,
    month: u8,
    day: u8,
    julian: i32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Place {
    prefecture: u8,
    municipality: u32,
    town: u32,
    block: u32,
}

/// One field of every record, normalized once: a value id per record (0
/// for missing) and, per distinct value, its characters and parsed parts.
pub(crate) struct Prepared {
    spec: FieldSpec,
    ids: Vec<u32>,
    spans: Vec<(u32, u32)>,
    chars: Vec<char>,
    dates: Vec<Option<Ymd>>,
    places: Vec<Place>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("spec", &self.spec)
            .field("records", &self.ids.len())
            .field("values", &self.spans.len().saturating_sub(1))
            .finish()
    }
}

/// Normalized text and parsed parts of one value.
struct Normalized {
    key: String,
    date: Option<Ymd>,
    place: Option<(u8, String, String, String)>,
}

/// The normalized text of a value as compared for `kind` (empty when
/// nothing is left): what Bloom-filter encodings ([`crate::pprl`]) hash.
pub(crate) fn normalized_key(kind: Kind, raw: &str) -> String {
    normalized(kind, raw).key
}

fn normalized(kind: Kind, raw: &str) -> Normalized {
    let plain = |key| Normalized {
        key,
        date: None,
        place: None,
    };
    match kind {
        Kind::Name | Kind::Category => plain(name::name_key(raw)),
        Kind::Text => plain(name::text_key(raw)),
        Kind::Code | Kind::Postcode => plain(normalize::identifier(raw)),
        Kind::Date => match date::date(raw) {
            // Digits only (YYYYMMDD), so that a readable date and an
            // unreadable one still compare as digit strings.
            Ok(d) => Normalized {
                key: format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day()),
                date: Some(Ymd {
                    year: d.year(),
                    month: u8::from(d.month()),
                    day: d.day(),
                    julian: d.to_julian_day(),
                }),
                place: None,
            },
            // Compared as digits: 19560490 is one typo from 19560409.
            Err(_) => {
                let id = normalize::identifier(raw);
                let digits: String = id.chars().filter(char::is_ascii_digit).collect();
                plain(if digits.is_empty() { id } else { digits })
            }
        },
        Kind::Address => {
            let a = address::parse(raw);
            Normalized {
                key: a.key(),
                date: None,
                place: Some((
                    a.prefecture.map_or(0, |p| p.code()),
                    a.municipality.unwrap_or_default(),
                    a.town,
                    a.block.unwrap_or_default(),
                )),
            }
        }
    }
}

impl Prepared {
    /// Normalizes `spec.column` of every record of `tables` (one after the
    /// other: record ids run through the first table, then the second).
    /// Each distinct raw value is normalized once.
    pub(crate) fn new(spec: FieldSpec, tables: &[(&Table, usize)]) -> Self {
        let total: usize = tables.iter().map(|(t, _)| t.len()).sum();
        let mut out = Prepared {
            spec,
            ids: Vec::with_capacity(total),
            spans: vec![(0, 0)],
            chars: Vec::new(),
            dates: vec![None],
            places: vec![Place::default()],
        };
        let kind = out.spec.kind;
        let mut by_raw: HashMap<&str, u32> = HashMap::new();
        let mut by_key: HashMap<String, u32> = HashMap::new();
        let mut parts: HashMap<String, u32> = HashMap::new();
        for &(table, column) in tables {
            for row in 0..table.len() {
                let raw = table.value(row, column);
                if raw.is_empty() {
                    out.ids.push(0);
                    continue;
                }
                if let Some(&id) = by_raw.get(raw) {
                    out.ids.push(id);
                    continue;
                }
                let n = normalized(kind, raw);
                let id = if n.key.is_empty() {
                    0
                } else if let Some(&id) = by_key.get(&n.key) {
                    id
                } else {
                    let id = u32::try_from(out.spans.len()).expect("fewer than 2^32 values");
                    let start = out.chars.len() as u32;
                    out.chars.extend(n.key.chars());
                    out.spans.push((start, out.chars.len() as u32));
                    out.dates.push(n.date);
                    let place = n.place.map_or(Place::default(), |(p, m, t, b)| {
                        let mut intern = |s: String| {
                            if s.is_empty() {
                                return 0;
                            }
                            let next = parts.len() as u32 + 1;
                            *parts.entry(s).or_insert(next)
                        };
                        Place {
                            prefecture: p,
                            municipality: intern(m),
                            town: intern(t),
                            block: intern(b),
                        }
                    });
                    out.places.push(place);
                    by_key.insert(n.key, id);
                    id
                };
                by_raw.insert(raw, id);
                out.ids.push(id);
            }
        }
        out
    }

    pub(crate) fn spec(&self) -> &FieldSpec {
        &self.spec
    }

    /// The value id of a record; 0 when missing.
    pub(crate) fn id(&self, record: u32) -> u32 {
        self.ids[record as usize]
    }

    /// The normalized characters of a value id.
    pub(crate) fn chars(&self, id: u32) -> &[char] {
        let (s, e) = self.spans[id as usize];
        &self.chars[s as usize..e as usize]
    }

    /// The comparison level of two records: 0 null, 1 exact, … (see the
    /// module doc).
    pub(crate) fn level(&self, a: u32, b: u32) -> u8 {
        let (x, y) = (self.id(a), self.id(b));
        if x == 0 || y == 0 {
            return 0;
        }
        if x == y {
            return 1;
        }
        match self.spec.kind {
            Kind::Category => 2,
            Kind::Code | Kind::Postcode => {
                if within_one_edit(self.chars(x), self.chars(y)) {
                    2
                } else {
                    3
                }
            }
            Kind::Name | Kind::Text => {
                let s = jaro_winkler(self.chars(x), self.chars(y));
                let [t1, t2] = self.spec.jaro_winkler;
                if s >= t1 {
                    2
                } else if s >= t2 {
                    3
                } else {
                    4
                }
            }
            Kind::Date => match (self.dates[x as usize], self.dates[y as usize]) {
                (Some(p), Some(q)) => {
                    let same = [p.year == q.year, p.month == q.month, p.day == q.day];
                    if same.iter().filter(|s| **s).count() == 2 {
                        2
                    } else if p.year == q.year && p.month == q.day && p.day == q.month {
                        3
                    } else if (p.julian - q.julian).abs() <= 365 {
                        4
                    } else {
                        5
                    }
                }
                _ => {
                    if within_one_edit(self.chars(x), self.chars(y)) {
                        2
                    } else {
                        5
                    }
                }
            },
            Kind::Address => {
                let (p, q) = (self.places[x as usize], self.places[y as usize]);
                let same_prefecture = p.prefecture != 0 && p.prefecture == q.prefecture;
                let prefectures_agree = p.prefecture == 0 || q.prefecture == 0 || same_prefecture;
                let same_municipality =
                    prefectures_agree && p.municipality != 0 && p.municipality == q.municipality;
                let same_town = same_municipality && p.town != 0 && p.town == q.town;
                if same_town && p.block != 0 && p.block == q.block {
                    // Equal but for a prefecture written on one side only.
                    1
                } else if same_town {
                    2
                } else if same_municipality {
                    3
                } else if same_prefecture {
                    4
                } else {
                    5
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(kind: Kind, values: &[&str]) -> Prepared {
        let table = Table::new(
            vec!["v".into()],
            values.iter().map(|v| vec![(*v).to_owned()]).collect(),
        );
        Prepared::new(FieldSpec::new("v", kind), &[(&table, 0)])
    }

    #[test]
    fn missing_values_are_the_null_level() {
        let p = prepared(Kind::Name, &["mitchell", "", "  "]);
        assert_eq!(p.level(0, 1), 0);
        assert_eq!(p.level(1, 2), 0);
    }

    #[test]
    fn names_by_jaro_winkler_bands_after_normalization() {
        let p = prepared(
            Kind::Name,
            &[
                "Mitchell",
                "ＭＩＴＣＨＥＬＬ",
                "mitchel",
                "michael",
                "zoe",
                "サトウ",
                "さとう",
                "サトー",
            ],
        );
        assert_eq!(p.level(0, 1), 1, "width and case are normalized away");
        assert_eq!(p.level(0, 2), 2);
        assert_eq!(p.level(0, 3), 3);
        assert_eq!(p.level(0, 4), 4);
        assert_eq!(p.level(5, 6), 1, "kana folded");
        assert_eq!(p.level(5, 7), 1, "long vowel written out");
    }

    #[test]
    fn dates_agree_in_part() {
        let p = prepared(
            Kind::Date,
            &[
                "19560409",
                "1956-04-09",
                "昭和31年4月9日",
                "19560419",
                "19560904",
                "19570101",
                "19800101",
                "19560490",
                "",
            ],
        );
        assert_eq!(p.level(0, 1), 1);
        assert_eq!(p.level(0, 2), 1, "和暦 and 西暦 agree");
        assert_eq!(p.level(0, 3), 2, "the day differs");
        assert_eq!(p.level(0, 4), 3, "day and month swapped");
        assert_eq!(p.level(0, 5), 4, "within a year");
        assert_eq!(p.level(0, 6), 5);
        assert_eq!(p.level(0, 7), 2, "an impossible date one typo away");
        assert_eq!(p.level(0, 8), 0);
    }

    #[test]
    fn codes_allow_one_typo() {
        let p = prepared(
            Kind::Code,
            &["5613219", "５６１３２１９", "5613291", "5631291"],
        );
        assert_eq!(p.level(0, 1), 1);
        assert_eq!(p.level(0, 2), 2);
        assert_eq!(p.level(0, 3), 3);
    }

    #[test]
    fn addresses_agree_part_by_part() {
        let p = prepared(
            Kind::Address,
            &[
                "東京都新宿区四谷三丁目4番5号",
                "新宿区四谷3-4-5",
                "東京都新宿区四谷1-1",
                "東京都新宿区西新宿2-8-1",
                "東京都千代田区霞が関1-2-2",
                "大阪府大阪市北区梅田1-1",
            ],
        );
        assert_eq!(
            p.level(0, 1),
            1,
            "the prefecture is missing on one side only"
        );
        assert_eq!(p.level(0, 2), 2, "same town, another block");
        assert_eq!(p.level(0, 3), 3, "same municipality");
        assert_eq!(p.level(0, 4), 4, "same prefecture");
        assert_eq!(p.level(0, 5), 5);
    }
}
