//! A deterministic synthetic Japanese population and its medical records,
//! used by tests, benchmarks and `renkei demo`; `renkei synth` writes one.
//!
//! Persons get names from frequency tables (kanji and katakana), a sex and
//! birth date from the 2020 age pyramid, homes by prefecture and
//! municipality, public insurance (保険者番号 with its check digit,
//! 記号・番号・枝番), diseases with age- and sex-dependent prevalence, and
//! sometimes a death. Each visits a few providers (特定機能病院 … 薬局, each
//! with a 医療機関コード), which keep FHIR R4 records in JP Core style:
//! Patient, Coverage, Encounter, Condition, Observation, MedicationRequest,
//! MedicationDispense, Procedure, AllergyIntolerance, ImagingStudy (and, on
//! request, one transaction Bundle per patient). Providers disagree about
//! the person as real ones do (異体字, kana typos, half-width kana,
//! full-width digits, a move, a new insurer, a new surname at marriage,
//! missing fields), and only `truth.csv` says which records are the same
//! person.
//!
//! Known limitation: every provider's files list persons in generation
//! order, so line order correlates across providers; a linker under test
//! must not use it (shuffling each file would cost a second pass).
//!
//! ```
//! let dir = tempfile::tempdir().expect("a temporary directory");
//! let out = dir.path().join("nation");
//! let options = renkei_synth::Options {
//!     patients: 20,
//!     providers: 6,
//!     seed: 1,
//!     rates: renkei_synth::VariantRates::default(),
//!     bundles: false,
//! };
//! let summary = renkei_synth::generate(&options, &out)?;
//! assert_eq!(summary.persons, 20);
//! assert!(out.join("truth.csv").exists());
//! # Ok::<(), renkei_synth::Error>(())
//! ```
//!
//! **Owns:** name, address and clinical code tables (`tables/`), check
//! digits of 保険者番号 and 医療機関コード, the population generator (persons,
//! providers, encounters, conditions, labs, prescriptions, dispensings,
//! procedures, allergies, imaging), the disagreements between providers,
//! the NDJSON layout `DIR/<医療機関コード>/<ResourceType>.ndjson`, and the
//! ground truth `DIR/truth.csv`, written apart from the records.
//!
//! **Never:** is a dependency of a production code path (the binary uses it
//! only for `renkei synth` and benchmarks; function crates only as a
//! dev-dependency); never writes the
//! ground truth (the true person number, or anything derived from it such
//! as ids in person order) into the records it generates; never depends on
//! other renkei crates (it is their input, not their user).
//!
//! **Start at:** [`generate`] and [`Options`], then `person.rs`
//! ([`person::Person`]), `variant.rs` ([`VariantRates`]) and `fhir.rs`.
#![warn(missing_docs)]

pub mod check_digit;
mod error;
pub mod fhir;
mod generate;
pub mod output;
pub mod person;
pub mod provider;
pub mod sample;
pub mod tables;
pub mod variant;

pub use error::{Error, Result};
pub use generate::{Options, Summary, draw_view, generate};
pub use variant::VariantRates;
