//! `renkei anonymize` as a user runs it on their own CSV: an ARX hierarchy
//! file for one column, automatic hierarchies for the others.

use std::fmt::Write as _;
use std::process::{Command, Output};

fn renkei() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_renkei"));
    c.env("RENKEI_LOG", "warn");
    c
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

/// 240 patients: id, age, sex, municipality, diagnosis (the sensitive one).
fn patients() -> String {
    let munis = ["131016", "131024", "271004", "011002"];
    let dx = ["I10", "E11", "J45", "C34", "K21"];
    let mut csv = String::from("patient_id,age,sex,municipality,dx\n");
    for i in 0..240u32 {
        let age = 20 + (i * 37) % 70;
        let sex = if i % 3 == 0 { "F" } else { "M" };
        let muni = munis[((i * 7) % 11 % 4) as usize];
        writeln!(csv, "P{i:04},{age},{sex},{muni},{}", dx[(i % 5) as usize]).expect("write");
    }
    csv
}

#[test]
fn anonymize_reads_a_csv_and_an_arx_hierarchy_and_reports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("patients.csv");
    std::fs::write(&input, patients()).expect("write input");
    // Semicolon-separated, as ARX exports it.
    let sex = dir.path().join("sex.csv");
    std::fs::write(&sex, "F;*\nM;*\n").expect("write hierarchy");
    let out_path = dir.path().join("out.csv");
    let out = renkei()
        .args(["anonymize", "--input"])
        .arg(&input)
        .args(["--quasi", "age,sex,municipality", "--sensitive", "dx"])
        .args(["--k", "5", "--l", "2", "--max-suppression", "0.02"])
        .args(["--id", "patient_id", "--hierarchy"])
        .arg(format!("sex={}", sex.display()))
        .arg("--out")
        .arg(&out_path)
        .output()
        .expect("runs");
    let summary = ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("age: integer intervals of width 5"),
        "the chosen hierarchies are printed:\n{stdout}"
    );
    assert!(
        stdout.contains("municipality: 市区町村コード → prefecture"),
        "{stdout}"
    );
    assert_eq!(summary["records"], 240);
    assert!(summary["verified"]["k"].as_u64().expect("k") >= 5);
    assert!(summary["verified"]["l_distinct"].as_u64().expect("l") >= 2);
    let suppressed = summary["suppressed"].as_u64().expect("suppressed");
    assert!(suppressed <= 4, "2% of 240 is 4: {suppressed}");
    assert_eq!(
        summary["generalization"].as_array().expect("levels").len(),
        3
    );
    assert_eq!(
        summary["risk"]["population_records"],
        serde_json::Value::Null
    );

    let mut r = csv::Reader::from_path(&out_path).expect("output CSV");
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        ["age", "sex", "municipality", "dx"],
        "the identifier is removed"
    );
    let rows = r.records().count() as u64;
    assert_eq!(rows + suppressed, 240);
}

#[test]
fn a_value_missing_from_a_hierarchy_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("patients.csv");
    std::fs::write(&input, patients()).expect("write input");
    let sex = dir.path().join("sex.csv");
    std::fs::write(&sex, "F,*\n").expect("write hierarchy");
    let out = renkei()
        .args(["anonymize", "--input"])
        .arg(&input)
        .args(["--quasi", "age,sex", "--k", "3", "--hierarchy"])
        .arg(format!("sex={}", sex.display()))
        .args(["--out"])
        .arg(dir.path().join("out.csv"))
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("column \"sex\", row 2: value \"M\" is not in its hierarchy"),
        "{stderr}"
    );
}
