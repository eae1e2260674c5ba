//! Reading FHIR datatypes out of JSON: dates, instants, codings, references.

use serde_json::Value;
use time::{Date, Month};

/// A FHIR `date` (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`) as days since
/// 1970-01-01. A partial date is stored as its first day: the lake keeps
/// day precision only.
pub fn date(v: &Value) -> Option<i32> {
    let text = v.as_str()?;
    let day_part = text.get(..10).unwrap_or(text);
    let mut parts = day_part.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next().map_or(Some(1), |m| m.parse().ok())?;
    let day: u8 = parts.next().map_or(Some(1), |d| d.parse().ok())?;
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let epoch = Date::from_calendar_date(1970, Month::January, 1).ok()?;
    i32::try_from((date - epoch).whole_days()).ok()
}

/// A FHIR `dateTime` or `instant` as microseconds since the Unix epoch. A
/// value without a time (`2021-10-10`) is taken as midnight in Japan, where
/// the sources are.
pub fn instant(v: &Value) -> Option<i64> {
    let text = v.as_str()?;
    if text.len() > 10 {
        return renkei_core::Timestamp::parse_rfc3339(text)
            .ok()
            .map(|t| t.unix_micros());
    }
    const JST_OFFSET_US: i64 = 9 * 3_600 * 1_000_000;
    date(v).map(|days| i64::from(days) * 86_400_000_000 - JST_OFFSET_US)
}

/// The first coding of a CodeableConcept whose system is one of `systems`
/// (in order of preference), else its first coding: `(system, code)`.
pub fn coding<'a>(concept: &'a Value, systems: &[&str]) -> Option<(&'a str, &'a str)> {
    let codings = concept["coding"].as_array()?;
    let pick = |c: &'a Value| Some((c["system"].as_str().unwrap_or(""), c["code"].as_str()?));
    for system in systems {
        if let Some(c) = codings
            .iter()
            .find(|c| c["system"].as_str() == Some(system))
        {
            return pick(c);
        }
    }
    codings.iter().find_map(pick)
}

/// The code of the first coding of a CodeableConcept, whatever its system.
pub fn first_code(concept: &Value) -> Option<&str> {
    concept["coding"]
        .as_array()?
        .iter()
        .find_map(|c| c["code"].as_str())
}

/// The id in a literal reference to `resource_type` (`Patient/123` → `123`);
/// `urn:uuid:` references are returned whole, as Bundles use them.
pub fn reference_id(reference: &Value, resource_type: &str) -> Option<String> {
    let r = reference["reference"].as_str()?;
    if r.starts_with("urn:uuid:") {
        return Some(r.to_owned());
    }
    let (kind, id) = r.rsplit_once('/')?;
    let kind = kind.rsplit('/').next()?;
    (kind == resource_type).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_of_every_precision() {
        assert_eq!(date(&json!("1970-01-02")), Some(1));
        assert_eq!(date(&json!("1970-02")), Some(31));
        assert_eq!(date(&json!("1971")), Some(365));
        assert_eq!(date(&json!("1970-13-01")), None);
        assert_eq!(date(&json!(5)), None);
    }

    #[test]
    fn a_date_only_instant_is_midnight_in_japan() {
        assert_eq!(
            instant(&json!("1970-01-02")),
            Some(86_400_000_000 - 9 * 3_600_000_000)
        );
        assert_eq!(instant(&json!("1970-01-01T09:00:00+09:00")), Some(0));
    }

    #[test]
    fn references_name_their_type() {
        assert_eq!(
            reference_id(&json!({"reference": "Patient/p1"}), "Patient").as_deref(),
            Some("p1")
        );
        assert_eq!(
            reference_id(&json!({"reference": "Group/g"}), "Patient"),
            None
        );
        assert_eq!(
            reference_id(
                &json!({"reference": "https://x.jp/fhir/Patient/p2"}),
                "Patient"
            )
            .as_deref(),
            Some("p2")
        );
    }
}
