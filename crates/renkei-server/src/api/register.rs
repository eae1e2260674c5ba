//! The public register's machine-readable side: an Atom feed of decisions
//! and a catalogue of the lake's tables in DCAT-style JSON-LD (in the
//! manner of HealthDCAT-AP). No login: the public must be able to see
//! every decision, and researchers what data exists before they apply.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{PreEscaped, html};
use renkei_core::LakeTable;
use serde_json::{Value, json};

use super::ApiJson;
use crate::{AppState, Result};

/// What each table holds, for the catalogue: Japanese, then English.
fn describe(table: LakeTable) -> (&'static str, &'static str) {
    match table {
        LakeTable::Person => (
            "患者（性別・生年月・市区町村）",
            "Persons: sex, birth date, municipality",
        ),
        LakeTable::Encounter => ("受診・入院", "Encounters: visits and admissions"),
        LakeTable::Condition => (
            "傷病名（ICD-10、MEDIS標準病名）",
            "Conditions: ICD-10 and MEDIS diagnoses",
        ),
        LakeTable::Observation => (
            "検査・バイタル（JLAC10/11）",
            "Observations: lab results and vital signs",
        ),
        LakeTable::MedicationRequest => ("処方（YJ、HOT）", "Prescriptions"),
        LakeTable::MedicationDispense => ("調剤", "Pharmacy dispensings"),
        LakeTable::Procedure => ("診療行為", "Procedures"),
        LakeTable::Allergy => ("アレルギー", "Allergies and intolerances"),
        LakeTable::ImagingStudy => ("画像検査", "Imaging studies"),
        LakeTable::Death => ("死亡", "Deaths"),
        LakeTable::RawResource => (
            "その他のFHIRリソース",
            "Other FHIR resources, kept whole without identifiers",
        ),
    }
}

/// The dataset catalogue: one `dcat:Dataset` per lake table, its columns
/// and its row count; access only through a permit.
#[utoipa::path(get, path = "/api/v1/register/catalogue", tag = "register",
    responses((status = 200, description = "A DCAT-style JSON-LD catalogue of the lake's tables", body = Object)))]
pub async fn catalogue(State(state): State<AppState>) -> Result<ApiJson<Value>> {
    let lake = state.stores().lake()?;
    let current = lake.current().await?;
    let base = state.config().server.public_url.clone().unwrap_or_default();
    let mut datasets = Vec::new();
    for table in LakeTable::ALL {
        let rows = current.as_ref().and_then(|c| {
            c.tables()
                .find(|s| s.table().to_string() == table.name())
                .map(|s| s.total_rows())
        });
        let (ja, en) = describe(table);
        let columns: Vec<Value> = table
            .schema()
            .fields()
            .iter()
            .map(|f| json!({"name": f.name(), "type": f.data_type().to_string(), "nullable": f.is_nullable()}))
            .collect();
        datasets.push(json!({
            "@type": "dcat:Dataset",
            "dct:identifier": table.name(),
            "dct:title": [{"@language": "ja", "@value": ja}, {"@language": "en", "@value": en}],
            "dct:accessRights": "restricted: only through a permit of the review (審査)",
            "healthdcatap:numberOfRecords": rows.unwrap_or(0),
            "dct:conformsTo": "FHIR R4 / JP Core, flattened; person_key only, no direct identifiers",
            "renkei:columns": columns,
            "dcat:distribution": [{
                "@type": "dcat:Distribution",
                "dct:format": "application/vnd.apache.parquet",
                "dcat:accessService": format!("{base}/register"),
            }],
        }));
    }
    Ok(ApiJson(json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "healthdcatap": "http://healthdataportal.eu/ns/health#",
            "renkei": format!("{base}/ns#"),
        },
        "@type": "dcat:Catalog",
        "dct:title": [
            {"@language": "ja", "@value": "情報連携基盤 データカタログ"},
            {"@language": "en", "@value": "renkei data catalogue"}
        ],
        "dct:modified": current.map(|c| c.committed_at().to_rfc3339()),
        "dcat:dataset": datasets,
    })))
}

/// An Atom feed of every decision on the register, newest first.
pub async fn feed(State(state): State<AppState>) -> Result<Response> {
    let entries = state.review().register(None).await?;
    let outputs = crate::api::analysis::register_outputs(&state).await?;
    let base = state
        .config()
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config().server.listen));
    let base = base.trim_end_matches('/');
    let updated = entries
        .iter()
        .filter_map(|e| e.decided_at)
        .chain(outputs.iter().filter_map(|o| o.released))
        .max()
        .unwrap_or_else(|| state.clock().now());
    let xml = html! {
        (PreEscaped(r#"<?xml version="1.0" encoding="utf-8"?>"#))
        feed xmlns="http://www.w3.org/2005/Atom" {
            title { "renkei 公開登録簿 — 審査の決定" }
            id { (base) "/register" }
            link rel="self" href=(format!("{base}/register/feed.atom")) {}
            link href=(format!("{base}/register")) {}
            updated { (updated.to_rfc3339()) }
            author { name { "renkei" } }
            @for e in &entries {
                entry {
                    title { (e.status_ja) ": " (e.title) }
                    id { "urn:uuid:" (e.application) }
                    link href=(format!("{base}/register#{}", e.application)) {}
                    updated { (e.decided_at.unwrap_or(updated).to_rfc3339()) }
                    summary {
                        (e.holder.name) " (" (e.holder.country) ") — " (e.purpose)
                        @if let Some(r) = &e.decision_reason { " — " (r) }
                    }
                    category term=(e.status) {}
                }
            }
            @for o in &outputs {
                entry {
                    title { "公開された解析結果: " (o.title) }
                    id { (base) "/register/outputs/" (o.id) }
                    link href=(format!("{base}{}", o.download)) type="text/csv" {}
                    updated { (o.released.unwrap_or(updated).to_rfc3339()) }
                    summary { (o.holder) " — " (o.permit) }
                    category term="output_released" {}
                }
            }
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        xml.into_string(),
    )
        .into_response())
}
