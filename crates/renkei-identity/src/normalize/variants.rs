//! Old and variant kanji (異体字, 旧字体) onto the form most records use.
//!
//! A person registered as 髙橋 at the 市区町村 (戸籍 keeps the old form) is
//! 高橋 in most hospital systems, which cannot type 髙. The table holds the
//! pairs that occur in names and place names: the 人名用漢字 list's
//! 旧字体/異体字 (許容字体) pairs of 戸籍法施行規則 別表第二, the 常用漢字
//! 旧字体 that survive in surnames (澤, 邊, 濱, 國, 廣), and the common
//! 俗字 of 戸籍 such as 﨑 (たつさき) and 𠮷 (つちよし). Folding is for
//! comparison only: the record keeps what was written.
//!
//! Unicode NFKC already maps the CJK compatibility ideographs that have a
//! canonical decomposition (塚 U+FA10 → 塚, 神 U+FA19 → 神), so they are
//! absent here; 﨑 U+FA11 and the other twelve unified ideographs of that
//! block have none and are listed.
//!
//! Some folds join characters that are distinct but interchanged in one
//! surname: 斉 (さい, 斉藤) and 斎 (さい, 斎藤) are different characters,
//! yet the same family is written both ways often enough that a
//! comparison must not call them a disagreement.

macro_rules! variant_table {
    ($($old:literal => $new:literal,)*) => {
        /// The common form of a kanji, or the kanji itself.
        ///
        /// ```
        /// use renkei_identity::normalize::variants::common_form;
        /// assert_eq!(common_form('髙'), '高');
        /// assert_eq!(common_form('高'), '高');
        /// ```
        pub fn common_form(c: char) -> char {
            match c {
                $($old => $new,)*
                _ => c,
            }
        }

        /// Every variant → common pair of the table.
        pub const PAIRS: &[(char, char)] = &[$(($old, $new),)*];
    };
}

variant_table! {
    // Surnames: the pairs that break matching most often.
    '髙' => '高',
    '﨑' => '崎',
    '嵜' => '崎',
    '碕' => '崎',
    '邊' => '辺',
    '邉' => '辺',
    '齋' => '斎',
    '齊' => '斎',
    '斉' => '斎',
    '濱' => '浜',
    '濵' => '浜',
    '澤' => '沢',
    '櫻' => '桜',
    '廣' => '広',
    '國' => '国',
    '眞' => '真',
    '德' => '徳',
    '嶋' => '島',
    '嶌' => '島',
    '峯' => '峰',
    '桒' => '桑',
    '曾' => '曽',
    '冨' => '富',
    '槗' => '橋',
    '渕' => '淵',
    '渊' => '淵',
    '瀨' => '瀬',
    '賴' => '頼',
    '槇' => '槙',
    '舘' => '館',
    '邨' => '村',
    '𠮷' => '吉',
    '𡈽' => '土',
    '藏' => '蔵',
    '關' => '関',
    '淺' => '浅',
    '瀧' => '滝',
    '條' => '条',
    '檜' => '桧',
    '澁' => '渋',
    '增' => '増',
    '驒' => '騨',
    // Given names.
    '惠' => '恵',
    '榮' => '栄',
    '壽' => '寿',
    '實' => '実',
    '龍' => '竜',
    '禮' => '礼',
    '萬' => '万',
    '與' => '与',
    '豐' => '豊',
    '圓' => '円',
    '亞' => '亜',
    '兒' => '児',
    '螢' => '蛍',
    '聰' => '聡',
    '靜' => '静',
    '恆' => '恒',
    '彌' => '弥',
    '穗' => '穂',
    '遙' => '遥',
    '顯' => '顕',
    '凜' => '凛',
    '堯' => '尭',
    '寳' => '宝',
    '寶' => '宝',
    '劍' => '剣',
    '髮' => '髪',
    '來' => '来',
    '將' => '将',
    '乘' => '乗',
    '黑' => '黒',
    '莊' => '荘',
    '團' => '団',
    '嶽' => '岳',
    // Place names (addresses).
    '縣' => '県',
    '鐵' => '鉄',
    '驛' => '駅',
    '學' => '学',
    '會' => '会',
    '藝' => '芸',
    '戶' => '戸',
    '峽' => '峡',
    '竝' => '並',
    '廳' => '庁',
    '臺' => '台',
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn every_listed_pair_folds_and_common_forms_stay() {
        assert!(PAIRS.len() >= 40, "only {} pairs", PAIRS.len());
        for &(old, new) in PAIRS {
            assert_ne!(old, new);
            assert_eq!(common_form(old), new, "{old}");
            assert_eq!(common_form(new), new, "{new} must be a fixed point");
        }
    }

    #[test]
    fn surnames_written_with_old_forms_meet_their_common_form() {
        let fold = |s: &str| s.nfkc().map(common_form).collect::<String>();
        for (old, new) in [
            ("髙橋", "高橋"),
            ("山﨑", "山崎"),
            ("渡邊", "渡辺"),
            ("渡邉", "渡辺"),
            ("齋藤", "斎藤"),
            ("齊藤", "斎藤"),
            ("斉藤", "斎藤"),
            ("濱田", "浜田"),
            ("澤田", "沢田"),
            ("櫻井", "桜井"),
            ("廣瀬", "広瀬"),
            ("國分", "国分"),
            ("眞鍋", "真鍋"),
            ("德永", "徳永"),
            ("大塚", "大塚"), // U+FA10: NFKC does this one
            ("𠮷田", "吉田"),
            ("小嶋", "小島"),
            ("長谷川", "長谷川"),
        ] {
            assert_eq!(fold(old), fold(new), "{old} vs {new}");
        }
    }
}
