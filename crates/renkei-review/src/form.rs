//! The application form (利用申請書): who applies, for what, which data,
//! delivered how — and the checks a form must pass before it can be
//! submitted.

use std::collections::BTreeSet;

pub use renkei_core::TableSelection;
use renkei_core::{DataCategory, LakeTable, Purpose};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What kind of body applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    /// A university or research institute (大学・研究機関).
    Academic,
    /// A public body (行政機関).
    Public,
    /// A company (民間企業).
    Company,
    /// Anything else.
    Other,
}

/// The applicant organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// Its name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country (`JP`).
    pub country: String,
    /// Its kind.
    pub kind: OrganizationKind,
}

/// A person who will use the data: an account, attested training and a
/// conflict-of-interest declaration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedUser {
    /// Their account's user name.
    pub username: String,
    /// When they completed the platform's data-protection training
    /// (`YYYY-MM-DD`); a user without it cannot be named.
    pub training_completed_on: String,
    /// Their conflict-of-interest declaration (`none`, or what it is).
    pub conflict_of_interest: String,
}

/// The data requested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedData {
    /// Tables and columns.
    pub tables: Vec<TableSelection>,
    /// The cohort, in words and codes (`ICD-10 E11 diagnosed 2020–2024`).
    pub cohort_criteria: String,
    /// The cohort as ICD-10 code prefixes (`E11`), when it is defined by
    /// diagnoses: what lets the platform estimate its size from the lake.
    #[serde(default)]
    pub cohort_icd10: Vec<String>,
    /// First day of the period (`YYYY-MM-DD`).
    pub period_from: String,
    /// Last day of the period (`YYYY-MM-DD`).
    pub period_to: String,
    /// Genomic data requested.
    #[serde(default)]
    pub genomic: bool,
    /// Image data requested.
    #[serde(default)]
    pub imaging: bool,
    /// Special data categories requested (`mental_health` …), in the
    /// opt-out vocabulary.
    #[serde(default)]
    pub data_categories: Vec<String>,
}

/// How the data would be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryType {
    /// Pseudonymized data, only inside the analysis environment (仮名化情報).
    PseudonymizedInEnvironment,
    /// An anonymized dataset handed over (匿名化情報).
    AnonymizedDataset,
    /// Statistics only (統計情報).
    StatisticsOnly,
}

impl DeliveryType {
    /// The Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            DeliveryType::PseudonymizedInEnvironment => "仮名化情報（解析環境内）",
            DeliveryType::AnonymizedDataset => "匿名化情報",
            DeliveryType::StatisticsOnly => "統計情報",
        }
    }
}

/// A whole application form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationForm {
    /// The project's title, as the register shows it.
    pub title: String,
    /// Who applies.
    pub organization: Organization,
    /// Who will use the data.
    pub users: Vec<NamedUser>,
    /// What for.
    pub purpose: String,
    /// Why it serves the public interest (公益性).
    pub public_interest: String,
    /// Commercial use.
    pub commercial: bool,
    /// Data processed or stored outside Japan.
    #[serde(default)]
    pub processing_abroad: bool,
    /// The data.
    pub requested: RequestedData,
    /// How it is delivered.
    pub delivery: DeliveryType,
    /// What will be published or handed over.
    pub planned_outputs: String,
    /// Security measures at the applicant.
    pub security_measures: String,
    /// Funding.
    pub funding: String,
}

fn filled(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::Invalid(format!("{field}: required")));
    }
    Ok(())
}

fn date(field: &str, value: &str) -> Result<(i32, u32, u32)> {
    let parts: Vec<&str> = value.trim().split('-').collect();
    let bad = || Error::Invalid(format!("{field}: {value:?} is not a date YYYY-MM-DD"));
    if parts.len() != 3 {
        return Err(bad());
    }
    let y: i32 = parts[0].parse().map_err(|_| bad())?;
    let m: u32 = parts[1].parse().map_err(|_| bad())?;
    let d: u32 = parts[2].parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok((y, m, d))
}

