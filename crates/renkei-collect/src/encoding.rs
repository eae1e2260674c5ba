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
    /// A DICOM Part 10 file (`DICM` at byte 128): an image, not text.
    Dicom,
    /// Binary data, not text in any encoding (NUL bytes on both sides of
    /// every pair, as UTF-16 text never has them).
    Binary,
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
            Encoding::Dicom => "a DICOM file ('DICM' at byte 128), not text",
            Encoding::Binary => "binary data, not text",
        }
    }

    /// What the sender should do.
    pub fn advice(&self) -> String {
        match self {
            Encoding::Dicom | Encoding::Binary => {
                "send FHIR JSON (NDJSON, a resource or a Bundle); images and other binary files are not taken here".to_owned()
            }
            text => format!(
                "convert it to UTF-8 first, e.g. `iconv -f {} -t UTF-8 in.ndjson > out.ndjson`",
                text.iconv()
            ),
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
            Encoding::Unknown | Encoding::Dicom | Encoding::Binary => "<its encoding>",
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

/// What a body whose first bytes are `start` and whose first bytes that
/// are not UTF-8 are `sample` most likely is.
pub(crate) fn guess_body(start: &[u8], sample: &[u8]) -> Encoding {
    if start.get(128..132) == Some(b"DICM") {
        return Encoding::Dicom;
    }
    guess(sample)
}

/// The encoding `bytes` (which are not UTF-8) most likely are in.
pub(crate) fn guess(bytes: &[u8]) -> Encoding {
    if let Some(e) = utf16(bytes) {
        return e;
    }
    if bytes.contains(&0) {
        let even = bytes.iter().step_by(2).filter(|b| **b == 0).count();
        let odd = bytes.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
        // UTF-16 text puts the NUL of its ASCII characters on one side of
        // each pair, beside a printable character; binary data has NULs on
        // both sides, or beside control bytes (a DICOM tag is `08 00 16 00`).
        let utf16 = match (even, odd) {
            (e, o) if o >= 10 * e.max(1) || (e == 0 && o > 0) => Encoding::Utf16Le,
            (e, o) if e >= 10 * o.max(1) || (o == 0 && e > 0) => Encoding::Utf16Be,
            _ => return Encoding::Binary,
        };
        let (mut ascii, mut control) = (0usize, 0usize);
        for pair in bytes.chunks_exact(2) {
            let (nul, other) = match utf16 {
                Encoding::Utf16Le => (pair[1], pair[0]),
                _ => (pair[0], pair[1]),
            };
            if nul == 0 {
                ascii += 1;
                if other < 0x20 && !matches!(other, b'\t' | b'\n' | b'\r') {
                    control += 1;
                }
            }
        }
        return if control * 5 > ascii {
            Encoding::Binary
        } else {
            utf16
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

    #[test]
    fn a_dicom_file_or_other_binary_is_not_taken_for_utf16() {
        let dicom = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/testdata/dicom/CT_small.dcm"
        ))
        .expect("the shared DICOM example");
        let from = std::str::from_utf8(&dicom)
            .expect_err("binary")
            .valid_up_to();
        assert_eq!(guess_body(&dicom, &dicom[from..]), Encoding::Dicom);
        // Its data elements alone: NULs on both sides of the pairs.
        assert_eq!(guess(&dicom[132..132 + 512]), Encoding::Binary);
        assert!(Encoding::Binary.advice().contains("FHIR JSON"));
        assert!(Encoding::ShiftJis.advice().contains("iconv -f CP932"));
    }
}
