//! Resources with no canonical table are kept whole in `raw_resource` —
//! never refused for their type — but first stripped of every element that
//! can carry a direct identifier or free text about a person.

use serde_json::{Map, Value};

use super::{Cell, Row};

/// Elements removed wherever they occur: identifiers, names, contact
/// details, photos, narrative, and the display text of references (which
/// often repeats a patient's name: `"display": "山田 太郎"`).
const STRIPPED: &[&str] = &[
    "identifier",
    "name",
    "telecom",
    "address",
    "photo",
    "contact",
    "text",
    "note",
];

fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in STRIPPED {
                map.remove(*key);
            }
            if map.contains_key("reference") {
                map.remove("display");
            }
            for v in map.values_mut() {
                scrub(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// The raw row of a resource, scrubbed.
pub fn raw(resource_type: &str, resource: &Value) -> Row {
    let mut copy = resource.clone();
    scrub(&mut copy);
    if let Value::Object(map) = &mut copy {
        // `contained` resources can be anything, a Patient included.
        map.remove("contained");
    }
    let json =
        serde_json::to_string(&copy).unwrap_or_else(|_| Value::Object(Map::new()).to_string());
    let mut row = Row::default();
    row.set("resource_type", Cell::Text(resource_type.to_owned()));
    row.set("resource_json", Cell::Text(json));
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_identifiers_and_reference_displays_are_removed() {
        let r = json!({
            "resourceType": "Specimen", "id": "s1",
            "identifier": [{"value": "X-1"}],
            "subject": {"reference": "Patient/p1", "display": "山田 太郎"},
            "collection": {"collector": {"reference": "Practitioner/d", "display": "医師 花子"}},
            "note": [{"text": "山田さん本人に確認"}],
            "type": {"text": "血液", "coding": [{"code": "BLD", "display": "Whole blood"}]}
        });
        let row = raw("Specimen", &r);
        let Some(Cell::Text(json)) = row.get("resource_json") else {
            panic!("no json")
        };
        for gone in ["山田", "X-1", "花子"] {
            assert!(!json.contains(gone), "{gone} kept in {json}");
        }
        assert!(
            json.contains("Whole blood"),
            "a coding's display is not a person's name"
        );
        assert!(json.contains("Patient/p1"));
    }
}
