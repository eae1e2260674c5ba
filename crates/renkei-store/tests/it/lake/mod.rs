//! The lake on a temporary local directory (and, for one test, in memory):
//! single-table commits, snapshots, concurrent writers and URLs here;
//! lake-wide commits of several tables in `multi_table`, writers that meet
//! in `conflicts`.

mod conflicts;
mod interpose;
mod multi_table;

use std::sync::Arc;

use arrow::array::{
    Array, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use renkei_core::{FixedClock, Timestamp};
use renkei_store::Error;
use renkei_store::lake::{Change, Lake, ObjectPath, Snapshot, TableName, TableVersion};
use tempfile::TempDir;

fn temp_lake() -> (TempDir, Lake) {
    let dir = tempfile::tempdir().expect("a temporary directory can be created");
    let lake = Lake::open_local(&dir.path().join("lake")).expect("a local lake opens");
    (dir, lake)
}

fn table(name: &str) -> TableName {
    TableName::parse(name).expect("a valid table name")
}

fn v(n: u64) -> TableVersion {
    TableVersion::new(n)
}

/// Claim-like rows: an id, a diagnosis text, an instant in JST and a flag.
fn claims_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("diagnosis", DataType::Utf8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+09:00".into())),
            true,
        ),
        Field::new("inpatient", DataType::Boolean, true),
    ]))
}

/// `(id, diagnosis, at in µs, inpatient)`.
type ClaimRow<'a> = (i64, Option<&'a str>, Option<i64>, Option<bool>);

fn claims(rows: &[ClaimRow<'_>]) -> RecordBatch {
    RecordBatch::try_new(
        claims_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1))),
            Arc::new(
                TimestampMicrosecondArray::from_iter(rows.iter().map(|r| r.2))
                    .with_timezone("+09:00"),
            ),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.3))),
        ],
    )
    .expect("columns match the schema")
}

/// `n` rows with ids `first..first + n`.
fn ids(first: i64, n: i64) -> RecordBatch {
    let rows: Vec<_> = (first..first + n)
        .map(|id| {
            (
                id,
                Some("高血圧症"),
                Some(id * 1_000_000),
                Some(id % 2 == 0),
            )
        })
        .collect();
    claims(&rows)
}

async fn read_all(lake: &Lake, snapshot: &Snapshot) -> RecordBatch {
    let batches = lake.read(snapshot).await.expect("the snapshot reads");
    concat_batches(snapshot.schema(), &batches).expect("batches share the snapshot's schema")
}

async fn read_ids(lake: &Lake, snapshot: &Snapshot) -> Vec<i64> {
    let all = read_all(lake, snapshot).await;
    let mut ids: Vec<i64> = all
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("id is Int64")
        .values()
        .to_vec();
    ids.sort_unstable();
    ids
}

async fn data_files_on_disk(lake: &Lake, table: &TableName) -> usize {
    let prefix = ObjectPath::from(format!("{table}/data"));
    let listed: Vec<_> = lake
        .object_store()
        .list(Some(&prefix))
        .try_collect()
        .await
        .expect("the data folder lists");
    listed.len()
}

async fn latest(lake: &Lake, table: &TableName) -> Snapshot {
    lake.latest(table)
        .await
        .expect("the latest version reads")
        .expect("the table exists")
}

fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut writer =
        ArrowWriter::try_new(Vec::new(), batch.schema(), None).expect("a parquet writer");
    writer.write(batch).expect("the batch encodes");
    writer.into_inner().expect("the file closes")
}

