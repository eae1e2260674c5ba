//! Writers that meet: another writer's commit placed exactly between a
//! commit's read of the lake and its put (by an [`Interposer`]), answers
//! lost or repeated by the store, and commit ids committed twice.

use std::sync::Arc;

use futures::FutureExt;
use renkei_store::Error;
use renkei_store::lake::{Change, Lake, LakeChange, LakeVersion, Snapshot};
use tempfile::TempDir;

use super::interpose::{Interposer, Step};
use super::multi_table::{adds, current, lv, mistyped, objects, stage};
use super::{data_files_on_disk, ids, latest, read_ids, table, temp_lake, v};

/// A lake whose store lets the test step in, and a plain one on the same
/// store for the other writer.
fn interposed() -> (TempDir, Lake, Lake, Arc<Interposer>) {
    let (dir, other) = temp_lake();
    let interposer = Arc::new(Interposer::new(other.object_store()));
    let lake = Lake::open_store(interposer.clone(), other.root_url().clone());
    (dir, lake, other, interposer)
}

/// `other` commits `change()` just before the next lake version is put.
fn other_commits_first(other: &Lake, change: impl FnOnce() -> LakeChange + Send + 'static) -> Step {
    let other = other.clone();
    Step::Before(Box::new(move || {
        async move {
            other
                .commit_all(change())
                .await
                .expect("the other writer commits");
        }
        .boxed()
    }))
}

#[tokio::test]
async fn a_table_created_first_by_another_writer_with_another_schema_is_refused() {
    let (_dir, lake, other, interposer) = interposed();
    let t = table("visits");
    let staged = stage(&lake, &t, 0, 2).await;
    let theirs = t.clone();
    interposer.at_next_create(
        "_lake/",
        other_commits_first(&other, move || {
            LakeChange::new().table(theirs, Change::new().add_batches([mistyped()]))
        }),
    );
    match lake
        .commit_all(LakeChange::new().table(t.clone(), Change::new().add_staged(staged)))
        .await
    {
        Err(Error::InvalidTable { table, reason }) => {
            assert_eq!(table, "visits");
            assert!(
                reason.contains("another writer committed version 1 with a different schema"),
                "{reason}"
            );
        }
        other => panic!("a conflicting schema was not refused: {other:?}"),
    }
    assert!(interposer.all_ran());
    let snapshot = current(&lake).await;
    assert_eq!(snapshot.version(), LakeVersion::FIRST);
    assert_eq!(
        snapshot.table(&t).expect("theirs").schema(),
        &mistyped().schema()
    );
    assert_eq!(data_files_on_disk(&lake, &t).await, 1, "ours is deleted");
    assert_eq!(
        objects(&lake, "visits/_manifest").await,
        1,
        "ours is deleted"
    );
}

#[tokio::test]
async fn a_file_removed_first_by_another_writer_is_refused() {
    let (_dir, lake, other, interposer) = interposed();
    let t = table("claims");
    lake.append(&t, &[ids(0, 3)]).await.expect("append");
    let file = latest(&lake, &t).await.files()[0].path().clone();
    let (theirs, their_file) = (t.clone(), file.clone());
    interposer.at_next_create(
        "_lake/",
        other_commits_first(&other, move || {
            LakeChange::new().table(theirs, Change::new().remove_file(their_file))
        }),
    );
    let change = Change::new().remove_file(file).add_batches([ids(10, 1)]);
    match lake.commit(&t, change).await {
        Err(Error::MissingDataFile { table, version, .. }) => {
            assert_eq!((table.as_str(), version), ("claims", 2));
        }
        other => panic!("removing a removed file was not refused: {other:?}"),
    }
    assert_eq!(lake.versions(&t).await.expect("versions"), [v(1), v(2)]);
    assert_eq!(data_files_on_disk(&lake, &t).await, 1, "ours is deleted");
}

#[tokio::test]
async fn a_conflict_on_other_tables_reuses_the_manifests_written() {
    let (_dir, lake, other, interposer) = interposed();
    let (a, b) = (table("a"), table("b"));
    lake.append(&a, &[ids(0, 1)]).await.expect("append");
    let theirs = b.clone();
    interposer.at_next_create(
        "_lake/",
        other_commits_first(&other, move || adds(&theirs, 0, 1)),
    );
    let version = lake
        .commit_all(adds(&a, 1, 1))
        .await
        .expect("the commit lands");
    assert!(interposer.all_ran());
    assert_eq!(version, lv(3), "after the other writer's version 2");
    let snapshot = current(&lake).await;
    assert_eq!(snapshot.table(&a).map(Snapshot::version), Some(v(2)));
    assert_eq!(snapshot.table(&b).map(Snapshot::version), Some(v(1)));
    assert_eq!(
        read_ids(&lake, snapshot.table(&a).expect("a")).await,
        [0, 1]
    );
    assert_eq!(
        objects(&lake, "a/_manifest").await,
        2,
        "no manifest rebuilt"
    );
}

#[tokio::test]
async fn a_conflict_on_the_same_table_rebuilds_its_manifest_on_the_new_version() {
    let (_dir, lake, other, interposer) = interposed();
    let (a, b) = (table("a"), table("b"));
    lake.append(&a, &[ids(0, 1)]).await.expect("append");
    let theirs = a.clone();
    interposer.at_next_create(
        "_lake/",
        other_commits_first(&other, move || adds(&theirs, 1, 1)),
    );
    let version = lake
        .commit_all(
            LakeChange::new()
                .table(a.clone(), Change::new().add_batches([ids(2, 1)]))
                .table(b.clone(), Change::new().add_batches([ids(0, 1)])),
        )
        .await
        .expect("the commit lands");
    assert_eq!(version, lv(3));
    let snapshot = current(&lake).await;
    let a_now = snapshot.table(&a).expect("a");
    assert_eq!(a_now.version(), v(3));
    assert_eq!(a_now.parent(), Some(v(2)));
    assert_eq!(read_ids(&lake, a_now).await, [0, 1, 2]);
    assert_eq!(snapshot.table(&b).map(Snapshot::version), Some(v(1)));
    assert_eq!(
        objects(&lake, "a/_manifest").await,
        3,
        "the manifest built on version 1 is deleted"
    );
    assert_eq!(objects(&lake, "b/_manifest").await, 1, "b's is reused");
}

