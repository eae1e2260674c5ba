//! Patient and Coverage: everything identifying goes to identity; the lake
//! keeps sex, birth date, prefecture and death.

use renkei_core::{IdentifyingAttributes, LakeTable, Sex};
use serde_json::Value;

use super::values;
use super::{Cell, Row};

/// JP Core: the provider's patient id is an identifier whose system is this
/// OID followed by the 医療機関コード.
const LOCAL_ID_OID: &str = "urn:oid:1.2.392.100495.20.3.51.1";
/// JP-CLINS carries the insurance as one identifier `insurer:symbol:number:branch`.
const CLINS_INSURANCE: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
const EXT: &str = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/";

/// The JIS X 0401 code of the prefecture an address starts with (or names
/// in `state`), e.g. `東京都新宿区` → `13`. A prefecture written without its
/// suffix (`東京`) matches too.
pub fn prefecture_code(address: &Value) -> Option<String> {
    [address["state"].as_str(), address["text"].as_str()]
        .into_iter()
        .flatten()
        .find_map(renkei_core::Prefecture::at_start)
        .map(|p| p.code_text().to_owned())
}

fn name_text(name: &Value) -> Option<String> {
    if let Some(t) = name["text"].as_str() {
        return Some(t.to_owned());
    }
    let family = name["family"].as_str().unwrap_or("");
    let given: Vec<&str> = name["given"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let full = format!("{family} {}", given.join(" ")).trim().to_owned();
    (!full.is_empty()).then_some(full)
}

/// The representation (`IDE` kanji, `SYL` kana) of a HumanName.
fn representation(name: &Value) -> Option<&str> {
    name["extension"].as_array()?.iter().find_map(|e| {
        (e["url"].as_str()? == "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation")
            .then(|| e["valueCode"].as_str())
            .flatten()
    })
}

/// Adds what one patient identifier tells identity to `a`, and says whether
/// identity can link by it: the provider's 患者ID (JP Core's OID followed by
/// the 医療機関コード) or JP-CLINS's insurance identifier
/// `保険者番号:記号:番号:枝番`. The first of each kind counts.
pub fn identifier_attributes(system: &str, value: &str, a: &mut IdentifyingAttributes) -> bool {
    if system.starts_with(LOCAL_ID_OID) {
        if a.local_patient_id.is_none() {
            a.local_patient_id = Some(value.to_owned());
        }
        return true;
    }
    if system == CLINS_INSURANCE {
        let parts: Vec<&str> = value.split(':').collect();
        if let [insurer, symbol, number, rest @ ..] = parts.as_slice() {
            if a.insured_number.is_none() {
                a.insurer_number = Some((*insurer).to_owned());
                a.insured_symbol = Some((*symbol).to_owned()).filter(|s| !s.is_empty());
                a.insured_number = Some((*number).to_owned());
                a.insured_branch = rest.first().map(|b| (*b).to_owned());
            }
            return true;
        }
    }
    false
}

/// The keys of a Patient's identifiers that identity cannot link by (see
/// [`SubjectIdentifier::key`](super::SubjectIdentifier::key)): a resource
/// naming its patient by one of those can only find it through this
/// Patient. The 患者ID and the insurance identifier need no key: identity
/// links a subject named by them to the same person.
pub fn identifier_keys(resource: &Value) -> Vec<String> {
    resource["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| {
            let si = super::SubjectIdentifier {
                system: id["system"].as_str()?.to_owned(),
                value: id["value"].as_str()?.to_owned(),
            };
            si.attributes().is_none().then(|| si.key())
        })
        .collect()
}

/// Identifying attributes and lake rows of a Patient.
pub fn patient(resource: &Value) -> (IdentifyingAttributes, Vec<(LakeTable, Row)>) {
    let mut a = IdentifyingAttributes::default();
    for id in resource["identifier"].as_array().into_iter().flatten() {
        let system = id["system"].as_str().unwrap_or("");
        let Some(value) = id["value"].as_str() else {
            continue;
        };
        identifier_attributes(system, value, &mut a);
    }
    for name in resource["name"].as_array().into_iter().flatten() {
        match representation(name) {
            Some("SYL") => a.kana_name = a.kana_name.take().or_else(|| name_text(name)),
            _ => a.kanji_name = a.kanji_name.take().or_else(|| name_text(name)),
        }
    }
    a.birth_date = resource["birthDate"].as_str().map(str::to_owned);
    a.sex = match resource["gender"].as_str() {
        Some("male") => Some(Sex::Male),
        Some("female") => Some(Sex::Female),
        Some("other") => Some(Sex::Other),
        Some("unknown") => Some(Sex::Unknown),
        _ => None,
    };
    let address = resource["address"].as_array().and_then(|v| v.first());
    if let Some(addr) = address {
        a.postal_code = addr["postalCode"].as_str().map(str::to_owned);
        a.address = addr["text"].as_str().map(str::to_owned);
    }
    a.phone = resource["telecom"]
        .as_array()
        .and_then(|t| t.iter().find(|c| c["system"] == "phone"))
        .and_then(|c| c["value"].as_str())
        .map(str::to_owned);

    let mut person = Row::default();
    person.text("sex", resource["gender"].as_str());
    if let Some(d) = values::date(&resource["birthDate"]) {
        person.set("birth_date", Cell::Date(d));
    }
    person.text("prefecture_code", address.and_then(prefecture_code));
    let mut rows = vec![(LakeTable::Person, person)];
    if let Some(d) = values::date(&resource["deceasedDateTime"]) {
        let mut death = Row::default();
        death.set("death_date", Cell::Date(d));
        rows.push((LakeTable::Death, death));
    }
    (a, rows)
}

/// Identifying attributes of a Coverage: JP Core keeps 記号, 番号 and 枝番 in
/// extensions; the insurer number is the payor's identifier.
pub fn coverage(resource: &Value) -> IdentifyingAttributes {
    let ext = |name: &str| -> Option<String> {
        resource["extension"].as_array()?.iter().find_map(|e| {
            (e["url"].as_str()? == format!("{EXT}{name}"))
                .then(|| e["valueString"].as_str().map(str::to_owned))
                .flatten()
        })
    };
    let insurer = resource["payor"]
        .as_array()
        .and_then(|p| p.iter().find_map(|r| r["identifier"]["value"].as_str()))
        .map(str::to_owned);
    IdentifyingAttributes {
        insurer_number: insurer,
        insured_symbol: ext("JP_Coverage_InsuredPersonSymbol"),
        insured_number: ext("JP_Coverage_InsuredPersonNumber"),
        insured_branch: ext("JP_Coverage_InsuredPersonSubNumber")
            .or_else(|| resource["dependent"].as_str().map(str::to_owned)),
        ..IdentifyingAttributes::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prefectures_by_name_with_or_without_suffix() {
        assert_eq!(
            prefecture_code(&json!({"text": "東京都新宿区"})).as_deref(),
            Some("13")
        );
        assert_eq!(
            prefecture_code(&json!({"state": "高知県"})).as_deref(),
            Some("39")
        );
        assert_eq!(
            prefecture_code(&json!({"text": "北海道札幌市"})).as_deref(),
            Some("01")
        );
        assert_eq!(
            prefecture_code(&json!({"state": "京都"})).as_deref(),
            Some("26")
        );
        assert_eq!(prefecture_code(&json!({"text": "Springfield"})), None);
    }
}
