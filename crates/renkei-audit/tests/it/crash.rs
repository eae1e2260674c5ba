//! A log interrupted at any point reopens, verifies and goes on.

use std::sync::mpsc;
use std::time::Duration;

use renkei_audit::verify;
use renkei_store::test_on_both_backends;
use renkei_store::{DatabaseConfig, StoreConfig};

use super::*;

/// Runs appenders on a runtime of their own and kills it, as a crash would,
/// once `acknowledged` appends were answered: other appends are then between
/// "written" and "answered", or mid-transaction. Returns the acknowledged
/// indices.
fn crash_while_appending(
    dir: std::path::PathBuf,
    config: StoreConfig,
    acknowledged: usize,
) -> Vec<u64> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (tx, rx) = mpsc::channel();
    runtime.spawn(async move {
        let stores = Stores::open(&dir, &config).await.expect("stores");
        let log = open(&stores).await;
        for task in 0..20u64 {
            let log = log.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let receipt = log
                        .append(event(task * 1_000_000 + i))
                        .await
                        .expect("append");
                    if tx.send(receipt.index).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut indices = Vec::new();
    while indices.len() < acknowledged {
        indices.push(
            rx.recv_timeout(Duration::from_secs(60))
                .expect("appends are answered"),
        );
    }
    // Drops every task at its current await point, open transactions
    // included, without running the writer to completion. Waiting for the
    // workers to finish dropping stands for the kernel releasing a dead
    // process's file lock: `shutdown_background` would return before the
    // log's lock file is closed, and the reopen below would race it.
    runtime.shutdown_timeout(Duration::from_secs(30));
    indices
}

/// On PostgreSQL a killed client's last COMMIT may still be running in its
/// server backend when the test reopens the log, as it would be when a
/// crashed platform restarts at once. Marks the crashing client's
/// connections so the test can wait until the server has finished them.
fn tag_connections(config: &StoreConfig) -> (StoreConfig, Option<(String, String)>) {
    let mut tagged = config.clone();
    let DatabaseConfig::Postgres { url, .. } = &mut tagged.database else {
        return (tagged, None);
    };
    let plain = url.clone();
    let name = format!("renkei_crash_test_{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    url.push_str(&format!("{sep}application_name={name}"));
    (tagged, Some((plain, name)))
}

async fn wait_for_backends_to_finish(url: &str, name: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    for _ in 0..600 {
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .expect("pg_stat_activity");
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the crashed client's connections never closed");
}

/// The log as verified once the crashed client has truly stopped. A real
/// crash ends the process; here the crashed runtime is dropped, and
/// SQLite's connection threads (sqlx runs each on its own thread) may
/// still finish a commit they had been handed. So: verified three times
/// in a row, 100 ms apart, with the same size (bounded, 10 s).
async fn settled(stores: &Stores) -> renkei_audit::VerifyReport {
    let mut last = verify(stores, None)
        .await
        .expect("the crashed log verifies");
    let mut same = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = verify(stores, None)
            .await
            .expect("the crashed log verifies");
        same = if now.entries == last.entries {
            same + 1
        } else {
            0
        };
        last = now;
        if same == 2 {
            return last;
        }
    }
    panic!("the crashed client kept writing: {last:?}");
}

test_on_both_backends!(
    async fn crash_between_commit_and_reply_leaves_a_log_that_verifies(t) {
        let dir = t.dir.path().to_owned();
        let (config, tag) = tag_connections(&t.config);
        let acknowledged = tokio::task::spawn_blocking(move || crash_while_appending(dir, config, 200))
            .await
            .expect("crashing thread");
        if let Some((url, name)) = tag {
            wait_for_backends_to_finish(&url, &name).await;
        }

        let stores = Stores::open(t.dir.path(), &t.config).await.expect("reopen stores");
        let report = settled(&stores).await;
        let max_acknowledged = acknowledged.iter().max().copied().expect("some appends");
        assert!(
            report.entries > max_acknowledged,
            "an acknowledged entry was lost: {report:?}, highest acknowledged {max_acknowledged}"
        );

        let log = open(&stores).await;
        assert_eq!(log.size(), report.entries);
        assert_eq!(log.root(report.entries).expect("root"), report.root);
        let receipt = log.append(event(999_999_999)).await.expect("append after crash");
        assert_eq!(receipt.index, report.entries);
        let head = log.signed_head().await.expect("head");
        let again = verify(&stores, Some(&head)).await.expect("verifies after appending");
        assert_eq!(again.entries, report.entries + 1);
        log.close().await;
    }
);

test_on_both_backends!(
    async fn dropping_the_log_without_close_loses_nothing_acknowledged(t) {
        let log = open(&t.stores).await;
        append_one_by_one(&log, 0, 5).await;
        drop(log);
        // A dropped log lets go of its lock when its writer and connections
        // wind down, which happens in the background: wait for that (a
        // crash would end the session at once), bounded.
        let mut tries = 0;
        let log = loop {
            match renkei_audit::AuditLog::open(&t.stores, clock()).await {
                Ok(log) => break log,
                Err(renkei_audit::Error::InUse { .. }) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("audit log opens: {e:?}"),
            }
        };
        assert_eq!(log.size(), 5);
        append_one_by_one(&log, 5, 3).await;
        assert_eq!(verify(&t.stores, None).await.expect("verifies").entries, 8);
        log.close().await;
    }
);
