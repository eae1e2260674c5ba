use renkei_store::{Backend, DbName, Migrations, test_on_both_backends};
use sqlx::Row;

const NOTES: DbName = DbName::new("notes");

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("tests/migrations/sqlite"),
        postgres: sqlx::migrate!("tests/migrations/postgres"),
    }
}

test_on_both_backends!(
    async fn one_query_text_serves_both_backends(t) {
        let db = t.stores.database(NOTES, &migrations()).await.expect("open");
        for (id, body) in [(1_i64, "一"), (2, "二"), (3, "三")] {
            sqlx::query("INSERT INTO notes (id, body, at_us) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(body)
                .bind(id * 1_000_000)
                .execute(db.pool())
                .await
                .expect("insert");
        }
        let rows = sqlx::query("SELECT body FROM notes WHERE id >= $1 ORDER BY id")
            .bind(2_i64)
            .fetch_all(db.pool())
            .await
            .expect("select");
        let bodies: Vec<String> = rows.iter().map(|r| r.get::<String, _>("body")).collect();
        assert_eq!(bodies, ["二", "三"]);
        db.ping().await.expect("ping");
    }
);

test_on_both_backends!(
    async fn each_function_has_its_own_database(t) {
        let notes = t.stores.database(NOTES, &migrations()).await.expect("open notes");
        let other = t
            .stores
            .database(DbName::new("other_notes"), &migrations())
            .await
            .expect("open other");
        sqlx::query("INSERT INTO notes (id, body, at_us) VALUES ($1, $2, $3)")
            .bind(1_i64)
            .bind("x")
            .bind(0_i64)
            .execute(notes.pool())
            .await
            .expect("insert");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
            .fetch_one(other.pool())
            .await
            .expect("count");
        assert_eq!(n, 0, "a row in one function's database showed in another's");
        match t.stores.backend() {
            Backend::Sqlite => {
                assert!(t.dir.path().join("db/notes.sqlite").exists());
                assert!(t.dir.path().join("db/other_notes.sqlite").exists());
            }
            Backend::Postgres => {
                let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
                    .fetch_one(other.pool())
                    .await
                    .expect("schema");
                assert!(schema.ends_with("_other_notes"), "{schema}");
            }
        }
    }
);

test_on_both_backends!(
    async fn reopening_runs_no_migration_twice(t) {
        let db = t.stores.database(NOTES, &migrations()).await.expect("open");
        sqlx::query("INSERT INTO notes (id, body, at_us) VALUES ($1, $2, $3)")
            .bind(7_i64)
            .bind("kept")
            .bind(0_i64)
            .execute(db.pool())
            .await
            .expect("insert");
        t.stores.close().await;
        let again = renkei_store::Stores::open(t.dir.path(), &t.config)
            .await
            .expect("reopen");
        let db = again.database(NOTES, &migrations()).await.expect("open again");
        let body: String = sqlx::query_scalar("SELECT body FROM notes WHERE id = $1")
            .bind(7_i64)
            .fetch_one(db.pool())
            .await
            .expect("row survives reopen");
        assert_eq!(body, "kept");
    }
);

#[tokio::test]
async fn sqlite_database_runs_in_wal_mode() {
    let t =
        renkei_store::testing::TestStores::new(renkei_store::testing::TestBackend::Sqlite).await;
    let db = t.stores.database(NOTES, &migrations()).await.expect("open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(db.pool())
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
}
