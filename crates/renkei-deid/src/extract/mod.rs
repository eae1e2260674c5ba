//! The extract builder: a permit's tables, columns and rows from one lake
//! version, without the persons who opted out, under per-permit
//! pseudonyms, with dates shifted where the permit says so.
//!
//! Atomic: files are written first, then the manifest, and the extract
//! exists only once its row is in processing's store — written after the
//! audit entry and a last check that the permit is still in force. A crash
//! at any point leaves no visible extract. Restartable: the extract id is
//! a digest of everything that decides its content (spec, lake version,
//! exclusion), each finished table is recorded, and a build with the same
//! inputs keeps the finished tables and goes on with the rest.

mod anonymized;
mod manifest;
mod plan;
mod transform;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use renkei_core::PermitId;
use std::sync::Arc;

use base64::Engine as _;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use parquet::arrow::AsyncArrowWriter;
use parquet::schema::types::ColumnPath;
use renkei_core::{Actor, AuditEvent, LakeTable, Outcome, PersonKey};
use renkei_store::lake::{LakeSnapshot, TableName};
use roaring::RoaringBitmap;
use sha2::{Digest, Sha256};
use url::Url;

pub use manifest::{ExtractTable, Manifest, RareValue};

use crate::processing::{LAKE_URL, Processing};
use crate::pseudonym::Pseudonymizer;
use crate::spec::{Selected, parse_day, selected};
use crate::{Error, Result, keys};
use renkei_core::{Delivery, Exclusion, Grant, PermitAuthority, PrivacyTerms, Standing};
use renkei_store::query::{register_files, register_store};
use transform::{Persons, output_schema, transform};

/// Quasi-identifying columns of `person` checked for rare values.
use crate::statistics::QUASI_IDENTIFIERS as QUASI;

