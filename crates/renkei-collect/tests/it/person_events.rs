//! Identity's merges and splits reach the lake through its writer, once
//! each: applied again, concurrently, or by a second writer over the same
//! lake (another process), an event lands one time.

use std::sync::Mutex;

use futures::future::BoxFuture;
use renkei_core::{
    PERSON_KEY_MAP_TABLE, PersonEvent, PersonEvents, PersonKey, RECORD_KEY_MAP_TABLE, RecordId,
    ServiceResult, Timestamp,
};
use renkei_store::lake::TableName;
use renkei_store::test_on_both_backends;

use super::*;

/// Identity's recorded events, as many as the test has decided.
#[derive(Default)]
struct Events(Mutex<Vec<PersonEvent>>);

impl Events {
    fn push(&self, event: PersonEvent) {
        self.0.lock().expect("lock").push(event);
    }
}

impl PersonEvents for Events {
    fn since(&self, seq: i64) -> BoxFuture<'_, ServiceResult<Vec<PersonEvent>>> {
        let events: Vec<PersonEvent> = self
            .0
            .lock()
            .expect("lock")
            .iter()
            .filter(|e| e.seq() > seq)
            .cloned()
            .collect();
        Box::pin(async move { Ok(events) })
    }
}

async fn rows(stores: &Stores, table: &str) -> usize {
    let lake = stores.lake().expect("lake");
    let table = TableName::parse(table).expect("name");
    let Some(snapshot) = lake
        .current()
        .await
        .expect("current")
        .and_then(|c| c.table(&table).cloned())
    else {
        return 0;
    };
    lake.read(&snapshot)
        .await
        .expect("read")
        .iter()
        .map(|b| b.num_rows())
        .sum()
}

test_on_both_backends!(
    async fn each_merge_and_split_lands_once_however_often_it_is_applied(t) {
        let one = intake_for(&t.stores, IntakeConfig::default(), Arc::new(TestIdentity::default())).await;
        let other = intake_for(&t.stores, IntakeConfig::default(), Arc::new(TestIdentity::default())).await;
        let events = Events::default();
        let at = Timestamp::from_unix_micros(1_700_000_000_000_000);
        let (a, b, c) = (PersonKey::generate(), PersonKey::generate(), PersonKey::generate());
        events.push(PersonEvent::Merged { seq: 1, id: "e1".to_owned(), from: a, into: b, at });
        events.push(PersonEvent::Split {
            seq: 2,
            id: "e2".to_owned(),
            from: b,
            to: c,
            records: vec![RecordId::generate(), RecordId::generate()],
            at,
        });
        // Two writers at once, then the first again: each event once.
        let (x, y) = tokio::join!(one.apply_person_events(&events), other.apply_person_events(&events));
        let (x, y) = (x.expect("one applies"), y.expect("the other applies"));
        assert!(x.merges + y.merges >= 1 && x.split_records + y.split_records >= 2);
        assert_eq!(one.apply_person_events(&events).await.expect("again"), renkei_collect::Propagated::default());
        assert_eq!(rows(&t.stores, PERSON_KEY_MAP_TABLE).await, 1);
        assert_eq!(rows(&t.stores, RECORD_KEY_MAP_TABLE).await, 2);
        // A later event goes on from where the lake is.
        events.push(PersonEvent::Merged { seq: 3, id: "e3".to_owned(), from: c, into: b, at });
        let later = other.apply_person_events(&events).await.expect("later");
        assert_eq!(later.merges, 1);
        assert_eq!(rows(&t.stores, PERSON_KEY_MAP_TABLE).await, 2);
    }
);
