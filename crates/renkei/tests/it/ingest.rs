//! `renkei ingest` over published JP-CLINS records (issue 16): the valid
//! examples of `jami-fhir-jp-wg/clinical-core` go in — none refused for
//! naming its patient by insurance identifier or through its document's
//! Composition — and the exit code tells a script whether anything was
//! refused.

use std::path::PathBuf;
use std::process::Output;

use crate::cli::renkei;

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/jp-clins/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (see testdata/jp-clins/SOURCE.md)", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        61,
        "the published ExampleJson directory has 61 files"
    );
    files
}

fn ingest(data: &std::path::Path, files: &[PathBuf]) -> Output {
    renkei()
        .args([
            "ingest",
            "--provider",
            "1311234567",
            "--register",
            "hospital",
            "--data",
        ])
        .arg(data)
        .args(files)
        .output()
        .expect("runs")
}

fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn every_valid_jp_clins_example_is_taken() {
    let dir = tempfile::tempdir().expect("temp dir");
    let valid: Vec<PathBuf> = examples()
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains("ErrorExample"))
        .collect();
    let out = ingest(&dir.path().join("data"), &valid);
    let s = summary(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(s["rejected"], 0, "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The resources that name their patient by Patient/… before that
    // Patient's file is sent wait, then join with it: none is left.
    assert_eq!(s["pending"].as_u64(), s["pending_joined"].as_u64(), "{s}");
    // The 91 resources of the valid examples (the issue's count): each
    // taken, held until its Patient came, or the same as one sent before
    // in another file (unchanged, or not newer: stale).
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    assert_eq!(n("received"), 91, "{s}");
    assert_eq!(
        n("accepted") + n("pending") + n("unchanged") + n("stale"),
        91,
        "{s}"
    );
    // The standalone Encounters (no subject at all) are kept, and the
    // sender is told where they went.
    assert!(stderr.contains("kept as a raw resource"), "{stderr}");
}

#[test]
fn the_exit_code_says_whether_some_or_all_were_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = dir.path();
    let good = r#"{"resourceType":"Organization","id":"o1","name":"東京テスト病院"}"#;
    let bad = r#"{"resourceType":"Organization","id":"o2","name":7}"#;
    std::fs::write(files.join("mixed.ndjson"), format!("{good}\n{bad}\n")).expect("write");
    std::fs::write(files.join("bad.ndjson"), format!("{bad}\n")).expect("write");

    let out = ingest(&files.join("a"), &[files.join("mixed.ndjson")]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "some refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused at line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ingest(&files.join("b"), &[files.join("bad.ndjson")]);
    assert_eq!(out.status.code(), Some(4), "all refused");
    assert_eq!(summary(&out)["accepted"], 0);
}
