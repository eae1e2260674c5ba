//! Data at rest is the platform's account's alone: another account on the
//! machine reads nothing under the data directory (issue 15, finding 15).

#[cfg(unix)]
use renkei_store::testing::loose_paths;

use super::audit_attack::{create_user, serve_once};

#[cfg(unix)]
#[test]
fn nothing_the_platform_writes_is_readable_by_group_or_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A data directory in a directory anyone may enter, as under /var/lib.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    let data = dir.path().join("data");
    let witness = dir.path().join("witness/heads.jsonl");
    create_user(&data, "ops.a");
    serve_once(&data, &witness);
    let (loose, files) = loose_paths(&data);
    assert!(loose.is_empty(), "readable by group or others: {loose:?}");
    let (loose, _) = loose_paths(&dir.path().join("witness"));
    assert!(loose.is_empty(), "witness readable by others: {loose:?}");
    // Every function's database and the keys were seen (a clean stop
    // removes the WALs; renkei-deid's test stats one while it is open).
    let seen = |needle: &str| files.iter().any(|f| f.ends_with(needle));
    for needle in [
        "db/accounts.sqlite",
        "db/audit.sqlite",
        "db/processing.sqlite",
        "keys/audit-ed25519.key",
        "audit.lock",
    ] {
        assert!(seen(needle), "{needle} not among {files:?}");
    }
}
