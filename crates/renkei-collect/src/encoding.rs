//! Telling which encoding a body that is not UTF-8 is in, so that a
//! provider is told once what to convert from, instead of every line
//! being refused as malformed JSON.
//!
//! Japanese systems still export Shift_JIS (Windows: CP932) and EUC-JP,
//! and some Windows tools write UTF-16. The guess looks only at byte
//! patterns: UTF-16 by its byte order mark or NUL bytes beside ASCII;
//! Shift_JIS by lead bytes 0x81–0x9F or trail bytes 0x40–0x7E, which
//! EUC-JP never uses; EUC-JP when every high byte pairs in 0xA1–0xFE.

/// An encoding a body looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Shift_JIS, or Windows' CP932.
    ShiftJis,
    /// EUC-JP.
    EucJp,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// Not UTF-8, and none of the above.
    Unknown,
}

impl Encoding {
    /// The encoding's name for people.
    pub fn name(&self) -> &'static str {
        match self {
            Encoding::ShiftJis => "Shift_JIS (CP932)",
            Encoding::EucJp => "EUC-JP",
            Encoding::Utf16Le => "UTF-16 (little-endian)",
            Encoding::Utf16Be => "UTF-16 (big-endian)",
            Encoding::Unknown => "an encoding other than UTF-8",
        }
    }

    /// Its name for `iconv -f`. CP932 rather than SHIFT_JIS: Japanese
    /// Windows writes CP932, whose extra characters (髙, ①) plain
    /// SHIFT_JIS refuses.
    pub fn iconv(&self) -> &'static str {
        match self {
            Encoding::ShiftJis => "CP932",
            Encoding::EucJp => "EUC-JP",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Unknown => "<its encoding>",
        }
    }
}

/// Whether the body's first bytes are UTF-16 (by its byte order mark, or
/// a NUL byte beside an ASCII `{` or `[`).
pub(crate) fn utf16(head: &[u8]) -> Option<Encoding> {
    match head {
        [0xFF, 0xFE, ..] | [b'{' | b'[', 0, ..] => Some(Encoding::Utf16Le),
        [0xFE, 0xFF, ..] | [0, b'{' | b'[', ..] => Some(Encoding::Utf16Be),
        _ => None,
    }
}

/// The encoding `bytes` (which are not UTF-8) most likely are in.
pub(crate) fn guess(bytes: &[u8]) -> Encoding {
    if let Some(e) = utf16(bytes) {
        return e;
    }
    if bytes.contains(&0) {
        let even = bytes.iter().step_by(2).filter(|b| **b == 0).count();
        let odd = bytes.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
        return if odd > even {
            Encoding::Utf16Le
        } else {
            Encoding::Utf16Be
        };
    }
    let mut euc = true;
    let mut sjis = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied().unwrap_or(0);
        if (0x81..=0x9F).contains(&b) && b != 0x8E && b != 0x8F {
            sjis = true;
        }
        if (0x40..=0x7E).contains(&next) {
            sjis = true;
        }
        if !((0xA1..=0xFE).contains(&b) || b == 0x8E) || !(0xA1..=0xFE).contains(&next) {
            euc = false;
        }
        i += 2;
    }
    match (sjis, euc) {
        (true, _) => Encoding::ShiftJis,
        (false, true) => Encoding::EucJp,
        // High bytes in 0xA1–0xDF alone are Shift_JIS half-width kana.
        (false, false) => Encoding::ShiftJis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_encodings_are_told_apart() {
        // "山田" in each encoding.
        let sjis = b"{\"family\":\"\x8eR\x93c\"}";
        let euc = b"{\"family\":\"\xbb\xb3\xc5\xc4\"}";
        let utf16le = b"{\0\"\0f\0";
        let utf16be = b"\0{\0\"\0f";
        assert_eq!(guess(sjis), Encoding::ShiftJis);
        assert_eq!(guess(euc), Encoding::EucJp);
        assert_eq!(guess(utf16le), Encoding::Utf16Le);
        assert_eq!(guess(utf16be), Encoding::Utf16Be);
        assert_eq!(guess(b"\xff\xfe{\0"), Encoding::Utf16Le);
        // "タロウ" in half-width kana: Shift_JIS single bytes.
        assert_eq!(guess(b"\xc0\xdb\xb3"), Encoding::ShiftJis);
    }
}
