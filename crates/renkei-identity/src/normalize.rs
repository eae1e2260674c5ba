//! Normalization of identifiers before they are compared or tokenized:
//! Unicode NFKC (full-width digits and letters become ASCII: `１２３` →
//! `123`), then separators removed. Names, dates and addresses get their own
//! rules with the identity issue.

use unicode_normalization::UnicodeNormalization;

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
}
