//! Japanese addresses as compared: 〒 postcode, 都道府県, 市区町村, town
//! (町名・大字・字), block numbers (丁目・番地・号) and the rest (building,
//! room).
//!
//! The same home is written `東京都新宿区四谷三丁目4番5号`,
//! `新宿区四谷3-4-5`, `東京都新宿区四谷３丁目４－５　メゾン四谷101` and so
//! on. [`parse`] splits any of these into the same parts, so that two
//! addresses can agree on the prefecture, the municipality, the town or
//! everything ([`Address::key`]). Block numbers become one canonical
//! form, the numbers joined by hyphens (`3丁目4番5号`, `三丁目4-5`,
//! `3-4-5`, `3の4の5` → `3-4-5`), with kanji numerals read as numbers
//! (`二十三番地` → `23`).
//!
//! Without a gazetteer (the 全国地方公共団体コード list would be the right
//! source) the municipality is found by its suffix — the shortest prefix
//! ending in 市, 区, 町 or 村, after a 郡 if any, with the ward of a
//! 政令指定都市 kept (`横浜市中区`) — and a table of the municipalities
//! whose names hold such a character before their end (四日市市, 十日町市,
//! 東村山市 …). A municipality missing from that table is cut short in
//! every record alike, so comparisons still agree.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::{numeral, variants};

/// Municipalities whose names contain 市, 区, 町 or 村 before their end,
/// which the suffix rule would cut short.
const INNER_SUFFIX_MUNICIPALITIES: &[&str] = &[
    "四日市市",
    "廿日市市",
    "野々市市",
    "十日町市",
    "大町市",
    "大町町",
    "東村山市",
    "武蔵村山市",
    "羽村市",
    "田村市",
    "大村市",
    "玉村町",
    "上市町",
    "下市町",
    "東村山郡",
    "北村山郡",
    "西村山郡",
];

/// A prefecture (都道府県): shared vocabulary, from `renkei-core`.
pub use renkei_core::Prefecture;

/// An address split into its parts, each normalized. `Debug` shows only
/// the prefecture.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// The 7-digit postcode, if the text began with one (`〒160-0004`).
    pub postcode: Option<String>,
    /// The prefecture, written or implied by a city of its name
    /// (`京都市…` is in 京都府).
    pub prefecture: Option<Prefecture>,
    /// 市区町村, with the 郡 of a town or village and the ward of a
    /// 政令指定都市 (`横浜市中区`, `西多摩郡瑞穂町`).
    pub municipality: Option<String>,
    /// 町名・大字・字 without 大字/字 and without spaces (`四谷`).
    pub town: String,
    /// 丁目・番地・号 as numbers joined by `-` (`3-4-5`).
    pub block: Option<String>,
    /// What follows: building, floor, room.
    pub building: String,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("prefecture", &self.prefecture)
            .finish_non_exhaustive()
    }
}

impl Address {
    /// The address as compared: prefecture, municipality, town and block,
    /// joined by `|`; without the postcode (often absent or stale) and the
    /// building (often left out). Empty when no part was found, so that a
    /// missing address is missing, not a value every such record shares.
    ///
    /// ```
    /// use renkei_identity::normalize::address::parse;
    /// assert_eq!(parse("").key(), "");
    /// assert_ne!(parse("東京都新宿区西新宿2-8-1").key(), "");
    /// ```
    pub fn key(&self) -> String {
        if self.prefecture.is_none()
            && self.municipality.is_none()
            && self.town.is_empty()
            && self.block.is_none()
        {
            return String::new();
        }
        format!(
            "{}|{}|{}|{}",
            self.prefecture.map(Prefecture::name).unwrap_or_default(),
            self.municipality.as_deref().unwrap_or_default(),
            self.town,
            self.block.as_deref().unwrap_or_default()
        )
    }
}

