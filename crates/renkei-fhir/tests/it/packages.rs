//! The bundled FHIR packages (issue 16): JP Core and JP-CLINS load from
//! their published archives, every profile carries its snapshot, and every
//! profile a published example claims in `meta.profile` is found — so
//! validation against the claimed profile has what it needs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use renkei_fhir::package::{Package, Packages};
use serde_json::Value;

fn claimed_profiles() -> BTreeSet<String> {
    let dirs = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/jp-clins/examples"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/jpcore"),
    ];
    let mut claims = BTreeSet::new();
    for dir in &dirs {
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        for f in files {
            let v: Value = serde_json::from_slice(&std::fs::read(&f).expect("read")).expect("json");
            let mut resources = vec![v.clone()];
            resources.extend(
                v["entry"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e["resource"].clone()),
            );
            for r in resources {
                for p in r["meta"]["profile"].as_array().into_iter().flatten() {
                    claims.insert(p.as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    claims
}

#[test]
fn the_bundled_packages_load_with_their_snapshots() {
    let packages = Packages::bundled().expect("the bundled packages load");
    let names: Vec<(&str, &str)> = packages
        .packages()
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        names,
        [("jp-eCSCLINS.r4", "1.x.x-temp"), ("jp-core.r4", "1.1.2")]
    );
    let clins = &packages.packages()[0];
    let core = &packages.packages()[1];
    assert_eq!(clins.structure_definitions.len(), 49);
    assert_eq!(core.structure_definitions.len(), 89);
    assert!(!core.value_sets.is_empty() && !core.code_systems.is_empty());
    for p in packages.packages() {
        for (url, sd) in &p.structure_definitions {
            let elements = sd["snapshot"]["element"].as_array().map_or(0, Vec::len);
            assert!(elements > 0, "{url} in {} has no snapshot", p.name);
        }
    }
    // The JP-CLINS rule the ErrorExamples break is in the data, as the
    // validator will read it.
    let mr = packages
        .structure_definition(
            "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_MedicationRequest_eCS|1.5.2",
        )
        .expect("JP_MedicationRequest_eCS");
    let keys: Vec<&str> = mr["snapshot"]["element"][0]["constraint"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["key"].as_str())
        .collect();
    assert!(
        keys.contains(&"needs-anyOfStandardCode-medication"),
        "{keys:?}"
    );
}

#[test]
fn every_profile_a_published_example_claims_is_bundled() {
    let packages = Packages::bundled().expect("load");
    let claims = claimed_profiles();
    assert!(claims.len() >= 40, "{claims:?}");
    let missing: Vec<&String> = claims
        .iter()
        .filter(|c| packages.structure_definition(c).is_none())
        .collect();
    assert!(missing.is_empty(), "claimed but not bundled: {missing:?}");
}

#[test]
fn a_broken_package_is_refused_naming_it() {
    let err = Package::read("broken.tgz", b"not gzip at all").expect_err("refused");
    assert!(err.to_string().starts_with("package broken.tgz:"), "{err}");
}