#[tokio::test]
async fn batches_round_trip_with_japanese_text_timestamps_and_nulls() {
    let (_dir, lake) = temp_lake();
    let t = table("claims");
    let written = [
        claims(&[
            (1, Some("高血圧症"), Some(1_795_000_000_000_000), Some(true)),
            (2, None, None, None),
        ]),
        claims(&[(3, Some("２型糖尿病（合併症なし）"), Some(-1), Some(false))]),
        claims(&[
            (4, Some(""), Some(0), None),
            (5, Some("😀 emoji"), None, Some(true)),
        ]),
    ];
    let version = lake.append(&t, &written).await.expect("append");
    assert_eq!(version, TableVersion::FIRST);

    let snapshot = latest(&lake, &t).await;
    assert_eq!(snapshot.version(), version);
    assert_eq!(snapshot.parent(), None);
    assert_eq!(snapshot.total_rows(), 5);
    assert_eq!(snapshot.files().len(), 1, "one append, one data file");
    assert!(
        snapshot.files()[0]
            .path()
            .as_ref()
            .starts_with("claims/data/")
    );
    assert!(snapshot.files()[0].path().as_ref().ends_with(".parquet"));
    assert_eq!(snapshot.total_bytes(), snapshot.files()[0].bytes());
    assert_eq!(snapshot.operation(), Some("append"));
    assert_eq!(snapshot.schema(), &claims_schema());

    let expected = concat_batches(&claims_schema(), &written).expect("concat");
    assert_eq!(read_all(&lake, &snapshot).await, expected);

    let streamed: Vec<RecordBatch> = lake
        .read_stream(&snapshot)
        .try_collect()
        .await
        .expect("the stream reads");
    assert_eq!(
        concat_batches(&claims_schema(), &streamed).expect("concat"),
        expected
    );
    let diagnoses = expected
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("utf8");
    assert_eq!(diagnoses.value(2), "２型糖尿病（合併症なし）");
    assert!(diagnoses.is_null(1));
}

#[tokio::test]
async fn data_file_without_manifest_is_invisible() {
    let (_dir, lake) = temp_lake();
    let t = table("claims");
    lake.append(&t, &[ids(0, 3)]).await.expect("append");
    let store = lake.object_store();
    // What a writer that crashed before its manifest leaves behind: a data
    // file in an existing table, a table with data and no manifest, and an
    // object in the manifest folder that is not a manifest.
    for path in [
        "claims/data/01965f0e-0000-7000-8000-000000000000.parquet",
        "ghost/data/01965f0e-0000-7000-8000-000000000001.parquet",
    ] {
        store
            .put(
                &ObjectPath::from(path),
                PutPayload::from(parquet_bytes(&ids(100, 7))),
            )
            .await
            .expect("a stray data file is written");
    }
    store
        .put(
            &ObjectPath::from("claims/_manifest/00000000000000000002.json.tmp"),
            PutPayload::from_static(b"{"),
        )
        .await
        .expect("a stray object is written");
    store
        .put(
            &ObjectPath::from("_lake/00000000000000000002.json.tmp"),
            PutPayload::from_static(b"{"),
        )
        .await
        .expect("a stray object is written");
    // A complete manifest of version 2 listing the stray file, as a writer
    // that crashed before its lake log entry leaves it.
    let manifests: Vec<_> = store
        .list(Some(&ObjectPath::from("claims/_manifest")))
        .map_ok(|o| o.location)
        .try_filter(|path| std::future::ready(path.as_ref().ends_with(".json")))
        .try_collect()
        .await
        .expect("the manifest folder lists");
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let first = store
        .get(&manifests[0])
        .await
        .expect("the manifest exists")
        .bytes()
        .await
        .expect("the manifest reads");
    let mut crashed: serde_json::Value = serde_json::from_slice(&first).expect("manifest JSON");
    crashed["version"] = 2.into();
    crashed["parent"] = 1.into();
    crashed["files"]
        .as_array_mut()
        .expect("a file list")
        .push(serde_json::json!({
            "path": "claims/data/01965f0e-0000-7000-8000-000000000000.parquet",
            "rows": 7,
            "bytes": 1,
        }));
    store
        .put(
            &ObjectPath::from("claims/_manifest/00000000000000000002-crashed.json"),
            PutPayload::from(serde_json::to_vec(&crashed).expect("JSON")),
        )
        .await
        .expect("a crashed writer's manifest is written");

    assert_eq!(
        lake.tables().await.expect("tables"),
        std::slice::from_ref(&t)
    );
    assert_eq!(lake.latest(&table("ghost")).await.expect("latest"), None);
    assert_eq!(lake.versions(&t).await.expect("versions"), [v(1)]);
    let snapshot = latest(&lake, &t).await;
    assert_eq!(read_ids(&lake, &snapshot).await, [0, 1, 2]);

    // The next commit is version 2 and still ignores the stray file.
    assert_eq!(lake.append(&t, &[ids(3, 1)]).await.expect("append"), v(2));
    assert_eq!(
        read_ids(&lake, &latest(&lake, &t).await).await,
        [0, 1, 2, 3]
    );
}

