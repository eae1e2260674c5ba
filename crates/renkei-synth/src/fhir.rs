//! FHIR R4 resources in JP Core style, built with `serde_json`.
//!
//! Shapes, systems and profiles follow the JP Core 1.1.2 and JP-CLINS
//! example instances in `shared/testdata/jpcore`: the provider's patient id
//! under `urn:oid:1.2.392.100495.20.3.51.1<医療機関コード>`, names with the
//! iso21090-EN-representation extension (IDE kanji, SYL kana), the insured
//! person identifier of JP-CLINS (`保険者番号:記号:番号:枝番`), Coverage with
//! the JP_Coverage_InsuredPerson* extensions, ICD-10 (MHLW 2013) and MEDIS
//! 病名管理番号 on Condition, JLAC10 on Observation, YJ on medication.

use serde_json::{Value, json};

use crate::person::{Home, Insurance, date};
use crate::provider::{Provider, ProviderKind};
use crate::tables::clinical::{Allergen, Disease, Drug, Imaging, LabTest, Procedure, Sex};
use crate::variant::fullwidth_digits;

const JP: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/";
const EXT: &str = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/";
/// The provider's patient id system is this OID followed by "1" and the
/// 10-digit 医療機関コード (JP Core: 1.2.392.100495.20.3.51.1 + code).
pub const PATIENT_ID_OID: &str = "urn:oid:1.2.392.100495.20.3.51.1";
/// JP-CLINS insured person identifier (保険者番号:記号:番号:枝番).
pub const INSURED_ID_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
/// 保険者番号 (payer) identifier system.
pub const INSURER_SYSTEM: &str = "urn:oid:1.2.392.100495.20.3.61";
/// 医療機関コード (10 digits) identifier system.
pub const INSTITUTION_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
/// ICD-10 (2013, MHLW) code system.
pub const ICD10_SYSTEM: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full";
/// MEDIS 標準病名 病名管理番号 code system.
pub const MEDIS_SYSTEM: &str = "http://medis.or.jp/CodeSystem/master-disease-keyNumber";
/// JLAC10 17-digit code system.
pub const JLAC10_SYSTEM: &str = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits";
/// YJ code system.
pub const YJ_SYSTEM: &str = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code";
/// 診療行為コード (基本マスター) code system.
pub const PROCEDURE_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/masterS-medicalProcedure";
const UCUM: &str = "http://unitsofmeasure.org";

/// `YYYY-MM-DD` of a Julian day.
pub fn day_string(day: i32) -> String {
    date(day).to_string()
}

/// `YYYY-MM-DDThh:mm:00+09:00` of a Julian day and minute of the day (JST,
/// as Japanese EHRs record it).
pub fn datetime(day: i32, minute: u32) -> String {
    format!(
        "{}T{:02}:{:02}:00+09:00",
        date(day),
        (minute / 60) % 24,
        minute % 60
    )
}

fn reference(kind: &str, id: &str) -> Value {
    json!({ "reference": format!("{kind}/{id}") })
}

fn profile(name: &str) -> Value {
    json!({ "profile": [format!("{JP}{name}")] })
}

/// The provider as an Organization (id: its 医療機関コード).
pub fn organization(p: &Provider) -> Value {
    json!({
        "resourceType": "Organization",
        "id": p.code,
        "meta": profile("JP_Organization"),
        "identifier": [{ "system": INSTITUTION_SYSTEM, "value": p.code }],
        "extension": [
            { "url": format!("{EXT}JP_Organization_PrefectureNo"),
              "valueCoding": { "system": "urn:oid:1.2.392.100495.20.3.21", "code": p.prefecture_code() } },
            { "url": format!("{EXT}JP_Organization_InsuranceOrganizationCategory"),
              "valueCoding": { "system": "urn:oid:1.2.392.100495.20.3.22", "code": p.kind.score_table().to_string() } },
            { "url": format!("{EXT}JP_Organization_InsuranceOrganizationNo"),
              "valueIdentifier": { "system": "urn:oid:1.2.392.100495.20.3.23", "value": p.institution_number() } },
        ],
        "type": [{ "text": p.kind.name() }],
        "name": p.name,
        "address": [{ "city": p.municipality(), "state": p.prefecture(), "country": "JPN" }],
    })
}

