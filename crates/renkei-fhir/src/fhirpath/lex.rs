//! Tokens of FHIRPath text (FHIRPath N1 §A grammar, lexical rules).
//!
//! Keywords (`and`, `where`, `true`, …) come out as identifiers; the parser
//! decides by position, because `contains` is both an operator and a
//! function and `as(T)` both an operator and a function.

use super::error::ParseError;

/// One token with the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A name; `quoted` when written in backticks (then never a keyword).
    Ident {
        name: String,
        quoted: bool,
    },
    /// A string literal, escapes resolved.
    Str(String),
    /// A number literal as written (`12`, `0.5`).
    Number(String),
    /// A date/time literal without its `@` (`2020-01-01`, `T10:00`).
    DateTime(String),
    /// `$this`, `$index`, `$total` without the `$`.
    Special(String),
    /// `%name`, `%'name'` or %`name` without the `%`.
    Env(String),
    /// Punctuation and operators: `.`, `(`, `<=`, …
    Sym(&'static str),
    End,
}

const SYMBOLS: [&str; 20] = [
    "<=", ">=", "!=", "!~", ".", "(", ")", "[", "]", "{", "}", ",", "+", "-", "*", "/", "&", "|",
    "=", "~",
];

pub(crate) fn tokens(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        }
        if text[i..].starts_with("/*") {
            let end = text[i + 2..]
                .find("*/")
                .ok_or_else(|| syntax(i, "unclosed comment"))?;
            i += 2 + end + 2;
            continue;
        }
        let kind = if c == b'\'' {
            let (s, next) = quoted(text, i, '\'')?;
            i = next;
            Kind::Str(s)
        } else if c == b'`' {
            let (s, next) = quoted(text, i, '`')?;
            i = next;
            Kind::Ident {
                name: s,
                quoted: true,
            }
        } else if c.is_ascii_digit() {
            i = digits(bytes, i);
            // A decimal point only counts when a digit follows: `1.exists()`
            // is not written, but `x[0].y` must not lex `0.` as a number.
            if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i = digits(bytes, i + 1);
            }
            Kind::Number(text[start..i].to_owned())
        } else if c == b'@' {
            i += 1;
            // A `.` belongs to the literal only before a digit (fractional
            // seconds); `@2021-01-01.exists()` invokes on the date.
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || b"-:+".contains(&bytes[i])
                    || (bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                i += 1;
            }
            if i == start + 1 {
                return Err(syntax(start, "'@' without a date or time"));
            }
            Kind::DateTime(text[start + 1..i].to_owned())
        } else if c == b'$' {
            i = word(bytes, i + 1);
            Kind::Special(text[start + 1..i].to_owned())
        } else if c == b'%' {
            match bytes.get(i + 1) {
                Some(b'\'') | Some(b'`') => {
                    let (s, next) = quoted(text, i + 1, bytes[i + 1] as char)?;
                    i = next;
                    Kind::Env(s)
                }
                _ => {
                    i = word(bytes, i + 1);
                    Kind::Env(text[start + 1..i].to_owned())
                }
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            i = word(bytes, i);
            Kind::Ident {
                name: text[start..i].to_owned(),
                quoted: false,
            }
        } else if let Some(sym) = SYMBOLS.iter().find(|s| text[i..].starts_with(**s)) {
            i += sym.len();
            Kind::Sym(sym)
        } else if c == b'<' || c == b'>' {
            i += 1;
            Kind::Sym(if c == b'<' { "<" } else { ">" })
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(syntax(i, &format!("unexpected character '{ch}'")));
        };
        out.push(Token {
            kind,
            offset: start,
        });
    }
    out.push(Token {
        kind: Kind::End,
        offset: text.len(),
    });
    Ok(out)
}

fn digits(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn word(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    i
}

/// A `'…'` or `` `…` `` literal starting at `start`; returns the text with
/// escapes resolved and the offset after the closing quote.
fn quoted(text: &str, start: usize, quote: char) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((n, ch)) = chars.next() {
        if ch == quote {
            return Ok((out, start + 1 + n + 1));
        }
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        let at = start + 1 + n;
        let (_, esc) = chars
            .next()
            .ok_or_else(|| syntax(at, "unfinished escape"))?;
        // FHIRPath §A (ESC): \' \" \` \\ \/ \f \n \r \t and \uXXXX.
        out.push(match esc {
            '\'' | '"' | '`' | '\\' | '/' => esc,
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hex: String = (0..4)
                    .filter_map(|_| chars.next().map(|(_, c)| c))
                    .collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| syntax(at, "\\u needs four hex digits of a character"))?
            }
            other => return Err(syntax(at, &format!("unknown escape '\\{other}'"))),
        });
    }
    Err(syntax(start, "unclosed quote"))
}

pub(crate) fn syntax(offset: usize, message: &str) -> ParseError {
    ParseError::Syntax {
        offset,
        message: message.to_owned(),
    }
}