#[tokio::test]
async fn versions_increase_and_old_snapshots_stay_readable() {
    let (_dir, lake) = temp_lake();
    let t = table("claims");
    for (i, first) in [0, 10, 20].into_iter().enumerate() {
        let version = lake.append(&t, &[ids(first, 2)]).await.expect("append");
        assert_eq!(version, v(i as u64 + 1));
    }
    assert_eq!(
        lake.versions(&t).await.expect("versions"),
        [v(1), v(2), v(3)]
    );

    let first = lake.snapshot(&t, v(1)).await.expect("version 1");
    assert_eq!(read_ids(&lake, &first).await, [0, 1]);
    let second = lake.snapshot(&t, v(2)).await.expect("version 2");
    assert_eq!(second.parent(), Some(v(1)));
    assert_eq!(read_ids(&lake, &second).await, [0, 1, 10, 11]);
    let third = latest(&lake, &t).await;
    assert_eq!(third.version(), v(3));
    assert_eq!(third.files().len(), 3);
    assert_eq!(
        &third.files()[..2],
        second.files(),
        "files are kept in order"
    );
    assert_eq!(read_ids(&lake, &third).await, [0, 1, 10, 11, 20, 21]);

    match lake.snapshot(&t, v(4)).await {
        Err(Error::NoSuchVersion { table, version }) => {
            assert_eq!((table.as_str(), version), ("claims", 4));
        }
        other => panic!("version 4 should not exist: {other:?}"),
    }
    match lake.snapshot(&table("absent"), TableVersion::FIRST).await {
        Err(Error::NoSuchVersion { table, .. }) => assert_eq!(table, "absent"),
        other => panic!("an absent table has no versions: {other:?}"),
    }
    assert_eq!(lake.versions(&table("absent")).await.expect("versions"), []);
}

