//! The canonical lake tables: their names and Arrow schemas, shared by
//! collection (which writes them), processing (which extracts from them) and
//! review (which estimates cohorts over them).
//!
//! DESIGN.md invariant 1: no table here has a column for a name, address
//! beyond the municipality, telecom, insurance number or a provider's
//! patient id — those go to identity, which answers with a `person_key`.
//! Every table carries the same lineage columns, so that any row can be
//! traced to the submission and source resource it came from.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// One canonical table of the lake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LakeTable {
    /// One row per person and source: sex, birth date, municipality.
    Person,
    /// Visits and admissions (FHIR Encounter).
    Encounter,
    /// Diagnoses (FHIR Condition): ICD-10 and MEDIS 標準病名 codes.
    Condition,
    /// Lab results and vital signs (FHIR Observation): JLAC10/11 codes.
    Observation,
    /// Prescriptions (FHIR MedicationRequest): YJ / HOT codes.
    MedicationRequest,
    /// Pharmacy dispensings (FHIR MedicationDispense).
    MedicationDispense,
    /// Procedures (FHIR Procedure): 診療行為コード.
    Procedure,
    /// Allergies and intolerances (FHIR AllergyIntolerance).
    Allergy,
    /// Imaging studies (FHIR ImagingStudy).
    ImagingStudy,
    /// Deaths reported by any source.
    Death,
    /// Valid resources of types with no table of their own, kept whole
    /// (identifying elements removed); `person_key` is null for a resource
    /// about no patient.
    RawResource,
}

impl LakeTable {
    /// Every table.
    pub const ALL: [LakeTable; 11] = [
        LakeTable::Person,
        LakeTable::Encounter,
        LakeTable::Condition,
        LakeTable::Observation,
        LakeTable::MedicationRequest,
        LakeTable::MedicationDispense,
        LakeTable::Procedure,
        LakeTable::Allergy,
        LakeTable::ImagingStudy,
        LakeTable::Death,
        LakeTable::RawResource,
    ];

    /// The table's name in the lake (lowercase, `_`-separated).
    pub fn name(self) -> &'static str {
        match self {
            LakeTable::Person => "person",
            LakeTable::Encounter => "encounter",
            LakeTable::Condition => "condition",
            LakeTable::Observation => "observation",
            LakeTable::MedicationRequest => "medication_request",
            LakeTable::MedicationDispense => "medication_dispense",
            LakeTable::Procedure => "procedure",
            LakeTable::Allergy => "allergy",
            LakeTable::ImagingStudy => "imaging_study",
            LakeTable::Death => "death",
            LakeTable::RawResource => "raw_resource",
        }
    }

    /// The table's Arrow schema: `person_key`, the table's own columns,
    /// then the lineage columns.
    pub fn schema(self) -> SchemaRef {
        let own: Vec<Field> = match self {
            LakeTable::Person => vec![
                text("sex", true),
                date("birth_date", true),
                text("prefecture_code", true),
                text("municipality_code", true),
            ],
            LakeTable::Encounter => vec![
                text("encounter_class", true),
                text("status", false),
                timestamp("period_start", true),
                timestamp("period_end", true),
                text("department_code", true),
            ],
            LakeTable::Condition => vec![
                text("icd10", true),
                text("medis_code", true),
                text("clinical_status", true),
                text("verification_status", true),
                date("onset_date", true),
                date("recorded_date", true),
                text("encounter_source_id", true),
            ],
            LakeTable::Observation => vec![
                text("category", true),
                text("code_system", false),
                text("code", false),
                text("status", false),
                Field::new("value_number", DataType::Float64, true),
                text("value_unit", true),
                text("value_text", true),
                timestamp("effective_at", true),
                text("encounter_source_id", true),
            ],
            LakeTable::MedicationRequest => vec![
                text("code_system", false),
                text("code", false),
                text("status", false),
                timestamp("authored_at", true),
                Field::new("dose_quantity", DataType::Float64, true),
                text("dose_unit", true),
                Field::new("duration_days", DataType::Int32, true),
                text("encounter_source_id", true),
            ],
            LakeTable::MedicationDispense => vec![
                text("code_system", false),
                text("code", false),
                text("status", false),
                timestamp("handed_over_at", true),
                Field::new("quantity", DataType::Float64, true),
                text("quantity_unit", true),
                Field::new("days_supply", DataType::Int32, true),
            ],
            LakeTable::Procedure => vec![
                text("code_system", false),
                text("code", false),
                text("status", false),
                timestamp("performed_at", true),
                text("encounter_source_id", true),
            ],
            LakeTable::Allergy => vec![
                text("code_system", true),
                text("code", true),
                text("category", true),
                text("criticality", true),
                date("recorded_date", true),
            ],
            LakeTable::ImagingStudy => vec![
                text("modality", true),
                text("body_site", true),
                timestamp("started_at", true),
                Field::new("series_count", DataType::Int32, true),
                Field::new("instance_count", DataType::Int32, true),
            ],
            LakeTable::Death => vec![date("death_date", true)],
            LakeTable::RawResource => vec![
                text("resource_type", false),
                // The resource with its identifying elements removed.
                text("resource_json", false),
            ],
        };
        // A resource about no patient (Organization, Practitioner, Location,
        // a Medication definition) is kept in raw_resource without a person.
        let mut fields = vec![text("person_key", self == LakeTable::RawResource)];
        fields.extend(own);
        fields.extend(lineage());
        Arc::new(Schema::new(fields))
    }
}

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn date(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Date32, nullable)
}

