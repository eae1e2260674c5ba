//! Metadata of the Japanese code and identifier systems, and the check of a
//! Coding against them.
//!
//! Rule (issue 3): an unknown code in a known system is a *warning* — our
//! shipped code lists are subsets, so absence proves nothing; a wrong system
//! where a binding requires one is an *error* (see `validator`).

pub mod identifier;
pub mod jp;

/// The lexical form of a system's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePattern {
    /// Exactly `n` ASCII digits.
    Digits(usize),
    /// Exactly `n` ASCII letters or digits.
    Alnum(usize),
    /// ICD-10: a letter, two digits, optionally up to two more (dot optional).
    Icd10,
    /// Anything `code`-shaped.
    Any,
}

impl CodePattern {
    /// Whether `code` has this form.
    pub fn matches(self, code: &str) -> bool {
        match self {
            CodePattern::Digits(n) => code.len() == n && code.bytes().all(|b| b.is_ascii_digit()),
            CodePattern::Alnum(n) => {
                code.len() == n && code.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            CodePattern::Icd10 => {
                let b = code.as_bytes();
                let rest = code.get(3..).unwrap_or("");
                let rest = rest.strip_prefix('.').unwrap_or(rest);
                b.len() >= 3
                    && b[0].is_ascii_uppercase()
                    && b[1].is_ascii_digit()
                    && b[2].is_ascii_digit()
                    && rest.len() <= 2
                    && rest.bytes().all(|c| c.is_ascii_alphanumeric())
            }
            CodePattern::Any => true,
        }
    }

    /// A short description for diagnostics.
    pub fn describe(self) -> std::string::String {
        match self {
            CodePattern::Digits(n) => format!("{n} digits"),
            CodePattern::Alnum(n) => format!("{n} letters or digits"),
            CodePattern::Icd10 => "a letter and 2 digits, then up to 2 more characters".to_owned(),
            CodePattern::Any => "a code".to_owned(),
        }
    }
}

/// A code system the platform knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSystem {
    /// Short stable key (`icd10-mhlw`).
    pub key: &'static str,
    /// Name in English.
    pub name: &'static str,
    /// Name in Japanese.
    pub name_ja: &'static str,
    /// The URIs by which JP Core refers to it: canonical URL first, then
    /// `urn:oid:` aliases.
    pub uris: &'static [&'static str],
    /// Lexical form of its codes.
    pub pattern: CodePattern,
    /// Codes we ship with their display (a subset, sorted by code).
    pub codes: &'static [(&'static str, &'static str)],
}

impl CodeSystem {
    /// The display of `code` if it is in the shipped subset.
    pub fn display(&self, code: &str) -> Option<&'static str> {
        self.codes
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .ok()
            .map(|i| self.codes[i].1)
    }
}

/// The code system known under `uri`, if any.
pub fn lookup(uri: &str) -> Option<&'static CodeSystem> {
    jp::SYSTEMS.iter().find(|s| s.uris.contains(&uri))
}

/// What is wrong with `code` in `system`, as a warning text, or `None`.
pub fn check_code(system: &CodeSystem, code: &str) -> Option<std::string::String> {
    if !system.pattern.matches(code) {
        return Some(format!(
            "code {code:?} is not a valid {} code (expected {})",
            system.name,
            system.pattern.describe()
        ));
    }
    if system.display(code).is_none() {
        return Some(format!(
            "code {code:?} is not among the known codes of {} ({}); the platform ships a subset",
            system.name, system.name_ja
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_code_lists_are_sorted_and_well_formed() {
        for s in jp::SYSTEMS {
            assert!(
                s.codes.windows(2).all(|w| w[0].0 < w[1].0),
                "{} unsorted",
                s.key
            );
            for (c, _) in s.codes {
                assert!(s.pattern.matches(c), "{}: {c}", s.key);
            }
        }
    }

    #[test]
    fn oid_aliases_resolve_to_the_same_system() {
        let a = lookup("urn:oid:1.2.392.200119.4.504").map(|s| s.key);
        let b = lookup("http://medis.or.jp/CodeSystem/master-JLAC10-17digits").map(|s| s.key);
        assert_eq!(a, Some("jlac10"));
        assert_eq!(a, b);
    }
}
