//! `renkei-bench siege` end to end at a tiny size: the platform refuses
//! each attack with the status the issue asks for, two output checks run
//! at once on a platform the demo's walk filled, and the prober gets its
//! answers. No latency is asserted here: those are the bench's numbers
//! (BENCHMARKS.md), not a test's.

use std::process::Command;

#[test]
fn bench_siege_refuses_each_attack_and_probes_throughout() {
    let work = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_renkei-bench"))
        .env("RENKEI_LOG", "warn")
        .args([
            "siege",
            "--runs",
            "1",
            "--zeros-mib",
            "2",
            "--bomb-mib",
            "64",
            "--sign-ins",
            "12",
        ])
        .arg("--work")
        .arg(work.path())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "renkei failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a line")).expect("JSON");
    assert_eq!(s["statuses"]["zeros_bundle"], 413, "{s}");
    assert_eq!(s["statuses"]["gzip_bomb"], 413, "{s}");
    let flood: u64 = s["statuses"]["sign_in_flood"]
        .as_object()
        .expect("by status")
        .values()
        .filter_map(serde_json::Value::as_u64)
        .sum();
    assert_eq!(flood, 12, "every sign-in answered: {s}");
    assert!(
        s["statuses"]["sign_in_flood"].get("303").is_none(),
        "a wrong password signed in: {s}"
    );
    assert!(s["probes"].as_u64().unwrap_or(0) >= 1, "{s}");
    // Two output checks at once on two permits: each answered (a checked
    // output, or a refusal such as the one-at-a-time rule), and the prober
    // answered while they ran.
    let checks = s["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 2, "{s}");
    for c in checks {
        let status = c["status"].as_u64().unwrap_or(0);
        assert!(status == 201 || (400..500).contains(&status), "{s}");
    }
    assert!(
        checks.iter().any(|c| c["status"] == 201),
        "at least one check ran: {s}"
    );
    assert!(s["checks_probes"].as_u64().unwrap_or(0) >= 1, "{s}");
    assert_eq!(s["speedup"], serde_json::Value::Null);
}
