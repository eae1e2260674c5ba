//! Where records go: per provider and resource type an NDJSON file, as FHIR
//! Bulk Data export writes them (`DIR/<医療機関コード>/<ResourceType>.ndjson`),
//! and the ground truth in `DIR/truth.csv`.
//!
//! Every (provider, type) pair has a small in-memory buffer that is appended
//! to its file when full, so memory stays bounded and the number of open
//! files is one at a time, whatever the number of providers.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::provider::Provider;

/// The resource types written, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Organization (the provider itself).
    Organization,
    /// Patient.
    Patient,
    /// Coverage.
    Coverage,
    /// Encounter.
    Encounter,
    /// Condition.
    Condition,
    /// Observation.
    Observation,
    /// MedicationRequest.
    MedicationRequest,
    /// MedicationDispense.
    MedicationDispense,
    /// Procedure.
    Procedure,
    /// AllergyIntolerance.
    AllergyIntolerance,
    /// ImagingStudy.
    ImagingStudy,
    /// Bundle (one transaction per patient and provider, when asked for).
    Bundle,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Self; 12] = [
        Self::Organization,
        Self::Patient,
        Self::Coverage,
        Self::Encounter,
        Self::Condition,
        Self::Observation,
        Self::MedicationRequest,
        Self::MedicationDispense,
        Self::Procedure,
        Self::AllergyIntolerance,
        Self::ImagingStudy,
        Self::Bundle,
    ];

    /// The FHIR resourceType (and file stem).
    pub fn resource_type(self) -> &'static str {
        match self {
            Self::Organization => "Organization",
            Self::Patient => "Patient",
            Self::Coverage => "Coverage",
            Self::Encounter => "Encounter",
            Self::Condition => "Condition",
            Self::Observation => "Observation",
            Self::MedicationRequest => "MedicationRequest",
            Self::MedicationDispense => "MedicationDispense",
            Self::Procedure => "Procedure",
            Self::AllergyIntolerance => "AllergyIntolerance",
            Self::ImagingStudy => "ImagingStudy",
            Self::Bundle => "Bundle",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Buffered NDJSON files for every provider and resource type.
#[derive(Debug)]
pub struct Sink {
    dir: PathBuf,
    codes: Vec<String>,
    buffers: Vec<Vec<u8>>,
    threshold: usize,
    counts: [u64; Kind::ALL.len()],
    truth: csv::Writer<BufWriter<File>>,
    truth_path: PathBuf,
    /// The transaction being collected, when bundles are asked for.
    bundle: Option<Transaction>,
}

/// The entries of one patient's transaction at one provider.
#[derive(Debug, Default)]
struct Transaction {
    open: Option<(usize, String)>,
    entries: Vec<Value>,
}

/// Memory the buffers may use together before a flush.
const BUFFER_BUDGET: usize = 128 << 20;

impl Sink {
    /// Creates `dir` (which must be absent or empty), a subdirectory per
    /// provider, and truth.csv with its header.
    /// With `bundles`, every patient's records at a provider are also
    /// written as one transaction Bundle to `Bundle.ndjson`.
    pub fn create(dir: &Path, providers: &[Provider], bundles: bool) -> Result<Self> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        if std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
            return Err(Error::InvalidOptions(format!(
                "output directory {:?} is not empty; synth writes only into a new or empty directory so that a run never mixes with an older one",
                dir.display().to_string()
            )));
        }
        for p in providers {
            let sub = dir.join(&p.code);
            std::fs::create_dir(&sub).map_err(io(&sub))?;
        }
        let truth_path = dir.join("truth.csv");
        let file = File::create(&truth_path).map_err(io(&truth_path))?;
        let mut truth = csv::Writer::from_writer(BufWriter::new(file));
        truth
            .write_record(["provider_code", "resource_id", "person_number"])
            .map_err(|source| Error::Truth {
                path: truth_path.clone(),
                source,
            })?;
        let slots = providers.len() * Kind::ALL.len();
        let threshold = (BUFFER_BUDGET / slots.max(1)).clamp(4 << 10, 256 << 10);
        Ok(Self {
            dir: dir.to_owned(),
            codes: providers.iter().map(|p| p.code.clone()).collect(),
            buffers: vec![Vec::new(); slots],
            threshold,
            counts: [0; Kind::ALL.len()],
            truth,
            truth_path,
            bundle: bundles.then(Transaction::default),
        })
    }

    /// Appends one resource to provider `provider`'s file of its type.
    pub fn write(&mut self, provider: usize, kind: Kind, resource: &Value) -> Result<()> {
        let slot = provider * Kind::ALL.len() + kind.index();
        let Some(buf) = self.buffers.get_mut(slot) else {
            return Err(Error::Internal(format!("no provider number {provider}")));
        };
        if let Some(Transaction {
            open: Some((p, _)),
            entries,
        }) = &mut self.bundle
            && *p == provider
        {
            let url = format!(
                "{}/{}",
                kind.resource_type(),
                resource["id"].as_str().unwrap_or_default()
            );
            entries.push(serde_json::json!({
                "resource": resource,
                "request": { "method": "PUT", "url": url },
            }));
        }
        serde_json::to_writer(&mut *buf, resource).map_err(|source| Error::Json {
            resource_type: kind.resource_type(),
            source,
        })?;
        buf.push(b'\n');
        self.counts[kind.index()] += 1;
        if buf.len() >= self.threshold {
            self.flush_slot(slot)?;
        }
        Ok(())
    }

    /// Starts collecting a transaction Bundle (id `{patient_id}-tx`) of what
    /// is written next for `provider`; a no-op unless bundles were asked for.
    pub fn begin_bundle(&mut self, provider: usize, patient_id: &str) {
        if let Some(t) = &mut self.bundle {
            t.open = Some((provider, format!("{patient_id}-tx")));
            t.entries.clear();
        }
    }

    /// Writes the transaction Bundle collected since [`Sink::begin_bundle`].
    /// PUT with the resource's own id, so that references between entries
    /// ("Patient/…") resolve as the Bulk Data files' do (FHIR R4 §3.1.0.11.2).
    pub fn end_bundle(&mut self) -> Result<()> {
        let Some(t) = &mut self.bundle else {
            return Ok(());
        };
        let Some((provider, id)) = t.open.take() else {
            return Ok(());
        };
        let entries = std::mem::take(&mut t.entries);
        let bundle = serde_json::json!({
            "resourceType": "Bundle",
            "id": id,
            "type": "transaction",
            "entry": entries,
        });
        self.write(provider, Kind::Bundle, &bundle)
    }

    /// Records that `resource_id` at `provider` is person `person`.
    pub fn truth(&mut self, provider: usize, resource_id: &str, person: u64) -> Result<()> {
        let code = self.codes.get(provider).map_or("", String::as_str);
        self.truth
            .write_record([code, resource_id, &person.to_string()])
            .map_err(|source| Error::Truth {
                path: self.truth_path.clone(),
                source,
            })
    }

    fn flush_slot(&mut self, slot: usize) -> Result<()> {
        let provider = slot / Kind::ALL.len();
        let kind = Kind::ALL[slot % Kind::ALL.len()];
        let buf = &mut self.buffers[slot];
        if buf.is_empty() {
            return Ok(());
        }
        let path = self
            .dir
            .join(self.codes.get(provider).map_or("", String::as_str))
            .join(format!("{}.ndjson", kind.resource_type()));
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        file.write_all(buf)
            .map_err(|source| Error::Io { path, source })?;
        buf.clear();
        Ok(())
    }

    /// Flushes everything and returns the number of resources per type.
    pub fn finish(mut self) -> Result<Vec<(&'static str, u64)>> {
        for slot in 0..self.buffers.len() {
            self.flush_slot(slot)?;
        }
        self.truth.flush().map_err(|source| Error::Io {
            path: self.truth_path.clone(),
            source,
        })?;
        Ok(Kind::ALL
            .iter()
            .map(|k| (k.resource_type(), self.counts[k.index()]))
            .collect())
    }
}
