//! Clinical resources with a canonical table: codes, statuses, times and
//! quantities; never names, free text or narrative.

use renkei_core::LakeTable;
use serde_json::Value;

use super::values::{self, coding, first_code, instant, reference_id};
use super::{Cell, Row};

/// JLAC10 (臨床検査項目分類コード), as JP Core identifies it.
const JLAC10: &str = "urn:oid:1.2.392.200119.4.504";
/// JLAC11.
const JLAC11: &str = "urn:oid:1.2.392.200119.4.1.1";
/// HOT9 (医薬品HOTコード).
const HOT9: &str = "urn:oid:1.2.392.200119.4.403.1";
/// YJ code (個別医薬品コード).
const YJ: &str = "urn:oid:1.2.392.100495.20.1.73";
/// MEDIS 標準病名マスター (病名管理番号).
const MEDIS_BYOMEI: &str = "urn:oid:1.2.392.200119.4.101.6";
/// ICD-10 (WHO / MHLW 標準病名 edition).
const ICD10_OID: &str = "urn:oid:2.16.840.1.113883.6.3";

fn system_code(row: &mut Row, concept: &Value, preferred: &[&str]) {
    let (system, code) = coding(concept, preferred).unwrap_or(("", ""));
    // Required columns: an uncoded concept (text only) is kept as such, with
    // an empty system and code, so the row is not lost.
    row.set("code_system", Cell::Text(system.to_owned()));
    row.set("code", Cell::Text(code.to_owned()));
}

fn status(row: &mut Row, resource: &Value) {
    row.set(
        "status",
        Cell::Text(resource["status"].as_str().unwrap_or("unknown").to_owned()),
    );
}

fn timestamp(row: &mut Row, column: &'static str, v: &Value) {
    if let Some(t) = instant(v) {
        row.set(column, Cell::Timestamp(t));
    }
}

fn encounter_of(row: &mut Row, resource: &Value) {
    row.text(
        "encounter_source_id",
        reference_id(&resource["encounter"], "Encounter"),
    );
}

fn icd10(concept: &Value) -> Option<&str> {
    let codings = concept["coding"].as_array()?;
    codings.iter().find_map(|c| {
        let s = c["system"].as_str()?.to_ascii_lowercase();
        (s == ICD10_OID || s.contains("icd10") || s.contains("icd-10"))
            .then(|| c["code"].as_str())
            .flatten()
    })
}

fn medis(concept: &Value) -> Option<&str> {
    let codings = concept["coding"].as_array()?;
    codings.iter().find_map(|c| {
        let s = c["system"].as_str()?;
        (s == MEDIS_BYOMEI || s.contains("medis"))
            .then(|| c["code"].as_str())
            .flatten()
    })
}