#[tokio::test]
async fn schema_mismatch_is_refused_naming_the_field() {
    let (_dir, lake) = temp_lake();
    let t = table("claims");
    lake.append(&t, &[ids(0, 2)]).await.expect("append");

    let other = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("diagnosis", DataType::Int32, true),
    ]));
    let wrong = RecordBatch::try_new(
        other,
        vec![
            Arc::new(Int64Array::from(vec![9])),
            Arc::new(arrow::array::Int32Array::from(vec![Some(1)])),
        ],
    )
    .expect("a batch");
    match lake.append(&t, &[ids(5, 1), wrong]).await {
        Err(Error::InvalidTable { table, reason }) => {
            assert_eq!(table, "claims");
            assert!(reason.contains("batch 1"), "{reason}");
            assert!(
                reason.contains("\"diagnosis\" has type Int32 but the table's has type Utf8"),
                "{reason}"
            );
        }
        other => panic!("a mismatched schema was not refused: {other:?}"),
    }
    match lake.append(&t, &[]).await {
        Err(Error::InvalidTable { reason, .. }) => assert!(reason.contains("no batches")),
        other => panic!("an empty append was not refused: {other:?}"),
    }
    match lake.commit(&t, Change::new()).await {
        Err(Error::InvalidTable { reason, .. }) => assert!(reason.contains("no batches")),
        other => panic!("an empty change was not refused: {other:?}"),
    }
    assert_eq!(lake.versions(&t).await.expect("versions"), [v(1)]);
    assert_eq!(
        data_files_on_disk(&lake, &t).await,
        1,
        "a refused append leaves no data file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appenders_lose_no_rows() {
    const TASKS: i64 = 8;
    const APPENDS: i64 = 5;
    const ROWS: i64 = 3;
    let (_dir, lake) = temp_lake();
    let t = table("claims");
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let lake = lake.clone();
        let t = t.clone();
        handles.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            for append in 0..APPENDS {
                let first = (task * APPENDS + append) * ROWS;
                versions.push(lake.append(&t, &[ids(first, ROWS)]).await.expect("append"));
            }
            versions
        }));
    }
    let mut versions = Vec::new();
    for handle in handles {
        versions.extend(handle.await.expect("an appender does not panic"));
    }
    versions.sort();
    let total = (TASKS * APPENDS) as u64;
    let expected: Vec<TableVersion> = (1..=total).map(v).collect();
    assert_eq!(versions, expected, "every append got its own version");
    assert_eq!(lake.versions(&t).await.expect("versions"), expected);

    let snapshot = latest(&lake, &t).await;
    assert_eq!(snapshot.files().len(), total as usize);
    let all: Vec<i64> = (0..TASKS * APPENDS * ROWS).collect();
    assert_eq!(
        read_ids(&lake, &snapshot).await,
        all,
        "no row lost or doubled"
    );
    assert_eq!(
        data_files_on_disk(&lake, &t).await,
        total as usize,
        "retries write no extra data files"
    );
}

#[tokio::test]
async fn removing_a_file_hides_its_rows_in_the_new_version_only() {
    let (_dir, lake) = temp_lake();
    let t = table("claims");
    lake.append(&t, &[ids(0, 3)]).await.expect("append");
    lake.append(&t, &[ids(10, 2)]).await.expect("append");
    let before = latest(&lake, &t).await;
    let superseded = before.files()[0].path().clone();

    // Supersede row 1: drop the first file, re-add rows 0 and 2 with a fix.
    let replacement = claims(&[
        (0, Some("高血圧症"), Some(0), Some(true)),
        (2, Some("本態性高血圧症"), Some(2_000_000), Some(true)),
    ]);
    let version = lake
        .commit(
            &t,
            Change::new()
                .remove_file(superseded.clone())
                .add_batches([replacement])
                .operation("supersede")
                .property("submission_id", "01965f0e-aaaa"),
        )
        .await
        .expect("commit");
    assert_eq!(version, v(3));
    let after = latest(&lake, &t).await;
    assert_eq!(read_ids(&lake, &after).await, [0, 2, 10, 11]);
    assert_eq!(after.operation(), Some("supersede"));
    assert_eq!(
        after.properties().get("submission_id").map(String::as_str),
        Some("01965f0e-aaaa")
    );
    assert!(after.files().iter().all(|f| f.path() != &superseded));
    let old = lake.snapshot(&t, v(2)).await.expect("version 2");
    assert_eq!(read_ids(&lake, &old).await, [0, 1, 2, 10, 11]);

    // A remove-only change, then removing the same file again.
    let second = after.files()[0].path().clone();
    let version = lake
        .commit(&t, Change::new().remove_file(second.clone()))
        .await
        .expect("remove");
    assert_eq!(read_ids(&lake, &latest(&lake, &t).await).await, [0, 2]);
    assert_eq!(latest(&lake, &t).await.operation(), None);
    match lake.commit(&t, Change::new().remove_file(superseded)).await {
        Err(Error::MissingDataFile {
            table,
            path,
            version: at,
        }) => {
            assert_eq!(table, "claims");
            assert!(path.starts_with("claims/data/"), "{path}");
            assert_eq!(at, version.get());
        }
        other => panic!("removing a removed file was not refused: {other:?}"),
    }
    match lake
        .commit(
            &table("absent"),
            Change::new().remove_file(ObjectPath::from("absent/data/x.parquet")),
        )
        .await
    {
        Err(Error::MissingDataFile { version, .. }) => assert_eq!(version, 0),
        other => panic!("removing from an absent table was not refused: {other:?}"),
    }
    assert_eq!(lake.versions(&t).await.expect("versions").len(), 4);
}

