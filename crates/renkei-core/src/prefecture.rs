//! The 47 prefectures (都道府県) by their JIS X 0401 codes: one list for
//! every function (the FHIR code system, the lake's `prefecture_code`,
//! identity's address parsing).

use std::fmt;

/// The JIS X 0401 codes and names, in code order (01 北海道 … 47 沖縄県);
/// the code system `urn:oid:1.2.392.100495.20.3.21` (都道府県番号).
pub const CODES: [(&str, &str); 47] = [
    ("01", "北海道"),
    ("02", "青森県"),
    ("03", "岩手県"),
    ("04", "宮城県"),
    ("05", "秋田県"),
    ("06", "山形県"),
    ("07", "福島県"),
    ("08", "茨城県"),
    ("09", "栃木県"),
    ("10", "群馬県"),
    ("11", "埼玉県"),
    ("12", "千葉県"),
    ("13", "東京都"),
    ("14", "神奈川県"),
    ("15", "新潟県"),
    ("16", "富山県"),
    ("17", "石川県"),
    ("18", "福井県"),
    ("19", "山梨県"),
    ("20", "長野県"),
    ("21", "岐阜県"),
    ("22", "静岡県"),
    ("23", "愛知県"),
    ("24", "三重県"),
    ("25", "滋賀県"),
    ("26", "京都府"),
    ("27", "大阪府"),
    ("28", "兵庫県"),
    ("29", "奈良県"),
    ("30", "和歌山県"),
    ("31", "鳥取県"),
    ("32", "島根県"),
    ("33", "岡山県"),
    ("34", "広島県"),
    ("35", "山口県"),
    ("36", "徳島県"),
    ("37", "香川県"),
    ("38", "愛媛県"),
    ("39", "高知県"),
    ("40", "福岡県"),
    ("41", "佐賀県"),
    ("42", "長崎県"),
    ("43", "熊本県"),
    ("44", "大分県"),
    ("45", "宮崎県"),
    ("46", "鹿児島県"),
    ("47", "沖縄県"),
];

/// A prefecture, by its JIS X 0401 code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefecture(u8);

impl Prefecture {
    /// The prefecture of a JIS X 0401 code, 1–47.
    pub fn from_code(code: u8) -> Option<Self> {
        (1..=47).contains(&code).then_some(Self(code))
    }

    /// The prefecture of a two-digit code as written (`"13"`).
    pub fn parse_code(code: &str) -> Option<Self> {
        CODES
            .iter()
            .position(|(c, _)| *c == code)
            .map(|i| Self(i as u8 + 1))
    }

    /// The JIS X 0401 code, 1 (北海道) to 47 (沖縄県).
    pub fn code(self) -> u8 {
        self.0
    }

    /// The code as written, two digits (`"13"`).
    pub fn code_text(self) -> &'static str {
        CODES[usize::from(self.0 - 1)].0
    }

    /// The name with its suffix (`東京都`, `北海道`).
    pub fn name(self) -> &'static str {
        CODES[usize::from(self.0 - 1)].1
    }

    /// The name without 都, 府 or 県 (`東京`); 北海道 stays whole.
    pub fn short_name(self) -> &'static str {
        let name = self.name();
        name.strip_suffix(['都', '府', '県']).unwrap_or(name)
    }

    /// The prefecture a text starts with, by its name with or without the
    /// suffix (`東京都新宿区`, `東京 新宿区`).
    pub fn at_start(text: &str) -> Option<Self> {
        Self::all().find(|p| text.starts_with(p.name()) || text.starts_with(p.short_name()))
    }

    /// Every prefecture, in code order.
    pub fn all() -> impl Iterator<Item = Prefecture> {
        (1..=47).map(Prefecture)
    }
}

impl fmt::Display for Prefecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_in_order_and_names_resolve_both_ways() {
        for (i, (code, name)) in CODES.iter().enumerate() {
            assert_eq!(*code, format!("{:02}", i + 1));
            let p = Prefecture::parse_code(code).expect("a code");
            assert_eq!((p.name(), p.code_text()), (*name, *code));
        }
        assert_eq!(
            Prefecture::at_start("東京新宿区").map(Prefecture::code),
            Some(13)
        );
        assert_eq!(
            Prefecture::at_start("北海道札幌市").map(Prefecture::code),
            Some(1)
        );
        assert_eq!(
            Prefecture::at_start("京都府京都市").map(Prefecture::code),
            Some(26)
        );
        assert_eq!(Prefecture::at_start("ニューヨーク"), None);
        assert_eq!(Prefecture::from_code(48), None);
    }
}