/// The prefecture an address text starts with, and the rest. A city that
/// bears its prefecture's name implies it (`京都市` → 京都府) and is kept
/// in the rest.
///
/// ```
/// use renkei_identity::normalize::address::prefecture;
/// let (p, rest) = prefecture("東京都新宿区四谷").unwrap();
/// assert_eq!((p.code(), rest), (13, "新宿区四谷"));
/// ```
pub fn prefecture(text: &str) -> Option<(Prefecture, &str)> {
    for p in Prefecture::all() {
        if let Some(rest) = text.strip_prefix(p.name()) {
            return Some((p, rest));
        }
    }
    Prefecture::all().find_map(|p| {
        text.strip_prefix(p.short_name())
            .filter(|rest| rest.starts_with('市'))
            .map(|_| (p, text))
    })
}

/// Splits an address into its parts; see the module doc. Never fails: a
/// text that is no address gives its whole normalized text as the town.
///
/// ```
/// use renkei_identity::normalize::address::parse;
/// let a = parse("〒160-0004 東京都新宿区四谷三丁目4番5号 メゾン四谷101");
/// assert_eq!(a.postcode.as_deref(), Some("1600004"));
/// assert_eq!(a.municipality.as_deref(), Some("新宿区"));
/// assert_eq!(a.town, "四谷");
/// assert_eq!(a.block.as_deref(), Some("3-4-5"));
/// assert_eq!(a.building, "メゾン四谷101");
/// assert_eq!(a.key(), parse("新宿区四谷3-4-5").key().replacen('|', "東京都|", 1));
/// ```
pub fn parse(text: &str) -> Address {
    let text = prepare(text);
    let mut rest = text.trim();
    let mut address = Address::default();

    if let Some((code, after)) = postcode(rest) {
        address.postcode = Some(code);
        rest = after.trim_start();
    }
    if let Some((p, after)) = prefecture(rest) {
        address.prefecture = Some(p);
        rest = after.trim_start();
    }
    if let Some((m, after)) = municipality(rest) {
        address.municipality = Some(m.chars().filter(|c| !c.is_whitespace()).collect());
        rest = after.trim_start();
    }
    let (town, block, building) = town_and_block(rest);
    let town: String = town.chars().filter(|c| !c.is_whitespace()).collect();
    let town = town
        .strip_prefix("大字")
        .or_else(|| town.strip_prefix('字'))
        .unwrap_or(&town);
    address.town = town.to_owned();
    address.block = block;
    address.building = building.trim().to_owned();
    address
}

