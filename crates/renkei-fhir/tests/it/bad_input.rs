//! Each kind of bad input is reported with the right severity, code and
//! location.

use renkei_fhir::{BundleValidator, Error, IssueType, Outcome, Severity, parse, validate};
use serde_json::{Value, json};

fn lab() -> Value {
    json!({
        "resourceType": "Observation",
        "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Observation_LabResult"]},
        "status": "final",
        "category": [{"coding": [{"system": "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "urn:oid:1.2.392.200119.4.504", "code": "3D046000001906202"}], "text": "HbA1c"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-04-01T09:30:00+09:00",
        "specimen": {"display": "全血"},
        "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    })
}

fn issues(o: &Outcome) -> Vec<(Severity, IssueType, &str)> {
    o.issues
        .iter()
        .map(|i| (i.severity, i.code, i.expression.as_str()))
        .collect()
}

#[test]
fn valid_lab_result_has_no_issues() {
    let o = validate(&lab());
    assert_eq!(issues(&o), []);
}

#[test]
fn malformed_json_names_line_and_column() {
    let err = parse(b"{\n  \"resourceType\": \"Patient\",\n  \"id\": }").expect_err("malformed");
    match err {
        Error::Json { line, column, .. } => assert_eq!((line, column), (3, 9)),
        other => panic!("expected a json error, got {other:?}"),
    }
}

#[test]
fn unknown_resource_type_is_refused() {
    let o = validate(&json!({"resourceType": "Patinet", "id": "x"}));
    assert_eq!(
        issues(&o),
        [(
            Severity::Error,
            IssueType::NotSupported,
            "Patinet.resourceType"
        )]
    );
}

#[test]
fn missing_resource_type_is_refused() {
    let o = validate(&json!({"id": "x"}));
    assert_eq!(
        issues(&o),
        [(Severity::Error, IssueType::Required, "Resource")]
    );
}

#[test]
fn other_r4_types_are_accepted_on_base_rules() {
    let o = validate(
        &json!({"resourceType": "Specimen", "id": "s1", "subject": {"reference": "Patient/p1"}}),
    );
    assert!(o.is_accepted(), "{o:?}");
    let o = validate(
        &json!({"resourceType": "Location", "id": "bad id", "managingOrganization": {"reference": "Org 1"}}),
    );
    assert_eq!(
        issues(&o),
        [
            (Severity::Error, IssueType::Value, "Location.id"),
            (
                Severity::Error,
                IssueType::Value,
                "Location.managingOrganization.reference"
            ),
        ]
    );
}

#[test]
fn missing_status_and_code_are_required_errors() {
    let mut v = lab();
    let obj = v.as_object_mut().expect("object");
    obj.remove("status");
    obj.remove("code");
    let o = validate(&v);
    assert_eq!(
        issues(&o),
        [
            (Severity::Error, IssueType::Required, "Observation.status"),
            (Severity::Error, IssueType::Required, "Observation.code"),
        ]
    );
}

#[test]
fn profile_claim_makes_subject_required() {
    let mut v = lab();
    v.as_object_mut().expect("object").remove("subject");
    let o = validate(&v);
    assert_eq!(
        issues(&o),
        [(Severity::Error, IssueType::Required, "Observation.subject")]
    );
}

#[test]
fn wrong_cardinality_is_a_structure_error() {
    let mut v = lab();
    v["status"] = json!(["final"]);
    v["category"] = json!({"text": "laboratory"});
    let o = validate(&v);
    assert_eq!(
        issues(&o),
        [
            (Severity::Error, IssueType::Structure, "Observation.status"),
            (
                Severity::Error,
                IssueType::Structure,
                "Observation.category"
            ),
            // A category that is not a list holds no `laboratory` slice.
            (Severity::Error, IssueType::Required, "Observation.category"),
        ]
    );
}

#[test]
fn invalid_dates_are_value_errors() {
    let mut v = lab();
    v["effectiveDateTime"] = json!("2024-02-30T10:00:00+09:00");
    v["issued"] = json!("2024-04-01");
    let o = validate(&v);
    assert_eq!(
        issues(&o),
        [
            (
                Severity::Error,
                IssueType::Value,
                "Observation.effectiveDateTime"
            ),
            (Severity::Error, IssueType::Value, "Observation.issued"),
        ]
    );
}

#[test]
fn malformed_reference_is_an_error() {
    let mut v = lab();
    v["subject"] = json!({"reference": "Patient"});
    let o = validate(&v);
    assert_eq!(
        issues(&o),
        [(
            Severity::Error,
            IssueType::Value,
            "Observation.subject.reference"
        )]
    );
}

#[test]
fn wrong_identifier_system_where_required_is_an_error() {
    let rx = json!({
        "resourceType": "MedicationRequest",
        "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_MedicationRequest"]},
        "identifier": [{"system": "http://example.org/rp", "value": "1"}],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "urn:oid:1.2.392.200119.4.403.1", "code": "103835401"}]},
        "subject": {"reference": "Patient/p1"},
        "dosageInstruction": [{"text": "1日3回毎食後"}]
    });
    let o = validate(&rx);
    // Each rule JP_MedicationRequest's published snapshot states: two
    // identifiers (1..1 each of the slices rpNumber and orderInRp, by
    // system), and authoredOn.
    let found: Vec<(&str, &str)> = o
        .errors()
        .map(|i| (i.expression.as_str(), i.diagnostics.as_str()))
        .collect();
    let expected = [
        (
            "MedicationRequest.identifier",
            "needs at least 2 identifier, found 1",
        ),
        (
            "MedicationRequest.identifier",
            "needs at least 1 of slice rpNumber, found 0",
        ),
        (
            "MedicationRequest.identifier",
            "needs at least 1 of slice orderInRp, found 0",
        ),
        (
            "MedicationRequest.authoredOn",
            "needs at least 1 authoredOn, found 0",
        ),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for ((at, msg), (want_at, want)) in found.iter().zip(expected) {
        assert_eq!(*at, want_at);
        assert!(
            msg.starts_with(want) && msg.ends_with("(profile JP_MedicationRequest)"),
            "{msg}"
        );
    }
}

