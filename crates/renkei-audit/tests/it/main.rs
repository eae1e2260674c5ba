//! Integration tests of the audit log, each body run on SQLite and
//! PostgreSQL (`RENKEI_TEST_DATABASE_URL`).

mod crash;
mod log;
mod tamper;
mod witness;

use std::sync::Arc;

use renkei_audit::AuditLog;
use renkei_core::{Actor, AuditEvent, Clock, FixedClock, Outcome, Timestamp};
use renkei_store::testing::{TestBackend, TestStores};
use renkei_store::{Backend, Db, DbName, Migrations, Stores};

/// 2027-01-15T08:00:00Z, where the tests' clocks stand.
const T0_US: i64 = 1_800_000_000_000_000;

/// The `i`th test event: distinct bytes for every `i`.
fn event(i: u64) -> AuditEvent {
    AuditEvent {
        at: Timestamp::from_unix_micros(T0_US + i as i64),
        actor: Actor::System {
            component: "test".to_owned(),
        },
        action: "permit.read".to_owned(),
        object: format!("permit-{i}"),
        outcome: Outcome::Success,
        status: Some(200),
        request_id: Some(format!("req-{i}")),
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock::new(Timestamp::from_unix_micros(T0_US)))
}

async fn open(stores: &Stores) -> AuditLog {
    AuditLog::open(stores, clock())
        .await
        .expect("audit log opens")
}

/// The audit database, for tests that reach under the log to tamper with
/// it. The log has opened it already, so these migrations are not run.
async fn audit_db(stores: &Stores) -> Db {
    let migrations = Migrations {
        sqlite: sqlx::migrate!("migrations/sqlite"),
        postgres: sqlx::migrate!("migrations/postgres"),
    };
    stores
        .database(DbName::new("audit"), &migrations)
        .await
        .expect("audit database opens")
}

/// Fresh stores on the same backend as `stores`.
async fn other_stores(stores: &Stores) -> TestStores {
    TestStores::new(match stores.backend() {
        Backend::Sqlite => TestBackend::Sqlite,
        Backend::Postgres => TestBackend::Postgres,
    })
    .await
}

/// Appends `n` events one at a time, so that each gets its own batch and
/// signed head (sizes 1..=n after `start`).
async fn append_one_by_one(log: &AuditLog, start: u64, n: u64) {
    for i in start..start + n {
        let receipt = log.append(event(i)).await.expect("append");
        assert_eq!(receipt.index, i);
    }
}
