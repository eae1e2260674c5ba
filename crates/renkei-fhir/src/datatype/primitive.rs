//! Checks of primitive values (FHIR R4 §2.24.0.1 Primitive Types, the regexes
//! given there, and §2.6.2 for their JSON representation).

use serde_json::Value;

use super::DataType;

/// Why a primitive value is invalid; `None` from [`check`] means valid.
pub type Problem = String;

/// Check `v` as a value of primitive type `t`.
pub fn check(t: DataType, v: &Value) -> Option<Problem> {
    match t {
        DataType::Boolean => {
            (!v.is_boolean()).then(|| format!("expected a boolean, found {}", kind(v)))
        }
        DataType::Integer => int(v, i64::from(i32::MIN)),
        DataType::PositiveInt => int(v, 1),
        DataType::UnsignedInt => int(v, 0),
        // §2.6.2: decimals are JSON numbers, never strings.
        DataType::Decimal => {
            (!v.is_number()).then(|| format!("expected a number, found {}", kind(v)))
        }
        _ => {
            let Some(s) = v.as_str() else {
                return Some(format!("expected a string, found {}", kind(v)));
            };
            string(t, s)
        }
    }
}

fn int(v: &Value, min: i64) -> Option<Problem> {
    match v.as_i64() {
        Some(n) if n >= min && n <= i64::from(i32::MAX) => None,
        Some(n) => Some(format!("integer {n} out of range")),
        None => Some(format!("expected an integer, found {}", kind(v))),
    }
}

fn string(t: DataType, s: &str) -> Option<Problem> {
    let ok = match t {
        // §2.24.0.1: string "should not contain Unicode character points below 32"
        // except tab, CR, LF, and (§2.6.2) must not be empty.
        DataType::String | DataType::Xhtml => !s.is_empty(),
        // code: [^\s]+(\s[^\s]+)*
        DataType::Code => {
            !s.is_empty() && s.trim() == s && !s.contains("  ") && !s.contains(['\t', '\n', '\r'])
        }
        DataType::Id => {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
        DataType::Uri => !s.is_empty() && !s.contains(char::is_whitespace),
        DataType::Date => is_date(s),
        DataType::DateTime => is_date_time(s, false),
        DataType::Instant => is_date_time(s, true),
        DataType::Time => is_time(s),
        DataType::Base64Binary => s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b' ' | b'\n' | b'\r')
        }),
        _ => true,
    };
    (!ok).then(|| format!("{s:?} is not a valid {}", name(t)))
}

fn name(t: DataType) -> &'static str {
    match t {
        DataType::Code => "code",
        DataType::Id => "id",
        DataType::Uri => "uri",
        DataType::Date => "date (YYYY, YYYY-MM or YYYY-MM-DD)",
        DataType::DateTime => "dateTime (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)",
        DataType::Instant => "instant (YYYY-MM-DDThh:mm:ss(.sss)+zz:zz)",
        DataType::Time => "time (hh:mm:ss)",
        DataType::Base64Binary => "base64Binary",
        _ => "string (must not be empty)",
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// `YYYY(-MM(-DD)?)?` with a real month and day (leap years counted).
pub fn is_date(s: &str) -> bool {
    let mut parts = s.split('-');
    let Some(year) = parts.next().and_then(|y| digits(y, 4)) else {
        return false;
    };
    let Some(m) = parts.next() else { return true };
    let Some(month) = digits(m, 2).filter(|m| (1..=12).contains(m)) else {
        return false;
    };
    let Some(d) = parts.next() else { return true };
    let Some(day) = digits(d, 2) else {
        return false;
    };
    parts.next().is_none() && day >= 1 && day <= days_in_month(year, month)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `hh:mm:ss(.s+)?`, 24-hour clock.
pub fn is_time(s: &str) -> bool {
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut it = hms.split(':');
    let ok = matches!(
        (
            it.next().and_then(|h| digits(h, 2)),
            it.next().and_then(|m| digits(m, 2)),
            it.next().and_then(|x| digits(x, 2)),
            it.next()
        ),
        (Some(h), Some(m), Some(x), None) if h < 24 && m < 60 && x < 60
    );
    ok && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// dateTime (§2.24.0.1): a partial date, or a full date with time and zone;
/// `instant` requires the full form.
pub fn is_date_time(s: &str, instant: bool) -> bool {
    let Some((date, rest)) = s.split_once('T') else {
        return !instant && is_date(s);
    };
    if date.len() != 10 || !is_date(date) {
        return false;
    }
    // The zone is required whenever a time is given.
    let (time, zone) = if let Some(t) = rest.strip_suffix('Z') {
        (t, "Z")
    } else if rest.len() > 6 {
        rest.split_at(rest.len() - 6)
    } else {
        return false;
    };
    let zone_ok = zone == "Z" || {
        let b = zone.as_bytes();
        matches!(b[0], b'+' | b'-')
            && digits(&zone[1..3], 2).is_some_and(|h| h <= 14)
            && b[3] == b':'
            && digits(&zone[4..6], 2).is_some_and(|m| m < 60)
    };
    zone_ok && is_time(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_r4_regex() {
        for ok in ["2024", "2024-02", "2024-02-29", "1900-12-31"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2023-02-29",
            "2024-13",
            "24-01-01",
            "2024-1-1",
            "2024/01/01",
            "",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn date_times_need_a_zone_with_a_time() {
        assert!(is_date_time("2024-01-02T10:11:12+09:00", false));
        assert!(is_date_time("2024-01-02T10:11:12.123Z", true));
        assert!(is_date_time("2024-01", false));
        assert!(!is_date_time("2024-01", true));
        assert!(!is_date_time("2024-01-02T10:11:12", false));
        assert!(!is_date_time("2024-01-02T25:11:12Z", false));
    }

    #[test]
    fn decimals_are_json_numbers() {
        assert!(check(DataType::Decimal, &serde_json::json!(1.5)).is_none());
        assert!(check(DataType::Decimal, &serde_json::json!("1.5")).is_some());
    }
}
