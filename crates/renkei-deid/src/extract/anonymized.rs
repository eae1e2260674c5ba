//! The anonymized delivery (匿名加工医療情報): one record per person of the
//! permit's cohort — the permitted quasi-identifiers of `person` (age at
//! the end of the period, sex, municipality or prefecture) and, when the
//! permit names `condition.icd10`, the person's main diagnosis in the
//! period (most frequent 3-character category) as the sensitive value —
//! generalized and suppressed until the permit's privacy model holds.
//!
//! No pseudonym is written: an anonymized dataset links to nothing. Which
//! persons it holds is still known to processing (the manifest's bitmap),
//! so the patient portal can say so.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Field, Schema};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use renkei_core::{LakeTable, PersonKey};
use serde_json::json;

use super::plan;
use super::transform::Persons;
use crate::anonymize::{self, Config, Hierarchy, LDiversity, LKind, TCloseness, Table};
use crate::spec::{PrivacyTerms, Selected};
use crate::{Error, Result};

/// The column that ties an output record to its person while the engine
/// runs; never written.
const ROW: &str = "_person";

#[derive(Default)]
struct Record {
    sex: Option<String>,
    birth: Option<i32>,
    area: Option<String>,
    prefecture: Option<String>,
    diagnoses: BTreeMap<String, u32>,
}

impl Record {
    /// Age at `reference_day`, sex and place, or `None` without a birth
    /// date or sex. A place known only to its prefecture is `pp***`; an
    /// unknown place is a value of its own, generalized with the rest.
    fn quasi(&self, reference_day: i32) -> Option<(String, String, String)> {
        let (Some(s), Some(b)) = (&self.sex, self.birth) else {
            return None;
        };
        let place = self
            .area
            .clone()
            .or_else(|| self.prefecture.as_ref().map(|p| format!("{p}***")))
            .unwrap_or_else(|| "unknown".to_owned());
        Some((
            ((reference_day - b).max(0) / 365).min(120).to_string(),
            s.clone(),
            place,
        ))
    }
}

/// Takes what row `i` says of a person where the record has nothing yet.
fn fill(
    r: &mut Record,
    i: usize,
    sex: &StringArray,
    birth: &arrow::array::PrimitiveArray<Date32Type>,
    place: Option<&StringArray>,
    prefecture: Option<&StringArray>,
) {
    if r.sex.is_none() && sex.is_valid(i) {
        r.sex = Some(sex.value(i).to_owned());
    }
    if r.birth.is_none() && birth.is_valid(i) {
        r.birth = Some(birth.value(i));
    }
    if let Some(place) = place
        && r.area.is_none()
        && place.is_valid(i)
    {
        r.area = Some(place.value(i).to_owned());
    }
    if let Some(prefecture) = prefecture
        && r.prefecture.is_none()
        && prefecture.is_valid(i)
    {
        r.prefecture = Some(prefecture.value(i).to_owned());
    }
}

