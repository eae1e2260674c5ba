//! Flattening: one FHIR resource into what each function may keep of it —
//! identifying attributes for identity, and canonical lake rows (without
//! `person_key`, which collection sets once identity has answered) carrying
//! no direct identifier (DESIGN.md invariant 1).
//!
//! Runs on resources the validator accepted: a missing optional element
//! becomes a null, never an error; only a resource without an id, or a lake
//! column that cannot be filled, is refused.

mod builder;
mod clinical;
mod patient;
mod raw;
mod values;

#[cfg(test)]
mod tests;

pub use builder::{Cell, Row, TableBuilder};

use renkei_core::{IdentifyingAttributes, LakeTable, ProviderCode, Timestamp};
use serde_json::Value;

/// Where a resource came from: the lineage columns of its rows.
#[derive(Clone, Debug)]
pub struct Lineage {
    /// The submitting provider.
    pub provider: ProviderCode,
    /// The submission the resource arrived in.
    pub submission_id: String,
    /// When collection accepted it.
    pub ingested_at: Timestamp,
}

/// What one resource becomes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flattened {
    /// `Resource.resourceType`.
    pub resource_type: String,
    /// `Resource.id`.
    pub source_id: String,
    /// The provider-local id of the patient the resource is about: the
    /// Patient's own id, or the id in `subject`/`patient`/`beneficiary`.
    pub subject: Option<String>,
    /// For Patient and Coverage: what identity needs. Never written to the
    /// lake.
    pub identity: Option<IdentifyingAttributes>,
    /// Lake rows, `person_key` not yet set.
    pub rows: Vec<(LakeTable, Row)>,
}

/// Why a resource could not be flattened.
#[derive(Debug, thiserror::Error)]
pub enum FlattenError {
    /// The resource has no `resourceType` or `id`.
    #[error("{0} is missing")]
    NoId(&'static str),
    /// A required lake column has no value.
    #[error("lake table {table} needs {column}")]
    Missing {
        /// The table.
        table: &'static str,
        /// The column left empty.
        column: String,
    },
    /// A bug: a row that does not fit its table.
    #[error("internal flattening error: {0}")]
    Internal(String),
}

/// Flattens one resource, identified by its `id`.
pub fn flatten(resource: &Value, lineage: &Lineage) -> Result<Flattened, FlattenError> {
    let source_id = resource["id"].as_str().ok_or(FlattenError::NoId("id"))?;
    flatten_as(resource, source_id, lineage)
}

/// Flattens one resource under a given source id: for a Bundle entry that
/// creates a resource, which has no `id` yet and is named by its `fullUrl`
/// (`urn:uuid:…`) — the same name its references use.
pub fn flatten_as(
    resource: &Value,
    source_id: &str,
    lineage: &Lineage,
) -> Result<Flattened, FlattenError> {
    let resource_type = resource["resourceType"]
        .as_str()
        .ok_or(FlattenError::NoId("resourceType"))?;
    let mut out = Flattened {
        resource_type: resource_type.to_owned(),
        source_id: source_id.to_owned(),
        ..Flattened::default()
    };
    let own: Vec<(LakeTable, Row)> = match resource_type {
        "Patient" => {
            let (attributes, rows) = patient::patient(resource);
            out.subject = Some(source_id.to_owned());
            out.identity = Some(attributes);
            rows
        }
        "Coverage" => {
            out.subject = values::reference_id(&resource["beneficiary"], "Patient");
            out.identity = Some(patient::coverage(resource));
            Vec::new()
        }
        other => {
            out.subject = ["subject", "patient"]
                .iter()
                .find_map(|k| values::reference_id(&resource[*k], "Patient"));
            match clinical::clinical(other, resource) {
                Some(rows) => rows,
                None => vec![(LakeTable::RawResource, raw::raw(other, resource))],
            }
        }
    };
    let updated = values::instant(&resource["meta"]["lastUpdated"]);
    for (table, mut row) in own {
        row.set("provider_code", Cell::Text(lineage.provider.to_string()))
            .set("source_type", Cell::Text(resource_type.to_owned()))
            .set("source_id", Cell::Text(source_id.to_owned()))
            .set("submission_id", Cell::Text(lineage.submission_id.clone()))
            .set(
                "ingested_at",
                Cell::Timestamp(lineage.ingested_at.unix_micros()),
            );
        if let Some(t) = updated {
            row.set("source_updated_at", Cell::Timestamp(t));
        }
        out.rows.push((table, row));
    }
    Ok(out)
}