#[tokio::test]
async fn a_retried_put_whose_first_try_landed_is_recognised_as_ours() {
    let (_dir, lake, _other, interposer) = interposed();
    let t = table("claims");
    interposer.at_next_create("claims/_manifest/", Step::LandThenConflict);
    interposer.at_next_create("_lake/", Step::LandThenConflict);
    let version = lake
        .commit_all(adds(&t, 0, 2))
        .await
        .expect("the commit lands");
    assert!(interposer.all_ran());
    assert_eq!(version, LakeVersion::FIRST);
    assert_eq!(objects(&lake, "_lake").await, 1);
    assert_eq!(read_ids(&lake, &latest(&lake, &t).await).await, [0, 1]);
}

#[tokio::test]
async fn a_lost_answer_from_the_log_keeps_the_files_and_shows_nothing() {
    let (_dir, lake, _other, interposer) = interposed();
    let t = table("claims");
    interposer.at_next_create("_lake/", Step::Fail);
    match lake.commit_all(adds(&t, 0, 2)).await {
        Err(Error::ObjectStore { location, .. }) => {
            assert_eq!(location, "_lake/00000000000000000001.json");
        }
        other => panic!("the failed put was not reported: {other:?}"),
    }
    assert!(lake.current().await.expect("current").is_none());
    assert_eq!(
        data_files_on_disk(&lake, &t).await,
        1,
        "it might have landed"
    );
    assert_eq!(objects(&lake, "claims/_manifest").await, 1);

    assert_eq!(
        lake.commit_all(adds(&t, 5, 1))
            .await
            .expect("the next commit lands"),
        LakeVersion::FIRST
    );
    assert_eq!(read_ids(&lake, &latest(&lake, &t).await).await, [5]);
}

#[tokio::test]
async fn a_commit_id_that_landed_is_not_committed_again() {
    let (dir, lake) = temp_lake();
    let (a, b) = (table("a"), table("b"));
    let id = "submission-01965f0e";
    let submission = |staged| {
        LakeChange::new()
            .table(a.clone(), Change::new().add_staged(staged))
            .operation("ingest")
            .commit_id(id)
    };
    assert_eq!(lake.find_commit(id).await.expect("find"), None);
    let first = lake
        .commit_all(submission(stage(&lake, &a, 0, 2).await))
        .await
        .expect("the commit lands");
    lake.commit_all(adds(&b, 0, 1))
        .await
        .expect("another commit");

    // The writer crashed before recording its success, and does it all again.
    let again = lake
        .commit_all(submission(stage(&lake, &a, 0, 2).await))
        .await
        .expect("the retry succeeds");
    assert_eq!(again, first);
    assert_eq!(current(&lake).await.version(), lv(2));
    assert_eq!(read_ids(&lake, &latest(&lake, &a).await).await, [0, 1]);
    assert_eq!(
        data_files_on_disk(&lake, &a).await,
        1,
        "the retry's file is deleted"
    );
    assert_eq!(lake.at(first).await.expect("at").commit_id(), id);

    lake.commit_all(adds(&b, 1, 1))
        .await
        .expect("another commit");
    let fresh = Lake::open_local(&dir.path().join("lake")).expect("reopen");
    for lake in [&lake, &fresh] {
        assert_eq!(lake.find_commit(id).await.expect("find"), Some(first));
        assert_eq!(
            lake.find_commit("submission-other").await.expect("find"),
            None
        );
    }
}

#[tokio::test]
async fn a_commit_id_landed_by_another_writer_meanwhile_is_not_committed_again() {
    let (_dir, lake, other, interposer) = interposed();
    let a = table("a");
    let id = "submission-01965f0e";
    let theirs = a.clone();
    interposer.at_next_create(
        "_lake/",
        other_commits_first(&other, move || adds(&theirs, 0, 2).commit_id(id)),
    );
    let version = lake
        .commit_all(adds(&a, 0, 2).commit_id(id))
        .await
        .expect("the duplicate succeeds");
    assert!(interposer.all_ran());
    assert_eq!(version, LakeVersion::FIRST);
    assert_eq!(current(&lake).await.version(), LakeVersion::FIRST);
    assert_eq!(data_files_on_disk(&lake, &a).await, 1, "ours is deleted");
    assert_eq!(objects(&lake, "a/_manifest").await, 1, "ours is deleted");
}

#[tokio::test]
async fn a_commit_id_tried_without_landing_commits_on_the_next_try() {
    let (_dir, lake, _other, interposer) = interposed();
    let a = table("a");
    let id = "submission-01965f0e";
    lake.append(&a, &[ids(0, 1)]).await.expect("append");
    interposer.at_next_create("_lake/", Step::Fail);
    lake.commit_all(adds(&a, 1, 1).commit_id(id))
        .await
        .expect_err("the put fails");
    assert_eq!(lake.find_commit(id).await.expect("find"), None);
    let version = lake
        .commit_all(adds(&a, 1, 1).commit_id(id))
        .await
        .expect("the retry lands");
    assert_eq!(version, lv(2));
    assert_eq!(lake.find_commit(id).await.expect("find"), Some(version));
}