/// What one provider knows about a person: already distorted.
#[derive(Debug, Clone)]
pub struct PatientView<'a> {
    /// Resource id.
    pub id: String,
    /// The provider's patient number (患者番号).
    pub mrn: String,
    /// Surname in kanji as registered here.
    pub family: String,
    /// Given name in kanji.
    pub given: &'static str,
    /// Surname and given name in kana as registered here, if at all.
    pub kana: Option<(String, String)>,
    /// The separator between surname and given name in `text`.
    pub separator: &'static str,
    /// Sex.
    pub sex: Sex,
    /// Birth date, if registered.
    pub birth: Option<i32>,
    /// Address, if registered.
    pub home: Option<&'a Home>,
    /// Insurance, if registered.
    pub insurance: Option<&'a Insurance>,
    /// Whether insurance numbers are written in full-width digits here.
    pub fullwidth: bool,
    /// Death, if this provider recorded it.
    pub deceased: Option<(i32, u32)>,
}

impl PatientView<'_> {
    fn digits(&self, s: &str) -> String {
        if self.fullwidth {
            fullwidth_digits(s)
        } else {
            s.to_owned()
        }
    }

    /// The JP-CLINS insured person identifier value.
    pub fn insured_id(&self) -> Option<String> {
        self.insurance.map(|i| {
            let branch = i.branch.map(|b| format!("{b:02}")).unwrap_or_default();
            format!(
                "{}:{}:{}:{}",
                i.insurer,
                self.digits(&i.symbol),
                self.digits(&i.number),
                self.digits(&branch)
            )
        })
    }
}

fn human_name(representation: &str, family: &str, given: &str, sep: &str) -> Value {
    json!({
        "extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
            "valueCode": representation,
        }],
        "use": "usual",
        "text": format!("{family}{sep}{given}"),
        "family": family,
        "given": [given],
    })
}

/// Patient.
pub fn patient(provider: &Provider, v: &PatientView<'_>) -> Value {
    let mut identifier =
        vec![json!({ "system": format!("{PATIENT_ID_OID}{}", provider.code), "value": v.mrn })];
    if let Some(id) = v.insured_id() {
        identifier.push(json!({ "system": INSURED_ID_SYSTEM, "value": id }));
    }
    let mut names = vec![human_name("IDE", &v.family, v.given, v.separator)];
    if let Some((f, g)) = &v.kana {
        names.push(human_name("SYL", f, g, v.separator));
    }
    let mut r = json!({
        "resourceType": "Patient",
        "id": v.id,
        "meta": profile("JP_Patient"),
        "identifier": identifier,
        "name": names,
        "gender": match v.sex { Sex::Male => "male", Sex::Female => "female" },
        "managingOrganization": reference("Organization", &provider.code),
    });
    if let Some(obj) = r.as_object_mut() {
        if let Some(b) = v.birth {
            obj.insert("birthDate".into(), json!(day_string(b)));
        }
        if let Some(h) = v.home {
            let line = h.line();
            obj.insert(
                "address".into(),
                json!([{
                    "use": "home",
                    "text": format!("{}{}{}", h.prefecture(), h.municipality(), line),
                    "line": [line],
                    "city": h.municipality(),
                    "state": h.prefecture(),
                    "country": "JPN",
                }]),
            );
        }
        if let Some((day, minute)) = v.deceased {
            obj.insert("deceasedDateTime".into(), json!(datetime(day, minute)));
        }
    }
    r
}

