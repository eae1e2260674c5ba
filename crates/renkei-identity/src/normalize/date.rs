//! Dates (mostly of birth) in the forms Japanese records use, as
//! `YYYY-MM-DD`.
//!
//! - 西暦: `1980-01-02`, `1980/1/2`, `1980.1.2`, `1980年1月2日`,
//!   `19800102`; full-width digits and kanji numerals (`一九八〇年`) too.
//! - 和暦: the era as kanji (`昭和55年1月2日`), its first kanji (`昭55.1.2`)
//!   or its letter (`S55.1.2`, `H2/3/4`, `R1.5.1`, `s550102`), with 元年
//!   for year 1 (`令和元年5月1日`).
//!
//! An era date must fall inside its era: 昭和64年1月7日 is the last day of
//! 昭和 and valid, 昭和64年1月8日 is 平成元年1月8日 and refused, and so is
//! 平成32年 (平成 ended in its year 31). Boundaries are the days the eras
//! took effect (元号を改める政令): 大正 1912-07-30, 昭和 1926-12-25, 平成
//! 1989-01-08, 令和 2019-05-01. 明治 before its 6th year used the
//! lunisolar calendar (the Gregorian one took effect on 明治6年1月1日), so
//! those dates are refused rather than converted wrongly.
//!
//! Ambiguous forms are refused, not guessed: a two-digit year without an
//! era (`80/1/2`), or day-first orders.

use std::fmt;

use time::{Date, Month};
use unicode_normalization::UnicodeNormalization;

use super::numeral;

/// A Japanese era (元号) since the Gregorian calendar was adopted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// 明治 (M), Gregorian from 明治6年 (1873).
    Meiji,
    /// 大正 (T), 1912-07-30 to 1926-12-24.
    Taisho,
    /// 昭和 (S), 1926-12-25 to 1989-01-07.
    Showa,
    /// 平成 (H), 1989-01-08 to 2019-04-30.
    Heisei,
    /// 令和 (R), from 2019-05-01.
    Reiwa,
}

impl Era {
    const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// The era's name in kanji.
    pub fn kanji(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The era's letter, as in `S55.1.2`.
    pub fn letter(self) -> char {
        match self {
            Era::Meiji => 'M',
            Era::Taisho => 'T',
            Era::Showa => 'S',
            Era::Heisei => 'H',
            Era::Reiwa => 'R',
        }
    }

    /// The Gregorian year of the era's year 1.
    fn year_zero(self) -> i32 {
        match self {
            Era::Meiji => 1867,
            Era::Taisho => 1911,
            Era::Showa => 1925,
            Era::Heisei => 1988,
            Era::Reiwa => 2018,
        }
    }

    /// The first and last day (inclusive) on which a date may be written
    /// in this era; `None` for no end.
    fn span(self) -> (Date, Option<Date>) {
        let d = |y, m, d| Date::from_calendar_date(y, m, d).expect("era boundaries are dates");
        match self {
            // 明治1–5年 are lunisolar; see the module doc.
            Era::Meiji => (d(1873, Month::January, 1), Some(d(1912, Month::July, 29))),
            Era::Taisho => (d(1912, Month::July, 30), Some(d(1926, Month::December, 24))),
            Era::Showa => (
                d(1926, Month::December, 25),
                Some(d(1989, Month::January, 7)),
            ),
            Era::Heisei => (d(1989, Month::January, 8), Some(d(2019, Month::April, 30))),
            Era::Reiwa => (d(2019, Month::May, 1), None),
        }
    }

    /// The era a date was written in, from its prefix: the kanji name, its
    /// first kanji, or the letter. Returns the era and the rest.
    fn strip_prefix(text: &str) -> Option<(Era, &str)> {
        for era in Era::ALL {
            if let Some(rest) = text.strip_prefix(era.kanji()) {
                return Some((era, rest));
            }
        }
        let mut chars = text.chars();
        let first = chars.next()?;
        let rest = chars.as_str();
        // One kanji or one letter must be followed by the year itself.
        let year_follows = rest
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '元' || numeral::is_numeral(c));
        if !year_follows {
            return None;
        }
        Era::ALL
            .into_iter()
            .find(|era| {
                era.kanji().starts_with(first) || era.letter() == first.to_ascii_uppercase()
            })
            .map(|era| (era, rest))
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kanji())
    }
}

