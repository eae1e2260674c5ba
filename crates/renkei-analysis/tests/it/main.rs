//! Workspaces against real Parquet files: what a query can and cannot
//! reach, the limits, and the history around it (on SQLite and
//! PostgreSQL); `cluster.rs` runs the same on a Ballista cluster.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use futures::future::BoxFuture;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use renkei_analysis::{Environment, Error, ExtractTable, Limits, Workspace};
use renkei_core::{Actor, AuditEvent, AuditReceipt, AuditSink, SystemClock};
use renkei_store::test_on_both_backends;

mod cluster;
mod peers;

#[derive(Default)]
struct Audit(Mutex<Vec<AuditEvent>>);

impl AuditSink for Audit {
    fn append(&self, event: AuditEvent) -> BoxFuture<'_, Result<AuditReceipt, renkei_core::Error>> {
        Box::pin(async move {
            let mut events = self.0.lock().expect("lock");
            events.push(event);
            Ok(AuditReceipt {
                index: events.len() as u64 - 1,
            })
        })
    }
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("pseudonym", DataType::Utf8, true),
        Field::new("icd10", DataType::Utf8, true),
        Field::new("age", DataType::Int64, true),
    ]))
}

/// Writes `rows` rows as `<permit>/<name>.parquet` and returns the table.
async fn table(store: &Arc<dyn ObjectStore>, permit: &str, name: &str, rows: i64) -> ExtractTable {
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("p{i}")),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| ["E11", "I10", "J45"][(i % 3) as usize]),
            )),
            Arc::new(Int64Array::from_iter_values((0..rows).map(|i| 20 + i % 60))),
        ],
    )
    .expect("batch");
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let path = ObjectPath::from(format!("{permit}/{name}.parquet"));
    store.put(&path, PutPayload::from(buf)).await.expect("put");
    ExtractTable {
        name: name.to_owned(),
        files: vec![path],
        schema: if name == "condition" {
            Some(schema())
        } else {
            None
        },
    }
}

fn limits() -> Limits {
    Limits::from_resources(1, 2)
}

struct Setup {
    _dir: tempfile::TempDir,
    a: Workspace,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let mine = table(&store, "permit-a", "condition", 300).await;
    // Another permit's extract in the same store.
    table(&store, "permit-b", "secret", 50).await;
    std::fs::write(dir.path().join("loose.csv"), "a,b\n1,2\n").expect("loose file");
    let a = Workspace::open(pid("permit-a"), store, &[mine], limits())
        .await
        .expect("workspace");
    Setup { _dir: dir, a }
}

