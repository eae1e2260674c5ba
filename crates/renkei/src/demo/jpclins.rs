//! What a hospital sends to the 電子カルテ情報共有サービス, sent here: a
//! JP-CLINS document Bundle (its Encounter names no patient: the
//! Composition's subject is its patient) and the six information as
//! NDJSON naming the patient only by insurance identifier (issue 16).

use std::path::Path;

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use super::Walk;

const INSURANCE: &str = renkei_synth::fhir::INSURED_ID_SYSTEM;

/// Sends one document Bundle and one NDJSON of the six information for
/// the first patients of `code` who carry an insurance identifier; returns
/// (accepted, refused).
pub(super) async fn send(
    walk: &Walk,
    token: &str,
    code: &str,
    provider_dir: &Path,
) -> anyhow::Result<(u64, u64)> {
    let patients = std::fs::read_to_string(provider_dir.join("Patient.ndjson"))
        .context("the synthetic Patients")?;
    let insured: Vec<(String, String)> = patients
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|p| {
            let id = p["id"].as_str()?.to_owned();
            let member = p["identifier"].as_array()?.iter().find_map(|i| {
                (i["system"] == INSURANCE).then(|| i["value"].as_str().map(str::to_owned))?
            })?;
            Some((id, member))
        })
        .take(3)
        .collect();
    ensure!(
        !insured.is_empty(),
        "no synthetic patient of {code} carries an insurance identifier"
    );
    let (mut accepted, mut refused) = (0, 0);
    for (n, (patient, member)) in insured.iter().enumerate() {
        let urn = |k: usize| format!("urn:uuid:7a1c0000-0000-4000-8000-{n:06}{k:06}");
        let document = json!({
            "resourceType": "Bundle", "type": "document",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": urn(0)},
            "timestamp": "2026-11-30T10:00:00+09:00",
            "entry": [
                {"fullUrl": urn(1), "resource": {
                    "resourceType": "Composition", "status": "final",
                    "type": {"coding": [{"system": "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes", "code": "57133-1", "display": "診療情報提供書"}]},
                    "subject": {"reference": format!("Patient/{patient}")},
                    "date": "2026-11-30", "author": [{"display": "担当医"}], "title": "診療情報提供書"}},
                {"fullUrl": urn(2), "resource": {
                    "resourceType": "Encounter", "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "外来"},
                    "period": {"start": "2026-11-30"}}},
                {"fullUrl": urn(3), "resource": {
                    "resourceType": "Condition",
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                    "code": {"coding": [{"system": renkei_synth::fhir::ICD10_SYSTEM, "code": "E11.9"}]},
                    "subject": {"reference": format!("Patient/{patient}")},
                    "recordedDate": "2026-11-30"}}
            ]
        });
        let by_identifier =
            json!({"identifier": {"system": INSURANCE, "value": member}, "type": "Patient"});
        let six = [
            json!({"resourceType": "Condition", "id": format!("clins-c-{n}"),
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "code": {"coding": [{"system": renkei_synth::fhir::ICD10_SYSTEM, "code": "I10"}]},
                "subject": by_identifier, "recordedDate": "2026-11-30"}),
            json!({"resourceType": "AllergyIntolerance", "id": format!("clins-a-{n}"),
                "code": {"text": "ペニシリン"}, "patient": by_identifier, "recordedDate": "2026-11-30"}),
            json!({"resourceType": "Observation", "id": format!("clins-o-{n}"), "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
                "code": {"coding": [{"system": renkei_synth::fhir::JLAC10_SYSTEM, "code": "3D010000001926101"}]},
                "subject": by_identifier, "effectiveDateTime": "2026-11-30T09:00:00+09:00",
                "valueQuantity": {"value": 6.8, "unit": "%"}}),
        ];
        let ndjson: String = six.iter().map(|r| format!("{r}\n")).collect();
        for (path, body) in [
            ("/fhir", document.to_string()),
            ("/api/v1/submissions", ndjson),
        ] {
            let resp = walk
                .http
                .post(format!("{}{path}?provider={code}", walk.base))
                .bearer_auth(token)
                .body(body)
                .send()
                .await?;
            let status = resp.status();
            let receipt: Value = resp.json().await?;
            ensure!(
                status.is_success(),
                "JP-CLINS to {path} answered {status}: {receipt}"
            );
            for counts in receipt["counts"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
            {
                accepted += counts["accepted"].as_u64().unwrap_or(0);
                refused += counts["rejected"].as_u64().unwrap_or(0);
            }
        }
    }
    Ok((accepted, refused))
}