#[test]
fn malformed_institution_identifier_is_an_error() {
    let org = json!({
        "resourceType": "Organization",
        "identifier": [
            {"system": "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no", "value": "1311234567"},
            {"system": "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no", "value": "13-1123"}
        ]
    });
    let o = validate(&org);
    assert_eq!(
        issues(&o),
        [(
            Severity::Error,
            IssueType::Value,
            "Organization.identifier[1]"
        )]
    );
}

#[test]
fn unknown_code_in_known_system_is_a_warning() {
    let mut v = lab();
    v["code"]["coding"][0]["code"] = json!("9Z999000000000000");
    let o = validate(&v);
    assert!(o.is_accepted());
    assert_eq!(
        issues(&o),
        [(
            Severity::Warning,
            IssueType::CodeInvalid,
            "Observation.code.coding[0].code"
        )]
    );
}

#[test]
fn wrong_system_for_required_binding_is_an_error() {
    let cond = json!({
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://snomed.info/sct", "code": "55561003"}]},
        "code": {"coding": [{"system": "http://medis.or.jp/CodeSystem/master-disease-keyNumber", "code": "20058911"}]},
        "subject": {"reference": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"}
    });
    let o = validate(&cond);
    assert_eq!(
        issues(&o),
        [(
            Severity::Error,
            IssueType::CodeInvalid,
            "Condition.clinicalStatus.coding[0].system"
        )]
    );
}

#[test]
fn code_outside_required_value_set_is_an_error() {
    let mut v = lab();
    v["status"] = json!("done");
    let o = validate(&v);
    assert_eq!(
        issues(&o),
        [(
            Severity::Error,
            IssueType::CodeInvalid,
            "Observation.status"
        )]
    );
}

#[test]
fn bundle_entries_are_located_by_index() {
    let mut bad = lab();
    bad["effectiveDateTime"] = json!("yesterday");
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": {"resourceType": "Patient", "birthDate": "1960-01-01"},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": bad, "request": {"method": "POST", "url": "Observation"}},
            {"request": {"method": "DELETE", "url": "Observation/o1"}},
            {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": {"resourceType": "Patient"}},
            {"resource": {"resourceType": "Patient", "birthDate": "1960-13-01"}, "request": {"method": "SEND", "url": "Patient"}}
        ]
    });
    let o = validate(&bundle);
    // Entry by entry, as intake streams a Bundle, the same issues arise.
    let mut shell = bundle.clone();
    let entries = shell
        .as_object_mut()
        .and_then(|b| b.remove("entry"))
        .expect("entries");
    let (mut streamed, own) = BundleValidator::start(&shell);
    let mut one_by_one = own.issues;
    for (i, entry) in entries.as_array().expect("array").iter().enumerate() {
        one_by_one.extend(streamed.entry(i, entry).issues);
    }
    one_by_one.extend(streamed.finish(&bundle).issues);
    let mut whole = o.issues.clone();
    let key = |i: &renkei_fhir::Issue| i.expression.clone();
    whole.sort_by_key(key);
    one_by_one.sort_by_key(key);
    assert_eq!(one_by_one, whole);
    let errors = |o: &Outcome| -> Vec<(Severity, IssueType, String)> {
        o.errors()
            .map(|i| (i.severity, i.code, i.expression.clone()))
            .collect()
    };
    let errors = errors(&o);
    let errors: Vec<(Severity, IssueType, &str)> = errors
        .iter()
        .map(|(s, c, e)| (*s, *c, e.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (
                Severity::Error,
                IssueType::Value,
                "Bundle.entry[1].resource.effectiveDateTime"
            ),
            (
                Severity::Error,
                IssueType::Value,
                "Bundle.entry[4].resource.birthDate"
            ),
            (
                Severity::Error,
                IssueType::CodeInvalid,
                "Bundle.entry[4].request.method"
            ),
            (
                Severity::Error,
                IssueType::Required,
                "Bundle.entry[3].request"
            ),
            (
                Severity::Error,
                IssueType::Invalid,
                "Bundle.entry[3].fullUrl"
            ),
        ]
    );
}

#[test]
fn operation_outcome_serializes_as_fhir_json() {
    let o = validate(&json!({"resourceType": "Observation", "code": {"text": "x"}}));
    let oo = serde_json::to_value(o.to_operation_outcome()).expect("serializable");
    assert_eq!(
        oo,
        json!({"resourceType": "OperationOutcome", "issue": [{
            "severity": "error", "code": "required",
            "diagnostics": "missing required element \"status\" (cardinality 1..1)",
            "expression": ["Observation.status"]
        }]})
    );
    let ok = serde_json::to_value(validate(&lab()).to_operation_outcome()).expect("serializable");
    assert_eq!(ok["issue"][0]["severity"], "information");
}

#[test]
fn unknown_element_in_a_profiled_resource_is_an_error() {
    let o = validate(&json!({"resourceType": "Patient", "birthdate": "1970-01-01"}));
    assert_eq!(
        issues(&o),
        [
            (Severity::Error, IssueType::Structure, "Patient.birthdate"),
            // Unclaimed, JP_Patient's identifier (1..*) is advice only.
            (Severity::Warning, IssueType::Required, "Patient.identifier")
        ]
    );
}
