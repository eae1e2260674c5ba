//! What each accepted resource tells about the quality of a provider's
//! data, tallied per submission and resource type and kept with the
//! submission: completeness of the key elements, codes the platform does
//! not know, and how long after the event the record arrived.

use std::collections::BTreeMap;

use renkei_core::Timestamp;
use renkei_fhir::{IssueType, Outcome};
use serde_json::Value;

/// The key elements of a type: each a list of alternatives (a choice type
/// such as `value[x]`, or `onset` vs `recordedDate`), each a dotted path.
fn key_elements(resource_type: &str) -> &'static [&'static [&'static str]] {
    match resource_type {
        "Patient" => &[&["gender"], &["birthDate"], &["address"]],
        "Encounter" => &[&["class"], &["period.start"], &["serviceType", "type"]],
        "Condition" => &[
            &["code"],
            &["onsetDateTime", "onsetPeriod", "recordedDate"],
            &["encounter"],
        ],
        "Observation" => &[
            &["code"],
            &["effectiveDateTime", "effectivePeriod", "effectiveInstant"],
            &[
                "valueQuantity",
                "valueCodeableConcept",
                "valueString",
                "component",
            ],
            &["encounter"],
        ],
        "MedicationRequest" => &[
            &["medicationCodeableConcept", "medicationReference"],
            &["authoredOn"],
            &["dosageInstruction"],
        ],
        "MedicationDispense" => &[
            &["medicationCodeableConcept", "medicationReference"],
            &["whenHandedOver"],
            &["quantity"],
        ],
        "Procedure" => &[&["code"], &["performedDateTime", "performedPeriod"]],
        "AllergyIntolerance" => &[&["code"], &["recordedDate", "onsetDateTime"]],
        "ImagingStudy" => &[&["modality"], &["started"], &["numberOfSeries"]],
        _ => &[],
    }
}

/// When the event a resource records happened, in the order these
/// elements are tried.
const EVENT_TIMES: &[&str] = &[
    "/effectiveDateTime",
    "/effectivePeriod/start",
    "/period/start",
    "/onsetDateTime",
    "/recordedDate",
    "/authoredOn",
    "/whenHandedOver",
    "/performedDateTime",
    "/performedPeriod/start",
    "/started",
    "/issued",
];

/// What one accepted resource contributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) key_present: u32,
    pub(crate) key_expected: u32,
    pub(crate) codings: u32,
    pub(crate) codes_unknown: u32,
    pub(crate) event_at: Option<i64>,
}

pub(crate) fn sample(resource_type: &str, value: &Value, outcome: &Outcome) -> Sample {
    let keys = key_elements(resource_type);
    let present = keys
        .iter()
        .filter(|alternatives| alternatives.iter().any(|path| has(value, path)))
        .count();
    Sample {
        key_present: present as u32,
        key_expected: keys.len() as u32,
        codings: count_codings(value),
        codes_unknown: outcome
            .warnings()
            .filter(|i| i.code == IssueType::CodeInvalid)
            .count() as u32,
        event_at: EVENT_TIMES
            .iter()
            .find_map(|p| value.pointer(p).and_then(Value::as_str))
            .and_then(event_time),
    }
}

fn has(value: &Value, dotted: &str) -> bool {
    let mut v = value;
    for part in dotted.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return false,
        }
    }
    !v.is_null()
}

fn count_codings(value: &Value) -> u32 {
    match value {
        Value::Object(map) => {
            let own = map
                .get("coding")
                .and_then(Value::as_array)
                .map_or(0, |c| c.len() as u32);
            own + map
                .iter()
                .filter(|(k, _)| k.as_str() != "coding")
                .map(|(_, v)| count_codings(v))
                .sum::<u32>()
        }
        Value::Array(items) => items.iter().map(count_codings).sum(),
        _ => 0,
    }
}

/// A FHIR dateTime as µs: a full instant, or a date taken as midnight in
/// Japan (where the platform's providers are).
fn event_time(text: &str) -> Option<i64> {
    if let Ok(t) = Timestamp::parse_rfc3339(text) {
        return Some(t.unix_micros());
    }
    let date = match text.len() {
        10 => text.to_owned(),
        7 => format!("{text}-01"),
        4 => format!("{text}-01-01"),
        _ => return None,
    };
    Timestamp::parse_rfc3339(&format!("{date}T00:00:00+09:00"))
        .ok()
        .map(Timestamp::unix_micros)
}

/// Lag buckets of timeliness, in days from event to submission.
pub const LAG_BUCKETS: [(&str, i64); 4] = [
    ("lag_le_7d", 7),
    ("lag_le_30d", 30),
    ("lag_le_90d", 90),
    ("lag_le_365d", 365),
];

/// The quality figures of one submission, per resource type and metric.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) by_type: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Tally {
    pub(crate) fn add(&mut self, resource_type: &str, metric: &str, n: i64) {
        if n == 0 {
            return;
        }
        *self
            .by_type
            .entry(resource_type.to_owned())
            .or_default()
            .entry(metric.to_owned())
            .or_default() += n;
    }

    pub(crate) fn sample(&mut self, resource_type: &str, s: &Sample, received_at: Timestamp) {
        self.add(resource_type, "key_present", i64::from(s.key_present));
        self.add(resource_type, "key_expected", i64::from(s.key_expected));
        self.add(resource_type, "codings", i64::from(s.codings));
        self.add(resource_type, "codes_unknown", i64::from(s.codes_unknown));
        if let Some(at) = s.event_at {
            let days = (received_at.unix_micros() - at).max(0) / 86_400_000_000;
            self.add(resource_type, "lag_count", 1);
            self.add(resource_type, "lag_days_sum", days);
            for (name, limit) in LAG_BUCKETS {
                if days <= limit {
                    self.add(resource_type, name, 1);
                }
            }
        }
    }

    /// Every (type, metric, value), for storing.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (&str, &str, i64)> {
        self.by_type
            .iter()
            .flat_map(|(t, m)| m.iter().map(move |(k, v)| (t.as_str(), k.as_str(), *v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn completeness_counts_alternatives_once_and_dates_are_japanese_midnight() {
        let obs = json!({
            "resourceType": "Observation",
            "code": {"coding": [{"system": "s", "code": "c"}, {"system": "t", "code": "d"}]},
            "effectiveDateTime": "2024-04-01",
            "valueQuantity": {"value": 1}
        });
        let s = sample("Observation", &obs, &Outcome::default());
        assert_eq!((s.key_present, s.key_expected), (3, 4), "no encounter");
        assert_eq!(s.codings, 2);
        // 2024-04-01T00:00+09:00 is 2024-03-31T15:00Z.
        assert_eq!(s.event_at, Some(1_711_897_200_000_000));
    }
}
