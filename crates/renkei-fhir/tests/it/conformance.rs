//! Validation against the published profiles (issue 16): every published
//! valid example passes the profiles it claims, and what a profile adds —
//! narrowed cardinality, allowed choice types, fixed values, slices — is
//! refused at the element that breaks it, naming the profile.

use std::path::{Path, PathBuf};

use renkei_fhir::conformance::Registry;
use renkei_fhir::validate;
use serde_json::Value;

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json")
}

fn clins(name: &str) -> Value {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/jp-clins/examples")
            .join(name),
    )
}

/// Every example published as valid, JP-CLINS and JP Core.
fn valid_examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = json_files(&root.join("../../testdata/jp-clins/examples"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("ErrorExample"))
        .collect();
    files.extend(json_files(&root.join("../../../shared/testdata/jpcore")));
    files
}

#[test]
fn every_published_valid_example_passes_its_profiles() {
    let files = valid_examples();
    assert!(files.len() > 60, "{} files", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let outcome = validate(&read(f));
        for i in outcome.errors() {
            failures.push(format!(
                "{}: {} — {}",
                f.display(),
                i.expression,
                i.diagnostics
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The examples inside a bundled package (`package/*.json` that are not
/// conformance resources), by member name.
fn package_examples(file: &str) -> Vec<(String, Value)> {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("packages")
            .join(file),
    )
    .expect("package file");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut examples = Vec::new();
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("member");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let Some(member) = name.strip_prefix("package/") else {
            continue;
        };
        if member.contains('/') || !member.ends_with(".json") || member == "package.json" {
            continue;
        }
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut text).expect("read");
        let v: Value = serde_json::from_slice(&text).expect("json");
        let definitional = [
            "StructureDefinition",
            "ValueSet",
            "CodeSystem",
            "NamingSystem",
            "CapabilityStatement",
            "ImplementationGuide",
            "SearchParameter",
        ];
        if !definitional.contains(&v["resourceType"].as_str().unwrap_or_default()) {
            examples.push((member.to_owned(), v));
        }
    }
    examples
}

#[test]
fn every_example_inside_the_bundled_packages_passes() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in ["jp-core.r4-1.1.2.tgz", "jp-clins.r4-1.5.2-snap.tgz"] {
        for (name, v) in package_examples(file) {
            checked += 1;
            for i in validate(&v).errors() {
                failures.push(format!(
                    "{file}/{name}: {} — {}",
                    i.expression, i.diagnostics
                ));
            }
        }
    }
    assert!(checked >= 40, "{checked} examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_registry_compiles_every_bundled_profile() {
    let packages = renkei_fhir::package::Packages::bundled().expect("packages");
    let urls: std::collections::BTreeSet<&String> = packages
        .packages()
        .iter()
        .flat_map(|p| p.structure_definitions.keys())
        .collect();
    let c = Registry::bundled().coverage();
    assert_eq!(c.malformed, Vec::<String>::new());
    assert_eq!(c.profiles, urls.len());
    // Checked: the value sets the packages spell out. Not checked, and
    // counted as such: the national masters (YJ, 一般名処方) and JLAC,
    // whose terminology packages are not bundled, and base R4 value sets
    // (the base walk's own tables check the R4 status codes).
    assert!(c.value_sets_checked >= 10, "{}", c.value_sets_checked);
    assert!(
        c.value_sets_unchecked
            .iter()
            .any(|v| v.ends_with("JP_MedicationCodeYJ_VS"))
    );
    // Every invariant of the packages runs except txt-1 and txt-2, whose
    // htmlChecks() needs an XHTML checker.
    assert_eq!(c.invariants_unsupported, ["txt-1", "txt-2"]);
    assert!(c.invariants_checked >= 80, "{}", c.invariants_checked);
    eprintln!(
        "{} invariants; {} profiles; required bindings: {} value sets checked, {} not enumerable here",
        c.invariants_checked,
        c.profiles,
        c.value_sets_checked,
        c.value_sets_unchecked.len()
    );
}

/// The errors of `v`, as (location, message).
fn errors(v: &Value) -> Vec<(String, String)> {
    validate(v)
        .errors()
        .map(|i| (i.expression.clone(), i.diagnostics.clone()))
        .collect()
}

fn medication_request() -> Value {
    clins("MedicationRequest-Example-JP-MedReq-PO-SID-28days.json")
}

#[test]
fn what_a_claimed_profile_adds_is_refused_where_it_is_broken() {
    assert_eq!(
        errors(&medication_request()),
        Vec::<(String, String)>::new()
    );

    // Cardinality the profile narrows: medicationCodeableConcept.text 1..1.
    let mut no_text = medication_request();
    no_text["medicationCodeableConcept"]
        .as_object_mut()
        .expect("object")
        .remove("text");
    let e = errors(&no_text);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].0, "MedicationRequest.medicationCodeableConcept.text");
    assert!(
        e[0].1.contains("(profile JP_MedicationRequest_eCS)"),
        "{}",
        e[0].1
    );

    // A choice type the profile does not allow.
    let mut by_reference = medication_request();
    let obj = by_reference.as_object_mut().expect("object");
    obj.remove("medicationCodeableConcept");
    obj.insert(
        "medicationReference".into(),
        serde_json::json!({"reference": "Medication/m1"}),
    );
    let e = errors(&by_reference);
    assert!(
        e.iter()
            .any(|(at, msg)| at == "MedicationRequest.medicationReference"
                && msg.starts_with(
                    "Reference is not allowed here: the profile allows CodeableConcept"
                )),
        "{e:#?}"
    );

    // A slice's own rules: the 一般名処方 coding (slice codingGeneralName,
    // told apart by its fixed system) must carry a display.
    let mut no_display = medication_request();
    let codings = no_display["medicationCodeableConcept"]["coding"]
        .as_array_mut()
        .expect("codings");
    let general = codings
        .iter()
        .position(|c| {
            c["system"] == "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationGeneralOrderCode"
        })
        .expect("the example has a 一般名処方 coding");
    codings[general]
        .as_object_mut()
        .expect("coding")
        .remove("display");
    let e = errors(&no_display);
    assert_eq!(
        e.iter().map(|(at, _)| at.as_str()).collect::<Vec<_>>(),
        [format!(
            "MedicationRequest.medicationCodeableConcept.coding[{general}].display"
        )]
    );

    // A slice's count: two YJ codings where the profile allows one.
    let mut two_yj = medication_request();
    let yj = serde_json::json!({"system": "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code", "code": "1124029F1021", "display": "x"});
    two_yj["medicationCodeableConcept"]["coding"]
        .as_array_mut()
        .expect("codings")
        .extend([yj.clone(), yj]);
    let e = errors(&two_yj);
    assert!(
        e.iter().any(
            |(at, msg)| at == "MedicationRequest.medicationCodeableConcept.coding"
                && msg.starts_with("allows at most 1 of slice codingYJ, found 2")
        ),
        "{e:#?}"
    );
}

#[test]
fn a_fixed_value_inside_a_slice_decides_the_slice() {
    // JP_Observation_LabResult_eCS requires one category of the slice
    // `laboratory` (system and code fixed): any other category fails it.
    let mut obs = clins("Observation-Example-JP-Obs-LabResult-eCS-K.json");
    assert_eq!(errors(&obs), Vec::<(String, String)>::new());
    obs["category"][0]["coding"][0]["code"] = "vital-signs".into();
    let e = errors(&obs);
    assert!(
        e.iter().any(|(at, msg)| at == "Observation.category"
            && msg.starts_with("needs at least 1 of slice laboratory, found 0")),
        "{e:#?}"
    );
}

/// A sender floods a sliced element: thousands of codings, each sorted
/// into the laboratory profile's slices. Each is still judged on its own:
/// repeats of a slice that allows one are counted and refused once, at the
/// element; codings no slice names are accepted, as open slicing says.
/// (How long the worst case takes at the resource limit is measured by
/// `examples/many_codings.rs`, not here.)
#[test]
fn a_flood_of_codings_is_sorted_into_slices_one_by_one() {
    let obs = clins("Observation-Example-JP-Obs-LabResult-eCS-K.json");
    let first = obs["code"]["coding"][0].clone();
    let flood = |system: Option<&str>| {
        let mut o = obs.clone();
        let codings = o["code"]["coding"].as_array_mut().expect("codings");
        for i in 0..5_000 {
            let mut c = first.clone();
            c["code"] = format!("x{i}").into();
            if let Some(s) = system {
                c["system"] = format!("{s}{i}").into();
            }
            codings.push(c);
        }
        errors(&o)
    };
    assert_eq!(
        flood(None),
        vec![(
            "Observation.code.coding".to_owned(),
            "allows at most 1 of slice localLaboCode, found 5001 (profile JP_Observation_LabResult_eCS)"
                .to_owned()
        )]
    );
    assert_eq!(flood(Some("urn:example:")), Vec::<(String, String)>::new());
}

#[test]
fn unclaimed_jp_core_rules_are_advice_never_a_refusal() {
    // The same fault, with the claim removed: JP Core's profile of the
    // type still runs, and says so, but a valid R4 resource is accepted.
    let mut rx = medication_request();
    rx["medicationCodeableConcept"]
        .as_object_mut()
        .expect("object")
        .remove("text");
    rx.as_object_mut().expect("object").remove("meta");
    let outcome = validate(&rx);
    assert!(outcome.is_accepted(), "{:#?}", outcome.issues);
    assert!(
        outcome.warnings().any(|w| w
            .diagnostics
            .contains("JP Core profile JP_MedicationRequest, which the resource does not claim")),
        "{:#?}",
        outcome.issues
    );
}

#[test]
fn a_known_divergence_is_a_warning_only_where_it_is_listed() {
    // Listed (packages/divergences.json): the JP-CLINS examples name the
    // insurance organization number's system as later JP Core does.
    let org = clins("Organization-Example-JP-Org-eCS-Inst-Referral01.json");
    let outcome = validate(&org);
    assert!(outcome.is_accepted(), "{:#?}", outcome.issues);
    assert!(
        outcome
            .warnings()
            .any(|w| w.diagnostics.contains("accepted as a known divergence")),
        "{:#?}",
        outcome.issues
    );
    // Not listed: any other fixed value still refuses, such as the 日 that
    // JP_MedicationRequest fixes as the unit of the supply duration.
    let mut rx = medication_request();
    rx["dispenseRequest"]["expectedSupplyDuration"]["unit"] = "days".into();
    let e = errors(&rx);
    assert!(
        e.iter().any(|(at, msg)| at
            == "MedicationRequest.dispenseRequest.expectedSupplyDuration.unit"
            && msg.starts_with("must be exactly \"日\", found \"days\"")),
        "{e:#?}"
    );
}

#[test]
fn the_published_error_examples_are_refused_where_they_are_wrong() {
    let found = |name: &str| {
        let e = errors(&clins(name));
        eprintln!("{name}: {e:#?}");
        e
    };
    // A HOT code where YJ, 一般名処方 or the no-code code is required.
    let e = found("MedicationRequest-ErrorExample-JP-MedReq-ExtEye-Total1.json");
    assert!(
        e.iter().any(|(at, msg)| at == "MedicationRequest"
            && msg.starts_with("needs-anyOfStandardCode-medication: ")),
        "{e:#?}"
    );
    // Not detected, and why: the two other published error examples break
    // rules the bundled packages do not carry.
    // - A wrong 一般名処方コード (2124030F2ZZZ for 1124030F2ZZZ): the
    //   slice codingGeneralName binds its code to JP_MedicationCodeCommon_VS,
    //   which includes the 一般名処方マスタ by system; that master's
    //   terminology package is not published where we can fetch it.
    let coverage = Registry::bundled().coverage();
    assert!(
        coverage
            .value_sets_unchecked
            .iter()
            .any(|v| v.ends_with("/JP_MedicationCodeCommon_VS"))
    );
    assert_eq!(
        found("MedicationRequest-ErrorExample-JP-MedReq-PO-SID-28days.json"),
        []
    );
    // - A lab result with no local code: JP_Observation_LabResult_eCS in
    //   the bundled JP-CLINS 1.5.2 snapshot has the slice localLaboCode at
    //   0..1, so the requirement lives in the guide's text only.
    assert_eq!(found("Observation-ErrorExample-ObsLabo-eGFR.json"), []);
}