/// Why a text is not a date. Messages never repeat the text: it is
/// usually a date of birth.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not in any form this module reads.
    #[error(
        "not a date in a known form (西暦 such as 1980-01-02, 1980/1/2, 19800102; 和暦 such as 昭和55年1月2日, S55.1.2)"
    )]
    Unrecognized,
    /// The month or day does not exist (`1980-02-30`).
    #[error("no such day in the calendar")]
    NoSuchDay,
    /// The era had ended (or not begun) on that day (`平成32年`,
    /// `昭和64年1月8日`).
    #[error("the date is outside the era {era}, which ran {span}")]
    OutsideEra {
        /// The era written.
        era: Era,
        /// Its span, as text.
        span: String,
    },
    /// 明治1–5年: lunisolar dates.
    #[error("明治 dates before 明治6年 are in the lunisolar calendar and cannot be converted")]
    Lunisolar,
}

/// Reads a date in any of the forms of the module doc.
///
/// ```
/// use renkei_identity::normalize::date::{date, DateError};
/// let d = date("S55.1.2").unwrap();
/// assert_eq!((d.year(), u8::from(d.month()), d.day()), (1980, 1, 2));
/// assert!(matches!(date("平成32年1月1日"), Err(DateError::OutsideEra { .. })));
/// ```
pub fn date(text: &str) -> Result<Date, DateError> {
    let text: String = text.nfkc().collect();
    let text = text.trim();
    let text = text
        .strip_suffix("生まれ")
        .or_else(|| text.strip_suffix('生'))
        .unwrap_or(text)
        .trim_end();
    match Era::strip_prefix(text) {
        Some((era, rest)) => era_date(era, rest),
        None => western_date(text),
    }
}

/// [`date`] as `YYYY-MM-DD`.
///
/// ```
/// use renkei_identity::normalize::date::date_iso;
/// assert_eq!(date_iso("令和元年5月1日").as_deref(), Ok("2019-05-01"));
/// assert_eq!(date_iso("1980/1/2").as_deref(), Ok("1980-01-02"));
/// ```
pub fn date_iso(text: &str) -> Result<String, DateError> {
    date(text).map(iso)
}

/// A date as `YYYY-MM-DD`.
pub fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// One number of a date and how it was written.
struct Part {
    value: u64,
    /// ASCII digits written (for 19800102 and four-digit years).
    digits: usize,
}

/// Splits `text` into its numbers: runs of ASCII digits, of kanji
/// numerals, or 元 (year 1), separated by 年 月 日 . / - or spaces.
/// `None` if anything else appears.
fn parts(text: &str) -> Option<Vec<Part>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_ascii_digit() || numeral::is_numeral(c) {
            let kanji = !c.is_ascii_digit();
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                let same_kind = if kanji {
                    numeral::is_numeral(d)
                } else {
                    d.is_ascii_digit()
                };
                if !same_kind {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            let run = &text[i..end];
            out.push(Part {
                value: numeral::parse(run)?,
                digits: if kanji { 0 } else { run.len() },
            });
        } else if c == '元' {
            out.push(Part {
                value: 1,
                digits: 0,
            });
            chars.next();
        } else if matches!(
            c,
            '年' | '月' | '日' | '.' | '/' | '-' | ' ' | '‐' | '−' | 'ー'
        ) {
            chars.next();
        } else {
            return None;
        }
    }
    Some(out)
}

fn calendar(year: i32, month: u64, day: u64) -> Result<Date, DateError> {
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(DateError::NoSuchDay)?;
    let day = u8::try_from(day).map_err(|_| DateError::NoSuchDay)?;
    Date::from_calendar_date(year, month, day).map_err(|_| DateError::NoSuchDay)
}

fn western_date(text: &str) -> Result<Date, DateError> {
    let parts = parts(text).ok_or(DateError::Unrecognized)?;
    let (y, m, d) = match parts.as_slice() {
        [all] if all.digits == 8 => (all.value / 10_000, all.value / 100 % 100, all.value % 100),
        // A year needs four digits (or kanji numerals: 一九八〇).
        [y, m, d] if y.digits == 4 || (y.digits == 0 && y.value >= 1000) => {
            (y.value, m.value, d.value)
        }
        _ => return Err(DateError::Unrecognized),
    };
    let y = i32::try_from(y).map_err(|_| DateError::Unrecognized)?;
    calendar(y, m, d)
}

