//! Structural rules of the workspace, enforced by `cargo test` (in the manner
//! of rust-analyzer's tidy tests): which crate may depend on which, and what
//! every crate must say about itself.

use std::path::PathBuf;

const FUNCTION_CRATES: &[&str] = &[
    "renkei-collect",
    "renkei-identity",
    "renkei-optout",
    "renkei-review",
    "renkei-deid",
    "renkei-analysis",
    "renkei-audit",
    "renkei-billing",
];

/// What a function crate may depend on among renkei's crates (normal
/// dependencies; `renkei-synth` is allowed for tests only).
const SUPPORTING: &[&str] = &["renkei-core", "renkei-store", "renkei-fhir"];

struct Krate {
    name: String,
    manifest: PathBuf,
    deps: Vec<(String, Option<String>)>,
}

fn workspace() -> Vec<Krate> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| Krate {
            name: p["name"].as_str().expect("name").to_owned(),
            manifest: PathBuf::from(p["manifest_path"].as_str().expect("manifest")),
            deps: p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .map(|d| {
                    (
                        d["name"].as_str().expect("dep name").to_owned(),
                        d["kind"].as_str().map(str::to_owned),
                    )
                })
                .collect(),
        })
        .collect()
}

#[test]
fn function_crates_depend_only_on_supporting_crates() {
    let ws = workspace();
    let mut checked = 0;
    for k in ws
        .iter()
        .filter(|k| FUNCTION_CRATES.contains(&k.name.as_str()))
    {
        for (dep, kind) in &k.deps {
            if !dep.starts_with("renkei") {
                continue;
            }
            let dev = kind.as_deref() == Some("dev");
            let allowed = SUPPORTING.contains(&dep.as_str()) || (dev && dep == "renkei-synth");
            assert!(
                allowed,
                "{} depends on {dep}: function crates talk through renkei-core's traits, never to each other",
                k.name
            );
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        FUNCTION_CRATES.len(),
        "a function crate is missing from the workspace"
    );
}

#[test]
fn analysis_never_depends_on_identity() {
    // DESIGN.md invariant 1: the crate that analyses data cannot reach
    // identifying attributes, not even for tests.
    let ws = workspace();
    let analysis = ws
        .iter()
        .find(|k| k.name == "renkei-analysis")
        .expect("renkei-analysis exists");
    assert!(!analysis.deps.iter().any(|(d, _)| d == "renkei-identity"));
}

#[test]
fn core_depends_on_no_other_renkei_crate() {
    let ws = workspace();
    let core = ws
        .iter()
        .find(|k| k.name == "renkei-core")
        .expect("renkei-core exists");
    let inner: Vec<_> = core
        .deps
        .iter()
        .filter(|(d, _)| d.starts_with("renkei"))
        .collect();
    assert!(inner.is_empty(), "renkei-core depends on {inner:?}");
}

#[test]
fn every_library_crate_says_what_it_owns_and_must_never_do() {
    let ws = workspace();
    let mut checked = 0;
    for k in &ws {
        let lib = k.manifest.parent().expect("crate dir").join("src/lib.rs");
        if !lib.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&lib).expect("lib.rs readable");
        assert!(
            text.starts_with("//! "),
            "{}: lib.rs must open with a crate doc",
            k.name
        );
        for mark in ["**Owns:**", "**Never:**"] {
            assert!(text.contains(mark), "{}: crate doc lacks {mark}", k.name);
        }
        checked += 1;
    }
    assert!(checked >= 13, "only {checked} library crates found");
}

/// The product binary is the product: the benchmarks, their peers'
/// scripts and any path into the build tree live in `renkei-bench`.
#[test]
fn the_product_binary_carries_no_benchmark_or_build_tree_path() {
    let ws = workspace();
    let renkei = ws
        .iter()
        .find(|k| k.name == "renkei")
        .expect("renkei exists");
    assert!(
        !renkei.deps.iter().any(|(d, _)| d == "renkei-bench"),
        "renkei depends on renkei-bench"
    );
    let src = renkei.manifest.parent().expect("crate dir").join("src");
    let mut files = vec![src];
    let mut seen = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .expect("dir")
                    .map(|e| e.expect("entry").path()),
            );
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        // Only tests may find files beside the sources.
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for needle in ["CARGO_MANIFEST_DIR", "scripts/bench", "BenchCommand"] {
            assert!(
                !shipped.contains(needle),
                "{} names {needle}",
                path.display()
            );
        }
        seen += 1;
    }
    assert!(seen > 10, "only {seen} source files read");
}
