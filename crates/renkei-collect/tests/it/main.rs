//! Integration tests of the intake, each on SQLite and PostgreSQL, with a
//! real lake on disk. Identity is played by a small in-memory resolver:
//! collection may not depend on renkei-identity (the binary's tests run
//! the two together).

mod atomic;
mod audited;
mod bad_input;
mod bundles;
mod jpclins;
mod person_events;
mod report;
mod separation;
mod versions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, RecordBatch, StringArray};
use futures::future::BoxFuture;
use renkei_collect::{FacilityKind, Intake, IntakeConfig, Provider, Receipt};
use renkei_core::{
    Actor, AuditEvent, AuditReceipt, AuditSink, IdentifyingAttributes, IdentityBatch,
    IdentityResolver, LinkMethod, PersonKey, ProviderCode, RecordId, Resolution, SystemClock,
    Timestamp,
};
use renkei_store::Stores;
use renkei_store::lake::TableName;

/// An audit log in memory that can be made to refuse entries, as a full
/// or failed log would.
#[derive(Default)]
struct TestAudit {
    events: Mutex<Vec<AuditEvent>>,
    refuse: std::sync::atomic::AtomicBool,
}

impl TestAudit {
    fn refusing() -> Self {
        let audit = Self::default();
        audit.refuse(true);
        audit
    }

    fn refuse(&self, refuse: bool) {
        self.refuse
            .store(refuse, std::sync::atomic::Ordering::SeqCst);
    }

    /// The recorded entries as `action object`.
    fn lines(&self) -> Vec<String> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .map(|e| format!("{} {}", e.action, e.object))
            .collect()
    }
}

impl AuditSink for TestAudit {
    fn append(&self, event: AuditEvent) -> BoxFuture<'_, Result<AuditReceipt, renkei_core::Error>> {
        Box::pin(async move {
            if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(renkei_core::Error::Audit("the test log refuses".to_owned()));
            }
            let mut events = self.events.lock().expect("lock");
            events.push(event);
            Ok(AuditReceipt {
                index: events.len() as u64 - 1,
            })
        })
    }
}

/// Who sends in these tests, as the log names them.
fn sender() -> Actor {
    Actor::System {
        component: "test sender".to_owned(),
    }
}

/// Links by insurance number, else by (provider, 患者ID), else a new person.
/// Remembers the longest name it was given, for the attack tests.
/// Staged batches are kept apart as identity keeps them: seen only by
/// their own batch until committed, gone when discarded.
#[derive(Default)]
struct TestIdentity {
    keys: Mutex<HashMap<String, PersonKey>>,
    staged: Mutex<HashMap<IdentityBatch, HashMap<String, PersonKey>>>,
    /// The longest name it was given, for the attack tests.
    longest_name: std::sync::atomic::AtomicUsize,
    /// How many of the next batch commits fail (a store that fails).
    failing_commits: std::sync::atomic::AtomicUsize,
}

