//! Check digits of Japanese insurance and institution numbers.
//!
//! 保険者番号: the 検証番号 (8th digit of 8, 6th of 6) is computed from the
//! preceding digits by the MHLW rule (「保険者番号等の設定について」): from
//! the last digit backwards multiply alternately by 2 and 1, add the digits
//! of each product, and the check digit is 10 minus the sum's last digit (0
//! if that is 10). This is the Luhn algorithm. Known numbers hold it:
//! 01130012 (全国健康保険協会 東京支部), 130013 (千代田区 国民健康保険).
//!
//! 医療機関コード: the 7-digit 医療機関番号 ends with a 検証番号 over the
//! preceding six digits (郡市区番号 2 + 機関番号 4). The published rule for
//! it is the same modulus-10, weights 2-1 computation, which we implement
//! here; note that the JP Core example codes (e.g. 1319876543) are made up
//! and do not satisfy it.

/// The modulus-10, weights 2-1 check digit of `digits` (each 0..=9).
pub fn mod10_w21(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let p = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
            p / 10 + p % 10
        })
        .sum();
    let r = u8::try_from(sum % 10).unwrap_or(0);
    (10 - r) % 10
}

/// Whether the last digit of `number` is its modulus-10 (2-1) check digit.
/// Non-digits make it false.
pub fn is_valid(number: &str) -> bool {
    let digits: Option<Vec<u8>> = number
        .bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect();
    match digits.as_deref() {
        Some([body @ .., last]) if !body.is_empty() => mod10_w21(body) == *last,
        _ => false,
    }
}

/// Appends the check digit to a string of digits.
pub fn with_check_digit(body: &str) -> String {
    let digits: Vec<u8> = body.bytes().map(|b| b.wrapping_sub(b'0') % 10).collect();
    format!("{body}{}", mod10_w21(&digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_insurer_numbers_hold_the_rule() {
        // 協会けんぽ 東京支部 01130012, 大阪支部 01270016; 千代田区国保 130013.
        assert!(is_valid("01130012"));
        assert!(is_valid("01270016"));
        assert!(is_valid("130013"));
        assert_eq!(with_check_digit("0113001"), "01130012");
        assert_eq!(with_check_digit("13001"), "130013");
    }

    #[test]
    fn a_changed_digit_is_caught() {
        assert!(!is_valid("01130013"));
        assert!(!is_valid("01130022"));
        assert!(!is_valid("0113001x"));
        assert!(!is_valid("7"));
    }

    #[test]
    fn zero_remainder_gives_zero() {
        // 1*2 + 8*1 = 10 → remainder 0 → check digit 0.
        assert_eq!(mod10_w21(&[8, 1]), 0);
    }
}
