//! Names as compared. A Japanese person has a kanji name (漢字氏名) and a
//! kana reading (カナ氏名); the kana is what matching relies on (NDB's
//! hashed IDs use it), since kanji have variants and misreadings while a
//! reading is what the patient says at reception.
//!
//! All keys take NFKC first (full-width Latin letters and half-width kana
//! become ordinary ones) and drop separators ([`super::is_separator`]):
//! `山田　太郎`, `山田 太郎`, `山田・太郎` and `山田太郎` are one name.

use unicode_normalization::UnicodeNormalization;

use super::{is_separator, kana, variants};

/// The kana name key: NFKC, [`kana::fold`] (katakana, full-size kana, long
/// vowels written out, 四つ仮名), separators removed, Latin letters
/// lower-cased.
///
/// ```
/// use renkei_identity::normalize::name::kana_name_key;
/// assert_eq!(kana_name_key("ｻﾄｳ ｷｮｳｺ"), "サトウキヨウコ");
/// assert_eq!(kana_name_key("さとー　きょうこ"), "サトウキヨウコ");
/// ```
pub fn kana_name_key(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    kana::fold_into(text.nfkc(), &mut folded);
    folded
        .chars()
        .filter(|c| !is_separator(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The kanji name key: NFKC, variant kanji onto their common form
/// ([`variants::common_form`]), the repeat mark 々 written out (佐々木 =
/// 佐佐木), kana folded as in [`kana_name_key`] (a kanji name often has a
/// kana given name), separators removed.
///
/// ```
/// use renkei_identity::normalize::name::kanji_name_key;
/// assert_eq!(kanji_name_key("渡邊　惠"), kanji_name_key("渡辺 恵"));
/// assert_eq!(kanji_name_key("佐々木"), "佐佐木");
/// ```
pub fn kanji_name_key(text: &str) -> String {
    name_key(text)
}

/// The key of a name in any script, for linkage of files whose columns we
/// do not know: everything [`kanji_name_key`] does, and Latin letters
/// lower-cased, so `Mitchell`, `ＭＩＴＣＨＥＬＬ` and `mitchell` agree.
pub fn name_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let expanded = expand_repeat_marks(text.nfkc().map(variants::common_form));
    kana::fold_into(expanded, &mut out);
    out.retain(|c| !is_separator(c));
    if out.is_ascii() {
        out.make_ascii_lowercase();
        out
    } else {
        out.chars().flat_map(char::to_lowercase).collect()
    }
}

/// Free text (an address line, a facility name) as compared: like
/// [`name_key`], but runs of separators become one space, so that words
/// stay apart for token comparisons.
pub fn text_key(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let expanded = expand_repeat_marks(text.nfkc().map(variants::common_form));
    kana::fold_into(expanded, &mut folded);
    let mut out = String::with_capacity(folded.len());
    for word in folded.split(is_separator).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Writes out 々 (and 〻) as the kanji before it.
fn expand_repeat_marks(chars: impl Iterator<Item = char>) -> impl Iterator<Item = char> {
    let mut last = None;
    chars.map(move |c| {
        let c = match (c, last) {
            ('々' | '〻', Some(p)) => p,
            _ => c,
        };
        last = Some(c);
        c
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kana_names_in_every_spelling_meet() {
        let key = kana_name_key("タカハシ ハナコ");
        for spelling in [
            "たかはし　はなこ",
            "ﾀｶﾊｼ ﾊﾅｺ",
            "タカハシ・ハナコ",
            "タカハシハナコ",
            " タカハシ　ハナコ ",
        ] {
            assert_eq!(kana_name_key(spelling), key, "{spelling}");
        }
        assert_eq!(
            kana_name_key("サイトウ ユウコ"),
            kana_name_key("さいとう ゆーこ")
        );
        assert_eq!(kana_name_key("ハットリ"), kana_name_key("ﾊﾂﾄﾘ"));
        assert_ne!(kana_name_key("サトウ"), kana_name_key("サイトウ"));
    }

    #[test]
    fn foreign_names_in_katakana_lose_their_separators() {
        assert_eq!(
            kana_name_key("スミス＝ジョン"),
            kana_name_key("スミス・ジョン")
        );
        assert_eq!(kana_name_key("スミス ジョン"), "スミスジヨン");
    }

    #[test]
    fn kanji_names_meet_across_variants_and_repeat_marks() {
        assert_eq!(kanji_name_key("髙橋　花子"), "高橋花子");
        assert_eq!(kanji_name_key("山﨑 太郎"), kanji_name_key("山崎太郎"));
        assert_eq!(kanji_name_key("齋藤"), kanji_name_key("斉藤"));
        assert_eq!(kanji_name_key("濱田 德子"), kanji_name_key("浜田 徳子"));
        assert_eq!(kanji_name_key("佐々木"), kanji_name_key("佐佐木"));
        assert_eq!(kanji_name_key("野々村"), "野野村");
        assert_eq!(kanji_name_key("山田 さくら"), kanji_name_key("山田 サクラ"));
        assert_ne!(kanji_name_key("高橋"), kanji_name_key("髙木"));
    }

    #[test]
    fn latin_names_are_case_and_width_blind() {
        assert_eq!(name_key("ＭＩＴＣＨＥＬＬ"), "mitchell");
        assert_eq!(name_key("Mary-Anne"), "maryanne");
        assert_eq!(name_key("O'Brien"), "o'brien");
    }

    #[test]
    fn text_keeps_words_apart() {
        assert_eq!(text_key("  Wallaby   Place "), "wallaby place");
        assert_eq!(text_key("ﾒｿﾞﾝ　ｻｸﾗ"), "メゾン サクラ");
    }
}