impl TestIdentity {
    fn note(&self, a: &IdentifyingAttributes) {
        for name in [&a.kanji_name, &a.kana_name].into_iter().flatten() {
            self.longest_name
                .fetch_max(name.chars().count(), std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn tokens(provider: &ProviderCode, a: &IdentifyingAttributes) -> Vec<String> {
        let mut tokens = Vec::new();
        if let (Some(i), Some(n)) = (&a.insurer_number, &a.insured_number) {
            tokens.push(format!(
                "ins|{i}|{n}|{}",
                a.insured_branch.clone().unwrap_or_default()
            ));
        }
        if let Some(l) = &a.local_patient_id {
            tokens.push(format!("local|{provider}|{l}"));
        }
        tokens
    }

    /// Resolves against the committed keys and `own` (a batch's), adding
    /// new tokens to `own`.
    fn link(
        committed: &HashMap<String, PersonKey>,
        own: &mut HashMap<String, PersonKey>,
        provider: &ProviderCode,
        a: &IdentifyingAttributes,
    ) -> Resolution {
        let tokens = Self::tokens(provider, a);
        let found = tokens
            .iter()
            .find_map(|t| own.get(t).or_else(|| committed.get(t)).copied());
        let person = found.unwrap_or_else(PersonKey::generate);
        for t in tokens {
            if !committed.contains_key(&t) {
                own.entry(t).or_insert(person);
            }
        }
        Resolution {
            person_key: person,
            method: if found.is_some() {
                LinkMethod::LocalPatientId
            } else {
                LinkMethod::NewPerson
            },
            record: RecordId::generate(),
        }
    }

    /// Persons committed (distinct keys).
    fn persons(&self) -> usize {
        let keys = self.keys.lock().expect("lock");
        keys.values()
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    /// Batches with something staged.
    fn staged_batches(&self) -> usize {
        self.staged
            .lock()
            .expect("lock")
            .values()
            .filter(|b| !b.is_empty())
            .count()
    }
}

impl IdentityResolver for TestIdentity {
    fn resolve(
        &self,
        provider: &ProviderCode,
        a: &IdentifyingAttributes,
    ) -> BoxFuture<'_, Result<Resolution, renkei_core::ServiceError>> {
        self.note(a);
        let mut keys = self.keys.lock().expect("lock");
        let mut own = HashMap::new();
        let resolution = Self::link(&keys, &mut own, provider, a);
        keys.extend(own);
        Box::pin(async move { Ok(resolution) })
    }

    fn resolve_staged<'a>(
        &'a self,
        batch: &'a IdentityBatch,
        provider: &'a ProviderCode,
        records: &'a [IdentifyingAttributes],
    ) -> BoxFuture<'a, Result<Vec<Resolution>, renkei_core::ServiceError>> {
        records.iter().for_each(|a| self.note(a));
        let keys = self.keys.lock().expect("lock");
        let mut staged = self.staged.lock().expect("lock");
        let own = staged.entry(*batch).or_default();
        let out = records
            .iter()
            .map(|a| Self::link(&keys, own, provider, a))
            .collect();
        Box::pin(async move { Ok(out) })
    }

    fn commit_batch<'a>(
        &'a self,
        batch: &'a IdentityBatch,
    ) -> BoxFuture<'a, Result<(), renkei_core::ServiceError>> {
        use std::sync::atomic::Ordering;
        if self
            .failing_commits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Box::pin(async {
                Err(renkei_core::ServiceError::new(
                    renkei_core::Function::Identity,
                    renkei_core::ErrorKind::Unavailable,
                    "the test store fails",
                ))
            });
        }
        let own = self
            .staged
            .lock()
            .expect("lock")
            .remove(batch)
            .unwrap_or_default();
        let mut keys = self.keys.lock().expect("lock");
        for (t, p) in own {
            keys.entry(t).or_insert(p);
        }
        Box::pin(async move { Ok(()) })
    }

    fn discard_batch<'a>(
        &'a self,
        batch: &'a IdentityBatch,
    ) -> BoxFuture<'a, Result<(), renkei_core::ServiceError>> {
        self.staged.lock().expect("lock").remove(batch);
        Box::pin(async move { Ok(()) })
    }

    fn find_local<'a>(
        &'a self,
        provider: &'a ProviderCode,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<PersonKey>>, renkei_core::ServiceError>> {
        let keys = self.keys.lock().expect("lock");
        let out = ids
            .iter()
            .map(|l| keys.get(&format!("local|{provider}|{l}")).copied())
            .collect();
        Box::pin(async move { Ok(out) })
    }

    /// Collection never identifies patients; refusing loudly keeps a test
    /// from passing on an answer this stand-in cannot give honestly.
    fn identify<'a>(
        &'a self,
        _attributes: &'a IdentifyingAttributes,
    ) -> BoxFuture<'a, Result<Option<PersonKey>, renkei_core::ServiceError>> {
        Box::pin(async move {
            Err(renkei_core::ServiceError::new(
                renkei_core::Function::Identity,
                renkei_core::ErrorKind::Invalid,
                "the collection tests' identity does not identify patients",
            ))
        })
    }
}

const HOSPITAL: &str = "1311234567";
const CLINIC: &str = "2710000019";

fn code(c: &str) -> ProviderCode {
    ProviderCode::parse(c).expect("provider code")
}

