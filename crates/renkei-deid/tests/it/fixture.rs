//! A lake with known persons and rows, processing over it, and readers of
//! what an extract wrote.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, new_null_array,
};
use arrow::datatypes::{Date32Type, SchemaRef};
use futures::future::BoxFuture;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use renkei_core::{
    Actor, AuditEvent, AuditReceipt, AuditSink, FixedClock, LakeTable, PersonKey, RecordId,
    Timestamp,
};
use renkei_core::{
    DataUse, ErrorKind, Exclusion, Function, Grant, OptOutRegistry, PermitAuthority, PermitId,
    PermitNotice, ServiceError, ServiceResult, Standing,
};
use renkei_deid::{Manifest, Options, Peers, Processing};
use renkei_store::lake::{Lake, TableName};
use renkei_store::testing::TestStores;

const T0: i64 = 1_800_000_000_000_000;

/// Equivalence classes: quasi values → (records, distinct sensitive values).
pub type Classes = BTreeMap<Vec<String>, (usize, BTreeSet<String>)>;

/// Keeps every audit entry, or refuses every one.
#[derive(Default)]
pub struct Audit {
    events: Mutex<Vec<AuditEvent>>,
    refuse: bool,
}

impl Audit {
    pub fn actions(&self) -> Vec<String> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .map(|e| e.action.clone())
            .collect()
    }
}

impl AuditSink for Audit {
    fn append(&self, event: AuditEvent) -> BoxFuture<'_, Result<AuditReceipt, renkei_core::Error>> {
        Box::pin(async move {
            if self.refuse {
                return Err(renkei_core::Error::Service {
                    function: "audit",
                    message: "the test log refuses".to_owned(),
                });
            }
            let mut events = self.events.lock().expect("lock");
            events.push(event);
            Ok(AuditReceipt {
                index: events.len() as u64 - 1,
            })
        })
    }
}

/// Every permit in force; none whose grant is asked for (the tests hand
/// `build` their grants), and nobody opted out.
pub struct Allow;

impl PermitAuthority for Allow {
    fn grant(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<Grant>> {
        Box::pin(async move {
            Err(ServiceError::new(
                Function::Review,
                ErrorKind::NotFound,
                format!("permit {permit}"),
            ))
        })
    }

    fn standing(&self, _: PermitId) -> BoxFuture<'_, ServiceResult<Standing>> {
        Box::pin(async { Ok(Standing::InForce) })
    }

    fn terms(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<(Grant, Standing)>> {
        Box::pin(async move {
            Err(ServiceError::new(
                Function::Review,
                ErrorKind::NotFound,
                format!("permit {permit}"),
            ))
        })
    }

    fn notice(&self, permit: PermitId) -> BoxFuture<'_, ServiceResult<PermitNotice>> {
        Box::pin(async move {
            Err(ServiceError::new(
                Function::Review,
                ErrorKind::NotFound,
                format!("permit {permit}"),
            ))
        })
    }

    fn may_check_outputs<'a>(
        &'a self,
        reviewer: &'a str,
        _: PermitId,
    ) -> BoxFuture<'a, ServiceResult<()>> {
        Box::pin(async move {
            Err(ServiceError::new(
                Function::Review,
                ErrorKind::Conflict,
                format!("{reviewer} checks no output here"),
            ))
        })
    }
}

impl OptOutRegistry for Allow {
    fn exclusion(&self, _: &DataUse) -> BoxFuture<'_, ServiceResult<Exclusion>> {
        Box::pin(async { Ok(Exclusion::default()) })
    }
}

