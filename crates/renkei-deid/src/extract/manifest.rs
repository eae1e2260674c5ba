//! The manifest of an extract: what it holds and what it honoured. Written
//! beside the files and kept in processing's store; the analysis
//! environment registers exactly the files it names, and the patient portal
//! reads its persons bitmap.

use renkei_core::PermitId;
use serde::{Deserialize, Serialize};

use crate::spec::Delivery;

/// One table of an extract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractTable {
    /// The table's name in the workspace (the lake table's, or
    /// `anonymized`).
    pub table: String,
    /// Its file in the extract store.
    pub file: String,
    /// Its columns, `pseudonym` first.
    pub columns: Vec<String>,
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Free-text columns the permit named that were held back.
    pub held_back: Vec<String>,
}

/// A value of a quasi-identifier held by few persons: flagged for the
/// analysts and for output checking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RareValue {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The value (a code, a year).
    pub value: String,
    /// How many persons of the extract hold it (below the threshold).
    pub persons: u64,
}

/// The manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The extract's id.
    pub extract: String,
    /// The permit it was made for.
    pub permit: PermitId,
    /// How it is delivered.
    pub delivery: Delivery,
    /// The lake version read.
    pub lake_version: u64,
    /// The opt-out registry version honoured: every change up to it is in
    /// force in this extract, none after.
    pub registry_version: u64,
    /// The opt-out purposes the exclusion was computed for.
    pub opt_out_purposes: Vec<String>,
    /// Persons of the lake left out because they opted out.
    pub opted_out_persons_left_out: u64,
    /// Persons included.
    pub persons: u64,
    /// Dates were shifted by up to this many days per person.
    pub date_shift_days: u16,
    /// The tables.
    pub tables: Vec<ExtractTable>,
    /// Rare values flagged.
    pub rare_values: Vec<RareValue>,
    /// The anonymization report, for an anonymized delivery.
    #[serde(default)]
    pub anonymization: Option<serde_json::Value>,
    /// The included persons as a roaring bitmap (portable format, base64)
    /// over processing's person numbers.
    pub persons_bitmap: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

impl Manifest {
    /// Rows over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Bytes over all tables.
    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum()
    }
}