fn count(r: &renkei_analysis::QueryResult) -> i64 {
    r.batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn a_workspace_reads_its_extract() {
    let s = setup().await;
    let r =
        s.a.query("SELECT count(*) FROM condition WHERE icd10 = 'E11'")
            .await
            .expect("query");
    assert_eq!(count(&r), 100);
    let r = s
        .a
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'extract'")
        .await
        .expect("tables");
    let names: Vec<String> = r
        .batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(names, ["condition"], "only the permit's own tables exist");
}

#[tokio::test]
async fn a_workspace_cannot_reach_another_permits_data_or_any_file() {
    let s = setup().await;
    let refused = [
        "SELECT * FROM secret",
        "SELECT * FROM 'permit-b/secret.parquet'",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_parquet('permit-b/secret.parquet')",
        "SELECT * FROM read_csv('loose.csv')",
        "CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION 'permit-b/secret.parquet'",
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
        "COPY (SELECT * FROM condition) TO '/tmp/renkei-leak.csv'",
        "CREATE TABLE copy AS SELECT * FROM condition",
        "INSERT INTO condition VALUES ('x', 'E11', 1)",
        "SET datafusion.catalog.information_schema = false",
        "CREATE VIEW v AS SELECT 1",
    ];
    for sql in refused {
        let err = s.a.query(sql).await.expect_err(sql);
        assert!(matches!(err, Error::Query(_)), "{sql}: {err}");
    }
    assert!(!std::path::Path::new("/tmp/renkei-leak.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_time_limits_stop_a_query() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let t = table(&store, "p", "condition", 300).await;
    let tight = Limits {
        memory_bytes: 256 << 10,
        ..limits()
    };
    let ws = Workspace::open(pid("p"), store.clone(), std::slice::from_ref(&t), tight)
        .await
        .expect("workspace");
    let err = ws
        .query("SELECT a.icd10, a.age, b.age FROM condition a CROSS JOIN condition b ORDER BY a.age + b.age DESC")
        .await
        .expect_err("over the memory limit");
    assert!(
        err.to_string()
            .to_lowercase()
            .contains("resources exhausted"),
        "{err}"
    );
    let quick = Limits {
        timeout: Duration::from_millis(1),
        ..limits()
    };
    let ws = Workspace::open(pid("p"), store, &[t], quick)
        .await
        .expect("workspace");
    let err = ws
        .query("SELECT count(*) FROM condition a CROSS JOIN condition b CROSS JOIN condition c WHERE a.age * b.age * c.age % 7 = 1")
        .await
        .expect_err("over the time limit");
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_that_make_unbounded_output_from_small_input_are_not_offered() {
    // The attack: `cardinality(range(1, 300000000))` built a 2.4 GB array
    // in a 1 GiB workspace, outside the memory pool's view; an endless
    // recursive CTE ran until the server stopped.
    let s = setup().await;
    for sql in [
        "SELECT cardinality(range(1, 300000000))",
        "SELECT count(*) FROM generate_series(1, 300000000)",
        "SELECT count(*) FROM range(1, 300000000)",
        "SELECT length(repeat('x', 2000000000))",
        "SELECT length(lpad('x', 2000000000))",
        "SELECT cardinality(array_repeat(1, 300000000))",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    ] {
        let err = s.a.query(sql).await.expect_err(sql);
        assert!(matches!(err, Error::Query(_)), "{sql}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permits_queries_share_one_memory_pool() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let t = table(&store, "p", "condition", 300).await;
    let t_stores =
        renkei_store::testing::TestStores::new(renkei_store::testing::TestBackend::Sqlite).await;
    let env = Environment::open(
        &t_stores.stores,
        Arc::new(SystemClock),
        Arc::new(Audit::default()),
        peers::none(),
    )
    .await
    .expect("environment");
    let one = env.memory_pool(pid("p"), 1 << 20);
    let two = env.memory_pool(pid("p"), 1 << 20);
    assert!(Arc::ptr_eq(&one, &two), "one pool per permit");
    assert!(!Arc::ptr_eq(&one, &env.memory_pool(pid("q"), 1 << 20)));
    // Half the pool held by one query of the permit leaves the other half:
    // a query that alone fits in the permit's memory fails beside it.
    let held =
        datafusion::execution::memory_pool::MemoryConsumer::new("another query").register(&one);
    held.try_grow((1 << 20) - (64 << 10)).expect("room");
    let tight = Limits {
        memory_bytes: 1 << 20,
        ..limits()
    };
    let ws = Workspace::open_sharing(&Default::default(), pid("p"), store, &[t], tight, two)
        .await
        .expect("workspace");
    let sort = "SELECT a.icd10, a.age, b.age FROM condition a CROSS JOIN condition b WHERE b.age < 25 ORDER BY a.age + b.age DESC";
    let err = ws.query(sort).await.expect_err("the pool is shared");
    assert!(
        err.to_string()
            .to_lowercase()
            .contains("resources exhausted"),
        "{err}"
    );
    drop(held);
    ws.query(sort)
        .await
        .expect("fits once the other query is done");
}

test_on_both_backends! {
async fn a_query_whose_caller_goes_away_is_stopped_and_recorded(ts) {
    // The attack: a client sends an endless query and hangs up; the query
    // ran on for 505 s past every limit, and its compute was never
    // recorded.
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let t = table(&store, "p", "condition", 3000).await;
    let env = Arc::new(
        Environment::open(&ts.stores, Arc::new(SystemClock), Arc::new(Audit::default()), peers::none())
            .await
            .expect("environment"),
    );
    let pool = env.memory_pool(pid("p"), 1 << 30);
    let ws = Arc::new(
        Workspace::open_sharing(&Default::default(), pid("p"), store, &[t], limits(), pool.clone())
            .await
            .expect("workspace"),
    );
    // A filter keeps the count from being answered out of file statistics.
    let endless = "SELECT count(*) FROM condition a CROSS JOIN condition b CROSS JOIN condition c WHERE a.age + b.age + c.age < 0";
    let (env2, ws2) = (env.clone(), ws.clone());
    let caller = tokio::spawn(async move {
        let actor = Actor::System {
            component: "test".to_owned(),
        };
        env2.run(&ws2, "researcher", actor, endless).await
    });
    // Running: the join's build side holds memory of the permit's pool.
    wait_for(|| pool.reserved() > 0, "the query to start").await;
    caller.abort();
    // Stopped: its memory goes back, and the history says what happened.
    wait_for(|| pool.reserved() == 0, "the query to stop").await;
    let mut recorded = None;
    for _ in 0..200 {
        let history = env.history(pid("p"), 10).await.expect("history");
        if history[0].outcome.is_some() {
            recorded = Some(history[0].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let entry = recorded.expect("the outcome is recorded");
    assert_eq!(entry.outcome.as_deref(), Some("cancelled"));
    assert!(entry.elapsed_ms.is_some(), "its compute is recorded");
}
}

/// Waits up to 10 s for `done`, checking every 10 ms.
async fn wait_for(done: impl Fn() -> bool, what: &str) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("waited 10 s for {what}");
}

#[tokio::test]
async fn results_are_cut_at_the_row_limit_and_say_so() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let t = table(&store, "p", "condition", 300).await;
    let ws = Workspace::open(
        pid("p"),
        store,
        &[t],
        Limits {
            max_rows: 120,
            ..limits()
        },
    )
    .await
    .expect("workspace");
    let r = ws.query("SELECT * FROM condition").await.expect("query");
    assert_eq!(r.rows, 120);
    assert!(r.truncated);
    let r = ws
        .query("SELECT * FROM condition LIMIT 10")
        .await
        .expect("query");
    assert!(!r.truncated);
}

test_on_both_backends! {
    async fn every_query_is_audited_first_and_kept_in_the_history(t) {
        let s = setup().await;
        let audit = Arc::new(Audit::default());
        let env = Environment::open(&t.stores, Arc::new(SystemClock), audit.clone(), peers::none()).await.expect("environment");
        let actor = Actor::System { component: "test".to_owned() };
        let (id, ok) = env.run(&s.a, "researcher", actor.clone(), "SELECT count(*) FROM condition").await.expect("run");
        assert_eq!(count(&ok.expect("result")), 300);
        let (id2, refused) = env.run(&s.a, "researcher", actor, "SELECT * FROM secret").await.expect("run");
        assert!(refused.is_err());
        assert!(id2 > id);
        let history = env.history(pid("permit-a"), 10).await.expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].outcome.as_deref(), Some("refused"));
        assert!(history[0].message.as_deref().unwrap_or_default().contains("secret"));
        assert_eq!(history[1].rows, Some(1));
        let entries = audit.0.lock().expect("lock").clone();
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|e| e.action == "analysis.query" && !e.object.contains("SELECT")), "no SQL text in the log");
        assert!(env.compute_seconds(pid("permit-a")).await.expect("metered") >= 0.0);
        env.save(pid("permit-a"), "researcher", "E11 count", "SELECT count(*) FROM condition WHERE icd10 = 'E11'").await.expect("save");
        assert_eq!(env.saved(pid("permit-a")).await.expect("saved")[0].name, "E11 count");
        assert!(env.saved(pid("permit-b")).await.expect("saved").is_empty());
    }
}

mod release;

/// The permit a test calls `name`: one fixed id per name (FNV-1a of the
/// name), so that tests read by name and the same name is the same permit.
pub(crate) fn pid(name: &str) -> renkei_core::PermitId {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in name.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    renkei_core::PermitId::from_uuid(uuid::Uuid::from_u128(h))
}