/// Coverage of the patient's insurance, if registered.
pub fn coverage(v: &PatientView<'_>) -> Option<Value> {
    let i = v.insurance?;
    let mut ext = Vec::new();
    if !i.symbol.is_empty() {
        ext.push(json!({ "url": format!("{EXT}JP_Coverage_InsuredPersonSymbol"), "valueString": v.digits(&i.symbol) }));
    }
    ext.push(json!({ "url": format!("{EXT}JP_Coverage_InsuredPersonNumber"), "valueString": v.digits(&i.number) }));
    if let Some(b) = i.branch {
        ext.push(json!({ "url": format!("{EXT}JP_Coverage_InsuredPersonSubNumber"), "valueString": v.digits(&format!("{b:02}")) }));
    }
    let mut r = json!({
        "resourceType": "Coverage",
        "id": format!("{}-cov", v.id),
        "meta": profile("JP_Coverage"),
        "extension": ext,
        "status": "active",
        "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PUBLICPOL" }] },
        "subscriberId": v.digits(&i.number),
        "beneficiary": reference("Patient", &v.id),
        "period": { "start": day_string(i.from.max(crate::person::WINDOW_START - 3650)) },
        "payor": [{ "identifier": { "system": INSURER_SYSTEM, "value": i.insurer } }],
    });
    if let (Some(b), Some(obj)) = (i.branch, r.as_object_mut()) {
        obj.insert("dependent".into(), json!(v.digits(&format!("{b:02}"))));
    }
    Some(r)
}

/// Encounter: outpatient (AMB) or inpatient (IMP) for `days` days.
pub fn encounter(
    id: &str,
    patient: &str,
    provider: &Provider,
    day: i32,
    minute: u32,
    inpatient_days: Option<i32>,
) -> Value {
    let (class, display, end) = match inpatient_days {
        Some(d) => ("IMP", "inpatient encounter", datetime(day + d, 600)),
        None => ("AMB", "ambulatory", datetime(day, minute + 15)),
    };
    json!({
        "resourceType": "Encounter",
        "id": id,
        "meta": profile("JP_Encounter"),
        "status": "finished",
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class, "display": display },
        "subject": reference("Patient", patient),
        "period": { "start": datetime(day, minute), "end": end },
        "serviceProvider": reference("Organization", &provider.code),
    })
}

/// Condition (encounter diagnosis) with ICD-10 and MEDIS codes.
pub fn condition(
    id: &str,
    patient: &str,
    enc: &str,
    d: &Disease,
    onset: i32,
    recorded: i32,
) -> Value {
    json!({
        "resourceType": "Condition",
        "id": id,
        "meta": profile("JP_Condition"),
        "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active" }] },
        "verificationStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed" }] },
        "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis" }] }],
        "code": {
            "coding": [
                { "system": MEDIS_SYSTEM, "code": d.medis, "display": d.name },
                { "system": ICD10_SYSTEM, "code": d.icd10.replace('.', ""), "display": d.name },
            ],
            "text": d.name,
        },
        "subject": reference("Patient", patient),
        "encounter": reference("Encounter", enc),
        "onsetDateTime": day_string(onset),
        "recordedDate": day_string(recorded),
    })
}

