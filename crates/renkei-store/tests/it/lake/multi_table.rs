//! Lake-wide commits: several tables visible together or not at all, staged
//! files, many concurrent writers, refusals, old lake versions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{Int32Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use futures::TryStreamExt;
use object_store::memory::InMemory;
use renkei_store::Error;
use renkei_store::lake::{
    Change, Lake, LakeChange, LakeVersion, ObjectPath, Snapshot, StagedFile, TableName,
};

use super::{claims_schema, data_files_on_disk, ids, latest, read_ids, table, temp_lake, v};

pub(super) fn lv(n: u64) -> LakeVersion {
    LakeVersion::try_from(n).expect("lake versions start at 1")
}

pub(super) async fn objects(lake: &Lake, prefix: &str) -> usize {
    let listed: Vec<_> = lake
        .object_store()
        .list(Some(&ObjectPath::from(prefix)))
        .try_collect()
        .await
        .expect("the folder lists");
    listed.len()
}

pub(super) async fn stage(lake: &Lake, t: &TableName, first: i64, n: i64) -> StagedFile {
    lake.stage(t, vec![ids(first, n)])
        .await
        .expect("the file is staged")
        .expect("it has rows")
}

pub(super) fn adds(t: &TableName, first: i64, n: i64) -> LakeChange {
    LakeChange::new().table(t.clone(), Change::new().add_batches([ids(first, n)]))
}

pub(super) async fn current(lake: &Lake) -> renkei_store::lake::LakeSnapshot {
    lake.current()
        .await
        .expect("the current version reads")
        .expect("the lake has a version")
}

/// Rows of `t` in a lake snapshot, 0 if it does not exist there.
fn rows(snapshot: &renkei_store::lake::LakeSnapshot, t: &TableName) -> u64 {
    snapshot.table(t).map_or(0, Snapshot::total_rows)
}

/// A claims batch whose `diagnosis` is Int32, not the table's Utf8.
pub(super) fn mistyped() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("diagnosis", DataType::Int32, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![9])),
            Arc::new(Int32Array::from(vec![Some(1)])),
        ],
    )
    .expect("a batch")
}

async fn two_tables_are_committed_as_one_version(lake: Lake) {
    let (person, encounter) = (table("person"), table("encounter"));
    assert!(lake.current().await.expect("current").is_none());
    let chunks = [
        stage(&lake, &encounter, 10, 2).await,
        stage(&lake, &encounter, 12, 3).await,
    ];
    assert_eq!(chunks.iter().map(StagedFile::rows).sum::<u64>(), 5);
    assert!(
        chunks
            .iter()
            .all(|c| c.table() == &encounter && c.bytes() > 0)
    );
    assert!(
        lake.current().await.expect("current").is_none(),
        "staged files are not visible"
    );

    let mut encounters = Change::new().property("source", "chunked");
    for chunk in chunks {
        encounters = encounters.add_staged(chunk);
    }
    let first = lake
        .commit_all(
            LakeChange::new()
                .table(person.clone(), Change::new().add_batches([ids(0, 2)]))
                .table(encounter.clone(), encounters)
                .operation("ingest")
                .property("submission_id", "受付-1"),
        )
        .await
        .expect("the commit lands");
    assert_eq!(first, LakeVersion::FIRST);

    let snapshot = current(&lake).await;
    assert_eq!(snapshot.version(), first);
    assert_eq!(snapshot.operation(), Some("ingest"));
    assert_eq!(snapshot.properties()["submission_id"], "受付-1");
    assert!(!snapshot.commit_id().is_empty());
    let names: Vec<&str> = snapshot.tables().map(|t| t.table().as_str()).collect();
    assert_eq!(names, ["encounter", "person"]);
    let encounters = snapshot.table(&encounter).expect("encounter exists");
    assert_eq!(encounters.version(), v(1));
    assert_eq!(encounters.files().len(), 2, "one file per staged chunk");
    assert_eq!(
        encounters.operation(),
        Some("ingest"),
        "the table version carries the commit's operation"
    );
    assert_eq!(encounters.properties()["submission_id"], "受付-1");
    assert_eq!(encounters.properties()["source"], "chunked");
    assert_eq!(read_ids(&lake, encounters).await, [10, 11, 12, 13, 14]);
    let people = snapshot.table(&person).expect("person exists");
    assert_eq!(read_ids(&lake, people).await, [0, 1]);

    // A commit to one table leaves the other's version as it was.
    let second = lake
        .commit_all(adds(&encounter, 20, 1))
        .await
        .expect("the commit lands");
    assert_eq!(second, lv(2));
    let snapshot = current(&lake).await;
    assert_eq!(snapshot.table(&person), Some(people));
    assert_eq!(
        snapshot.table(&encounter).map(Snapshot::version),
        Some(v(2))
    );
    assert_eq!(
        lake.tables().await.expect("tables"),
        [encounter.clone(), person.clone()]
    );
    assert_eq!(
        lake.versions(&encounter).await.expect("versions"),
        [v(1), v(2)]
    );
    assert_eq!(lake.versions(&person).await.expect("versions"), [v(1)]);
    let old = lake.at(first).await.expect("version 1 reads");
    assert_eq!(
        read_ids(&lake, old.table(&encounter).expect("encounter")).await,
        [10, 11, 12, 13, 14]
    );
}