async fn intake(stores: &Stores) -> Intake {
    intake_with(stores, IntakeConfig::default()).await
}

async fn intake_with(stores: &Stores, config: IntakeConfig) -> Intake {
    intake_for(stores, config, Arc::new(TestIdentity::default())).await
}

/// An intake over `identity`, with the test providers registered.
async fn intake_for(stores: &Stores, config: IntakeConfig, identity: Arc<TestIdentity>) -> Intake {
    intake_audited(stores, config, identity, Arc::new(TestAudit::default())).await
}

async fn intake_with_identity(
    stores: &Stores,
    config: IntakeConfig,
    identity: Arc<TestIdentity>,
) -> Intake {
    intake_for(stores, config, identity).await
}

/// An intake over `identity` that records in `audit`.
async fn intake_audited(
    stores: &Stores,
    config: IntakeConfig,
    identity: Arc<TestIdentity>,
    audit: Arc<TestAudit>,
) -> Intake {
    let intake = Intake::open(stores, identity, audit, Arc::new(SystemClock), config)
        .await
        .expect("intake opens");
    for (c, kind) in [
        (HOSPITAL, FacilityKind::AdvancedTreatmentHospital),
        (CLINIC, FacilityKind::Clinic),
    ] {
        intake
            .register_provider(
                &sender(),
                &Provider {
                    code: code(c),
                    name: format!("test {c}"),
                    kind,
                    org_id: None,
                    registered_at: Timestamp::from_unix_micros(0),
                },
            )
            .await
            .expect("register");
    }
    intake
}

async fn submit(intake: &Intake, provider: &str, body: impl Into<Vec<u8>>) -> Receipt {
    intake
        .submit(
            &sender(),
            &code(provider),
            std::io::Cursor::new(body.into()),
        )
        .await
        .expect("submission is read")
}

fn patient(id: &str, local: &str, insured: &str) -> String {
    serde_json::json!({
        "resourceType": "Patient",
        "id": id,
        "identifier": [
            {"system": format!("urn:oid:1.2.392.100495.20.3.51.1{HOSPITAL}"), "value": local},
            {"system": "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID", "value": insured}
        ],
        "name": [{"family": "髙橋", "given": ["花子"], "text": "髙橋 花子"}],
        "gender": "female",
        "birthDate": "1961-04-02",
        "address": [{"text": "東京都千代田区千代田1-1", "state": "東京都", "city": "千代田区"}]
    })
    .to_string()
}

fn observation(id: &str, subject: &str, value: f64, last_updated: Option<&str>) -> String {
    let mut o = serde_json::json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "urn:oid:1.2.392.200119.4.504", "code": "3D010000001926101"}]},
        "subject": {"reference": format!("Patient/{subject}")},
        "effectiveDateTime": "2024-04-01T09:00:00+09:00",
        "valueQuantity": {"value": value, "unit": "mg/dL"}
    });
    if let Some(t) = last_updated {
        o["meta"] = serde_json::json!({"lastUpdated": t});
    }
    o.to_string()
}

fn ndjson(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Every batch of a table as the lake's current version holds it.
async fn table(stores: &Stores, name: &str) -> Vec<RecordBatch> {
    let lake = stores.lake().expect("lake");
    let Some(current) = lake.current().await.expect("current") else {
        return Vec::new();
    };
    let Some(snapshot) = current.table(&TableName::parse(name).expect("name")) else {
        return Vec::new();
    };
    lake.read(snapshot).await.expect("read")
}

async fn rows(stores: &Stores, name: &str) -> usize {
    table(stores, name)
        .await
        .iter()
        .map(RecordBatch::num_rows)
        .sum()
}

/// The text values of `column` across batches.
fn texts(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let a = b
            .column_by_name(column)
            .unwrap_or_else(|| panic!("no column {column}"))
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("text column");
        for i in 0..a.len() {
            out.push(a.is_valid(i).then(|| a.value(i).to_owned()));
        }
    }
    out
}

async fn lake_version(stores: &Stores) -> Option<u64> {
    stores
        .lake()
        .expect("lake")
        .current()
        .await
        .expect("current")
        .map(|c| c.version().get())
}
