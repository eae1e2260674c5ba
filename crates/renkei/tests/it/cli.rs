//! The binary as an operator runs it, in a scratch directory.

use std::process::Command;

pub(crate) fn renkei() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_renkei"));
    c.env("RENKEI_LOG", "warn");
    c
}

#[test]
fn demo_exit_walks_every_step_and_ends_with_a_json_summary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("demo");
    let out = renkei()
        .args(["demo", "--exit", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .current_dir(dir.path())
        .output()
        .expect("renkei runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("output");
    let summary: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["health"], "ok");
    assert_eq!(summary["accounts"], 6);
    assert_eq!(summary["login"], "ok");
    assert_eq!(summary["audit_inclusion_verified"], true);
    assert_eq!(summary["audit_consistency_verified"], true);
    assert!(summary["audit_entries"].as_u64().expect("count") > 10);
    assert_eq!(summary["collect_rejected"], 0);
    // A JP-CLINS document and the six information by insurance identifier.
    assert_eq!(summary["jpclins_refused"], 0);
    assert_eq!(
        summary["jpclins_accepted"], 18,
        "3 patients × (3 in the document + 3 by identifier)"
    );
    // The person index against the synthetic truth: no false link, and
    // most of each person's records found.
    assert_eq!(summary["identity_precision"], 1.0);
    assert!(summary["identity_recall"].as_f64().expect("recall") > 0.95);
    assert_eq!(summary["identity_true_persons"], 300);
    // Its merges reach the lake's person_key_map, one row each.
    assert_eq!(
        summary["identity_lake_key_map_rows"],
        summary["identity_pass_merged"]
    );
    // The probabilistic pass links what the tokens missed, wrongly never.
    assert_eq!(summary["identity_after_pass_precision"], 1.0);
    assert!(
        summary["identity_after_pass_recall"]
            .as_f64()
            .expect("recall")
            >= summary["identity_recall"].as_f64().expect("recall")
    );
    // The clerical review decides every queued link it can judge, and its
    // decisions keep the index right: every split reaches record_key_map.
    let decided = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{k}"));
    assert!(
        decided("identity_review_same") + decided("identity_review_different") > 0,
        "{summary}"
    );
    assert_eq!(
        decided("identity_review_open"),
        decided("identity_review_undecidable")
    );
    assert!(decided("identity_review_split") <= decided("identity_review_different"));
    assert!(decided("identity_lake_record_map_rows") >= decided("identity_review_split"));
    assert_eq!(summary["identity_after_review_precision"], 1.0);
    // A tenth of the persons opt out, some through the portal; every
    // change is one registry version, and an extract touching every
    // purpose leaves out all but the withdrawn and the not-yet-effective.
    let n = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{k}"));
    assert!(n("optouts") >= 25, "{summary}");
    assert!(n("optouts_via_portal") > 0);
    assert_eq!(
        n("optout_registry_version"),
        n("optouts") + n("optout_withdrawals")
    );
    assert_eq!(
        n("optout_excluded_every_purpose"),
        n("optouts") - n("optout_withdrawals") - n("optouts_effective_later")
    );
    assert!(n("optout_excluded_any_study") < n("optout_excluded_every_purpose"));
    // Three applications decided: two permits, one rejection, all public.
    assert_eq!(n("applications"), 3);
    assert_eq!(n("permits_active"), 2);
    assert_eq!(n("rejected"), 1);
    // Each permit got its extract; nobody who opted out is in one, though
    // some of them would have been (the check is not vacuous).
    assert_eq!(n("extracts"), 2);
    assert!(n("extract_rows") > n("extract_persons"));
    assert!(n("extract_persons") > 0);
    assert_eq!(n("optout_violations"), 0);
    assert!(n("extract_optouts_left_out") > 0);
    assert!(n("k") >= 5, "the anonymized dataset meets k = 5");
    assert!(
        n("queries") >= 6,
        "the cohort queries and the refused one are in the history"
    );
    assert_eq!(n("outputs_released"), 2);
    assert!(n("cells_suppressed") >= 1, "one output needed suppression");
    assert!(
        summary["url"]
            .as_str()
            .expect("url")
            .starts_with("http://127.0.0.1:")
    );
    assert!(stdout.contains("patient"), "logins are printed");

    // Everything the demo wrote — databases, lake, extracts, keys — is the
    // platform account's alone.
    #[cfg(unix)]
    {
        let (loose, files) = renkei_store::testing::loose_paths(&data);
        assert!(loose.is_empty(), "readable by group or others: {loose:?}");
        assert!(
            files
                .iter()
                .any(|f| f.contains("/extracts/") && f.ends_with(".parquet")),
            "{files:?}"
        );
        assert!(
            files
                .iter()
                .any(|f| f.contains("/lake/") && f.ends_with(".parquet")),
            "{files:?}"
        );
    }

    // The log the demo left verifies from the command line, then fails,
    // naming the entry, once one stored byte is flipped.
    let verify = renkei()
        .args(["audit", "verify", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    flip_one_byte_of_entry(&data.join("db/audit.sqlite"), 3);
    let verify = renkei()
        .args(["audit", "verify", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(!verify.status.success(), "tampering went unnoticed: {text}");
    assert!(text.contains("entry 3"), "does not name the entry: {text}");
}

pub(crate) fn flip_one_byte_of_entry(db: &std::path::Path, index: i64) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("open audit db");
        let data: Vec<u8> = sqlx::query_scalar("SELECT data FROM entries WHERE idx = ?")
            .bind(index)
            .fetch_one(&mut conn)
            .await
            .expect("entry exists");
        let mut changed = data.clone();
        let at = changed.len() / 2;
        changed[at] ^= 0x01;
        sqlx::query("UPDATE entries SET data = ? WHERE idx = ?")
            .bind(changed)
            .bind(index)
            .execute(&mut conn)
            .await
            .expect("tamper");
    });
}

#[test]
fn a_misspelt_configuration_key_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("renkei.toml"),
        "[server]\nlisten_adress = \"127.0.0.1:0\"\n",
    )
    .expect("write");
    let out = renkei()
        .args(["audit", "head"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen_adress"), "{err}");
}

#[test]
fn admin_creates_an_account_and_a_token_and_both_are_audited() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let mut child = renkei()
        .args([
            "admin",
            "create-user",
            "--username",
            "ops.tanaka",
            "--role",
            "operator",
        ])
        .args(["--org", "公的主体", "--password-stdin", "--data"])
        .arg(&data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a long operator password\n")
        .expect("password written");
    let out = child.wait_with_output().expect("finishes");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created ops.tanaka (operator)"));

    let out = renkei()
        .args([
            "admin",
            "create-token",
            "--username",
            "ops.tanaka",
            "--data",
        ])
        .arg(&data)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("rk_") && token.len() == 46, "{token}");

    let out = renkei()
        .args([
            "admin",
            "create-user",
            "--username",
            "ops.tanaka",
            "--role",
            "auditor",
            "--data",
        ])
        .arg(&data)
        .output()
        .expect("runs");
    assert!(!out.status.success(), "a taken user name was accepted");
    assert!(String::from_utf8_lossy(&out.stderr).contains("user name \"ops.tanaka\" is taken"));

    let out = renkei()
        .args(["audit", "verify", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    // The organization, the account and the token, each recorded before
    // it was committed; the refused duplicate left nothing.
    assert!(out.status.success() && text.contains("3 entries"), "{text}");
}

#[test]
fn serve_answers_then_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = renkei()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a line");
    let url = first
        .trim()
        .strip_prefix("renkei serving on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let health: serde_json::Value = rt
        .block_on(async { reqwest::get(format!("{url}healthz")).await?.json().await })
        .expect("healthz answers");
    assert_eq!(health["status"], "ok");

    // Beside the running platform, heads can be read but nobody else may
    // write the audit log.
    let data = dir.path().join("data");
    let head = renkei()
        .args(["audit", "head", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&head.stdout);
    assert!(
        head.status.success(),
        "audit head beside serve: {text}{}",
        String::from_utf8_lossy(&head.stderr)
    );
    assert!(text.contains("\"tree_size\""), "{text}");
    let admin = renkei()
        .args(["admin", "create-token", "--username", "nobody", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    assert!(!admin.status.success());
    let err = String::from_utf8_lossy(&admin.stderr);
    assert!(err.contains("open for writing elsewhere"), "{err}");

    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("serve exits");
    assert!(
        status.success(),
        "serve did not exit cleanly on SIGTERM: {status}"
    );
    // Shut down cleanly: the audit log is free for the next process.
    let out = renkei()
        .args(["audit", "verify", "--data"])
        .arg(dir.path().join("data"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn cluster_nodes_start_find_each_other_and_stop_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("extracts")).expect("extract dir");
    let mut scheduler = renkei()
        .args(["cluster", "scheduler", "--bind", "127.0.0.1:0", "--data"])
        .arg(&data)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("scheduler starts");
    let mut first = String::new();
    BufReader::new(scheduler.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    let address = first
        .trim()
        .strip_prefix("renkei analysis scheduler on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let flight = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .to_string();
    let mut executor = renkei()
        .args([
            "cluster",
            "executor",
            "--scheduler",
            &address,
            "--bind",
            &flight,
        ])
        .args(["--cores", "1", "--memory-gib", "1", "--data"])
        .arg(&data)
        .env("RENKEI_LOG", "info")
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("executor starts");
    // The executor's log says when it has joined and then when it starts
    // its flight service, the last step before Ballista listens for
    // SIGTERM (a signal before that ends the process the default way, as
    // it would any starting process). Read on a thread so that a silent
    // executor fails the test instead of hanging it.
    let stderr = executor.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Connected to scheduler") {
                let _ = tx.send("connected");
            }
            if line.contains("arrow flight service") {
                let _ = tx.send("serving");
            }
        }
    });
    for step in ["connected", "serving"] {
        let seen = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the executor never logged that it was {step}"));
        assert_eq!(seen, step);
    }
    // From the flight service's start to the signal listener is a few
    // instructions; this leaves them ample time on a loaded machine.
    std::thread::sleep(Duration::from_millis(500));
    for (name, child) in [("executor", &mut executor), ("scheduler", &mut scheduler)] {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let status = child.wait().expect("exits");
        assert!(status.success(), "{name} did not exit cleanly: {status}");
    }
}