#[tokio::test]
async fn two_tables_are_committed_as_one_version_on_a_local_disk() {
    let (_dir, lake) = temp_lake();
    two_tables_are_committed_as_one_version(lake).await;
}

#[tokio::test]
async fn two_tables_are_committed_as_one_version_in_memory() {
    let root = url::Url::parse("memory:///").expect("a URL");
    two_tables_are_committed_as_one_version(Lake::open_store(Arc::new(InMemory::new()), root))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_over_shared_tables_lose_nothing_and_are_seen_whole() {
    const TASKS: i64 = 8;
    const COMMITS: i64 = 10;
    const ROWS: i64 = 2;
    let (dir, lake) = temp_lake();
    let (a, b, c) = (table("a"), table("b"), table("c"));

    // A reader with its own `Lake`, which learns of commits only from the
    // store. Every commit adds as many rows to `b` as to `a` or `c`.
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let lake = Lake::open_local(&dir.path().join("lake")).expect("the lake opens");
        let (a, b, c, done) = (a.clone(), b.clone(), c.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = BTreeSet::new();
            while !done.load(Ordering::Acquire) {
                if let Some(s) = lake.current().await.expect("current") {
                    assert_eq!(
                        rows(&s, &a) + rows(&s, &c),
                        rows(&s, &b),
                        "lake version {} shows part of a commit",
                        s.version()
                    );
                    seen.insert(s.version());
                }
                tokio::task::yield_now().await;
            }
            seen
        })
    };

    let mut writers = Vec::new();
    for task in 0..TASKS {
        let lake = lake.clone();
        let own = if task % 2 == 0 { a.clone() } else { c.clone() };
        let b = b.clone();
        writers.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            for commit in 0..COMMITS {
                let first = (task * COMMITS + commit) * ROWS;
                let staged = stage(&lake, &own, first, ROWS).await;
                let change = LakeChange::new()
                    .table(own.clone(), Change::new().add_staged(staged))
                    .table(b.clone(), Change::new().add_batches([ids(first, ROWS)]))
                    .operation("ingest")
                    .property("task", task.to_string());
                versions.push(lake.commit_all(change).await.expect("the commit lands"));
            }
            versions
        }));
    }
    let mut versions = Vec::new();
    for writer in writers {
        versions.extend(writer.await.expect("a writer does not panic"));
    }
    done.store(true, Ordering::Release);
    let seen = reader.await.expect("the reader does not panic");
    assert!(!seen.is_empty());

    let total = (TASKS * COMMITS) as u64;
    versions.sort();
    assert_eq!(
        versions,
        (1..=total).map(lv).collect::<Vec<_>>(),
        "every commit got its own lake version"
    );
    let half = total / 2;
    for (t, count) in [(&a, half), (&b, total), (&c, half)] {
        assert_eq!(
            lake.versions(t).await.expect("versions"),
            (1..=count).map(v).collect::<Vec<_>>(),
            "{t}"
        );
        assert_eq!(data_files_on_disk(&lake, t).await, count as usize, "{t}");
        assert_eq!(
            objects(&lake, &format!("{t}/_manifest")).await,
            count as usize,
            "{t}: manifests rebuilt after a conflict are deleted"
        );
    }
    assert_eq!(objects(&lake, "_lake").await, total as usize);

    let ids_of = |even: Option<bool>| -> Vec<i64> {
        (0..TASKS)
            .filter(|task| even.is_none_or(|even| (task % 2 == 0) == even))
            .flat_map(|task| task * COMMITS * ROWS..(task + 1) * COMMITS * ROWS)
            .collect()
    };
    assert_eq!(
        read_ids(&lake, &latest(&lake, &a).await).await,
        ids_of(Some(true))
    );
    assert_eq!(
        read_ids(&lake, &latest(&lake, &b).await).await,
        ids_of(None)
    );
    assert_eq!(
        read_ids(&lake, &latest(&lake, &c).await).await,
        ids_of(Some(false))
    );

    for version in 1..=total {
        let s = lake.at(lv(version)).await.expect("every version reads");
        assert_eq!(
            rows(&s, &a) + rows(&s, &c),
            rows(&s, &b),
            "version {version}"
        );
        assert_eq!(rows(&s, &b), version * ROWS as u64, "version {version}");
    }
}