/// The rows of a resource type with a canonical table; `None` for any other
/// type (kept as a raw resource).
pub fn clinical(resource_type: &str, r: &Value) -> Option<Vec<(LakeTable, Row)>> {
    let mut row = Row::default();
    let table = match resource_type {
        "Encounter" => {
            row.text("encounter_class", r["class"]["code"].as_str());
            status(&mut row, r);
            timestamp(&mut row, "period_start", &r["period"]["start"]);
            timestamp(&mut row, "period_end", &r["period"]["end"]);
            row.text("department_code", first_code(&r["serviceType"]));
            LakeTable::Encounter
        }
        "Condition" => {
            row.text("icd10", icd10(&r["code"]));
            row.text("medis_code", medis(&r["code"]));
            row.text("clinical_status", first_code(&r["clinicalStatus"]));
            row.text("verification_status", first_code(&r["verificationStatus"]));
            if let Some(d) = values::date(&r["onsetDateTime"]) {
                row.set("onset_date", Cell::Date(d));
            }
            if let Some(d) = values::date(&r["recordedDate"]) {
                row.set("recorded_date", Cell::Date(d));
            }
            encounter_of(&mut row, r);
            LakeTable::Condition
        }
        "Observation" => {
            row.text(
                "category",
                r["category"]
                    .as_array()
                    .and_then(|c| c.first())
                    .and_then(first_code),
            );
            system_code(&mut row, &r["code"], &[JLAC10, JLAC11, "http://loinc.org"]);
            status(&mut row, r);
            if let Some(v) = r["valueQuantity"]["value"].as_f64() {
                row.set("value_number", Cell::Float(v));
                row.text(
                    "value_unit",
                    r["valueQuantity"]["unit"]
                        .as_str()
                        .or(r["valueQuantity"]["code"].as_str()),
                );
            } else if let Some(code) = first_code(&r["valueCodeableConcept"]) {
                row.set("value_text", Cell::Text(code.to_owned()));
            }
            timestamp(&mut row, "effective_at", &r["effectiveDateTime"]);
            encounter_of(&mut row, r);
            LakeTable::Observation
        }
        "MedicationRequest" => {
            system_code(&mut row, &r["medicationCodeableConcept"], &[YJ, HOT9]);
            status(&mut row, r);
            timestamp(&mut row, "authored_at", &r["authoredOn"]);
            let dosage = r["dosageInstruction"]
                .as_array()
                .and_then(|d| d.first())
                .unwrap_or(&Value::Null);
            let dose = &dosage["doseAndRate"][0]["doseQuantity"];
            if let Some(v) = dose["value"].as_f64() {
                row.set("dose_quantity", Cell::Float(v));
                row.text("dose_unit", dose["unit"].as_str());
            }
            if let Some(days) = usage_days(dosage) {
                row.set("duration_days", Cell::Int(days));
            }
            encounter_of(&mut row, r);
            LakeTable::MedicationRequest
        }
        "MedicationDispense" => {
            system_code(&mut row, &r["medicationCodeableConcept"], &[YJ, HOT9]);
            status(&mut row, r);
            timestamp(&mut row, "handed_over_at", &r["whenHandedOver"]);
            if let Some(v) = r["quantity"]["value"].as_f64() {
                row.set("quantity", Cell::Float(v));
                row.text("quantity_unit", r["quantity"]["unit"].as_str());
            }
            if let Some(d) = r["daysSupply"]["value"].as_f64() {
                row.set("days_supply", Cell::Int(d.round() as i32));
            }
            LakeTable::MedicationDispense
        }
        "Procedure" => {
            system_code(&mut row, &r["code"], &[]);
            status(&mut row, r);
            let performed = if r["performedDateTime"].is_null() {
                &r["performedPeriod"]["start"]
            } else {
                &r["performedDateTime"]
            };
            timestamp(&mut row, "performed_at", performed);
            encounter_of(&mut row, r);
            LakeTable::Procedure
        }
        "AllergyIntolerance" => {
            if let Some((system, code)) = coding(&r["code"], &[]) {
                row.set("code_system", Cell::Text(system.to_owned()));
                row.set("code", Cell::Text(code.to_owned()));
            }
            row.text(
                "category",
                r["category"]
                    .as_array()
                    .and_then(|c| c.first())
                    .and_then(Value::as_str),
            );
            row.text("criticality", r["criticality"].as_str());
            if let Some(d) = values::date(&r["recordedDate"]) {
                row.set("recorded_date", Cell::Date(d));
            }
            LakeTable::Allergy
        }
        "ImagingStudy" => {
            row.text(
                "modality",
                r["modality"]
                    .as_array()
                    .and_then(|m| m.first())
                    .and_then(|m| m["code"].as_str()),
            );
            let site = r["series"]
                .as_array()
                .and_then(|s| s.first())
                .and_then(|s| s["bodySite"]["code"].as_str());
            row.text("body_site", site);
            timestamp(&mut row, "started_at", &r["started"]);
            if let Some(n) = r["numberOfSeries"]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
            {
                row.set("series_count", Cell::Int(n));
            }
            if let Some(n) = r["numberOfInstances"]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
            {
                row.set("instance_count", Cell::Int(n));
            }
            LakeTable::ImagingStudy
        }
        _ => return None,
    };
    Some(vec![(table, row)])
}

/// JP Core's 投与日数 extension (UsageDuration, in days).
fn usage_days(dosage: &Value) -> Option<i32> {
    dosage["extension"].as_array()?.iter().find_map(|e| {
        let url = e["url"].as_str()?;
        if !url.ends_with("JP_MedicationDosage_UsageDuration") {
            return None;
        }
        let v = e["valueDuration"]["value"].as_f64()?;
        Some(v.round() as i32)
    })
}