impl ApplicationForm {
    /// Every check a form must pass to be submitted; the first failure is
    /// named by its field.
    pub fn validate(&self) -> Result<()> {
        filled("title", &self.title)?;
        filled("organization.name", &self.organization.name)?;
        let c = &self.organization.country;
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::Invalid(format!(
                "organization.country: {c:?} is not an ISO 3166 alpha-2 code such as JP"
            )));
        }
        if self.users.is_empty() {
            return Err(Error::Invalid(
                "users: name at least one person who will use the data".to_owned(),
            ));
        }
        for (i, u) in self.users.iter().enumerate() {
            filled(&format!("users[{i}].username"), &u.username)?;
            date(
                &format!("users[{i}].training_completed_on"),
                &u.training_completed_on,
            )?;
            filled(
                &format!("users[{i}].conflict_of_interest"),
                &u.conflict_of_interest,
            )?;
        }
        filled("purpose", &self.purpose)?;
        filled("public_interest", &self.public_interest)?;
        if self.requested.tables.is_empty() {
            return Err(Error::Invalid(
                "requested.tables: request at least one table".to_owned(),
            ));
        }
        for (i, t) in self.requested.tables.iter().enumerate() {
            let table = LakeTable::ALL
                .into_iter()
                .find(|l| l.name() == t.table)
                .ok_or_else(|| {
                    let known: Vec<&str> = LakeTable::ALL.iter().map(|l| l.name()).collect();
                    Error::Invalid(format!(
                        "requested.tables[{i}].table: {:?} is not a table of the lake ({})",
                        t.table,
                        known.join(", ")
                    ))
                })?;
            if t.columns.is_empty() {
                return Err(Error::Invalid(format!(
                    "requested.tables[{i}].columns: name the columns needed"
                )));
            }
            let schema = table.schema();
            for (j, column) in t.columns.iter().enumerate() {
                if schema.field_with_name(column).is_err() {
                    return Err(Error::Invalid(format!(
                        "requested.tables[{i}].columns[{j}]: {column:?} is not a column of {}",
                        t.table
                    )));
                }
            }
        }
        filled("requested.cohort_criteria", &self.requested.cohort_criteria)?;
        let from = date("requested.period_from", &self.requested.period_from)?;
        let to = date("requested.period_to", &self.requested.period_to)?;
        if from > to {
            return Err(Error::Invalid(
                "requested.period_to: the period ends before it begins".to_owned(),
            ));
        }
        // In the opt-out vocabulary's own words, so that every category a
        // permit names is one the registry can answer for.
        for (i, c) in self.requested.data_categories.iter().enumerate() {
            DataCategory::parse(c)
                .map_err(|e| Error::Invalid(format!("requested.data_categories[{i}]: {e}")))?;
        }
        filled("planned_outputs", &self.planned_outputs)?;
        filled("security_measures", &self.security_measures)?;
        filled("funding", &self.funding)?;
        Ok(())
    }

    /// The purposes of this use in the opt-out vocabulary (`commercial`,
    /// `foreign`, `genomic`, `imaging`, `category:<name>`): which opt-outs
    /// keep a person out of its extracts.
    pub fn opt_out_purposes(&self) -> Vec<Purpose> {
        let mut out = BTreeSet::new();
        if self.commercial {
            out.insert(Purpose::Commercial);
        }
        if self.organization.country != "JP" || self.processing_abroad {
            out.insert(Purpose::ForeignOrganization);
        }
        if self.requested.genomic {
            out.insert(Purpose::Genomic);
        }
        if self.requested.imaging {
            out.insert(Purpose::Imaging);
        }
        // Checked by `validate`. One that does not read (a form stored
        // before the check was this strict) is one no opt-out can name,
        // since the registry reads categories the same way, so leaving it
        // out keeps nobody in who opted out.
        out.extend(
            self.requested
                .data_categories
                .iter()
                .filter_map(|c| DataCategory::parse(c).ok())
                .map(Purpose::Category),
        );
        out.into_iter().collect()
    }

    /// What calls for more scrutiny under `rules`, for the reviewers'
    /// queue.
    pub fn scrutiny(&self, rules: &ScrutinyRules) -> Vec<String> {
        let mut out = Vec::new();
        if rules.foreign && self.organization.country != "JP" {
            out.push(format!(
                "foreign_organization:{}",
                self.organization.country
            ));
        }
        if rules.foreign && self.processing_abroad {
            out.push("processing_abroad".to_owned());
        }
        if rules.genomic && self.requested.genomic {
            out.push("genomic_data".to_owned());
        }
        if rules.imaging && self.requested.imaging {
            out.push("image_data".to_owned());
        }
        if rules.commercial && self.commercial {
            out.push("commercial_use".to_owned());
        }
        for c in &self.requested.data_categories {
            if rules.special_categories.contains(c) {
                out.push(format!("special_category:{c}"));
            }
        }
        out
    }
}

/// What configuration marks for more scrutiny.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrutinyRules {
    /// Foreign organizations, and processing abroad.
    #[serde(default = "yes")]
    pub foreign: bool,
    /// Genomic data.
    #[serde(default = "yes")]
    pub genomic: bool,
    /// Image data.
    #[serde(default = "yes")]
    pub imaging: bool,
    /// Commercial use.
    #[serde(default = "yes")]
    pub commercial: bool,
    /// Data categories that are special (要配慮).
    #[serde(default = "special")]
    pub special_categories: Vec<String>,
}

fn yes() -> bool {
    true
}

fn special() -> Vec<String> {
    ["mental_health", "infectious_disease", "reproductive_health"]
        .map(str::to_owned)
        .to_vec()
}

impl Default for ScrutinyRules {
    fn default() -> Self {
        Self {
            foreign: true,
            genomic: true,
            imaging: true,
            commercial: true,
            special_categories: special(),
        }
    }
}