#[tokio::test]
async fn staged_files_stay_invisible_until_committed_and_can_be_discarded() {
    let (_dir, lake) = temp_lake();
    let (person, encounter) = (table("person"), table("encounter"));
    // A submission stages files, then its writer stops before committing.
    let abandoned = vec![
        stage(&lake, &person, 0, 3).await,
        stage(&lake, &encounter, 0, 2).await,
    ];
    assert!(lake.current().await.expect("current").is_none());
    assert!(lake.tables().await.expect("tables").is_empty());
    assert_eq!(lake.latest(&person).await.expect("latest"), None);

    lake.commit_all(adds(&person, 100, 1))
        .await
        .expect("another commit lands");
    assert_eq!(read_ids(&lake, &latest(&lake, &person).await).await, [100]);
    assert_eq!(lake.latest(&encounter).await.expect("latest"), None);
    assert_eq!(data_files_on_disk(&lake, &person).await, 2);

    lake.discard(abandoned).await;
    assert_eq!(data_files_on_disk(&lake, &person).await, 1);
    assert_eq!(data_files_on_disk(&lake, &encounter).await, 0);
    assert_eq!(
        lake.stage(&person, vec![ids(0, 0)]).await.expect("stage"),
        None,
        "no rows, no file"
    );
    assert_eq!(lake.stage(&person, Vec::new()).await.expect("stage"), None);
}