/// Observation (laboratory result).
pub fn observation(
    id: &str,
    patient: &str,
    enc: &str,
    lab: &LabTest,
    value: f64,
    day: i32,
    minute: u32,
) -> Value {
    let interpretation = if value < lab.low {
        Some(("L", "Low"))
    } else if value > lab.high {
        Some(("H", "High"))
    } else {
        None
    };
    let mut r = json!({
        "resourceType": "Observation",
        "id": id,
        "meta": profile("JP_Observation_LabResult"),
        "status": "final",
        "category": [{ "coding": [{ "system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS", "code": "laboratory" }] }],
        "code": { "coding": [{ "system": JLAC10_SYSTEM, "code": lab.jlac10, "display": lab.name }], "text": lab.name },
        "subject": reference("Patient", patient),
        "encounter": reference("Encounter", enc),
        "effectiveDateTime": datetime(day, minute),
        "specimen": { "display": specimen(lab.jlac10) },
        "valueQuantity": { "value": value, "unit": lab.unit },
        "referenceRange": [{ "low": { "value": lab.low, "unit": lab.unit }, "high": { "value": lab.high, "unit": lab.unit } }],
    });
    if let (Some((code, display)), Some(obj)) = (interpretation, r.as_object_mut()) {
        obj.insert(
            "interpretation".into(),
            json!([{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": code, "display": display }] }]),
        );
    }
    r
}

/// The specimen of a JLAC10 code, from its material digits (材料コード,
/// the 10th to 12th): JP_Observation_LabResult requires a specimen.
fn specimen(jlac10: &str) -> &'static str {
    match jlac10.get(9..12) {
        Some("001") => "尿",
        Some("019") => "全血",
        Some("022") => "血漿",
        Some("023") => "血清",
        _ => "検体",
    }
}

/// Observation (vital signs): a blood pressure panel with systolic and
/// diastolic components, coded in LOINC as the FHIR vital-signs profile
/// requires (85354-9, 8480-6, 8462-4).
pub fn blood_pressure(
    id: &str,
    patient: &str,
    enc: &str,
    systolic: u32,
    diastolic: u32,
    day: i32,
    minute: u32,
) -> Value {
    let component = |code: &str, display: &str, value: u32| {
        json!({
            "code": { "coding": [{ "system": "http://loinc.org", "code": code, "display": display }] },
            "valueQuantity": { "value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]" },
        })
    };
    json!({
        "resourceType": "Observation",
        "id": id,
        "meta": profile("JP_Observation_VitalSigns"),
        "status": "final",
        // JP Core's own category slice (1..1) beside the HL7 one.
        "category": [
            { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs" }] },
            { "coding": [{ "system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS", "code": "vital-signs" }] },
        ],
        "code": { "coding": [{ "system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel with all children optional" }], "text": "血圧" },
        "subject": reference("Patient", patient),
        "encounter": reference("Encounter", enc),
        "effectiveDateTime": datetime(day, minute),
        "component": [
            component("8480-6", "Systolic blood pressure", systolic),
            component("8462-4", "Diastolic blood pressure", diastolic),
        ],
    })
}

fn dosage(drug: &Drug) -> Value {
    json!([{
        "text": drug.usage,
        "doseAndRate": [{ "doseQuantity": drug_quantity(drug, 1) }],
    }])
}

/// MERIT-9 医薬品単位略号 (urn:oid:1.2.392.100495.20.2.101), the unit
/// code JP Core's medication quantities require.
const MERIT9: &str = "urn:oid:1.2.392.100495.20.2.101";

/// A quantity of `drug` in its unit, coded as JP_MedicationSimpleQuantity
/// asks (a code is 1..1).
fn drug_quantity(drug: &Drug, value: u32) -> Value {
    let code = match drug.unit {
        "錠" => "TAB",
        "カプセル" => "CAP",
        "包" => "HO",
        "本" => "HON",
        "回" => "TIME",
        "枚" => "MAI",
        "g" => "G",
        "mL" => "ML",
        // The drug table is ours; a unit without a code is a table bug.
        other => panic!("no MERIT-9 code for the unit {other}"),
    };
    json!({ "value": value, "unit": drug.unit, "system": MERIT9, "code": code })
}

/// JP Core's required identifiers of prescriptions and dispensings: the
/// Rp number (処方箋内の剤グループ番号, urn:oid:1.2.392.100495.20.3.81,
/// slice rpNumber 1..1) and the drug's number within the Rp (…20.3.82).
fn rp_identifiers(rp: u32) -> Value {
    json!([
        { "system": "urn:oid:1.2.392.100495.20.3.81", "value": rp.to_string() },
        { "system": "urn:oid:1.2.392.100495.20.3.82", "value": "1" },
    ])
}

fn medication(drug: &Drug) -> Value {
    json!({ "coding": [{ "system": YJ_SYSTEM, "code": drug.yj, "display": drug.name }], "text": drug.name })
}

/// MedicationRequest (outpatient or inpatient prescription) as Rp `rp` of
/// the encounter's prescription; `at` is the Julian day and minute.
pub fn medication_request(
    id: &str,
    patient: &str,
    enc: &str,
    drug: &Drug,
    days: u32,
    rp: u32,
    at: (i32, u32),
) -> Value {
    let (day, minute) = at;
    json!({
        "resourceType": "MedicationRequest",
        "id": id,
        "meta": profile("JP_MedicationRequest"),
        "identifier": rp_identifiers(rp),
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": medication(drug),
        "subject": reference("Patient", patient),
        "encounter": reference("Encounter", enc),
        "authoredOn": datetime(day, minute),
        "dosageInstruction": dosage(drug),
        "dispenseRequest": {
            "quantity": drug_quantity(drug, drug.per_day * days),
            "expectedSupplyDuration": { "value": days, "unit": "日", "system": UCUM, "code": "d" },
        },
    })
}

/// MedicationDispense at a pharmacy of Rp `rp` of a prescription; the
/// prescribing institution is named by its code, as on a paper
/// prescription, not by a reference. `at` is the Julian day and minute.
pub fn medication_dispense(
    id: &str,
    patient: &str,
    drug: &Drug,
    days: u32,
    rp: u32,
    at: (i32, u32),
    prescriber: &Provider,
) -> Value {
    let (day, minute) = at;
    json!({
        "resourceType": "MedicationDispense",
        "id": id,
        "meta": profile("JP_MedicationDispense"),
        "identifier": rp_identifiers(rp),
        "status": "completed",
        "category": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0482", "code": "O", "display": "Outpatient Order" }] },
        "medicationCodeableConcept": medication(drug),
        "subject": reference("Patient", patient),
        "quantity": drug_quantity(drug, drug.per_day * days),
        "daysSupply": { "value": days, "unit": "日", "system": UCUM, "code": "d" },
        "whenHandedOver": datetime(day, minute),
        "dosageInstruction": dosage(drug),
        "authorizingPrescription": [{
            "identifier": { "system": INSTITUTION_SYSTEM, "value": prescriber.code },
            "display": prescriber.name,
        }],
    })
}

/// Procedure.
pub fn procedure(id: &str, patient: &str, enc: &str, p: &Procedure, day: i32) -> Value {
    json!({
        "resourceType": "Procedure",
        "id": id,
        "meta": profile("JP_Procedure"),
        "status": "completed",
        "code": { "coding": [{ "system": PROCEDURE_SYSTEM, "code": p.0 }], "text": p.1 },
        "subject": reference("Patient", patient),
        "encounter": reference("Encounter", enc),
        "performedDateTime": day_string(day),
    })
}

/// AllergyIntolerance.
pub fn allergy(id: &str, patient: &str, a: &Allergen, recorded: i32) -> Value {
    let code = match a.0 {
        Some(c) => {
            json!({ "coding": [{ "system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_JfagyFoodAllergen_CS", "code": c, "display": a.1 }], "text": a.1 })
        }
        None => json!({ "text": a.1 }),
    };
    json!({
        "resourceType": "AllergyIntolerance",
        "id": id,
        "meta": profile("JP_AllergyIntolerance"),
        "clinicalStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active" }] },
        "verificationStatus": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed" }] },
        "type": "allergy",
        "category": [a.2],
        "code": code,
        "patient": reference("Patient", patient),
        "recordedDate": day_string(recorded),
    })
}

