//! How providers disagree about the same person: the distortions a real
//! EHR's patient record shows, at configurable rates.
//!
//! Each provider draws its own distortions once per person, so two
//! providers usually, but not always, agree; the kinds are those a record
//! linkage must survive in Japan: 異体字 (髙/高, 﨑/崎, 邊/辺, 齋/斎), kana
//! typos (voicing, small kana, long vowels), half-width kana from old
//! systems, full-width digits, missing fields, and true changes over time
//! (moves, a new insurer after a job change) which [`crate::person`] models.

use rand::Rng;

use crate::sample::chance;

/// Rates of the disagreements, each a probability in 0..=1.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRates {
    /// A provider writes a surname with a variant kanji, if it has one.
    pub kanji_variant: f64,
    /// A provider's kana has one typo.
    pub kana_typo: f64,
    /// A provider writes kana in half-width (ｻﾄｳ ﾀﾛｳ).
    pub halfwidth_kana: f64,
    /// A provider has no kana name.
    pub missing_kana: f64,
    /// A provider has no birth date.
    pub missing_birth_date: f64,
    /// A provider has no address.
    pub missing_address: f64,
    /// A provider has no insurance (no Coverage, no insurance identifier).
    pub missing_insurance: f64,
    /// A provider writes insurance numbers in full-width digits.
    pub fullwidth_digits: f64,
    /// A person moves during the window.
    pub moved: f64,
    /// A working person changes insurer during the window.
    pub job_change: f64,
    /// A woman aged 20–49 marries and takes a new surname during the window.
    pub surname_change: f64,
}

impl Default for VariantRates {
    /// Rates in the range reported for Japanese hospital master files
    /// (a few percent of records per kind of error).
    fn default() -> Self {
        Self {
            kanji_variant: 0.3,
            kana_typo: 0.03,
            halfwidth_kana: 0.05,
            missing_kana: 0.03,
            missing_birth_date: 0.005,
            missing_address: 0.05,
            missing_insurance: 0.03,
            fullwidth_digits: 0.1,
            moved: 0.08,
            job_change: 0.1,
            surname_change: 0.05,
        }
    }
}

impl VariantRates {
    /// No disagreement at all (every provider has the true attributes).
    pub fn none() -> Self {
        Self {
            kanji_variant: 0.0,
            kana_typo: 0.0,
            halfwidth_kana: 0.0,
            missing_kana: 0.0,
            missing_birth_date: 0.0,
            missing_address: 0.0,
            missing_insurance: 0.0,
            fullwidth_digits: 0.0,
            moved: 0.0,
            job_change: 0.0,
            surname_change: 0.0,
        }
    }
}

/// Common kanji and their 異体字 as found in name registers.
const KANJI_VARIANTS: &[(char, char)] = &[
    ('高', '髙'),
    ('崎', '﨑'),
    ('辺', '邊'),
    ('斎', '齋'),
    ('斉', '齊'),
    ('沢', '澤'),
    ('浜', '濱'),
    ('島', '嶋'),
    ('桜', '櫻'),
    ('広', '廣'),
    ('吉', '𠮷'),
];

/// Whether `s` has a kanji with a variant in the table.
pub fn has_kanji_variant(s: &str) -> bool {
    s.chars()
        .any(|c| KANJI_VARIANTS.iter().any(|&(a, _)| a == c))
}

/// `s` with every kanji that has a variant replaced by it.
pub fn kanji_variant(s: &str) -> String {
    s.chars()
        .map(|c| {
            KANJI_VARIANTS
                .iter()
                .find(|&&(a, _)| a == c)
                .map_or(c, |&(_, b)| b)
        })
        .collect()
}

/// Kana pairs a clerk confuses: voicing, small kana, ズ/ヅ, ジ/ヂ.
const KANA_CONFUSIONS: &[(char, char)] = &[
    ('カ', 'ガ'),
    ('キ', 'ギ'),
    ('ク', 'グ'),
    ('コ', 'ゴ'),
    ('サ', 'ザ'),
    ('シ', 'ジ'),
    ('ス', 'ズ'),
    ('タ', 'ダ'),
    ('ト', 'ド'),
    ('ハ', 'バ'),
    ('ホ', 'ボ'),
    ('ツ', 'ッ'),
    ('ヤ', 'ャ'),
    ('ユ', 'ュ'),
    ('ヨ', 'ョ'),
    ('ズ', 'ヅ'),
    ('ジ', 'ヂ'),
    ('オ', 'ウ'),
];

