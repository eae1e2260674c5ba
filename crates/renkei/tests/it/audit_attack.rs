//! Someone holding a copy of the data directory (signing key included)
//! attacks the audit log; what is kept outside it catches them.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::cli::{flip_one_byte_of_entry, renkei};

/// Runs `renkei admin create-user` once: one audit entry and one head.
pub(crate) fn create_user(data: &Path, name: &str) {
    let out = renkei()
        .args([
            "admin",
            "create-user",
            "--username",
            name,
            "--role",
            "operator",
            "--data",
        ])
        .arg(data)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn audit(data: &Path, args: &[&str]) -> Output {
    renkei()
        .arg("audit")
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("runs")
}

/// Deletes entries from `size` on and the heads above it, as someone with
/// the database file would, so the log's own heads still agree with it.
fn cut_back_to(db: &Path, size: i64) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("open audit db");
        sqlx::query("DELETE FROM entries WHERE idx >= ?")
            .bind(size)
            .execute(&mut conn)
            .await
            .expect("cut entries");
        sqlx::query("DELETE FROM signed_heads WHERE tree_size > ?")
            .bind(size)
            .execute(&mut conn)
            .await
            .expect("cut heads");
    });
}

#[test]
fn a_log_cut_back_fails_verify_against_a_saved_head_under_the_pinned_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    for name in ["ops.a", "ops.b", "ops.c", "ops.d"] {
        create_user(&data, name);
    }
    // The operator keeps a head and the public key outside the directory.
    let head = audit(&data, &["head"]);
    assert!(head.status.success(), "{}", text(&head));
    let head_file = dir.path().join("head.json");
    std::fs::write(&head_file, &head.stdout).expect("save head");
    let key = audit(&data, &["key"]);
    assert!(key.status.success(), "{}", text(&key));
    let key = String::from_utf8_lossy(&key.stdout).trim().to_owned();
    assert_eq!(key.len(), 64, "{key}");
    let head_arg = head_file.to_str().expect("utf-8 path");

    let ok = audit(&data, &["verify", "--head", head_arg, "--key", &key]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("under the pinned key"), "{}", text(&ok));

    cut_back_to(&data.join("db/audit.sqlite"), 2);

    // On its own the cut log is self-consistent, and verify says how
    // little that proves.
    let alone = audit(&data, &["verify"]);
    assert!(alone.status.success(), "{}", text(&alone));
    assert!(
        String::from_utf8_lossy(&alone.stderr)
            .contains("warning: checked against the data directory's own heads only"),
        "{}",
        text(&alone)
    );
    // Against the saved head it fails, naming both sizes.
    let cut = audit(&data, &["verify", "--head", head_arg, "--key", &key]);
    let out = text(&cut);
    assert!(!cut.status.success(), "a cut log passed: {out}");
    assert!(
        out.contains("head at size 4 covers more entries than the log holds (2)"),
        "{out}"
    );

    // A key that is not the log's is refused for every head.
    let elsewhere = dir.path().join("other");
    create_user(&elsewhere, "ops.a");
    let other = audit(&elsewhere, &["key"]);
    let other = String::from_utf8_lossy(&other.stdout).trim().to_owned();
    let wrong = audit(&data, &["verify", "--key", &other]);
    assert!(!wrong.status.success(), "{}", text(&wrong));
    assert!(text(&wrong).contains("signed by key"), "{}", text(&wrong));
}

#[test]
fn the_platform_refuses_to_start_over_an_altered_entry_naming_its_leaf() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    for name in ["ops.a", "ops.b", "ops.c"] {
        create_user(&data, name);
    }
    flip_one_byte_of_entry(&data.join("db/audit.sqlite"), 1);
    let out = renkei()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .current_dir(dir.path())
        .output()
        .expect("serve runs");
    let out_text = text(&out);
    assert!(
        !out.status.success(),
        "served over an altered log: {out_text}"
    );
    assert!(out_text.contains("audit entry 1 was altered"), "{out_text}");
}

/// Starts `renkei serve` with a witness, waits for it to listen, and stops
/// it with SIGTERM (a clean stop publishes the last head).
pub(crate) fn serve_once(data: &Path, witness: &Path) {
    let mut child = renkei()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("RENKEI_AUDIT__WITNESS", witness)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    assert!(first.starts_with("renkei serving on "), "{first:?}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("serve exits");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_platform_publishes_heads_to_its_witness_and_refuses_a_log_cut_below_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let witness = dir.path().join("witness/heads.jsonl");
    for name in ["ops.a", "ops.b", "ops.c"] {
        create_user(&data, name);
    }
    serve_once(&data, &witness);
    let heads = std::fs::read_to_string(&witness).expect("the witness was written");
    let last: serde_json::Value =
        serde_json::from_str(heads.lines().last().expect("a head")).expect("JSON");
    // Three accounts, the start and the stop.
    assert_eq!(last["tree_size"], 5, "{heads}");

    // verify picks the witness up from the configuration.
    let ok = renkei()
        .args(["audit", "verify", "--data"])
        .arg(&data)
        .env("RENKEI_AUDIT__WITNESS", &witness)
        .output()
        .expect("runs");
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("head at size 5"), "{}", text(&ok));

    cut_back_to(&data.join("db/audit.sqlite"), 3);
    let out = renkei()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("RENKEI_AUDIT__WITNESS", &witness)
        .output()
        .expect("serve runs");
    let out_text = text(&out);
    assert!(!out.status.success(), "served over a cut log: {out_text}");
    assert!(
        out_text.contains(
            "witnessed signed tree head at size 5 covers more entries than the log holds (3)"
        ),
        "{out_text}"
    );
    // An administrator's command is refused the same way.
    let mut admin = renkei();
    admin
        .args([
            "admin",
            "create-user",
            "--username",
            "ops.z",
            "--role",
            "operator",
            "--data",
        ])
        .arg(&data)
        .env("RENKEI_AUDIT__WITNESS", &witness);
    let out = admin.output().expect("runs");
    assert!(!out.status.success(), "{}", text(&out));
}