pub fn actor() -> Actor {
    Actor::System {
        component: "test".to_owned(),
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` day.
pub fn day(text: &str) -> i32 {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(text, &format).expect("a day");
    d.to_julian_day() - 2_440_588
}

pub struct Fixture {
    pub processing: Processing,
    pub lake: Lake,
    pub audit: Arc<Audit>,
    dir: PathBuf,
    rows: std::sync::atomic::AtomicUsize,
}

impl Fixture {
    pub async fn new(t: &TestStores) -> Self {
        Self::open(t, false).await
    }

    pub async fn refusing_audit(t: &TestStores) -> Self {
        Self::open(t, true).await
    }

    async fn open(t: &TestStores, refuse: bool) -> Self {
        let clock = Arc::new(FixedClock::new(Timestamp::from_unix_micros(T0)));
        let audit = Arc::new(Audit {
            refuse,
            ..Audit::default()
        });
        let lake = t.stores.lake().expect("lake");
        let processing = Processing::open(
            &t.stores,
            lake.clone(),
            clock,
            audit.clone(),
            Options::default(),
            Peers {
                permits: Arc::new(Allow),
                optouts: Arc::new(Allow),
            },
        )
        .await
        .expect("processing opens");
        Self {
            processing,
            lake,
            audit,
            dir: t.dir.path().join("extracts"),
            rows: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A batch of `table` with `own` columns given and the rest null, and
    /// lineage filled in.
    pub fn batch(&self, table: LakeTable, n: usize, own: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let schema: SchemaRef = table.schema();
        let start = self.rows.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        let ids: Vec<String> = (start..start + n).map(|i| format!("src-{i}")).collect();
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                if let Some((_, a)) = own.iter().find(|(name, _)| name == f.name()) {
                    return a.clone();
                }
                let text = |v: &str| Arc::new(StringArray::from(vec![v; n])) as ArrayRef;
                match f.name().as_str() {
                    "provider_code" => text("1311234567"),
                    "source_type" => text(table.name()),
                    "source_id" => Arc::new(StringArray::from(ids.clone())) as ArrayRef,
                    "submission_id" => text("sub-1"),
                    "status" | "code_system" => text("x"),
                    "ingested_at" => {
                        Arc::new(TimestampMicrosecondArray::from(vec![T0; n]).with_timezone("UTC"))
                            as ArrayRef
                    }
                    _ => new_null_array(f.data_type(), n),
                }
            })
            .collect();
        RecordBatch::try_new(schema, columns).expect("a lake batch")
    }

    pub async fn append(&self, table: &str, batch: RecordBatch) {
        self.lake
            .append(&TableName::parse(table).expect("name"), &[batch])
            .await
            .expect("lake append");
    }

    /// `n` persons, each with one person row.
    pub async fn people(&self, n: usize) -> Vec<PersonKey> {
        let keys: Vec<PersonKey> = (0..n).map(|_| PersonKey::generate()).collect();
        let text = |v: Vec<String>| Arc::new(StringArray::from(v)) as ArrayRef;
        let batch = self.batch(
            LakeTable::Person,
            n,
            vec![
                (
                    "person_key",
                    text(keys.iter().map(|k| k.to_string()).collect()),
                ),
                (
                    "sex",
                    text(
                        (0..n)
                            .map(|i| if i % 2 == 0 { "female" } else { "male" }.to_owned())
                            .collect(),
                    ),
                ),
                (
                    "birth_date",
                    Arc::new(Date32Array::from(vec![day("1960-04-01"); n])),
                ),
                ("municipality_code", text(vec!["131016".to_owned(); n])),
            ],
        );
        self.append("person", batch).await;
        keys
    }

    /// `n` persons of different sexes, ages and municipalities in two
    /// prefectures.
    pub async fn varied_people(&self, n: usize) -> Vec<PersonKey> {
        let keys: Vec<PersonKey> = (0..n).map(|_| PersonKey::generate()).collect();
        let text = |v: Vec<String>| Arc::new(StringArray::from(v)) as ArrayRef;
        let batch = self.batch(
            LakeTable::Person,
            n,
            vec![
                (
                    "person_key",
                    text(keys.iter().map(|k| k.to_string()).collect()),
                ),
                (
                    "sex",
                    text(
                        (0..n)
                            .map(|i| if i % 2 == 0 { "female" } else { "male" }.to_owned())
                            .collect(),
                    ),
                ),
                (
                    "birth_date",
                    Arc::new(Date32Array::from_iter_values(
                        (0..n).map(|i| day("1950-01-01") + (i as i32 * 397) % 15000),
                    )),
                ),
                (
                    "municipality_code",
                    // Every fifth person's municipality is not known, only
                    // the prefecture.
                    Arc::new(StringArray::from(
                        (0..n)
                            .map(|i| {
                                (i % 5 != 4).then(|| {
                                    ["131016", "131024", "271004", "271306"][i % 4].to_owned()
                                })
                            })
                            .collect::<Vec<_>>(),
                    )),
                ),
                (
                    "prefecture_code",
                    text(
                        (0..n)
                            .map(|i| ["13", "13", "27", "27"][i % 4].to_owned())
                            .collect(),
                    ),
                ),
            ],
        );
        self.append("person", batch).await;
        keys
    }

    /// The classes of a written table over `quasi`: size and the distinct
    /// values of `sensitive`; and the number of rows.
    pub fn classes_in(&self, file: &str, quasi: &[&str], sensitive: &str) -> (Classes, usize) {
        let mut classes: Classes = BTreeMap::new();
        let mut rows = 0;
        for b in self.read(file) {
            rows += b.num_rows();
            for i in 0..b.num_rows() {
                let key: Vec<String> = quasi
                    .iter()
                    .map(|q| {
                        b.column_by_name(q)
                            .expect("quasi column")
                            .as_string::<i32>()
                            .value(i)
                            .to_owned()
                    })
                    .collect();
                let s = b
                    .column_by_name(sensitive)
                    .expect("sensitive")
                    .as_string::<i32>()
                    .value(i)
                    .to_owned();
                let e = classes.entry(key).or_default();
                e.0 += 1;
                e.1.insert(s);
            }
        }
        (classes, rows)
    }

    pub async fn conditions(&self, rows: &[(PersonKey, &str, &str)]) {
        let n = rows.len();
        let batch = self.batch(
            LakeTable::Condition,
            n,
            vec![
                (
                    "person_key",
                    Arc::new(StringArray::from_iter_values(
                        rows.iter().map(|r| r.0.to_string()),
                    )),
                ),
                (
                    "icd10",
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                ),
                (
                    "recorded_date",
                    Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| day(r.2)))),
                ),
            ],
        );
        self.append("condition", batch).await;
    }

    pub async fn observations(&self, rows: &[(PersonKey, &str, f64, &str)]) {
        let n = rows.len();
        let batch = self.batch(
            LakeTable::Observation,
            n,
            vec![
                (
                    "person_key",
                    Arc::new(StringArray::from_iter_values(
                        rows.iter().map(|r| r.0.to_string()),
                    )),
                ),
                (
                    "code",
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
                ),
                (
                    "value_number",
                    Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
                ),
                (
                    "value_text",
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.3))),
                ),
                (
                    "effective_at",
                    Arc::new(
                        TimestampMicrosecondArray::from(vec![1_620_000_000_000_000; n])
                            .with_timezone("UTC"),
                    ),
                ),
            ],
        );
        self.append("observation", batch).await;
    }

    /// Condition rows resolved through identity record `record`.
    pub async fn conditions_of_record(&self, person: PersonKey, record: RecordId, codes: &[&str]) {
        let n = codes.len();
        let batch = self.batch(
            LakeTable::Condition,
            n,
            vec![
                (
                    "person_key",
                    Arc::new(StringArray::from(vec![person.to_string(); n])),
                ),
                (
                    "identity_record",
                    Arc::new(StringArray::from(vec![record.to_string(); n])),
                ),
                ("icd10", Arc::new(StringArray::from(codes.to_vec()))),
                (
                    "recorded_date",
                    Arc::new(Date32Array::from(vec![day("2021-03-01"); n])),
                ),
            ],
        );
        self.append("condition", batch).await;
    }

    /// Records in the lake that identity split `record` off `from` into
    /// `to`.
    pub async fn split(&self, record: RecordId, from: PersonKey, to: PersonKey, seq: i64) {
        let batch = RecordBatch::try_new(
            renkei_core::record_key_map_schema(),
            vec![
                Arc::new(StringArray::from(vec![record.to_string()])),
                Arc::new(StringArray::from(vec![to.to_string()])),
                Arc::new(StringArray::from(vec![from.to_string()])),
                Arc::new(Int64Array::from(vec![seq])),
                Arc::new(StringArray::from(vec![format!("ev-{seq}")])),
                Arc::new(TimestampMicrosecondArray::from(vec![T0]).with_timezone("UTC")),
            ],
        )
        .expect("split batch");
        self.append(renkei_core::RECORD_KEY_MAP_TABLE, batch).await;
    }

    /// The (pseudonym, ICD-10) pairs of the extract's condition table.
    pub fn conditions_in(&self, m: &Manifest) -> BTreeSet<(String, String)> {
        let t = m
            .tables
            .iter()
            .find(|t| t.table == "condition")
            .expect("condition table");
        let mut out = BTreeSet::new();
        for b in self.read(&t.file) {
            let p = b.column_by_name("pseudonym").expect("pseudonym");
            let c = b.column_by_name("icd10").expect("icd10");
            let (p, c) = (p.as_string::<i32>(), c.as_string::<i32>());
            for i in 0..b.num_rows() {
                out.insert((p.value(i).to_owned(), c.value(i).to_owned()));
            }
        }
        out
    }

    /// Records in the lake that `from` was merged into `to`.
    pub async fn merge(&self, from: PersonKey, to: PersonKey, seq: i64) {
        let batch = RecordBatch::try_new(
            renkei_core::person_key_map_schema(),
            vec![
                Arc::new(StringArray::from(vec![from.to_string()])),
                Arc::new(StringArray::from(vec![to.to_string()])),
                Arc::new(Int64Array::from(vec![seq])),
                Arc::new(StringArray::from(vec![format!("ev-{seq}")])),
                Arc::new(TimestampMicrosecondArray::from(vec![T0]).with_timezone("UTC")),
            ],
        )
        .expect("map batch");
        self.append(renkei_core::PERSON_KEY_MAP_TABLE, batch).await;
    }

    fn read(&self, file: &str) -> Vec<RecordBatch> {
        let f = std::fs::File::open(self.dir.join(file)).expect("extract file");
        ParquetRecordBatchReaderBuilder::try_new(f)
            .expect("parquet")
            .build()
            .expect("reader")
            .map(|b| b.expect("batch"))
            .collect()
    }

    /// Every pseudonym in every table of the extract.
    pub fn pseudonyms_in(&self, m: &Manifest) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for t in &m.tables {
            for b in self.read(&t.file) {
                let col = b.column_by_name("pseudonym").expect("pseudonym column");
                let col = col.as_string::<i32>();
                out.extend(col.iter().flatten().map(str::to_owned));
            }
        }
        out
    }

    /// Every text value in the extract's files, joined.
    pub fn file_text(&self, m: &Manifest) -> String {
        let mut out = String::new();
        for t in &m.tables {
            for b in self.read(&t.file) {
                for c in b.columns() {
                    if let Some(s) = c.as_string_opt::<i32>() {
                        for v in s.iter().flatten() {
                            out.push_str(v);
                            out.push('\n');
                        }
                    }
                }
            }
        }
        out
    }

    /// The days of `column` per pseudonym, sorted.
    pub fn dates_by_pseudonym(
        &self,
        m: &Manifest,
        table: &str,
        column: &str,
    ) -> BTreeMap<String, Vec<i32>> {
        let t = m.tables.iter().find(|t| t.table == table).expect("table");
        let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for b in self.read(&t.file) {
            let p = b.column_by_name("pseudonym").expect("pseudonym");
            let p = p.as_string::<i32>();
            let d = b.column_by_name(column).expect("column");
            let d = d.as_primitive::<Date32Type>();
            for i in 0..b.num_rows() {
                if d.is_valid(i) {
                    out.entry(p.value(i).to_owned())
                        .or_default()
                        .push(d.value(i));
                }
            }
        }
        out.values_mut().for_each(|v| v.sort_unstable());
        out
    }

    /// The files under a permit's extract directory and when each was last
    /// written.
    pub fn file_mtimes(&self, permit: &str) -> HashMap<String, SystemTime> {
        fn walk(dir: &std::path::Path, out: &mut HashMap<String, SystemTime>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if let Ok(meta) = e.metadata() {
                    out.insert(path.display().to_string(), meta.modified().expect("mtime"));
                }
            }
        }
        let mut out = HashMap::new();
        walk(&self.dir.join(pid(permit).to_string()), &mut out);
        out
    }
}

/// The permit a test calls `name`: one fixed id per name (FNV-1a of the
/// name), so that tests read by name and the same name is the same permit.
pub fn pid(name: &str) -> renkei_core::PermitId {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in name.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    renkei_core::PermitId::from_uuid(uuid::Uuid::from_u128(h))
}
