//! Workspaces on a real Ballista cluster: a scheduler and an executor on
//! loopback, in this process, reading the same extract files as the local
//! engine. The answers must match the local engine's, and the refusals and
//! limits must hold there too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arrow::util::pretty::pretty_format_batches;
use ballista_core::extension::SessionStateExt;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use renkei_analysis::cluster::{self, ExecutorOptions};
use renkei_analysis::{Engine, Error, Limits, QueryResult, Workspace};
use tokio::net::TcpListener;
use url::Url;

use crate::{limits, pid, schema, table};

/// A scheduler and one executor on loopback ports, over the extract store
/// in `dir`; returns the scheduler's address.
async fn start_cluster(dir: &std::path::Path) -> Url {
    let extracts: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir).expect("store"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(cluster::run_scheduler(listener, extracts.clone(), None));
    let scheduler = Url::parse(&format!("df://{addr}")).expect("url");
    // The executor binds its Flight port itself; a port the OS just handed
    // out and took back is free for it.
    let flight: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let work = tempfile::tempdir().expect("work dir").keep();
    tokio::spawn(cluster::run_executor(
        ExecutorOptions {
            scheduler: scheduler.clone(),
            bind: flight,
            advertise_host: None,
            cores: 2,
            memory_bytes: Some(256 << 20),
            work_dir: Some(work),
        },
        extracts,
    ));
    scheduler
}

fn text(r: &QueryResult) -> String {
    pretty_format_batches(&r.batches)
        .expect("format")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_on_ballista_answers_as_the_local_engine_does() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let condition = table(&store, "permit-a", "condition", 300).await;
    // Schema read from the footer, as the platform opens workspaces.
    let visit = table(&store, "permit-a", "visit", 90).await;
    table(&store, "permit-b", "secret", 50).await;
    let tables = [condition, visit];
    let scheduler = start_cluster(dir.path()).await;
    let engine = Engine::Ballista { scheduler };
    let local = Workspace::open(pid("permit-a"), store.clone(), &tables, limits())
        .await
        .expect("local workspace");
    let remote = Workspace::open_on(&engine, pid("permit-a"), store.clone(), &tables, limits())
        .await
        .expect("ballista workspace");
    assert_eq!(remote.engine(), &engine);

    let queries = [
        "SELECT count(*) AS n FROM condition WHERE icd10 = 'E11'",
        "SELECT icd10, count(*) AS n, avg(age) AS mean_age, max(age) AS oldest \
         FROM condition GROUP BY icd10 ORDER BY icd10",
        "SELECT c.icd10, count(DISTINCT v.pseudonym) AS people \
         FROM condition c JOIN visit v ON c.pseudonym = v.pseudonym \
         WHERE c.age > 30 GROUP BY c.icd10 ORDER BY c.icd10",
        "SELECT pseudonym, age FROM condition ORDER BY age DESC, pseudonym LIMIT 5",
    ];
    for sql in queries {
        let want = local.query(sql).await.expect(sql);
        let got = tokio::time::timeout(Duration::from_secs(120), remote.query(sql))
            .await
            .expect("the cluster answers")
            .expect(sql);
        assert_eq!(text(&got), text(&want), "{sql}");
        assert_eq!((got.rows, got.truncated), (want.rows, want.truncated));
    }

    // The catalog is the workspace's own, answered without the cluster.
    let r = remote
        .query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'extract' ORDER BY table_name")
        .await
        .expect("tables");
    assert_eq!(
        text(&r),
        text(
            &local
                .query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'extract' ORDER BY table_name")
                .await
                .expect("tables")
        )
    );

    // Refused before anything is sent: no other table, file, statement.
    for sql in [
        "SELECT * FROM secret",
        "SELECT * FROM 'permit-b/secret.parquet'",
        "SELECT * FROM '/etc/passwd'",
        "CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION 'permit-b/secret.parquet'",
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
        "COPY (SELECT * FROM condition) TO '/tmp/renkei-ballista-leak.csv'",
        "INSERT INTO condition VALUES ('x', 'E11', 1)",
        "SET datafusion.catalog.information_schema = false",
    ] {
        let err = remote.query(sql).await.expect_err(sql);
        assert!(matches!(err, Error::Query(_)), "{sql}: {err}");
    }
    assert!(!std::path::Path::new("/tmp/renkei-ballista-leak.csv").exists());

    // Rows are cut at the limit on the cluster too.
    let capped = Workspace::open_on(
        &engine,
        pid("permit-a"),
        store.clone(),
        &tables,
        Limits {
            max_rows: 120,
            ..limits()
        },
    )
    .await
    .expect("workspace");
    let r = capped
        .query("SELECT * FROM condition")
        .await
        .expect("query");
    assert_eq!((r.rows, r.truncated), (120, true));

    // And the time limit stops a query (and its job).
    let quick = Workspace::open_on(
        &engine,
        pid("permit-a"),
        store,
        &tables,
        Limits {
            timeout: Duration::from_millis(1),
            ..limits()
        },
    )
    .await
    .expect("workspace");
    let err = quick
        .query("SELECT count(*) FROM condition a CROSS JOIN condition b CROSS JOIN visit c")
        .await
        .expect_err("over the time limit");
    assert!(matches!(err, Error::TimedOut { .. }), "{err}");
}

/// The nodes themselves know only the extract store: a plan that names a
/// file by `file://` — which a workspace never builds, but anyone able to
/// reach the scheduler could — reads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_nodes_read_nothing_outside_the_extract_store() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    table(&store, "permit-b", "secret", 50).await;
    let scheduler = start_cluster(dir.path()).await;
    let endpoint = cluster::scheduler_endpoint(&scheduler).expect("endpoint");
    // A plain Ballista client, not a workspace: its own session may read
    // local files.
    let state = SessionStateBuilder::new()
        .with_default_features()
        .build()
        .upgrade_for_ballista(endpoint)
        .expect("ballista session");
    let ctx = SessionContext::new_with_state(state);
    let path = dir.path().join("permit-b/secret.parquet");
    let url = ListingTableUrl::parse(format!("file://{}", path.display())).expect("url");
    let config = ListingTableConfig::new(url)
        .with_listing_options(ListingOptions::new(Arc::new(ParquetFormat::default())))
        .with_schema(schema());
    ctx.register_table(
        "stolen",
        Arc::new(ListingTable::try_new(config).expect("table")),
    )
    .expect("register");
    let outcome = tokio::time::timeout(
        Duration::from_secs(120),
        ctx.sql("SELECT count(*) FROM stolen")
            .await
            .expect("plan")
            .collect(),
    )
    .await
    .expect("the cluster answers");
    let err = outcome.expect_err("the cluster has no file:// store");
    // The job itself failed: the nodes had no store for the URL.
    let message = err.to_string();
    assert!(
        message.contains("Job") && message.contains("No suitable object store found for file://"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_unavailable_not_a_bad_query() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let condition = table(&store, "permit-a", "condition", 30).await;
    // A port nothing listens on: the scheduler is down.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("port");
    let address = closed.local_addr().expect("address");
    drop(closed);
    let engine = Engine::Ballista {
        scheduler: Url::parse(&format!("df://{address}")).expect("url"),
    };
    let result =
        match Workspace::open_on(&engine, pid("permit-a"), store, &[condition], limits()).await {
            Ok(ws) => tokio::time::timeout(
                Duration::from_secs(120),
                ws.query("SELECT count(*) FROM condition"),
            )
            .await
            .expect("an answer, not a hang")
            .map(|_| ()),
            Err(e) => Err(e),
        };
    let err = result.expect_err("no cluster, no answer");
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
}