impl Processing {
    /// Builds the extract `spec` grants, leaving out `exclusion`'s persons,
    /// asking `permits` whether the permit still stands before it starts,
    /// after each table and just before the extract becomes visible.
    /// Returns the existing extract if one with the same inputs exists.
    /// The platform calls [`Processing::extract`], which fetches the grant
    /// and the exclusion from the peers; this is the step after, with both
    /// in hand.
    pub async fn build(
        &self,
        spec: &Grant,
        exclusion: &Exclusion,
        permits: &dyn PermitAuthority,
        actor: Actor,
    ) -> Result<Manifest> {
        let selected = selected(spec)?;
        check(permits, spec.permit).await?;
        let key =
            keys::get_or_create(&self.db, &self.master, spec.permit, self.clock.now()).await?;
        let lake = self
            .lake
            .current()
            .await?
            .ok_or_else(|| Error::Invalid("the lake holds nothing yet".to_owned()))?;
        let id = extract_id(spec, lake.version().get(), exclusion)?;
        if let Ok(existing) = self.manifest(&id).await {
            return Ok(existing);
        }
        let ctx = self.session(&lake, &selected, !spec.cohort_icd10.is_empty())?;
        let has = |t: &str| lake.tables().any(|s| s.table().as_str() == t);
        let system = plan::SystemTables {
            superseded: has(renkei_core::SUPERSEDED_TABLE),
            splits: has(renkei_core::RECORD_KEY_MAP_TABLE),
        };
        let key_map = if has(renkei_core::PERSON_KEY_MAP_TABLE) {
            load_key_map(&ctx).await?
        } else {
            HashMap::new()
        };
        let from = parse_day("period_from", &spec.period_from)?;
        let to = parse_day("period_to", &spec.period_to)?;
        let to_exclusive = to
            .next_day()
            .ok_or_else(|| Error::Invalid("period_to: no day follows it".to_owned()))?;
        let day =
            |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
        let (from, to_exclusive) = (day(from), day(to_exclusive));
        let cohort = if spec.cohort_icd10.is_empty() {
            None
        } else {
            let period = plan::period_predicate(LakeTable::Condition, &from, &to_exclusive);
            let sql = plan::cohort(&spec.cohort_icd10, period.as_deref(), system);
            Some(
                person_keys(&ctx, &sql)
                    .await?
                    .into_iter()
                    .map(|k| key_map.get(&k).copied().unwrap_or(k))
                    .collect(),
            )
        };
        let mut persons = Persons::new(
            Pseudonymizer::new(&key),
            spec.date_shift_days,
            key_map,
            &exclusion.persons,
            cohort,
        );
        let done = self.progress(&id).await?;
        let mut entries = Vec::new();
        let mut rare = Vec::new();
        let mut bitmap = RoaringBitmap::new();
        let mut anonymization = None;
        if let Delivery::Anonymized(terms) = &spec.delivery {
            let reference = (to.to_julian_day() - 2_440_588) as i32;
            let (entry, numbers, report) = self
                .write_anonymized(
                    &ctx,
                    &selected,
                    &mut persons,
                    terms,
                    system,
                    (&from, &to_exclusive),
                    reference,
                    spec.permit,
                    &id,
                )
                .await?;
            entries.extend(entry);
            bitmap = numbers;
            anonymization = Some(report);
        }
        let tables = if anonymization.is_some() {
            &[][..]
        } else {
            &selected[..]
        };
        for sel in tables {
            if let Some((entry, table_bitmap, table_rare)) = done.get(sel.table.name()) {
                entries.push(entry.clone());
                bitmap |= table_bitmap;
                rare.extend(table_rare.iter().cloned());
                continue;
            }
            let period = plan::period_predicate(sel.table, &from, &to_exclusive);
            let sql = plan::select(sel.table, &sel.columns, period.as_deref(), system);
            let (entry, table_bitmap, table_rare) = self
                .write_table(&ctx, &sql, spec, &id, sel, &mut persons)
                .await?;
            self.record_progress(&id, &entry, &table_bitmap, &table_rare)
                .await?;
            entries.push(entry);
            bitmap |= &table_bitmap;
            rare.extend(table_rare);
            check(permits, spec.permit).await?;
        }
        let mut left_out: BTreeSet<PersonKey> = persons.excluded_seen.iter().copied().collect();
        // Persons whose every row sat in tables finished by an earlier run
        // were not seen now; the count is then a lower bound, which the
        // manifest's field name does not hide.
        left_out.retain(|k| !persons.is_included(k));
        let mut bitmap_bytes = Vec::with_capacity(bitmap.serialized_size());
        bitmap
            .serialize_into(&mut bitmap_bytes)
            .map_err(|e| Error::Corrupt(format!("persons bitmap: {e}")))?;
        let now = self.clock.now();
        let manifest = Manifest {
            extract: id.clone(),
            permit: spec.permit,
            delivery: spec.delivery.clone(),
            lake_version: lake.version().get(),
            registry_version: exclusion.registry_version,
            opt_out_purposes: spec
                .data_use
                .purposes
                .iter()
                .map(ToString::to_string)
                .collect(),
            opted_out_persons_left_out: left_out.len() as u64,
            persons: bitmap.len(),
            date_shift_days: spec.date_shift_days,
            tables: entries,
            rare_values: rare,
            anonymization,
            persons_bitmap: base64::engine::general_purpose::STANDARD.encode(&bitmap_bytes),
            created_at: now.to_rfc3339(),
        };
        let body = serde_json::to_string_pretty(&manifest)
            .map_err(|e| Error::Corrupt(format!("manifest: {e}")))?;
        self.extracts
            .put(
                &extract_dir(spec.permit, &id).clone().join("manifest.json"),
                body.clone().into(),
            )
            .await?;
        check(permits, spec.permit).await?;
        self.audit
            .append(AuditEvent {
                at: now,
                actor,
                action: "processing.extract".to_owned(),
                object: format!(
                    "permit={} extract={id} lake_version={} registry_version={} rows={} bytes={} persons={}",
                    spec.permit,
                    manifest.lake_version,
                    manifest.registry_version,
                    manifest.rows(),
                    manifest.bytes(),
                    manifest.persons
                ),
                outcome: Outcome::Success,
                status: None,
                request_id: None,
            })
            .await
            .map_err(Error::Audit)?;
        let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO extracts (id, permit_id, lake_version, registry_version, rows_total, bytes_total, persons, manifest, persons_bitmap, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(spec.permit.to_string())
        .bind(i(manifest.lake_version))
        .bind(i(manifest.registry_version))
        .bind(i(manifest.rows()))
        .bind(i(manifest.bytes()))
        .bind(i(manifest.persons))
        .bind(&body)
        .bind(bitmap_bytes)
        .bind(now.unix_micros())
        .execute(self.db.pool())
        .await?;
        sqlx::query("DELETE FROM extract_progress WHERE extract_id = $1")
            .bind(&id)
            .execute(self.db.pool())
            .await?;
        Ok(manifest)
    }

    /// A session that sees the lake version's tables this extract reads.
    fn session(
        &self,
        lake: &LakeSnapshot,
        selected: &[Selected],
        cohort: bool,
    ) -> Result<SessionContext> {
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_information_schema(false));
        let base = Url::parse(LAKE_URL).expect("a constant URL");
        register_store(&ctx, &base, self.lake.object_store());
        let mut names: BTreeMap<String, arrow::datatypes::SchemaRef> = selected
            .iter()
            .map(|s| (s.table.name().to_owned(), s.table.schema()))
            .collect();
        if cohort {
            names.insert("condition".to_owned(), LakeTable::Condition.schema());
        }
        names.insert(
            renkei_core::SUPERSEDED_TABLE.to_owned(),
            renkei_core::superseded_schema(),
        );
        names.insert(
            renkei_core::PERSON_KEY_MAP_TABLE.to_owned(),
            renkei_core::person_key_map_schema(),
        );
        names.insert(
            renkei_core::RECORD_KEY_MAP_TABLE.to_owned(),
            renkei_core::record_key_map_schema(),
        );
        for (name, schema) in names {
            let table = TableName::parse(&name)?;
            let (schema, paths): (_, Vec<ObjectPath>) = match lake.table(&table) {
                Some(snap) => (
                    snap.schema().clone(),
                    snap.files().iter().map(|f| f.path().clone()).collect(),
                ),
                None => (schema, Vec::new()),
            };
            register_files(&ctx, &base, &name, schema, &paths)?;
        }
        Ok(ctx)
    }

