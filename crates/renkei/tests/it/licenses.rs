//! License hygiene of everything we ship, in the manner of `cargo deny check
//! licenses` but with no tool to install: every package in the dependency
//! graph must carry an SPDX expression that our allow-list satisfies. The
//! allow-list matches `deny.toml`.

const ALLOWED: &[&str] = &[
    "Apache-2.0",
    "MIT",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "Zlib",
    "CC0-1.0",
    "CDLA-Permissive-2.0",
    "MPL-2.0",
    "BSL-1.0",
    "0BSD",
    "Unlicense",
    // libbz2-rs-sys (bzip2 in Rust), through the compression codecs of
    // DataFusion's default features, which Ballista turns on: bzip2's own
    // permissive BSD-style licence.
    "bzip2-1.0.6",
];

const ALLOWED_EXCEPTIONS: &[&str] = &["LLVM-exception"];

/// Whether an SPDX license expression is satisfied by the allow-list:
/// `OR` needs one side allowed, `AND` both, `WITH` an allowed exception.
fn satisfied(expr: &str) -> Result<bool, String> {
    let spaced = expr
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let ok = or_expr(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("unexpected {:?} in {expr:?}", tokens[pos]));
    }
    Ok(ok)
}

fn or_expr(t: &[&str], pos: &mut usize) -> Result<bool, String> {
    let mut ok = and_expr(t, pos)?;
    while t.get(*pos) == Some(&"OR") {
        *pos += 1;
        ok |= and_expr(t, pos)?;
    }
    Ok(ok)
}

fn and_expr(t: &[&str], pos: &mut usize) -> Result<bool, String> {
    let mut ok = atom(t, pos)?;
    while t.get(*pos) == Some(&"AND") {
        *pos += 1;
        ok &= atom(t, pos)?;
    }
    Ok(ok)
}

fn atom(t: &[&str], pos: &mut usize) -> Result<bool, String> {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            let ok = or_expr(t, pos)?;
            if t.get(*pos) != Some(&")") {
                return Err("unbalanced parentheses".to_owned());
            }
            *pos += 1;
            Ok(ok)
        }
        Some(id) => {
            *pos += 1;
            let mut ok = ALLOWED.contains(id);
            if t.get(*pos) == Some(&"WITH") {
                let exception = t.get(*pos + 1).ok_or("WITH without an exception")?;
                ok &= ALLOWED_EXCEPTIONS.contains(exception);
                *pos += 2;
            }
            Ok(ok)
        }
        None => Err("expression ends early".to_owned()),
    }
}

#[test]
fn spdx_expressions_are_evaluated() {
    assert_eq!(satisfied("MIT OR Apache-2.0"), Ok(true));
    assert_eq!(satisfied("(MIT OR Apache-2.0) AND Unicode-3.0"), Ok(true));
    assert_eq!(satisfied("Apache-2.0 WITH LLVM-exception"), Ok(true));
    assert_eq!(satisfied("GPL-3.0-only"), Ok(false));
    assert_eq!(satisfied("MIT AND GPL-3.0-only"), Ok(false));
    assert_eq!(satisfied("GPL-3.0-only OR MIT"), Ok(true));
    assert!(satisfied("(MIT").is_err());
}

fn host_triple() -> String {
    let out = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

#[test]
fn every_dependency_has_an_allowed_license() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        // The platform we build for: other targets' crates are never
        // downloaded, and never shipped.
        .args(["--filter-platform", &host_triple()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    assert!(
        packages.len() > 100,
        "the dependency graph looks incomplete"
    );
    let mut refused = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or("?");
        let version = p["version"].as_str().unwrap_or("?");
        match p["license"].as_str() {
            None => refused.push(format!("{name} {version}: no SPDX license expression")),
            Some(expr) => match satisfied(expr) {
                Ok(true) => {}
                Ok(false) => refused.push(format!("{name} {version}: {expr}")),
                Err(e) => refused.push(format!("{name} {version}: cannot read {expr:?}: {e}")),
            },
        }
    }
    assert!(
        refused.is_empty(),
        "licenses outside the allow-list:\n{}",
        refused.join("\n")
    );
}

/// The allow-list here and `deny.toml`'s are one list written twice: a
/// licence allowed in one and not the other fails here, not in CI later.
#[test]
fn the_allow_list_matches_deny_toml() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deny.toml");
    let text = std::fs::read_to_string(path).expect("deny.toml");
    let deny: toml::Value = toml::from_str(&text).expect("deny.toml is TOML");
    let mut theirs: Vec<String> = deny["licenses"]["allow"]
        .as_array()
        .expect("licenses.allow")
        .iter()
        .filter_map(|v| v.as_str())
        // `A WITH B` there is licence A with exception B here.
        .map(|l| l.split(" WITH ").next().unwrap_or(l).to_owned())
        .collect();
    theirs.sort();
    theirs.dedup();
    let mut ours: Vec<String> = ALLOWED.iter().map(|l| (*l).to_owned()).collect();
    ours.sort();
    assert_eq!(
        ours, theirs,
        "tests/it/licenses.rs and deny.toml allow different licences"
    );
}