/// NFKC, variant kanji, and the kana that join place names written three
/// ways: ヶ/ケ/が/ガ between kanji as ケ (霞ヶ関 = 霞が関 = 霞ケ関), の/ノ/之
/// as ノ (井の頭 = 井ノ頭); spaces collapsed.
fn prepare(text: &str) -> String {
    let chars: Vec<char> = text.nfkc().map(variants::common_form).collect();
    let is_kanji = |c: Option<&char>| {
        c.is_some_and(|c| matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '々'))
    };
    let mut out = String::with_capacity(text.len());
    let mut last_space = false;
    for (i, &c) in chars.iter().enumerate() {
        let between = i > 0 && is_kanji(chars.get(i - 1)) && is_kanji(chars.get(i + 1));
        let c = match c {
            'ヶ' | 'ケ' | 'が' | 'ガ' | 'ヵ' if between => 'ケ',
            'の' | 'ノ' | '之' if between => 'ノ',
            c => c,
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

/// A leading postcode: optional 〒, three digits, optional hyphen, four
/// digits.
fn postcode(text: &str) -> Option<(String, &str)> {
    let text = text.strip_prefix('〒').unwrap_or(text).trim_start();
    let digits =
        |s: &str, n: usize| s.len() >= n && s.as_bytes()[..n].iter().all(u8::is_ascii_digit);
    if !digits(text, 3) {
        return None;
    }
    let after3 = &text[3..];
    let after_hyphen = after3.strip_prefix(['-', 'ー', '‐', '−']).unwrap_or(after3);
    if !digits(after_hyphen, 4) {
        return None;
    }
    let rest = &after_hyphen[4..];
    if rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((format!("{}{}", &text[..3], &after_hyphen[..4]), rest))
}

/// The municipality at the start of `text` and the rest.
fn municipality(text: &str) -> Option<(&str, &str)> {
    let mut start = text;
    let mut taken = 0;
    // A 郡 first (西多摩郡瑞穂町); not 郡山市, whose 郡 comes first.
    if let Some(g) = INNER_SUFFIX_MUNICIPALITIES
        .iter()
        .find(|m| m.ends_with('郡') && text.starts_with(**m))
    {
        taken = g.len();
    } else if let Some(i) = suffix_position(text, &['郡'], 5) {
        taken = i;
    }
    start = &start[taken..];
    let end = if let Some(m) = INNER_SUFFIX_MUNICIPALITIES
        .iter()
        .find(|m| !m.ends_with('郡') && start.starts_with(**m))
    {
        m.len()
    } else {
        suffix_position(start, &['市', '区', '町', '村'], 7)?
    };
    let mut end = taken + end;
    // The ward of a 政令指定都市: 横浜市中区, 名古屋市中村区.
    if text[..end].ends_with('市')
        && let Some(w) = suffix_position(&text[end..], &['区'], 4)
    {
        end += w;
    }
    Some((&text[..end], &text[end..]))
}

/// The byte position just after the first of `suffixes` that has at least
/// one character before it, within the first `max_chars` characters.
fn suffix_position(text: &str, suffixes: &[char], max_chars: usize) -> Option<usize> {
    text.char_indices()
        .take(max_chars)
        .skip(1)
        .find(|(_, c)| suffixes.contains(c))
        .map(|(i, c)| i + c.len_utf8())
}

/// Splits what follows the municipality into town, canonical block and
/// building.
fn town_and_block(text: &str) -> (&str, Option<String>, &str) {
    let mut i = 0;
    while i < text.len() {
        if let Some((numbers, end)) = block_at(text, i) {
            return (&text[..i], Some(numbers), &text[end..]);
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    (text, None, "")
}

/// A number at `i`: ASCII digits or kanji numerals. Returns its value and
/// where it ends.
fn number_at(text: &str, i: usize) -> Option<(u64, usize, bool)> {
    let rest = &text[i..];
    let first = rest.chars().next()?;
    let kanji = !first.is_ascii_digit();
    if kanji && !numeral::is_numeral(first) {
        return None;
    }
    let len: usize = rest
        .chars()
        .take_while(|&c| {
            if kanji {
                numeral::is_numeral(c)
            } else {
                c.is_ascii_digit()
            }
        })
        .map(char::len_utf8)
        .sum();
    Some((numeral::parse(&rest[..len])?, i + len, kanji))
}

/// Words that end a number of the block (丁目, 番地 …), longest first.
const BLOCK_WORDS: &[&str] = &["丁目", "番地", "地割", "番", "号", "の", "ノ"];
/// Hyphens as written between block numbers (ー is what an IME gives
/// between full-width digits).
const HYPHENS: &[char] = &['-', 'ー', '‐', '−', '―', 'ｰ'];
/// What after a number makes it part of the building, not the block.
const BUILDING_WORDS: &[&str] = &["号室", "号棟", "号館", "室", "階", "F", "f", "棟"];

/// The block starting at byte `i`, if one starts there: its canonical
/// form and where it ends.
fn block_at(text: &str, i: usize) -> Option<(String, usize)> {
    let mut numbers: Vec<u64> = Vec::new();
    let mut pos = i;
    while let Some((n, end, kanji)) = number_at(text, pos) {
        let after = &text[end..];
        if BUILDING_WORDS.iter().any(|w| after.starts_with(w)) {
            break;
        }
        let word = BLOCK_WORDS.iter().find(|w| after.starts_with(**w));
        // Kanji numerals start a block only before 丁目, 番地, 番 or 号:
        // 三鷹, 八王子 and 四谷 are names. 一番町 and 二番町 are towns.
        if numbers.is_empty() && kanji {
            let w = word.filter(|w| !matches!(**w, "の" | "ノ"))?;
            if after[w.len()..].starts_with(['町', '丁']) {
                return None;
            }
        }
        numbers.push(n);
        pos = end;
        let mut delimited = false;
        if let Some(w) = word {
            pos += w.len();
            delimited = true;
        } else if let Some(h) = text[pos..].chars().next().filter(|c| HYPHENS.contains(c)) {
            pos += h.len_utf8();
            delimited = true;
        }
        // 4番地の5, 3丁目 4-5: one more delimiter or a space may follow.
        let rest = &text[pos..];
        let skip = if let Some(r) = rest.strip_prefix(['の', 'ノ', '-']) {
            rest.len() - r.len()
        } else if delimited && rest.starts_with(' ') {
            1
        } else {
            0
        };
        if number_at(text, pos + skip).is_some() {
            if !delimited && skip == 0 {
                break;
            }
            pos += skip;
        } else {
            break;
        }
    }
    if numbers.is_empty() {
        return None;
    }
    let canonical = numbers
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("-");
    Some((canonical, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_47_prefectures_are_found_by_name() {
        assert_eq!(Prefecture::all().count(), 47);
        for p in Prefecture::all() {
            let text = format!("{}某市1-2-3", p.name());
            let (found, rest) = prefecture(&text).expect("found");
            assert_eq!(found, p);
            assert_eq!(rest, "某市1-2-3");
        }
        assert_eq!(
            Prefecture::from_code(13).map(Prefecture::name),
            Some("東京都")
        );
        assert_eq!(
            Prefecture::from_code(1).map(Prefecture::short_name),
            Some("北海道")
        );
        assert_eq!(Prefecture::from_code(0), None);
        assert_eq!(Prefecture::from_code(48), None);
    }

    #[test]
    fn a_city_named_for_its_prefecture_implies_it() {
        assert_eq!(parse("京都市中京区").prefecture.map(|p| p.code()), Some(26));
        assert_eq!(
            parse("大阪市北区梅田1-1").prefecture.map(|p| p.code()),
            Some(27)
        );
        assert_eq!(parse("新宿区四谷").prefecture, None);
        // 石川町 is a town in 福島県, not 石川県.
        assert_eq!(parse("石川郡石川町").prefecture, None);
    }

    #[test]
    fn block_numbers_have_one_form() {
        for text in [
            "東京都新宿区四谷3丁目4番5号",
            "東京都新宿区四谷三丁目4-5",
            "東京都新宿区四谷3-4-5",
            "東京都新宿区四谷３－４－５",
            "東京都新宿区四谷３丁目４－５",
            "東京都新宿区四谷三丁目四番五号",
            "東京都新宿区四谷3丁目4番地5",
            "東京都新宿区四谷3丁目 4-5",
            "東京都新宿区四谷3の4の5",
            "東京都新宿区四谷３ー４ー５",
            "東京都 新宿区 四谷 3-4-5",
        ] {
            let a = parse(text);
            assert_eq!(a.block.as_deref(), Some("3-4-5"), "{text}");
            assert_eq!(a.town, "四谷", "{text}");
            assert_eq!(a.municipality.as_deref(), Some("新宿区"), "{text}");
            assert_eq!(a.prefecture.map(|p| p.code()), Some(13), "{text}");
        }
    }

    #[test]
    fn banchi_forms() {
        assert_eq!(
            parse("長野県北佐久郡軽井沢町大字長倉123番地")
                .block
                .as_deref(),
            Some("123")
        );
        assert_eq!(
            parse("長野県北佐久郡軽井沢町長倉百二十三番地")
                .block
                .as_deref(),
            Some("123")
        );
        let a = parse("長野県北佐久郡軽井沢町大字長倉123番地");
        assert_eq!(a.municipality.as_deref(), Some("北佐久郡軽井沢町"));
        assert_eq!(a.town, "長倉");
        assert_eq!(
            parse("茨城県つくば市千現4番地の5").block.as_deref(),
            Some("4-5")
        );
        assert_eq!(
            parse("岩手県紫波郡紫波町日詰2地割10").block.as_deref(),
            Some("2-10")
        );
    }

    #[test]
    fn buildings_and_rooms_are_apart() {
        let a = parse("東京都新宿区四谷3丁目4番5号101号室");
        assert_eq!(a.block.as_deref(), Some("3-4-5"));
        assert_eq!(a.building, "101号室");
        let b = parse("東京都新宿区四谷3-4-5　メゾン四谷 2F");
        assert_eq!(b.block.as_deref(), Some("3-4-5"));
        assert_eq!(b.building, "メゾン四谷 2F");
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn place_names_with_numerals_stay_names() {
        let a = parse("東京都三鷹市下連雀三丁目7番10号");
        assert_eq!(a.municipality.as_deref(), Some("三鷹市"));
        assert_eq!(a.town, "下連雀");
        assert_eq!(a.block.as_deref(), Some("3-7-10"));
        let b = parse("東京都八王子市元本郷町三丁目24番1号");
        assert_eq!(b.municipality.as_deref(), Some("八王子市"));
        assert_eq!(b.town, "元本郷町");
        assert_eq!(b.block.as_deref(), Some("3-24-1"));
        let c = parse("東京都千代田区一番町6");
        assert_eq!(c.town, "一番町");
        assert_eq!(c.block.as_deref(), Some("6"));
        let d = parse("東京都千代田区九段南1-2-1");
        assert_eq!(d.town, "九段南");
    }

    #[test]
    fn municipalities_with_inner_suffixes_and_wards() {
        let m = |t: &str| parse(t).municipality;
        assert_eq!(m("三重県四日市市諏訪町1-5").as_deref(), Some("四日市市"));
        assert_eq!(m("東京都東村山市本町1-2-3").as_deref(), Some("東村山市"));
        assert_eq!(m("新潟県十日町市千歳町3-3").as_deref(), Some("十日町市"));
        assert_eq!(m("東京都町田市森野2-2-22").as_deref(), Some("町田市"));
        assert_eq!(m("千葉県市川市八幡1-1-1").as_deref(), Some("市川市"));
        assert_eq!(
            m("神奈川県横浜市中区港町1-1").as_deref(),
            Some("横浜市中区")
        );
        assert_eq!(
            m("愛知県名古屋市中村区名駅1-1-4").as_deref(),
            Some("名古屋市中村区")
        );
        assert_eq!(m("福島県郡山市朝日1-23-7").as_deref(), Some("郡山市"));
        assert_eq!(
            m("東京都西多摩郡瑞穂町箱根ケ崎2335").as_deref(),
            Some("西多摩郡瑞穂町")
        );
        assert_eq!(
            m("山形県東村山郡山辺町緑ケ丘5").as_deref(),
            Some("東村山郡山辺町")
        );
    }

    #[test]
    fn ga_ke_and_no_between_kanji_are_one() {
        let a = parse("東京都千代田区霞が関1-2-2");
        let b = parse("東京都千代田区霞ヶ関1丁目2番2号");
        let c = parse("東京都千代田区霞ケ関一丁目2-2");
        assert_eq!(a.key(), b.key());
        assert_eq!(a.key(), c.key());
        assert_eq!(
            parse("東京都三鷹市井の頭4").town,
            parse("東京都三鷹市井ノ頭4").town
        );
    }

    #[test]
    fn postcodes_and_full_width_text() {
        let a = parse("〒100-8916　東京都千代田区霞が関１－２－２");
        assert_eq!(a.postcode.as_deref(), Some("1008916"));
        assert_eq!(a.block.as_deref(), Some("1-2-2"));
        assert_eq!(
            parse("1008916 東京都千代田区霞が関1-2-2")
                .postcode
                .as_deref(),
            Some("1008916")
        );
        assert_eq!(parse("東京都千代田区").postcode, None);
    }

    #[test]
    fn old_kanji_in_addresses_fold() {
        assert_eq!(parse("神奈川縣横濱市").key(), parse("神奈川県横浜市").key());
    }

    #[test]
    fn debug_shows_no_street() {
        let a = parse("東京都新宿区四谷3-4-5");
        let shown = format!("{a:?}");
        assert!(!shown.contains("四谷"), "{shown}");
    }
}