    async fn write_table(
        &self,
        ctx: &SessionContext,
        sql: &str,
        spec: &Grant,
        id: &str,
        sel: &Selected,
        persons: &mut Persons,
    ) -> Result<(ExtractTable, RoaringBitmap, Vec<RareValue>)> {
        let df = ctx.sql(sql).await?;
        let input: arrow::datatypes::SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let schema = output_schema(&input);
        let path = extract_dir(spec.permit, id).join(format!("{}.parquet", sel.table.name()));
        // A pseudonym column holds as many values as persons: its dictionary
        // outgrows the page limit and falls back to plain after hashing
        // every value, while zstd takes a person's repeats anyway.
        let properties = renkei_store::lake::writer_properties()
            .into_builder()
            .set_column_dictionary_enabled(ColumnPath::from("pseudonym"), false)
            .build();
        let mut writer = AsyncArrowWriter::try_new(
            BufWriter::new(self.extracts.clone(), path.clone()),
            schema.clone(),
            Some(properties),
        )?;
        // Encoding and compressing the Parquet runs as its own task, beside
        // the per-batch stage and the scan, so that the three share the
        // cores instead of taking turns on one.
        let (batches, mut pending) = tokio::sync::mpsc::channel::<arrow::array::RecordBatch>(4);
        let encoder = tokio::spawn(async move {
            while let Some(batch) = pending.recv().await {
                writer.write(&batch).await?;
            }
            writer.close().await?;
            Ok::<_, Error>(())
        });
        let mut kept = Vec::new();
        let mut included = RoaringBitmap::new();
        let mut rows = 0u64;
        let shift = spec.date_shift_days > 0;
        let quasi: Vec<(usize, &str)> = if sel.table == LakeTable::Person {
            schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| QUASI.contains(&f.name().as_str()))
                .map(|(i, f)| (i, f.name().as_str()))
                .collect()
        } else {
            Vec::new()
        };
        let mut values: HashMap<(usize, String), RoaringBitmap> = HashMap::new();
        let transformed = async {
            let mut stream = df.execute_stream().await?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                kept.clear();
                let Some(out) = transform(persons, &batch, &schema, shift, &mut kept)? else {
                    continue;
                };
                rows += out.num_rows() as u64;
                // A person's rows are mostly adjacent: one insert per run.
                let mut previous = u32::MAX;
                for slot in kept.iter().copied() {
                    if slot != previous && slot != u32::MAX {
                        included.insert(slot);
                    }
                    previous = slot;
                }
                for (col, _) in &quasi {
                    let column = out.column(*col);
                    for (row, slot) in kept.iter().enumerate() {
                        if let Some(v) = quasi_value(column, row) {
                            values.entry((*col, v)).or_default().insert(*slot);
                        }
                    }
                }
                if batches.send(out).await.is_err() {
                    // The encoder stopped on an error, reported below.
                    break;
                }
            }
            Ok::<_, Error>(())
        }
        .await;
        drop(batches);
        if let Err(e) = transformed {
            // Dropped unclosed, the writer leaves no file behind.
            encoder.abort();
            return Err(e);
        }
        match encoder.await {
            Ok(written) => written?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                return Err(Error::Parquet(parquet::errors::ParquetError::General(
                    format!("the extract's encoder stopped: {e}"),
                )));
            }
        }
        let bytes = self.extracts.head(&path).await?.size;
        let mut rare: Vec<RareValue> = values
            .into_iter()
            .filter(|(_, p)| p.len() < self.options.rare_threshold)
            .map(|((col, value), p)| RareValue {
                table: sel.table.name().to_owned(),
                column: quasi
                    .iter()
                    .find(|(c, _)| *c == col)
                    .map_or_else(String::new, |(_, n)| (*n).to_owned()),
                value,
                persons: p.len(),
            })
            .collect();
        rare.sort_by(|a, b| (&a.column, &a.value).cmp(&(&b.column, &b.value)));
        // Processing's person numbers for the bitmap.
        let keys: Vec<PersonKey> = included
            .iter()
            .filter_map(|s| persons.included.get(s as usize).map(|p| p.key))
            .collect();
        let numbers: RoaringBitmap = self.number(&keys).await?.into_iter().collect();
        let entry = ExtractTable {
            table: sel.table.name().to_owned(),
            file: path.to_string(),
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            rows,
            bytes,
            held_back: sel.held_back.clone(),
        };
        Ok((entry, numbers, rare))
    }

    /// The anonymized table of an anonymized delivery, written; its
    /// persons as processing's numbers; the report.
    #[allow(clippy::too_many_arguments)]
    async fn write_anonymized(
        &self,
        ctx: &SessionContext,
        selected: &[Selected],
        persons: &mut Persons,
        terms: &PrivacyTerms,
        system: plan::SystemTables,
        (from, to_exclusive): (&str, &str),
        reference_day: i32,
        permit: PermitId,
        id: &str,
    ) -> Result<(Option<ExtractTable>, RoaringBitmap, serde_json::Value)> {
        let (batch, slots, report) = anonymized::build(
            ctx,
            selected,
            persons,
            terms,
            system,
            from,
            to_exclusive,
            reference_day,
        )
        .await?;
        let Some(batch) = batch else {
            return Ok((None, RoaringBitmap::new(), report));
        };
        let path = extract_dir(permit, id).join("anonymized.parquet");
        let mut writer = AsyncArrowWriter::try_new(
            BufWriter::new(self.extracts.clone(), path.clone()),
            batch.schema(),
            Some(renkei_store::lake::writer_properties()),
        )?;
        writer.write(&batch).await?;
        writer.close().await?;
        let bytes = self.extracts.head(&path).await?.size;
        let keys: Vec<PersonKey> = slots
            .iter()
            .filter_map(|s| persons.included.get(*s as usize).map(|p| p.key))
            .collect();
        let numbers: RoaringBitmap = self.number(&keys).await?.into_iter().collect();
        let entry = ExtractTable {
            table: "anonymized".to_owned(),
            file: path.to_string(),
            columns: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            rows: batch.num_rows() as u64,
            bytes,
            held_back: Vec::new(),
        };
        Ok((Some(entry), numbers, report))
    }

    async fn progress(
        &self,
        id: &str,
    ) -> Result<HashMap<String, (ExtractTable, RoaringBitmap, Vec<RareValue>)>> {
        let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT table_name, entry, persons_bitmap FROM extract_progress WHERE extract_id = $1",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?;
        let mut out = HashMap::new();
        for (table, entry, bitmap) in rows {
            let (entry, rare): (ExtractTable, Vec<RareValue>) = serde_json::from_str(&entry)
                .map_err(|e| Error::Corrupt(format!("progress of {id}/{table}: {e}")))?;
            // A table recorded as done whose file is gone is written again.
            if self
                .extracts
                .head(&ObjectPath::from(entry.file.as_str()))
                .await
                .is_err()
            {
                continue;
            }
            let bitmap = RoaringBitmap::deserialize_from(&bitmap[..])
                .map_err(|e| Error::Corrupt(format!("progress of {id}/{table}: {e}")))?;
            out.insert(table, (entry, bitmap, rare));
        }
        Ok(out)
    }

    async fn record_progress(
        &self,
        id: &str,
        entry: &ExtractTable,
        bitmap: &RoaringBitmap,
        rare: &[RareValue],
    ) -> Result<()> {
        let mut bytes = Vec::with_capacity(bitmap.serialized_size());
        bitmap
            .serialize_into(&mut bytes)
            .map_err(|e| Error::Corrupt(format!("persons bitmap: {e}")))?;
        let body = serde_json::to_string(&(entry, rare))
            .map_err(|e| Error::Corrupt(format!("progress entry: {e}")))?;
        sqlx::query(
            "INSERT INTO extract_progress (extract_id, table_name, entry, persons_bitmap) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (extract_id, table_name) DO UPDATE SET entry = excluded.entry, persons_bitmap = excluded.persons_bitmap",
        )
        .bind(id)
        .bind(&entry.table)
        .bind(body)
        .bind(bytes)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}