/// `s` with one kana typo: a confused pair, a long vowel (ウ→ー after an
/// o-row kana), or a dropped character. Returns `s` unchanged only if it
/// has fewer than two characters.
pub fn kana_typo(s: &str, rng: &mut impl Rng) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 2 {
        return s.to_owned();
    }
    let candidates: Vec<usize> = chars
        .iter()
        .enumerate()
        .filter(|(_, c)| KANA_CONFUSIONS.iter().any(|&(a, b)| a == **c || b == **c) || **c == 'ウ')
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() || chance(rng, 0.15) {
        // Drop a character that is not a space.
        let i = rng.gen_range(0..chars.len());
        if chars[i] != ' ' && chars[i] != '\u{3000}' {
            chars.remove(i);
            return chars.into_iter().collect();
        }
    }
    if let Some(&i) = candidates.get(rng.gen_range(0..candidates.len().max(1))) {
        let c = chars[i];
        chars[i] = if c == 'ウ' && chance(rng, 0.7) {
            'ー'
        } else {
            KANA_CONFUSIONS
                .iter()
                .find_map(|&(a, b)| (a == c).then_some(b).or((b == c).then_some(a)))
                .unwrap_or(c)
        };
    }
    let out: String = chars.into_iter().collect();
    if out == s {
        // Nothing confusable changed it: drop the last character instead.
        let mut v: Vec<char> = s.chars().collect();
        v.pop();
        return v.into_iter().collect();
    }
    out
}

/// Full-width katakana to half-width (JIS X 0201), as older systems store
/// it: voiced kana become a base kana and ﾞ.
pub fn halfwidth_kana(s: &str) -> String {
    const FULL: &str = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンァィゥェォッャュョー";
    const HALF: &str = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｯｬｭｮｰ";
    const VOICED: &str = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ";
    const VOICED_BASE: &str = "カキクケコサシスセソタチツテトハヒフヘホ";
    const SEMI: &str = "パピプペポ";
    const SEMI_BASE: &str = "ハヒフヘホ";
    let half = |c: char| {
        FULL.chars()
            .position(|f| f == c)
            .and_then(|i| HALF.chars().nth(i))
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(i) = VOICED.chars().position(|v| v == c)
            && let Some(h) = VOICED_BASE.chars().nth(i).and_then(half)
        {
            out.push(h);
            out.push('ﾞ');
            continue;
        }
        if let Some(i) = SEMI.chars().position(|v| v == c)
            && let Some(h) = SEMI_BASE.chars().nth(i).and_then(half)
        {
            out.push(h);
            out.push('ﾟ');
            continue;
        }
        match c {
            '\u{3000}' => out.push(' '),
            _ => out.push(half(c).unwrap_or(c)),
        }
    }
    out
}

/// ASCII digits (and '-') to full-width, as some systems store numbers.
pub fn fullwidth_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap_or(c),
            '-' => '－',
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn kanji_variants_replace_known_characters() {
        assert_eq!(kanji_variant("高橋"), "髙橋");
        assert_eq!(kanji_variant("山崎"), "山﨑");
        assert_eq!(kanji_variant("渡辺"), "渡邊");
        assert_eq!(kanji_variant("斎藤"), "齋藤");
        assert!(!has_kanji_variant("佐藤"));
        assert!(has_kanji_variant("高橋"));
    }

    #[test]
    fn a_kana_typo_always_changes_the_kana() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for s in ["サトウ", "タナカ", "イイダ", "リン", "ミヅキ", "ヒロシ"] {
            for _ in 0..50 {
                assert_ne!(kana_typo(s, &mut rng), s);
            }
        }
    }

    #[test]
    fn halfwidth_kana_splits_voicing_marks() {
        assert_eq!(halfwidth_kana("ヤマダ　タロウ"), "ﾔﾏﾀﾞ ﾀﾛｳ");
        assert_eq!(halfwidth_kana("ペン"), "ﾍﾟﾝ");
    }

    #[test]
    fn fullwidth_digits_converts_ascii_digits() {
        assert_eq!(fullwidth_digits("12-34"), "１２－３４");
    }
}
