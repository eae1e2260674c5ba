//! String similarities of the comparison levels, on pre-normalized `char`
//! slices and without allocating: they run once per field of every
//! candidate pair, the innermost loop of linkage.
//!
//! - [`jaro_winkler`]: Jaro similarity with Winkler's prefix boost (scale
//!   0.1, at most 4 characters, applied above 0.7), the definition of
//!   Winkler (1990) as implemented by `strsim` (which the tests use as the
//!   reference). The match flags live in a fixed bitset, so strings are
//!   compared on their first [`MAX_CHARS`] characters.
//! - [`within_one_edit`]: whether two strings differ by at most one
//!   insertion, deletion, substitution or swap of adjacent characters
//!   (optimal string alignment distance ≤ 1), the typo level of codes.

/// Longest prefix that [`jaro_winkler`] looks at.
pub const MAX_CHARS: usize = 256;

const WORDS: usize = MAX_CHARS / 64;

#[derive(Clone, Copy)]
struct Bits([u64; WORDS]);

impl Bits {
    fn new() -> Self {
        Self([0; WORDS])
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
}

/// Jaro similarity in \[0, 1\]; 1 for two empty strings.
pub fn jaro(a: &[char], b: &[char]) -> f64 {
    let a = &a[..a.len().min(MAX_CHARS)];
    let b = &b[..b.len().min(MAX_CHARS)];
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let range = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut a_flags = Bits::new();
    let mut b_flags = Bits::new();
    let mut matches = 0usize;
    for (i, ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(b.len());
        for (j, cb) in b.iter().enumerate().take(hi).skip(lo) {
            if !b_flags.get(j) && cb == ca {
                a_flags.set(i);
                b_flags.set(j);
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut j = 0;
    for (i, ca) in a.iter().enumerate() {
        if !a_flags.get(i) {
            continue;
        }
        while !b_flags.get(j) {
            j += 1;
        }
        if b[j] != *ca {
            transpositions += 1;
        }
        j += 1;
    }
    let m = matches as f64;
    let t = (transpositions / 2) as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0
}

/// Jaro–Winkler similarity in \[0, 1\].
///
/// ```
/// use renkei_identity::linkage::similarity::jaro_winkler;
/// let c = |s: &str| s.chars().collect::<Vec<_>>();
/// assert!((jaro_winkler(&c("martha"), &c("marhta")) - 0.9611).abs() < 1e-4);
/// ```
pub fn jaro_winkler(a: &[char], b: &[char]) -> f64 {
    let sim = jaro(a, b);
    if sim <= 0.7 {
        return sim;
    }
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    sim + 0.1 * prefix as f64 * (1.0 - sim)
}

/// Whether `a` and `b` are at most one edit apart: equal, or one
/// insertion, deletion, substitution, or swap of two adjacent characters.
///
/// ```
/// use renkei_identity::linkage::similarity::within_one_edit;
/// let c = |s: &str| s.chars().collect::<Vec<_>>();
/// assert!(within_one_edit(&c("1804974"), &c("1809474")));
/// assert!(!within_one_edit(&c("1804974"), &c("1890474")));
/// ```
pub fn within_one_edit<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let Some(i) = short.iter().zip(long).position(|(x, y)| x != y) else {
        return true; // equal, or one character appended
    };
    if short.len() == long.len() {
        // Substitution at i, or a swap of i and i+1.
        short[i + 1..] == long[i + 1..]
            || (i + 1 < short.len()
                && short[i] == long[i + 1]
                && short[i + 1] == long[i]
                && short[i + 2..] == long[i + 2..])
    } else {
        // Insertion into the shorter at i.
        short[i..] == long[i + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn jaro_winkler_agrees_with_strsim() {
        let words = [
            "",
            "a",
            "ab",
            "martha",
            "marhta",
            "dwayne",
            "duane",
            "dixon",
            "dicksonx",
            "mitchell",
            "mitchel",
            "michell",
            "jackson",
            "jackaon",
            "priddle street",
            "priddle sjtreet",
            "サトウ",
            "サイトウ",
            "タカハシハナコ",
            "タカハシハナ",
            "高橋花子",
            "髙橋花子",
            "abcdefghijklmnopqrstuvwxyz",
            "zyxwvutsrqponmlkjihgfedcba",
            "aaaaaaaaab",
            "baaaaaaaaa",
        ];
        for x in words {
            for y in words {
                let ours = jaro_winkler(&c(x), &c(y));
                let reference = strsim::jaro_winkler(x, y);
                assert!(
                    (ours - reference).abs() < 1e-12,
                    "{x:?} {y:?}: {ours} vs {reference}"
                );
            }
        }
    }

    #[test]
    fn long_strings_compare_on_their_first_chars() {
        let a: String = "ab".repeat(200);
        let b: String = format!("{}{}", "ab".repeat(128), "x".repeat(144));
        assert_eq!(jaro_winkler(&c(&a), &c(&b)), 1.0);
    }

    #[test]
    fn one_edit_covers_typos_and_nothing_more() {
        let yes = [
            ("5613219", "5613219"),
            ("5613219", "5613218"),
            ("5613219", "5631219"),
            ("5613219", "561321"),
            ("5613219", "56132199"),
            ("", "1"),
            ("12", "21"),
        ];
        for (a, b) in yes {
            assert!(within_one_edit(&c(a), &c(b)), "{a} {b}");
            assert!(within_one_edit(&c(b), &c(a)), "{b} {a}");
        }
        let no = [
            ("5613219", "6513218"),
            ("5613219", "56132"),
            ("123", "321"),
            ("", "12"),
        ];
        for (a, b) in no {
            assert!(!within_one_edit(&c(a), &c(b)), "{a} {b}");
        }
    }
}
