//! `renkei-bench query` end to end at a tiny size: the extract is written,
//! found again on the next run, and every query of the set runs through a
//! workspace with disclosure control of its counts. Renkei's side only: the
//! DuckDB peer needs Python and PyPI, and its agreement is checked by the
//! bench itself whenever it runs.

use std::process::Command;

fn bench_query(work: &std::path::Path) -> (serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_renkei-bench"))
        .env("RENKEI_LOG", "warn")
        .args(["query", "--persons", "300", "--runs", "1", "--skip-peer"])
        .arg("--work")
        .arg(work)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "renkei failed:\n{stdout}\n{stderr}");
    let line = stdout.lines().last().expect("a JSON line");
    (
        serde_json::from_str(line).expect("the last line is JSON"),
        stderr,
    )
}

#[test]
fn bench_query_runs_every_query_and_reuses_its_extract() {
    let work = tempfile::tempdir().expect("temp dir");
    let (first, stderr) = bench_query(work.path());
    assert!(
        stderr.contains("writing an extract of 300 persons"),
        "{stderr}"
    );
    assert_eq!(first["bench"], "query");
    assert_eq!(first["metric"], "seconds_total");
    assert_eq!(first["rows"]["person"], 300);
    assert!(first["rows_total"].as_u64().expect("rows") > 300 * 20);
    let queries = first["queries"].as_object().expect("per query");
    assert_eq!(queries.len(), 5, "{queries:?}");
    for (name, q) in queries {
        assert!(
            q["rows"].as_u64().expect("rows") > 0,
            "{name} answered nothing"
        );
    }
    // The count queries went through disclosure control.
    assert!(
        queries["age_band_disease"]["cells"]
            .as_u64()
            .expect("cells")
            > 0
    );
    assert!(first["sdc_overhead"].is_number());
    assert!(first["peer_value"].is_null(), "no peer was asked");

    let (second, stderr) = bench_query(work.path());
    assert!(stderr.contains("reusing the extract"), "{stderr}");
    assert_eq!(
        second["rows"], first["rows"],
        "the same seed gives the same extract"
    );
}