#[tokio::test]
async fn a_zero_row_append_creates_an_empty_table_with_its_schema() {
    let (_dir, lake) = temp_lake();
    let t = table("empty");
    let version = lake.append(&t, &[ids(0, 0)]).await.expect("append");
    let snapshot = lake.snapshot(&t, version).await.expect("snapshot");
    assert_eq!(snapshot.schema(), &claims_schema());
    assert!(snapshot.files().is_empty());
    assert!(lake.read(&snapshot).await.expect("read").is_empty());
    assert_eq!(data_files_on_disk(&lake, &t).await, 0);
}

#[tokio::test]
async fn a_missing_data_file_is_reported_by_path() {
    let (_dir, lake) = temp_lake();
    let t = table("claims");
    lake.append(&t, &[ids(0, 2)]).await.expect("append");
    let snapshot = latest(&lake, &t).await;
    let path = snapshot.files()[0].path().clone();
    lake.object_store().delete(&path).await.expect("delete");
    match lake.read(&snapshot).await {
        Err(Error::Parquet { location, .. }) => assert_eq!(location, path.to_string()),
        other => panic!("a missing data file was not reported: {other:?}"),
    }
}

#[tokio::test]
async fn commit_time_comes_from_the_lake_clock() {
    let (_dir, lake) = temp_lake();
    let at = Timestamp::parse_rfc3339("2026-11-25T09:30:00+09:00").expect("a time");
    let lake = lake.with_clock(Arc::new(FixedClock::new(at)));
    let t = table("claims");
    let version = lake.append(&t, &[ids(0, 1)]).await.expect("append");
    let snapshot = lake.snapshot(&t, version).await.expect("snapshot");
    assert_eq!(snapshot.committed_at(), at);
}

#[tokio::test]
async fn reopened_lake_sees_the_same_state() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().join("lake");
    {
        let lake = Lake::open_local(&root).expect("open");
        lake.append(&table("claims"), &[ids(0, 2)])
            .await
            .expect("append");
        lake.append(&table("claims"), &[ids(2, 2)])
            .await
            .expect("append");
        lake.append(&table("visits"), &[ids(0, 1)])
            .await
            .expect("append");
    }
    let url = url::Url::from_directory_path(&root).expect("an absolute path");
    for lake in [
        Lake::open_local(&root).expect("reopen"),
        Lake::open_url(url.as_str()).expect("open by file URL"),
    ] {
        assert_eq!(
            lake.tables().await.expect("tables"),
            [table("claims"), table("visits")]
        );
        assert_eq!(
            lake.versions(&table("claims")).await.expect("versions"),
            [v(1), v(2)]
        );
        let claims = latest(&lake, &table("claims")).await;
        assert_eq!(read_ids(&lake, &claims).await, [0, 1, 2, 3]);
        let local_root = lake.local_root().expect("a local lake has a directory");
        assert_eq!(
            local_root,
            std::fs::canonicalize(&root).expect("canonical root")
        );
        assert!(local_root.join(claims.files()[0].path().as_ref()).is_file());
        assert_eq!(lake.root_url().scheme(), "file");
    }
}

#[tokio::test]
async fn file_url_creates_the_directory() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path().join("nested").join("lake");
    let url = url::Url::from_file_path(&root).expect("an absolute path");
    let lake = Lake::open_url(url.as_str()).expect("open by file URL");
    assert!(root.is_dir());
    assert!(lake.tables().await.expect("tables").is_empty());
    lake.append(&table("claims"), &[ids(0, 1)])
        .await
        .expect("append");
    assert!(root.join("_lake/00000000000000000001.json").is_file());
}

