//! `renkei link` and `renkei identity` as a user runs them on their own
//! files: FEBRL3 (../shared/testdata/febrl3), with no configuration.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn renkei() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_renkei"));
    c.env("RENKEI_LOG", "warn");
    c
}

fn febrl3() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/febrl3");
    assert!(
        dir.join("records.csv").is_file(),
        "FEBRL3 test data is missing at {} (see ../shared/testdata/febrl3/SOURCE.md)",
        dir.display()
    );
    dir
}

fn ok(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "renkei failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().expect("output")).expect("last line is JSON")
}

/// Pairs of a pairs CSV, unordered.
fn pairs(path: &Path) -> HashSet<(String, String)> {
    let mut r = csv::Reader::from_path(path).expect("pairs CSV");
    r.records()
        .map(|row| {
            let row = row.expect("row");
            let (a, b) = (row[0].to_owned(), row[1].to_owned());
            if a <= b { (a, b) } else { (b, a) }
        })
        .collect()
}

fn f1(found: &HashSet<(String, String)>) -> f64 {
    let truth = pairs(&febrl3().join("true_links.csv"));
    let tp = found.intersection(&truth).count() as f64;
    let (p, r) = (tp / found.len().max(1) as f64, tp / truth.len() as f64);
    2.0 * p * r / (p + r)
}

#[test]
fn link_dedupes_a_csv_with_no_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_pairs = dir.path().join("pairs.csv");
    let clusters = dir.path().join("clusters.csv");
    let out = renkei()
        .args(["link", "--dedupe"])
        .arg(febrl3().join("records.csv"))
        .args(["--id", "rec_id", "--out"])
        .arg(&out_pairs)
        .arg("--clusters")
        .arg(&clusters)
        .output()
        .expect("runs");
    let summary = ok(&out);
    assert_eq!(summary["mode"], "dedupe");
    assert_eq!(summary["records"], 5000);
    assert_eq!(summary["blocking_automatic"], true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fields compared"),
        "the plan is printed:\n{stdout}"
    );
    let f1 = f1(&pairs(&out_pairs));
    assert!(f1 >= 0.98, "F1 {f1}");
    let entities = csv::Reader::from_path(&clusters)
        .expect("clusters")
        .records()
        .count();
    assert_eq!(entities, 5000, "one row per record");
}

#[test]
fn providers_encode_and_the_platform_links_the_encodings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("linkage.key");
    ok(&renkei()
        .args(["identity", "new-key", "--out"])
        .arg(&key)
        .output()
        .expect("runs"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
    }
    let again = renkei()
        .args(["identity", "new-key", "--out"])
        .arg(&key)
        .output()
        .expect("runs");
    assert!(
        !again.status.success(),
        "an existing key is never overwritten"
    );

    let clks = dir.path().join("clks.csv");
    let schema = dir.path().join("schema.toml");
    let encoded = ok(&renkei()
        .args(["identity", "encode"])
        .arg(febrl3().join("records.csv"))
        .args(["--id", "rec_id", "--key"])
        .arg(&key)
        .arg("--schema-out")
        .arg(&schema)
        .arg("--out")
        .arg(&clks)
        .output()
        .expect("runs"));
    assert_eq!(encoded["records"], 5000);
    let sent = std::fs::read_to_string(&clks).expect("encodings");
    assert!(
        !sent.contains("mitchell") && !sent.contains("wallaby"),
        "no clear value leaves the provider"
    );
    // Encoding again with the written schema gives the same fingerprint.
    let clks2 = dir.path().join("clks2.csv");
    let encoded2 = ok(&renkei()
        .args(["identity", "encode"])
        .arg(febrl3().join("records.csv"))
        .args(["--id", "rec_id", "--key"])
        .arg(&key)
        .arg("--schema")
        .arg(&schema)
        .arg("--out")
        .arg(&clks2)
        .output()
        .expect("runs"));
    assert_eq!(encoded2["schema"], encoded["schema"]);

    let out_pairs = dir.path().join("pairs.csv");
    let linked = ok(&renkei()
        .args(["link", "--dedupe"])
        .arg(&clks)
        .args(["--id", "id", "--out"])
        .arg(&out_pairs)
        .output()
        .expect("runs"));
    assert_eq!(linked["encoding"], "bloom_filter");
    assert_eq!(linked["dice_threshold_automatic"], true);
    let f1 = f1(&pairs(&out_pairs));
    assert!(f1 >= 0.95, "F1 {f1}");
}

#[test]
fn a_missing_id_column_is_named_with_the_columns_there_are() {
    let out = renkei()
        .args(["link", "--dedupe"])
        .arg(febrl3().join("records.csv"))
        .args(["--id", "patient_no"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"patient_no\"") && stderr.contains("rec_id"),
        "{stderr}"
    );
}
