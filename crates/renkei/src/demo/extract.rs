//! The demo's processing step: every active permit gets its extract, and
//! the opt-outs are checked against what was written — independently of
//! the builder.

use std::collections::HashSet;

use anyhow::{Context, ensure};
use arrow::array::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use renkei_core::{PersonKey, Role};
use renkei_review::PermitId;
use serde_json::Value;

use super::{Login, Walk, run_job};

/// Builds each permit's extract through the API, then counts opted-out
/// persons found in any extract: the registry's exclusion for each
/// permit's use (and every key identity merged with one of them) turned
/// into that permit's pseudonyms, looked for in every file. Must be 0.
pub(super) async fn step_extract(
    walk: &mut Walk,
    state: &renkei_server::AppState,
    logins: &[Login],
    permits: &[String],
) -> anyhow::Result<()> {
    let operator = logins
        .iter()
        .find(|l| l.role == Role::Operator)
        .context("no operator login")?;
    let (mut rows, mut persons, mut violations, mut left_out) = (0u64, 0u64, 0u64, 0u64);
    let mut k_achieved = Value::Null;
    let events = state.identity().events_since(0).await?;
    let merged = renkei_identity::curation::key_map(&events);
    let dir = state.stores().data_dir().join("extracts");
    for id in permits {
        // A job: a large extract takes longer than a request may.
        let manifest = run_job(
            walk,
            reqwest::Method::POST,
            &format!("/api/v1/permits/{id}/extracts"),
            &operator.token,
            Value::Null,
        )
        .await?;
        let manifest: renkei_deid::Manifest =
            serde_json::from_value(manifest).context("the extract's manifest")?;
        rows += manifest.rows();
        persons += manifest.persons;
        left_out += manifest.opted_out_persons_left_out;
        if let Some(report) = &manifest.anonymization {
            k_achieved = report["k_achieved"].clone();
        }
        // The opt-outs as the registry states them now, for this use.
        let permit_id = PermitId::parse(id)?;
        let (permit, _) = state.review().permit(&permit_id).await?;
        let used = permit.grant().data_use;
        let set = state.optout().exclusion(&used, state.clock().now()).await?;
        let mut out: HashSet<PersonKey> = set.person_keys().into_iter().collect();
        out.extend(
            out.clone()
                .iter()
                .filter_map(|k| merged.get(k).copied())
                .collect::<Vec<_>>(),
        );
        out.extend(
            merged
                .iter()
                .filter(|(_, to)| out.contains(to))
                .map(|(from, _)| *from)
                .collect::<Vec<_>>(),
        );
        let pseudonymizer = state.processing().pseudonymizer(permit_id).await?;
        let forbidden: HashSet<String> = out
            .iter()
            .map(|k| pseudonymizer.pseudonym(k).to_string())
            .collect();
        let mut found: HashSet<String> = HashSet::new();
        for table in &manifest.tables {
            let file = std::fs::File::open(dir.join(&table.file))
                .with_context(|| format!("extract file {}", table.file))?;
            for batch in ParquetRecordBatchReaderBuilder::try_new(file)?.build()? {
                let batch = batch?;
                let Some(col) = batch.column_by_name("pseudonym") else {
                    continue;
                };
                for p in col.as_string::<i32>().iter().flatten() {
                    if forbidden.contains(p) {
                        found.insert(p.to_owned());
                    }
                }
            }
        }
        // An anonymized table carries no pseudonym; its persons are the
        // manifest's bitmap, checked against processing's numbers of the
        // opted-out.
        let bitmap = renkei_deid::Processing::persons_of(&manifest)?;
        let numbers = state
            .processing()
            .ordinals_of(&out.iter().copied().collect::<Vec<_>>())
            .await?;
        violations += found.len() as u64 + (&bitmap & &numbers).len();
    }
    ensure!(
        violations == 0,
        "{violations} opted-out persons found in extracts"
    );
    walk.record("extracts", permits.len());
    walk.record("extract_rows", rows);
    walk.record("extract_persons", persons);
    walk.record("extract_optouts_left_out", left_out);
    walk.record("optout_violations", violations);
    walk.record("k", k_achieved);
    Ok(())
}
