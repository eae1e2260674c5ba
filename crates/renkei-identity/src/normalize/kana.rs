//! Kana as compared. The same name reaches us as ひらがな from a reception
//! form, カタカナ from a 電子カルテ, half-width ｶﾀｶﾅ from a レセコン, with
//! small kana typed large (キヨウコ for キョウコ, old systems had no small
//! kana) and long vowels written three ways (サトウ, サトー, サトオ).
//! [`fold`] maps all of these onto one katakana spelling:
//!
//! 1. hiragana → katakana (`さとう` → `サトウ`); half-width katakana
//!    become full-width by NFKC, which the callers apply first;
//! 2. iteration marks repeat the kana before them (`サヽキ` → `ササキ`,
//!    `ミスヾ` → `ミスズ`);
//! 3. small kana → full size (`ァ→ア`, `ッ→ツ`, `ャ→ヤ`, `ヮ→ワ`, `ヵ→カ`,
//!    `ヶ→ケ`), since many systems cannot write them;
//! 4. 四つ仮名 and obsolete kana: `ヂ→ジ`, `ヅ→ズ`, `ヲ→オ`, `ヰ→イ`,
//!    `ヱ→エ`, `ヴ→ブ` (ツヅキ and ツズキ are the same 都筑);
//! 5. long vowels: `ー` (and a hyphen or tilde typed after a kana) becomes
//!    the vowel it lengthens, written as the kana spelling would — イ after
//!    an e-row kana (`ケーコ` → `ケイコ`), ウ after an o-row kana
//!    (`サトー` → `サトウ`), else the vowel itself (`マーヤ` → `マアヤ`);
//!    and オ after an o-row kana is ウ too (`オオノ`, `オーノ` → `オウノ`),
//!    because romanized registers write both as "Ono"/"Ohno".
//!
//! Anything else passes through unchanged.

/// The katakana of a hiragana (ぁ–ゖ, ゝ, ゞ); other characters unchanged.
pub fn katakana(c: char) -> char {
    match c {
        '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
            char::from_u32(c as u32 + 0x60).expect("hiragana + 0x60 is katakana")
        }
        _ => c,
    }
}

/// The full-size kana of a small one (katakana; apply [`katakana`] first).
pub fn full_size(c: char) -> char {
    match c {
        'ァ' => 'ア',
        'ィ' => 'イ',
        'ゥ' => 'ウ',
        'ェ' => 'エ',
        'ォ' => 'オ',
        'ッ' => 'ツ',
        'ャ' => 'ヤ',
        'ュ' => 'ユ',
        'ョ' => 'ヨ',
        'ヮ' => 'ワ',
        'ヵ' => 'カ',
        'ヶ' => 'ケ',
        // Katakana phonetic extensions (Ainu): small ク, シ, ス, ト, ヌ, ハ…
        'ㇰ' => 'ク',
        'ㇱ' => 'シ',
        'ㇲ' => 'ス',
        'ㇳ' => 'ト',
        'ㇴ' => 'ヌ',
        'ㇵ' => 'ハ',
        'ㇶ' => 'ヒ',
        'ㇷ' => 'フ',
        'ㇸ' => 'ヘ',
        'ㇹ' => 'ホ',
        'ㇺ' => 'ム',
        'ㇻ' => 'ラ',
        'ㇼ' => 'リ',
        'ㇽ' => 'ル',
        'ㇾ' => 'レ',
        'ㇿ' => 'ロ',
        _ => c,
    }
}

