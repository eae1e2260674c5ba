//! Kanji numerals (漢数字) as numbers, for 三丁目, 昭和五十五年 and the
//! like. Both ways of writing them are read: with unit characters
//! (`二十三` = 23, `千二百` = 1200, `十` = 10) and positionally, digit by
//! digit (`二三` = 23, `一〇二` = 102, as in vertical addresses). The
//! 大字 of legal documents (壱, 弐, 参, 拾) count too.

/// The value of a kanji digit (〇 through 九, 零, and the 大字 壱 弐 参).
pub fn digit(c: char) -> Option<u64> {
    Some(match c {
        '〇' | '零' => 0,
        '一' | '壱' => 1,
        '二' | '弐' => 2,
        '三' | '参' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// The value of a unit character (十 拾 百 千 万).
fn unit(c: char) -> Option<u64> {
    Some(match c {
        '十' | '拾' => 10,
        '百' => 100,
        '千' => 1000,
        '万' => 10_000,
        _ => return None,
    })
}

/// Whether `c` can be part of a kanji numeral.
pub fn is_numeral(c: char) -> bool {
    digit(c).is_some() || unit(c).is_some()
}

/// The number a whole string of kanji numerals (or ASCII digits) writes;
/// `None` if it holds anything else or is empty.
///
/// ```
/// use renkei_identity::normalize::numeral::parse;
/// assert_eq!(parse("二十三"), Some(23));
/// assert_eq!(parse("一〇二"), Some(102));
/// assert_eq!(parse("55"), Some(55));
/// ```
pub fn parse(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    if !text.chars().all(is_numeral) {
        return None;
    }
    if !text.chars().any(|c| unit(c).is_some()) {
        // Positional: 一〇二 = 102.
        return text
            .chars()
            .try_fold(0u64, |n, c| n.checked_mul(10)?.checked_add(digit(c)?));
    }
    // With units: 千二百三十四 = 1234; a unit without a digit before it
    // counts once (十 = 10, 百五 = 105); 万 scales what came before it.
    let mut total = 0u64;
    let mut section = 0u64;
    let mut pending: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = digit(c) {
            // Two digits in a row (二三十) is not a number.
            if pending.is_some() {
                return None;
            }
            pending = Some(d);
        } else if let Some(u) = unit(c) {
            if u == 10_000 {
                section += pending.take().unwrap_or(0);
                total += section.max(1) * u;
                section = 0;
            } else {
                section += pending.take().unwrap_or(1) * u;
            }
        }
    }
    Some(total + section + pending.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerals_with_units() {
        assert_eq!(parse("十"), Some(10));
        assert_eq!(parse("十二"), Some(12));
        assert_eq!(parse("二十"), Some(20));
        assert_eq!(parse("五十五"), Some(55));
        assert_eq!(parse("百五"), Some(105));
        assert_eq!(parse("千二百三十四"), Some(1234));
        assert_eq!(parse("一万二千"), Some(12_000));
        assert_eq!(parse("参拾壱"), Some(31), "大字 of legal documents");
    }

    #[test]
    fn positional_numerals() {
        assert_eq!(parse("一〇二"), Some(102));
        assert_eq!(parse("二三"), Some(23));
        assert_eq!(parse("〇"), Some(0));
    }

    #[test]
    fn not_numbers() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("三鷹"), None);
        assert_eq!(parse("二三十"), None);
        assert_eq!(parse("1二"), None);
    }
}
