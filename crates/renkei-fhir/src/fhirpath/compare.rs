//! Equality, equivalence and ordering of items (FHIRPath N1 §6.1, §6.2),
//! including dates and times of possibly different precision and
//! Quantities.

use std::cmp::Ordering;

use serde_json::Value;

use super::Item;
use super::error::EvalError;
use super::types::is_temporal;

/// A number as FHIRPath sees it: integer or decimal. Decimals are `f64`,
/// which is exact for the few digits invariants compare (`duration >= 0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Integer(i64),
    Decimal(f64),
}

impl Number {
    pub(crate) fn of(value: &Value) -> Option<Number> {
        let n = value.as_number()?;
        Some(match n.as_i64() {
            Some(i) => Number::Integer(i),
            None => Number::Decimal(n.as_f64()?),
        })
    }

    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Number::Integer(i) => i as f64,
            Number::Decimal(d) => d,
        }
    }

    fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Integer(a), Number::Integer(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

/// `=` on two items: `None` when the answer is unknown (dates of different
/// precision, §6.1.1), which makes the whole comparison empty.
pub(crate) fn equal(a: &Item<'_>, b: &Item<'_>) -> Option<bool> {
    match (a.value(), b.value()) {
        (Value::String(x), Value::String(y)) => {
            let temporal = a.tag().is_some_and(is_temporal) || b.tag().is_some_and(is_temporal);
            match (temporal, Temporal::parse(x), Temporal::parse(y)) {
                (true, Some(tx), Some(ty)) => tx.compare(&ty).map(|o| o == Ordering::Equal),
                _ => Some(x == y),
            }
        }
        (Value::Number(_), Value::Number(_)) => {
            let (x, y) = (Number::of(a.value())?, Number::of(b.value())?);
            Some(x.compare(y) == Some(Ordering::Equal))
        }
        (x, y) => Some(json_equal(x, y)),
    }
}

/// `~`: strings ignoring case and collapsing whitespace, unknown as false.
pub(crate) fn equivalent(a: &Item<'_>, b: &Item<'_>) -> bool {
    match (a.value(), b.value()) {
        (Value::String(x), Value::String(y)) => normalize(x) == normalize(y),
        _ => equal(a, b).unwrap_or(false),
    }
}

fn normalize(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Structural equality of JSON, with numbers equal by value (`1` = `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => {
            matches!((Number::of(a), Number::of(b)), (Some(x), Some(y)) if x.compare(y) == Some(Ordering::Equal))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// `<`, `>`, `<=`, `>=` on two items; `None` when the order is unknown
/// (dates of different precision, Quantities of different units).
pub(crate) fn order(a: &Item<'_>, b: &Item<'_>, op: &str) -> Result<Option<Ordering>, EvalError> {
    match (a.value(), b.value()) {
        (Value::Number(_), Value::Number(_)) => {
            let (Some(x), Some(y)) = (Number::of(a.value()), Number::of(b.value())) else {
                return Ok(None);
            };
            Ok(x.compare(y))
        }
        // Strings that both read as dates or times order chronologically
        // (FHIR keeps dateTimes as JSON strings); other strings by code point.
        (Value::String(x), Value::String(y)) => match (Temporal::parse(x), Temporal::parse(y)) {
            (Some(tx), Some(ty)) => Ok(tx.compare(&ty)),
            _ => Ok(Some(x.as_str().cmp(y.as_str()))),
        },
        (Value::Object(x), Value::Object(y)) if is_quantity(x) && is_quantity(y) => {
            Ok(quantity_order(x, y))
        }
        _ => Err(EvalError::TypeMismatch {
            operation: op.to_owned(),
            expected: "two numbers, strings, dates or Quantities",
            found: format!("{} and {}", kind(a), kind(b)),
        }),
    }
}

fn is_quantity(o: &serde_json::Map<String, Value>) -> bool {
    o.get("value").is_some_and(Value::is_number)
}

/// Quantities order by value when their units are the same UCUM `code`
/// (or, lacking codes, the same `unit` text); we do not convert units, so
/// others are unknown.
fn quantity_order(
    x: &serde_json::Map<String, Value>,
    y: &serde_json::Map<String, Value>,
) -> Option<Ordering> {
    let unit = |o: &serde_json::Map<String, Value>| {
        o.get("code")
            .or_else(|| o.get("unit"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if unit(x) != unit(y) {
        return None;
    }
    Number::of(&x["value"])?.compare(Number::of(&y["value"])?)
}

/// A short name of an item's kind for error messages.
pub(crate) fn kind(item: &Item<'_>) -> String {
    if let Some(t) = item.type_name() {
        return t.to_owned();
    }
    match item.value() {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
    .to_owned()
}

/// A date, dateTime, instant or time (FHIRPath §2.1.4.1.4 / FHIR R4
/// §2.24.0.1) read to the precision it is written in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Temporal {
    /// year, month, day, hour, minute, as far as written.
    parts: Vec<i64>,
    /// Seconds with their fraction, in nanoseconds; seconds and fractions
    /// are one precision (§6.1.1).
    nanos: Option<i64>,
    /// The zone offset in minutes, when a time is written with one.
    offset: Option<i64>,
}

impl Temporal {
    /// Reads `YYYY[-MM[-DD[Thh[:mm[:ss[.f…]]][Z|±hh:mm]]]]`; `None` when the
    /// text is not one.
    pub(crate) fn parse(text: &str) -> Option<Temporal> {
        let (date, time) = match text.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (text, None),
        };
        let mut parts = Vec::new();
        for (i, field) in date.split('-').enumerate() {
            let width = if i == 0 { 4 } else { 2 };
            if i > 2 || field.len() != width || !field.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            parts.push(field.parse().ok()?);
        }
        let mut nanos = None;
        let mut offset = None;
        if let Some(time) = time {
            if parts.len() != 3 {
                return None;
            }
            let (clock, zone) = split_zone(time)?;
            offset = zone;
            for (i, field) in clock.split(':').enumerate() {
                if i < 2 {
                    if field.len() != 2 || !field.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    parts.push(field.parse().ok()?);
                } else if i == 2 {
                    nanos = Some(seconds(field)?);
                } else {
                    return None;
                }
            }
        }
        let in_range =
            |i: usize, lo: i64, hi: i64| parts.get(i).is_none_or(|v| (lo..=hi).contains(v));
        if !(in_range(1, 1, 12) && in_range(2, 1, 31) && in_range(3, 0, 23) && in_range(4, 0, 59)) {
            return None;
        }
        Some(Temporal {
            parts,
            nanos,
            offset,
        })
    }

    /// Compares component by component from the year; reaching a component
    /// one side has and the other lacks makes the answer unknown
    /// (FHIRPath §6.1.1 / §6.2). Times with zones on both sides are first
    /// moved to UTC; when only one of two times has a zone the answer is
    /// unknown.
    pub(crate) fn compare(&self, other: &Temporal) -> Option<Ordering> {
        let has_time = |t: &Temporal| t.parts.len() > 3;
        let (a, b) = match (self.offset, other.offset) {
            (Some(_), Some(_)) => (self.to_utc()?, other.to_utc()?),
            // A date has no zone: compare the written days, and the time
            // makes the rest unknown.
            (None, None) => (self.clone(), other.clone()),
            _ if !has_time(self) || !has_time(other) => (self.clone(), other.clone()),
            _ => return None,
        };
        for i in 0..5 {
            match (a.parts.get(i), b.parts.get(i)) {
                (Some(x), Some(y)) if x != y => return Some(x.cmp(y)),
                (Some(_), Some(_)) => continue,
                (None, None) => return Some(Ordering::Equal),
                _ => return None,
            }
        }
        match (a.nanos, b.nanos) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            (None, None) => Some(Ordering::Equal),
            _ => None,
        }
    }

    /// The same instant with the zone removed and the clock in UTC; only
    /// meaningful to the minute, which a zone needs.
    fn to_utc(&self) -> Option<Temporal> {
        let offset = self.offset?;
        if self.parts.len() < 5 {
            return Some(Temporal {
                offset: None,
                ..self.clone()
            });
        }
        let month = time::Month::try_from(u8::try_from(self.parts[1]).ok()?).ok()?;
        let date = time::Date::from_calendar_date(
            i32::try_from(self.parts[0]).ok()?,
            month,
            u8::try_from(self.parts[2]).ok()?,
        )
        .ok()?;
        let clock = time::Time::from_hms(
            u8::try_from(self.parts[3]).ok()?,
            u8::try_from(self.parts[4]).ok()?,
            0,
        )
        .ok()?;
        let zone = time::UtcOffset::from_whole_seconds(i32::try_from(offset * 60).ok()?).ok()?;
        let utc = time::PrimitiveDateTime::new(date, clock)
            .assume_offset(zone)
            .to_offset(time::UtcOffset::UTC);
        Some(Temporal {
            parts: vec![
                i64::from(utc.year()),
                i64::from(u8::from(utc.month())),
                i64::from(utc.day()),
                i64::from(utc.hour()),
                i64::from(utc.minute()),
            ],
            nanos: self.nanos,
            offset: None,
        })
    }
}

/// Splits `10:00:00+09:00` into the clock and the offset in minutes.
fn split_zone(time: &str) -> Option<(&str, Option<i64>)> {
    if let Some(clock) = time.strip_suffix('Z') {
        return Some((clock, Some(0)));
    }
    let Some(at) = time.rfind(['+', '-']) else {
        return Some((time, None));
    };
    let (clock, zone) = time.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let (h, m) = zone[1..].split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    Some((clock, Some(sign * (h * 60 + m))))
}

/// `ss` or `ss.fff…` as nanoseconds.
fn seconds(field: &str) -> Option<i64> {
    let (whole, fraction) = field.split_once('.').unwrap_or((field, ""));
    if whole.len() != 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    if secs > 60 {
        return None;
    }
    let frac: i64 = format!("{fraction:0<9}").parse().ok()?;
    Some(secs * 1_000_000_000 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Option<Ordering> {
        Temporal::parse(a)
            .expect("a parses")
            .compare(&Temporal::parse(b).expect("b parses"))
    }

    #[test]
    fn datetimes_with_zones_compare_as_instants() {
        assert_eq!(
            cmp("2021-07-05T19:28:23+09:00", "2021-07-05T10:28:23Z"),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp("2021-07-06T08:00:00+09:00", "2021-07-05T20:00:00-05:00"),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn different_precision_is_unknown_unless_decided_earlier() {
        assert_eq!(cmp("2021-07-05", "2021-07-05T10:00:00"), None);
        assert_eq!(cmp("2021", "2021-07"), None);
        assert_eq!(cmp("2020", "2021-07"), Some(Ordering::Less));
        assert_eq!(
            cmp("2021-07-05T10:00:00.5", "2021-07-05T10:00:00"),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn not_dates_do_not_parse() {
        for s in [
            "20210705",
            "2021-7-5",
            "2021-13",
            "abc",
            "2021-07-05T25:00",
            "2021-07-05T10:00:0",
        ] {
            assert_eq!(Temporal::parse(s), None, "{s}");
        }
    }
}