/// The vowel a full-size katakana ends in: `'a'`, `'i'`, `'u'`, `'e'`,
/// `'o'`; `None` for ン, ッ and non-kana.
pub fn vowel(c: char) -> Option<char> {
    Some(match c {
        'ア' | 'カ' | 'ガ' | 'サ' | 'ザ' | 'タ' | 'ダ' | 'ナ' | 'ハ' | 'バ' | 'パ' | 'マ'
        | 'ヤ' | 'ラ' | 'ワ' | 'ァ' | 'ャ' | 'ヮ' | 'ヵ' | 'ヷ' => 'a',
        'イ' | 'キ' | 'ギ' | 'シ' | 'ジ' | 'チ' | 'ヂ' | 'ニ' | 'ヒ' | 'ビ' | 'ピ' | 'ミ'
        | 'リ' | 'ヰ' | 'ィ' | 'ヸ' => 'i',
        'ウ' | 'ク' | 'グ' | 'ス' | 'ズ' | 'ツ' | 'ヅ' | 'ヌ' | 'フ' | 'ブ' | 'プ' | 'ム'
        | 'ユ' | 'ル' | 'ヴ' | 'ゥ' | 'ュ' => 'u',
        'エ' | 'ケ' | 'ゲ' | 'セ' | 'ゼ' | 'テ' | 'デ' | 'ネ' | 'ヘ' | 'ベ' | 'ペ' | 'メ'
        | 'レ' | 'ヱ' | 'ェ' | 'ヶ' | 'ヹ' => 'e',
        'オ' | 'コ' | 'ゴ' | 'ソ' | 'ゾ' | 'ト' | 'ド' | 'ノ' | 'ホ' | 'ボ' | 'ポ' | 'モ'
        | 'ヨ' | 'ロ' | 'ヲ' | 'ォ' | 'ョ' | 'ヺ' => 'o',
        _ => return None,
    })
}

/// Whether `c` is a katakana letter (after folding), which makes a
/// following hyphen a long-vowel mark.
fn is_katakana_letter(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}')
}

/// Marks that lengthen the vowel before them: ー, and what people type
/// for it (hyphens, dashes, a wave dash) when they follow a kana.
fn is_long_mark(c: char) -> bool {
    matches!(
        c,
        'ー' | 'ｰ' | '-' | '‐' | '‑' | '−' | '―' | '─' | '~' | '〜' | '～'
    )
}

/// 四つ仮名 and obsolete kana onto the ones in use.
fn modern(c: char) -> char {
    match c {
        'ヂ' => 'ジ',
        'ヅ' => 'ズ',
        'ヲ' => 'オ',
        'ヰ' => 'イ',
        'ヱ' => 'エ',
        'ヴ' => 'ブ',
        'ヷ' => 'バ',
        'ヸ' => 'ビ',
        'ヹ' => 'ベ',
        'ヺ' => 'ボ',
        _ => c,
    }
}

/// Appends the folded form of `chars` (already NFKC) to `out`; see the
/// module doc for the rules.
pub fn fold_into(chars: impl IntoIterator<Item = char>, out: &mut String) {
    // The last kana written, before its 四つ仮名 fold, so that ヾ after ツ
    // gives ヅ → ズ and the vowel of ヲ is known.
    let mut last: Option<char> = None;
    for c in chars {
        let c = katakana(c);
        let c = match c {
            // Iteration marks: repeat the kana before, voiced for ヾ.
            'ヽ' => match last {
                Some(p) => p,
                None => continue,
            },
            'ヾ' => match last.and_then(|p| unicode_normalization::char::compose(p, '\u{3099}')) {
                Some(v) => v,
                None => match last {
                    Some(p) => p,
                    None => continue,
                },
            },
            _ => c,
        };
        let c = full_size(c);
        if is_long_mark(c) {
            match last.and_then(vowel) {
                Some(v) => {
                    let k = lengthening(v);
                    out.push(k);
                    last = Some(k);
                }
                // ー after ン or ッ or at the start carries nothing;
                // a hyphen between non-kana is the caller's separator.
                None if c == 'ー' || c == 'ｰ' => {}
                None => {
                    out.push(c);
                    last = None;
                }
            }
            continue;
        }
        if c == 'オ' && last.and_then(vowel) == Some('o') {
            out.push('ウ');
            last = Some('ウ');
            continue;
        }
        out.push(modern(c));
        last = is_katakana_letter(c).then_some(c);
    }
}