/// Refuses to go on unless review says the permit is in force now.
async fn check(permits: &dyn PermitAuthority, permit: PermitId) -> Result<()> {
    let reason = match permits.standing(permit).await? {
        Standing::InForce => return Ok(()),
        Standing::Suspended => "suspended",
        Standing::Ended => "ended (revoked or expired)",
    };
    Err(Error::NotInForce {
        permit: permit.to_string(),
        reason: reason.to_owned(),
    })
}

/// Where an extract's files live in the extract store.
fn extract_dir(permit: PermitId, id: &str) -> ObjectPath {
    ObjectPath::from(format!("{permit}/{id}"))
}

/// The extract's id: a digest of everything that decides its content.
fn extract_id(spec: &Grant, lake_version: u64, exclusion: &Exclusion) -> Result<String> {
    // Only what decides the content: who may open the workspace, or how
    // large it is, does not make another extract.
    let content = (
        spec.permit,
        &spec.delivery,
        &spec.tables,
        &spec.cohort_icd10,
        (&spec.period_from, &spec.period_to),
        spec.date_shift_days,
        &spec.data_use,
    );
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(&content).map_err(|e| Error::Corrupt(format!("spec: {e}")))?);
    h.update(lake_version.to_le_bytes());
    h.update(exclusion.registry_version.to_le_bytes());
    let mut out: Vec<&PersonKey> = exclusion.persons.iter().collect();
    out.sort();
    for p in out {
        h.update(p.as_uuid().as_bytes());
    }
    Ok(format!("ext-{}", &hex::encode(h.finalize())[..20]))
}