#[test]
fn s3_url_opens_without_contacting_the_store() {
    let lake = Lake::open_url("s3://renkei-lake/prod/v1").expect("an S3 URL opens");
    assert_eq!(lake.root_url().as_str(), "s3://renkei-lake/prod/v1/");
    assert_eq!(lake.local_root(), None);
}

#[test]
fn bad_lake_urls_are_refused_listing_the_supported_schemes() {
    for (url, why) in [
        ("gs://bucket/lake", "unsupported scheme \"gs\""),
        ("memory:///", "unsupported scheme \"memory\""),
        ("/srv/lake", "not a URL"),
        ("s3:///lake", "names no bucket"),
        (
            "file://elsewhere.example/srv/lake",
            "not a local absolute path",
        ),
    ] {
        match Lake::open_url(url) {
            Err(Error::Config(message)) => {
                assert!(message.contains(why), "{url}: {message}");
                assert!(message.contains(url), "{url}: {message}");
                assert!(
                    message.contains("file:///") && message.contains("s3://"),
                    "{url}: {message}"
                );
            }
            other => panic!("{url} was not refused: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_nullable_column_appended_to_a_table_reads_as_null_in_older_rows() {
    let (_dir, lake) = temp_lake();
    let t = table("claims");
    lake.append(&t, &[ids(0, 2)]).await.expect("append");
    // The platform adds a column: the same fields, then a nullable one.
    let mut fields: Vec<Field> = claims_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("ward", DataType::Utf8, true));
    let wider = Arc::new(Schema::new(fields.clone()));
    let mut columns = ids(10, 1).columns().to_vec();
    columns.push(Arc::new(StringArray::from(vec![Some("東病棟")])));
    let batch = RecordBatch::try_new(wider.clone(), columns).expect("a wider batch");
    lake.append(&t, &[batch])
        .await
        .expect("a nullable column may be added");
    let snapshot = lake.current().await.expect("current").expect("a version");
    let snapshot = snapshot.table(&t).expect("the table").clone();
    assert_eq!(snapshot.schema(), &wider, "the table's schema grew");
    // A writer still on the older schema fits too; nothing is rewritten.
    lake.append(&t, &[ids(20, 1)])
        .await
        .expect("an older batch fits");
    let snapshot = lake.current().await.expect("current").expect("a version");
    let snapshot = snapshot.table(&t).expect("the table").clone();
    let rows = concat_batches(&wider, &lake.read(&snapshot).await.expect("read")).expect("concat");
    let ward = rows
        .column_by_name("ward")
        .expect("ward")
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("text")
        .clone();
    let id = rows
        .column_by_name("id")
        .expect("id")
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("ints")
        .clone();
    let by_id: Vec<(i64, Option<&str>)> = (0..rows.num_rows())
        .map(|i| (id.value(i), ward.is_valid(i).then(|| ward.value(i))))
        .collect();
    assert_eq!(
        by_id,
        [(0, None), (1, None), (10, Some("東病棟")), (20, None)]
    );

    // A column that cannot be null has no value in the older rows: refused.
    fields.push(Field::new("bed", DataType::Int64, false));
    let strict = Arc::new(Schema::new(fields));
    let mut columns = ids(30, 1).columns().to_vec();
    columns.push(Arc::new(StringArray::from(vec![Some("西病棟")])));
    columns.push(Arc::new(Int64Array::from(vec![3])));
    let batch = RecordBatch::try_new(strict, columns).expect("a batch");
    match lake.append(&t, &[batch]).await {
        Err(Error::InvalidTable { reason, .. }) => assert!(reason.contains("bed"), "{reason}"),
        other => panic!("a non-nullable new column was accepted: {other:?}"),
    }
}