#[tokio::test]
async fn a_refused_commit_changes_no_table_and_deletes_its_files() {
    let (_dir, lake) = temp_lake();
    let (person, encounter) = (table("person"), table("encounter"));
    lake.commit_all(
        LakeChange::new()
            .table(person.clone(), Change::new().add_batches([ids(0, 1)]))
            .table(encounter.clone(), Change::new().add_batches([ids(0, 1)])),
    )
    .await
    .expect("the first commit lands");

    let good = stage(&lake, &person, 1, 2).await;
    let bad = lake
        .stage(&encounter, vec![mistyped()])
        .await
        .expect("staging does not know the table's schema")
        .expect("a row");
    let refused = lake
        .commit_all(
            LakeChange::new()
                .table(person.clone(), Change::new().add_staged(good))
                .table(encounter.clone(), Change::new().add_staged(bad)),
        )
        .await;
    match refused {
        Err(Error::InvalidTable { table, reason }) => {
            assert_eq!(table, "encounter");
            assert!(reason.contains("staged file encounter/data/"), "{reason}");
            assert!(
                reason.contains("\"diagnosis\" has type Int32 but the table's has type Utf8"),
                "{reason}"
            );
        }
        other => panic!("a mistyped staged file was not refused: {other:?}"),
    }
    assert_eq!(current(&lake).await.version(), LakeVersion::FIRST);
    assert_eq!(read_ids(&lake, &latest(&lake, &person).await).await, [0]);
    assert_eq!(data_files_on_disk(&lake, &person).await, 1);
    assert_eq!(data_files_on_disk(&lake, &encounter).await, 1);

    let elsewhere = stage(&lake, &person, 5, 1).await;
    match lake
        .commit_all(LakeChange::new().table(encounter.clone(), Change::new().add_staged(elsewhere)))
        .await
    {
        Err(Error::InvalidTable { table, reason }) => {
            assert_eq!(table, "encounter");
            assert!(reason.contains("staged for table \"person\""), "{reason}");
        }
        other => panic!("a file staged for another table was not refused: {other:?}"),
    }
    assert_eq!(data_files_on_disk(&lake, &person).await, 1);
    match lake.commit_all(LakeChange::new()).await {
        Err(Error::InvalidLake { reason }) => assert!(reason.contains("no table"), "{reason}"),
        other => panic!("an empty change was not refused: {other:?}"),
    }
    match lake
        .commit_all(LakeChange::new().table(person.clone(), Change::new()))
        .await
    {
        Err(Error::InvalidTable { reason, .. }) => assert!(reason.contains("no batches")),
        other => panic!("an empty table change was not refused: {other:?}"),
    }
    assert_eq!(current(&lake).await.version(), LakeVersion::FIRST);

    // A non-nullable column fills the table's nullable one.
    let narrower = Arc::new(Schema::new(
        claims_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(false))
            .collect::<Vec<_>>(),
    ));
    let batch = ids(7, 1);
    let narrow = RecordBatch::try_new(narrower, batch.columns().to_vec()).expect("no nulls");
    let staged = lake
        .stage(&person, vec![narrow])
        .await
        .expect("stage")
        .expect("a row");
    lake.commit(&person, Change::new().add_staged(staged))
        .await
        .expect("a narrower schema is accepted");
    let snapshot = latest(&lake, &person).await;
    assert_eq!(snapshot.schema(), &claims_schema());
    assert_eq!(read_ids(&lake, &snapshot).await, [0, 7]);
}

#[tokio::test]
async fn every_old_lake_and_table_version_reads_its_rows() {
    let (dir, lake) = temp_lake();
    let (a, b) = (table("a"), table("b"));
    // Commits to a, b or both; the rows each table holds after each one.
    let plan: [&[&TableName]; 7] = [&[&a], &[&b], &[&a], &[&a], &[&b], &[&a, &b], &[&a]];
    let mut held: BTreeMap<TableName, Vec<i64>> = BTreeMap::new();
    let mut by_lake_version = Vec::new();
    let mut by_table_version: BTreeMap<TableName, Vec<Vec<i64>>> = BTreeMap::new();
    for (i, tables) in plan.iter().enumerate() {
        let first = i as i64 * 10;
        let mut change = LakeChange::new();
        for t in *tables {
            change = change.table((*t).clone(), Change::new().add_batches([ids(first, 2)]));
            let rows = held.entry((*t).clone()).or_default();
            rows.extend([first, first + 1]);
            by_table_version
                .entry((*t).clone())
                .or_default()
                .push(rows.clone());
        }
        lake.commit_all(change).await.expect("the commit lands");
        by_lake_version.push(held.clone());
    }

    let fresh = Lake::open_local(&dir.path().join("lake")).expect("reopen");
    for lake in [&lake, &fresh] {
        for (i, expected) in by_lake_version.iter().enumerate() {
            let snapshot = lake
                .at(lv(i as u64 + 1))
                .await
                .expect("every version reads");
            let mut got = BTreeMap::new();
            for t in snapshot.tables() {
                got.insert(t.table().clone(), read_ids(lake, t).await);
            }
            assert_eq!(&got, expected, "lake version {}", i + 1);
        }
        for (t, versions) in &by_table_version {
            assert_eq!(
                lake.versions(t).await.expect("versions").len(),
                versions.len()
            );
            for (k, expected) in versions.iter().enumerate() {
                let snapshot = lake
                    .snapshot(t, v(k as u64 + 1))
                    .await
                    .expect("every table version reads");
                assert_eq!(
                    &read_ids(lake, &snapshot).await,
                    expected,
                    "{t} version {}",
                    k + 1
                );
            }
        }
    }
    match lake.at(lv(99)).await {
        Err(Error::NoSuchLakeVersion { version }) => assert_eq!(version, 99),
        other => panic!("lake version 99 should not exist: {other:?}"),
    }
}
