//! Every example in `../shared/testdata/jpcore/` (JP Core 1.1.2, JP-CLINS,
//! HL7 R4 core) must be accepted: no error or fatal issue. Warnings are
//! allowed and recorded in `expected/jpcore.txt` for review.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/jpcore")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("testdata missing at {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_published_example_is_accepted() {
    let root = testdata_dir();
    let mut files = Vec::new();
    json_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 55,
        "expected the 55 visible examples, found {}",
        files.len()
    );
    let mut report = String::new();
    let mut refused = Vec::new();
    for file in &files {
        let name = file
            .strip_prefix(&root)
            .expect("under root")
            .display()
            .to_string();
        let bytes = std::fs::read(file).expect("readable testdata");
        let (resource, outcome) = match renkei_fhir::parse(&bytes) {
            Ok(r) => r,
            Err(e) => panic!("{name}: {e}"),
        };
        writeln!(
            report,
            "{name} ({}): {} issues",
            resource.resource_type(),
            outcome.issues.len()
        )
        .expect("write to string");
        for i in &outcome.issues {
            writeln!(
                report,
                "  {:?} {:?} {}: {}",
                i.severity, i.code, i.expression, i.diagnostics
            )
            .expect("write to string");
        }
        if !outcome.is_accepted() {
            refused.push(name);
        }
    }
    expect_test::expect_file!["expected/jpcore.txt"].assert_eq(&report);
    assert!(
        refused.is_empty(),
        "refused published examples: {refused:?}\n{report}"
    );
}