fn era_date(era: Era, rest: &str) -> Result<Date, DateError> {
    let parts = parts(rest).ok_or(DateError::Unrecognized)?;
    let (y, m, d) = match parts.as_slice() {
        // S550102: two digits each.
        [all] if all.digits == 6 => (all.value / 10_000, all.value / 100 % 100, all.value % 100),
        [y, m, d] if (1..100).contains(&y.value) => (y.value, m.value, d.value),
        _ => return Err(DateError::Unrecognized),
    };
    if y == 0 {
        return Err(DateError::Unrecognized);
    }
    if era == Era::Meiji && y < 6 {
        return Err(DateError::Lunisolar);
    }
    let year = era.year_zero() + i32::try_from(y).map_err(|_| DateError::Unrecognized)?;
    let date = calendar(year, m, d)?;
    let (first, last) = era.span();
    if date < first || last.is_some_and(|l| date > l) {
        return Err(DateError::OutsideEra {
            era,
            span: match last {
                Some(l) => format!("from {} to {}", iso(first), iso(l)),
                None => format!("from {}", iso(first)),
            },
        });
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        date_iso(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn western_dates_in_every_usual_form() {
        for text in [
            "1980-01-02",
            "1980/1/2",
            "1980/01/02",
            "1980.1.2",
            "19800102",
            "1980年1月2日",
            "１９８０年１月２日",
            "1980-1-2",
            "一九八〇年一月二日",
            " 1980/1/2 ",
            "1980年1月2日生",
        ] {
            assert_eq!(ok(text), "1980-01-02", "{text}");
        }
    }

    #[test]
    fn era_dates_by_kanji_abbreviation_and_letter() {
        for text in [
            "昭和55年1月2日",
            "昭和５５年１月２日",
            "昭和五十五年一月二日",
            "昭55.1.2",
            "S55.1.2",
            "s55.1.2",
            "Ｓ５５．１．２",
            "S55/01/02",
            "S550102",
            "昭和55年1月2日生まれ",
        ] {
            assert_eq!(ok(text), "1980-01-02", "{text}");
        }
        assert_eq!(ok("H2/3/4"), "1990-03-04");
        assert_eq!(ok("平成2年3月4日"), "1990-03-04");
        assert_eq!(ok("令和元年5月1日"), "2019-05-01");
        assert_eq!(ok("R1.5.1"), "2019-05-01");
        assert_eq!(ok("R01.05.01"), "2019-05-01");
        assert_eq!(ok("大正15年12月24日"), "1926-12-24");
        assert_eq!(ok("T1.7.30"), "1912-07-30");
        assert_eq!(ok("明治45年7月29日"), "1912-07-29");
        assert_eq!(ok("M33.2.11"), "1900-02-11");
    }

    #[test]
    fn era_boundaries_are_checked() {
        assert_eq!(ok("昭和64年1月7日"), "1989-01-07");
        assert!(matches!(
            date("昭和64年1月8日"),
            Err(DateError::OutsideEra {
                era: Era::Showa,
                ..
            })
        ));
        assert_eq!(ok("平成元年1月8日"), "1989-01-08");
        assert!(matches!(
            date("平成元年1月7日"),
            Err(DateError::OutsideEra {
                era: Era::Heisei,
                ..
            })
        ));
        assert_eq!(ok("平成31年4月30日"), "2019-04-30");
        assert!(matches!(
            date("平成31年5月1日"),
            Err(DateError::OutsideEra { .. })
        ));
        assert!(matches!(
            date("平成32年1月1日"),
            Err(DateError::OutsideEra { .. })
        ));
        assert!(matches!(date("H32.4.1"), Err(DateError::OutsideEra { .. })));
        assert!(matches!(
            date("昭和1年12月24日"),
            Err(DateError::OutsideEra { .. })
        ));
        assert_eq!(ok("昭和元年12月25日"), "1926-12-25");
        assert!(matches!(
            date("大正15年12月25日"),
            Err(DateError::OutsideEra { .. })
        ));
        assert!(matches!(
            date("明治45年7月30日"),
            Err(DateError::OutsideEra { .. })
        ));
        assert!(matches!(
            date("令和1年4月30日"),
            Err(DateError::OutsideEra { .. })
        ));
        assert_eq!(date("明治5年1月1日"), Err(DateError::Lunisolar));
    }

    #[test]
    fn impossible_and_ambiguous_dates_are_refused() {
        assert_eq!(date("1980-02-30"), Err(DateError::NoSuchDay));
        assert_eq!(date("19801301"), Err(DateError::NoSuchDay));
        assert_eq!(ok("2000-02-29"), "2000-02-29");
        assert_eq!(date("1900-02-29"), Err(DateError::NoSuchDay));
        assert_eq!(date("80/1/2"), Err(DateError::Unrecognized));
        assert_eq!(date("1980/1"), Err(DateError::Unrecognized));
        assert_eq!(date(""), Err(DateError::Unrecognized));
        assert_eq!(date("昭和"), Err(DateError::Unrecognized));
        assert_eq!(date("X55.1.2"), Err(DateError::Unrecognized));
        assert_eq!(date("昭和0年1月1日"), Err(DateError::Unrecognized));
    }

    #[test]
    fn errors_do_not_repeat_the_date() {
        let e = date("平成32年1月1日").expect_err("outside");
        assert!(!e.to_string().contains("32"), "{e}");
    }
}