/// A quasi-identifier's value as text; birth dates by year.
fn quasi_value(column: &arrow::array::ArrayRef, row: usize) -> Option<String> {
    use arrow::array::{Array, AsArray};
    if column.is_null(row) {
        return None;
    }
    match column.data_type() {
        arrow::datatypes::DataType::Utf8 => Some(column.as_string::<i32>().value(row).to_owned()),
        arrow::datatypes::DataType::Date32 => {
            let days = column
                .as_primitive::<arrow::datatypes::Date32Type>()
                .value(row);
            let date = time::Date::from_julian_day(2_440_588 + days).ok()?;
            Some(date.year().to_string())
        }
        _ => None,
    }
}

/// The person keys the query's first column holds.
async fn person_keys(ctx: &SessionContext, sql: &str) -> Result<HashSet<PersonKey>> {
    use arrow::array::{Array, AsArray};
    let mut out = HashSet::new();
    let mut stream = ctx.sql(sql).await?.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let keys = batch.column(0).as_string::<i32>();
        for i in 0..keys.len() {
            if keys.is_valid(i) {
                out.insert(
                    PersonKey::parse(keys.value(i))
                        .map_err(|e| Error::Corrupt(format!("lake person_key: {e}")))?,
                );
            }
        }
    }
    Ok(out)
}

/// The lake's merges replayed in order: every retired key to the person it
/// now belongs to (chains followed to their end). A merge only ever
/// retires a current key, so a chain cannot loop in a sound map; one that
/// does is reported, not followed forever.
async fn load_key_map(ctx: &SessionContext) -> Result<HashMap<PersonKey, PersonKey>> {
    use arrow::array::{Array, AsArray};
    let sql = "SELECT person_key, merged_into FROM person_key_map ORDER BY event_seq";
    let mut direct: HashMap<PersonKey, PersonKey> = HashMap::new();
    let mut stream = ctx.sql(sql).await?.execute_stream().await?;
    let parse =
        |s: &str| PersonKey::parse(s).map_err(|e| Error::Corrupt(format!("person_key_map: {e}")));
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let from = batch.column(0).as_string::<i32>();
        let to = batch.column(1).as_string::<i32>();
        for i in 0..from.len() {
            direct.insert(parse(from.value(i))?, parse(to.value(i))?);
        }
    }
    let mut map = HashMap::with_capacity(direct.len());
    for (&from, &first) in &direct {
        let mut to = first;
        let mut steps = 0usize;
        while let Some(&next) = direct.get(&to) {
            to = next;
            steps += 1;
            if steps > direct.len() {
                return Err(Error::Corrupt(format!(
                    "person_key_map: the merges from {from} form a cycle"
                )));
            }
        }
        map.insert(from, to);
    }
    Ok(map)
}
