//! Normalization of identifying attributes before they are compared or
//! tokenized. Two records of one person rarely spell things the same way:
//! full-width digits at one hospital, half-width kana at another, 髙橋 on the
//! insurance card and 高橋 at the pharmacy, 昭和55年 on a form and
//! 1980-01-02 in an HL7 feed. Every rule here maps such variants onto one
//! form, and each has tests with real examples.
//!
//! - [`identifier`], [`insurance_key`]: numbers and codes (NFKC, separators
//!   removed).
//! - [`kana`]: hiragana→katakana, small kana, long-vowel marks, 四つ仮名.
//! - [`variants`]: old and variant kanji (異体字) onto their common form.
//! - [`name`]: the kana name key and the kanji name key of a person, and
//!   [`name::name_key`] for a name in any script (CSV linkage).
//! - [`address`]: 〒, prefecture, municipality, town, and 丁目/番地/号 as
//!   `3-4-5`.
//! - [`date`]: 西暦 and 和暦 dates (with era boundaries) as `YYYY-MM-DD`.
//! - [`numeral`]: kanji numerals (`二十三`, `一〇二`) as numbers.
//!
//! ```
//! use renkei_identity::normalize::{date, name};
//! assert_eq!(name::kana_name_key("さとう　けーこ"), name::kana_name_key("ｻﾄｳ ｹｲｺ"));
//! assert_eq!(name::kanji_name_key("髙橋 﨑子"), "高橋崎子");
//! assert_eq!(date::date_iso("昭和55年1月2日").as_deref(), Ok("1980-01-02"));
//! ```

pub mod address;
pub mod date;
pub mod kana;
pub mod name;
pub mod numeral;
pub mod variants;

use unicode_normalization::UnicodeNormalization;

/// Separators people put inside names and codes: spaces (ASCII and
/// 全角空白, which NFKC makes ASCII), 中黒 `・`, the double hyphen `＝` of
/// foreign names in katakana, hyphens and dashes, dots and commas.
pub fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '・' | '･'
                | '='
                | '＝'
                | '゠'
                | '-'
                | '‐'
                | '‑'
                | '–'
                | '—'
                | '―'
                | '−'
                | '.'
                | ','
                | '、'
        )
}

/// An identifier as compared: NFKC, without spaces, hyphens (ASCII and
/// Japanese long/short dashes) or dots, upper-cased.
///
/// ```
/// use renkei_identity::normalize::identifier;
/// assert_eq!(identifier("０６１３ー００４５"), "06130045");
/// assert_eq!(identifier(" ab-12 "), "AB12");
/// ```
pub fn identifier(text: &str) -> String {
    text.nfkc()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '‐' | '－' | 'ー' | '―' | '.' | '・'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// The insurance identity of a person: 保険者番号, 記号, 番号, 枝番, each
/// normalized; `None` unless at least the insurer and the number are given.
/// The 枝番 is kept because family members share everything else.
pub fn insurance_key(
    insurer: Option<&str>,
    symbol: Option<&str>,
    number: Option<&str>,
    branch: Option<&str>,
) -> Option<String> {
    let insurer = identifier(insurer?);
    let number = identifier(number?);
    if insurer.is_empty() || number.is_empty() {
        return None;
    }
    let symbol = symbol.map(identifier).unwrap_or_default();
    let branch = branch.map(identifier).unwrap_or_default();
    Some(format!("{insurer}|{symbol}|{number}|{branch}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_separators_do_not_matter() {
        assert_eq!(identifier("１２ー３４"), identifier("12-34"));
        assert_eq!(identifier("記号　ＡＢ"), "記号AB");
    }

    #[test]
    fn insurance_needs_insurer_and_number_and_keeps_the_branch() {
        assert_eq!(insurance_key(Some("06130045"), None, None, None), None);
        let a = insurance_key(Some("06130045"), Some("12"), Some("3456"), Some("01"));
        let b = insurance_key(
            Some("０６１３００４５"),
            Some("１２"),
            Some("３４５６"),
            Some("０１"),
        );
        assert_eq!(a, b);
        let sibling = insurance_key(Some("06130045"), Some("12"), Some("3456"), Some("02"));
        assert_ne!(a, sibling, "family members differ only by 枝番");
    }

    #[test]
    fn separators_include_nakaguro_and_double_hyphen() {
        for c in ['・', '＝', '=', ' ', '\u{3000}', '-', '―'] {
            assert!(is_separator(c), "{c:?}");
        }
        assert!(
            !is_separator('ー'),
            "the long-vowel mark is a letter in kana"
        );
    }
}