fn timestamp(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        nullable,
    )
}

/// The name of the lake's one system table, `superseded`: which source
/// rows no longer hold. Not a [`LakeTable`], since its rows are about rows,
/// not about a person.
pub const SUPERSEDED_TABLE: &str = "superseded";

/// The schema of [`SUPERSEDED_TABLE`]. A row says: the rows of
/// `(provider_code, source_type, source_id)` that arrived in
/// `submission_id` were replaced (a newer `meta.lastUpdated` was sent) or
/// deleted (a Bundle `DELETE`) by `by_submission_id` at `superseded_at`.
///
/// Rows are never rewritten or removed from the canonical tables, so every
/// version a provider sent stays traceable; whoever reads the *current*
/// state anti-joins a table with this one on those four columns. It is
/// committed in the same lake version as the rows that replace the old
/// ones, so a reader sees both or neither.
pub fn superseded_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("provider_code", false),
        text("source_type", false),
        text("source_id", false),
        text("submission_id", false),
        text("by_submission_id", false),
        // "replaced" or "deleted".
        text("reason", false),
        timestamp("superseded_at", false),
    ]))
}

/// The name of the lake's table of retired person keys, `person_key_map`:
/// identity's merges, as the lake sees them. Not a [`LakeTable`]: its rows
/// are about keys, not about a person's care.
pub const PERSON_KEY_MAP_TABLE: &str = "person_key_map";

/// The schema of [`PERSON_KEY_MAP_TABLE`]. A row says: from merge event
/// `event_seq` on, rows keyed by `person_key` belong to `merged_into`.
///
/// Lake rows are never re-keyed in place: a merge appends here, and a
/// reader (an extract) replays the rows in `event_seq` order to map every
/// key onto its current person, so nothing is lost and the history of
/// every key stays readable. Appended by the platform whenever identity
/// records a merge; `event_id` is identity's event id.
pub fn person_key_map_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("person_key", false),
        text("merged_into", false),
        Field::new("event_seq", DataType::Int64, false),
        text("event_id", false),
        timestamp("merged_at", false),
    ]))
}

/// The name of the lake's table of split records, `record_key_map`:
/// identity's splits, as the lake sees them. Not a [`LakeTable`] either.
pub const RECORD_KEY_MAP_TABLE: &str = "record_key_map";

/// The schema of [`RECORD_KEY_MAP_TABLE`]. A row says: from split event
/// `event_seq` on, the rows resolved through attribute record
/// `identity_record` (the lineage column of that name) belong to
/// `person_key`, a person created by the split, and no longer to
/// `split_from`.
///
/// As with merges, rows are never re-keyed in place. A reader takes, for
/// each record, its latest split (highest `event_seq`), then follows
/// [`PERSON_KEY_MAP_TABLE`] from there: a split only ever creates a new
/// person, and merges only ever retire keys, so the order is well defined.
/// Rows keyed by the person but resolved through a record that stayed keep
/// their key. Appended by the platform whenever identity records a split;
/// one row per record moved.
pub fn record_key_map_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        text("identity_record", false),
        text("person_key", false),
        text("split_from", false),
        Field::new("event_seq", DataType::Int64, false),
        text("event_id", false),
        timestamp("split_at", false),
    ]))
}

/// The lineage columns every table ends with.
pub fn lineage() -> Vec<Field> {
    vec![
        // 医療機関コード of the submitting provider.
        text("provider_code", false),
        // The resource's id at the provider (Resource.id), with its type.
        text("source_type", false),
        text("source_id", false),
        // meta.lastUpdated of the source resource: a resend with a newer
        // one supersedes the older row.
        timestamp("source_updated_at", true),
        text("submission_id", false),
        timestamp("ingested_at", false),
        // Identity's attribute record the row's person_key was resolved
        // through (a [`crate::RecordId`]; null for rows about no person).
        // An opaque id, never an attribute: it lets a split re-key exactly
        // the rows of the records it moved. Never leaves the platform.
        text("identity_record", true),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_person_key_first_and_lineage_last() {
        for table in LakeTable::ALL {
            let schema = table.schema();
            assert_eq!(schema.field(0).name(), "person_key", "{}", table.name());
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            let tail: Vec<String> = lineage().iter().map(|f| f.name().clone()).collect();
            assert!(
                names.ends_with(&tail.iter().map(String::as_str).collect::<Vec<_>>()),
                "{}",
                table.name()
            );
        }
    }

    #[test]
    fn no_table_has_a_column_for_a_direct_identifier() {
        // Invariant 1, structurally: the words that name direct identifiers
        // appear in no column name.
        let forbidden = [
            "name",
            "kana",
            "address",
            "telecom",
            "phone",
            "insur",
            "patient_id",
            "mrn",
            "postal",
        ];
        for table in LakeTable::ALL {
            for field in table.schema().fields() {
                for word in forbidden {
                    assert!(
                        !field.name().contains(word),
                        "{}.{} looks like a direct identifier",
                        table.name(),
                        field.name()
                    );
                }
            }
        }
    }

    #[test]
    fn table_names_are_unique_lake_names() {
        let mut names: Vec<&str> = LakeTable::ALL.iter().map(|t| t.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LakeTable::ALL.len());
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }
}