/// The anonymized table, the persons (slots of `persons`) it holds and the
/// report for the manifest.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn build(
    ctx: &SessionContext,
    selected: &[Selected],
    persons: &mut Persons,
    terms: &PrivacyTerms,
    system: plan::SystemTables,
    from: &str,
    to_exclusive: &str,
    reference_day: i32,
) -> Result<(Option<RecordBatch>, Vec<u32>, serde_json::Value)> {
    let person = selected.iter().find(|s| s.table == LakeTable::Person);
    let condition = selected
        .iter()
        .find(|s| s.table == LakeTable::Condition && s.columns.iter().any(|c| c == "icd10"));
    let Some(person) = person else {
        return Err(Error::Invalid(
            "tables: an anonymized dataset needs the person table's quasi-identifiers".to_owned(),
        ));
    };
    let area = ["municipality_code", "prefecture_code"]
        .into_iter()
        .find(|c| person.columns.iter().any(|p| p == c));
    let has = |c: &str| person.columns.iter().any(|p| p == c);
    let mut records: HashMap<u32, Record> = HashMap::new();
    // The population the journalist risk is measured against: every
    // person the lake knows (opted out, outside the cohort or not), each
    // once under their current key — the identification database an
    // attacker would match against is at most this.
    let mut population: HashMap<PersonKey, Record> = HashMap::new();
    let mut columns = vec!["sex".to_owned(), "birth_date".to_owned()];
    columns.extend(area.map(str::to_owned));
    // Where the municipality is not known, the prefecture may be: read it
    // too, so that such a person counts in their prefecture (`13***`)
    // rather than as "unknown".
    let fallback = area == Some("municipality_code");
    if fallback {
        columns.push("prefecture_code".to_owned());
    }
    let sql = plan::select(LakeTable::Person, &columns, None, system);
    let mut stream = ctx.sql(&sql).await?.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let keys = batch.column(0).as_string::<i32>();
        let sex = batch.column(1).as_string::<i32>();
        let birth = batch.column(2).as_primitive::<Date32Type>();
        let place = area.map(|_| batch.column(3).as_string::<i32>());
        let prefecture = fallback.then(|| batch.column(4).as_string::<i32>());
        for i in 0..batch.num_rows() {
            if keys.is_null(i) {
                continue;
            }
            let key = PersonKey::parse(keys.value(i))
                .map_err(|e| Error::Corrupt(format!("lake person_key: {e}")))?;
            let everyone = population.entry(persons.current(key)).or_default();
            fill(everyone, i, sex, birth, place, prefecture);
            let Some(slot) = persons.decide(keys.value(i))? else {
                continue;
            };
            fill(
                records.entry(slot).or_default(),
                i,
                sex,
                birth,
                place,
                prefecture,
            );
        }
    }
    if condition.is_some() {
        let period = plan::period_predicate(LakeTable::Condition, from, to_exclusive);
        let sql = plan::select(
            LakeTable::Condition,
            &["icd10".to_owned()],
            period.as_deref(),
            system,
        );
        let mut stream = ctx.sql(&sql).await?.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let keys = batch.column(0).as_string::<i32>();
            let codes = batch.column(1).as_string::<i32>();
            for i in 0..batch.num_rows() {
                if keys.is_null(i) || codes.is_null(i) {
                    continue;
                }
                let code = codes.value(i);
                if code.len() < 3 || !code.is_char_boundary(3) {
                    continue;
                }
                if let Some(slot) = persons.decide(keys.value(i))?
                    && let Some(r) = records.get_mut(&slot)
                {
                    *r.diagnoses.entry(code[..3].to_owned()).or_default() += 1;
                }
            }
        }
    }
    // A record without a birth date or sex has no place in the classes (an
    // unknown municipality does: with it the place is only kept or hidden);
    // such persons are left out and counted.
    let mut slots: Vec<u32> = records.keys().copied().collect();
    slots.sort_unstable();
    let mut incomplete = 0u64;
    let (mut row, mut age, mut sex, mut place, mut dx) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for slot in &slots {
        let r = &records[slot];
        let Some((a, s, p)) = r.quasi(reference_day) else {
            incomplete += 1;
            continue;
        };
        row.push(slot.to_string());
        age.push(a);
        sex.push(s);
        place.push(p);
        let main = r
            .diagnoses
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map_or_else(|| "none".to_owned(), |(c, _)| c.clone());
        dx.push(main);
    }
    if row.is_empty() {
        return Ok((
            None,
            Vec::new(),
            json!({"records": 0, "left_out_incomplete": incomplete}),
        ));
    }
    let mut cols: Vec<(&str, &Vec<String>)> = vec![(ROW, &row)];
    let mut quasi = Vec::new();
    if has("birth_date") {
        cols.push(("age", &age));
        quasi.push("age");
    }
    if has("sex") {
        cols.push(("sex", &sex));
        quasi.push("sex");
    }
    if let Some(a) = area {
        cols.push((a, &place));
        quasi.push(a);
    }
    if condition.is_some() {
        cols.push(("icd10", &dx));
    }
    if quasi.is_empty() {
        return Err(Error::Invalid(
            "tables: an anonymized dataset needs at least one of person's sex, birth_date, municipality_code or prefecture_code".to_owned(),
        ));
    }
    let table = Table::from_columns(cols.iter().map(|(n, v)| (*n, v.iter().map(String::as_str))))
        .map_err(anon)?;
    let (mut p_age, mut p_sex, mut p_place) = (Vec::new(), Vec::new(), Vec::new());
    for r in population.values() {
        if let Some((a, s, p)) = r.quasi(reference_day) {
            p_age.push(a);
            p_sex.push(s);
            p_place.push(p);
        }
    }
    let population_columns: Vec<(&str, &Vec<String>)> = quasi
        .iter()
        .map(|q| match *q {
            "age" => (*q, &p_age),
            "sex" => (*q, &p_sex),
            _ => (*q, &p_place),
        })
        .collect();
    let population = Table::from_columns(
        population_columns
            .iter()
            .map(|(n, v)| (*n, v.iter().map(String::as_str))),
    )
    .map_err(anon)?;
    let mut config = Config::new(quasi.iter().copied(), terms.k as usize);
    config.max_suppression = terms.max_suppression;
    for q in &quasi {
        // The hierarchies cover the population's values too, so that its
        // classes can be formed at the levels chosen for the sample.
        let mut values: Vec<String> = table
            .column(q)
            .map(|c| c.dictionary().to_vec())
            .unwrap_or_default();
        if let Some(c) = population.column(q) {
            values.extend(c.dictionary().iter().cloned());
        }
        values.sort_unstable();
        values.dedup();
        let values = values.iter().map(String::as_str);
        let h = match *q {
            "age" => Hierarchy::age_bands(q, values),
            "municipality_code" if !place.iter().chain(&p_place).any(|p| p == "unknown") => {
                Hierarchy::municipalities(q, values)
            }
            _ => Hierarchy::flat(q, values),
        }
        .map_err(anon)?;
        config.hierarchies.insert((*q).to_owned(), h);
    }
    if condition.is_some() {
        config.sensitive = Some("icd10".to_owned());
        config.l = terms.l.map(|l| LDiversity {
            l,
            kind: LKind::Distinct,
        });
        config.t = terms.t.map(|t| TCloseness {
            t,
            distance: anonymize::GroundDistance::Equal,
        });
    }
    let outcome = tokio::task::spawn_blocking(move || {
        anonymize::anonymize_against(&table, &config, &population)
    })
    .await
    .map_err(|e| Error::Invalid(format!("anonymization stopped: {e}")))?
    .map_err(anon)?;
    let out = &outcome.table;
    let kept: Vec<u32> = out
        .column(ROW)
        .map(|c| c.iter().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    let fields: Vec<Field> = out
        .names()
        .filter(|n| *n != ROW)
        .map(|n| Field::new(n, DataType::Utf8, false))
        .collect();
    let arrays: Vec<ArrayRef> = out
        .columns()
        .iter()
        .filter(|c| c.name() != ROW)
        .map(|c| Arc::new(StringArray::from_iter_values(c.iter())) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    let r = &outcome.report;
    let report = json!({
        "models": format!("k={}{}{}", terms.k,
            terms.l.map(|l| format!(", distinct l={l}")).unwrap_or_default(),
            terms.t.map(|t| format!(", t={t}")).unwrap_or_default()),
        "k_required": terms.k,
        "k_achieved": r.verified.k,
        "l_achieved": r.verified.l_distinct,
        "t_achieved": r.verified.t,
        "input_records": r.input_records,
        "records": r.records,
        "suppressed": r.suppressed,
        "suppression_budget": r.suppression_budget,
        "left_out_incomplete": incomplete,
        "classes": r.classes,
        "average_class_size": r.average_class_size,
        "information_loss": r.information_loss,
        "information_loss_metric": "ARX Loss (generalization intensity), 0 = none, 1 = everything generalized",
        "generalization": r.generalization.iter().map(|g| json!({
            "column": g.column, "level": g.level, "height": g.height, "level_name": g.level_name,
        })).collect::<Vec<_>>(),
        "risk": {
            "prosecutor_highest": r.risk.prosecutor.highest,
            "prosecutor_average": r.risk.prosecutor.average,
            "journalist_highest": r.risk.journalist.highest,
            "journalist_average": r.risk.journalist.average,
            "population": r.risk.population_records,
            "population_is": "every person in the lake version read, opted out or not",
            "marketer": r.risk.marketer,
        },
    });
    Ok((Some(batch), kept, report))
}

fn anon(e: anonymize::Error) -> Error {
    Error::Invalid(format!("anonymization: {e}"))
}