/// The kana that spells a long vowel after a kana ending in `v`.
fn lengthening(v: char) -> char {
    match v {
        'a' => 'ア',
        'i' | 'e' => 'イ',
        _ => 'ウ',
    }
}

/// [`fold_into`] a new string.
///
/// ```
/// use renkei_identity::normalize::kana::fold;
/// assert_eq!(fold("さとう"), "サトウ");
/// assert_eq!(fold("サトー"), "サトウ");
/// assert_eq!(fold("キョウコ"), fold("キヨウコ"));
/// ```
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text.chars(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    fn nfkc_fold(s: &str) -> String {
        let mut out = String::new();
        fold_into(s.nfkc(), &mut out);
        out
    }

    #[test]
    fn hiragana_and_half_width_katakana_meet_katakana() {
        assert_eq!(nfkc_fold("やまだ たろう"), "ヤマダ タロウ");
        assert_eq!(nfkc_fold("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダ タロウ");
        assert_eq!(nfkc_fold("ﾊﾟﾝ"), "パン", "half-width handakuten composes");
        assert_eq!(katakana('ゔ'), 'ヴ');
    }

    #[test]
    fn small_kana_fold_to_full_size() {
        // Old レセコン without small kana wrote キヨウコ for キョウコ.
        assert_eq!(nfkc_fold("キョウコ"), nfkc_fold("キヨウコ"));
        assert_eq!(nfkc_fold("ハットリ"), "ハツトリ");
        assert_eq!(nfkc_fold("シュウジ"), nfkc_fold("シユウジ"));
        assert_eq!(nfkc_fold("クヮ"), "クワ");
        assert_eq!(nfkc_fold("ヵヶ"), "カケ");
        assert_eq!(nfkc_fold("ファン"), "フアン");
        assert_eq!(nfkc_fold("ｷｮｳｺ"), nfkc_fold("きょうこ"));
    }

    #[test]
    fn long_vowels_are_written_as_kana_spell_them() {
        assert_eq!(nfkc_fold("サトー"), "サトウ");
        assert_eq!(nfkc_fold("サトウ"), "サトウ");
        assert_eq!(nfkc_fold("さとお"), "サトウ");
        assert_eq!(nfkc_fold("ユーコ"), "ユウコ");
        assert_eq!(nfkc_fold("ケーコ"), "ケイコ");
        assert_eq!(nfkc_fold("マーヤ"), "マアヤ");
        assert_eq!(nfkc_fold("ニーナ"), "ニイナ");
        assert_eq!(nfkc_fold("オーノ"), nfkc_fold("オオノ"));
        assert_eq!(nfkc_fold("キョーコ"), nfkc_fold("きょうこ"));
        // What people type for ー after a kana.
        assert_eq!(nfkc_fold("サト－"), "サトウ");
        assert_eq!(nfkc_fold("ｻﾄｰ"), "サトウ");
        assert_eq!(nfkc_fold("ユ～コ"), "ユウコ");
        // ー with nothing to lengthen carries nothing; a hyphen between
        // digits stays for the caller.
        assert_eq!(nfkc_fold("ンー"), "ン");
        assert_eq!(nfkc_fold("12-34"), "12-34");
    }

    #[test]
    fn yotsugana_and_obsolete_kana_fold() {
        assert_eq!(nfkc_fold("ツヅキ"), nfkc_fold("つずき"));
        assert_eq!(nfkc_fold("チヂワ"), "チジワ");
        assert_eq!(nfkc_fold("ヲノ"), nfkc_fold("オノ"));
        assert_eq!(nfkc_fold("ヱミ"), "エミ");
        assert_eq!(nfkc_fold("ヴィヴィアン"), "ブイブイアン");
    }

    #[test]
    fn iteration_marks_repeat_the_kana_before() {
        assert_eq!(nfkc_fold("さゝき"), "ササキ");
        assert_eq!(nfkc_fold("ミスヾ"), "ミスズ");
        assert_eq!(nfkc_fold("いすゞ"), "イスズ");
        assert_eq!(nfkc_fold("ヽ"), "", "nothing to repeat");
    }
}