/// ImagingStudy with one series; UIDs under the UUID-derived root 2.25
/// (PS3.5 §B.2), made from the seeded RNG.
/// `at` is the Julian day and minute of the day.
pub fn imaging_study(
    id: &str,
    patient: &str,
    enc: &str,
    kind: &Imaging,
    at: (i32, u32),
    uids: (u128, u128),
    instances: u32,
) -> Value {
    let (day, minute) = at;
    json!({
        "resourceType": "ImagingStudy",
        "id": id,
        "meta": profile("JP_ImagingStudy_Radiology"),
        "identifier": [{ "system": "urn:dicom:uid", "value": format!("urn:oid:2.25.{}", uids.0) }],
        "status": "available",
        "subject": reference("Patient", patient),
        "encounter": reference("Encounter", enc),
        "started": datetime(day, minute),
        "numberOfSeries": 1,
        "numberOfInstances": instances,
        "series": [{
            "uid": format!("2.25.{}", uids.1),
            "number": 1,
            "modality": { "system": "http://dicom.nema.org/resources/ontology/DCM", "code": kind.0 },
            "description": kind.1,
            "numberOfInstances": instances,
        }],
    })
}

/// Whether a provider of this kind keeps clinical records beyond dispensing.
pub fn is_care(kind: ProviderKind) -> bool {
    kind != ProviderKind::Pharmacy
}
