//! The contract between collection (and the patient portal) and identity:
//! identifying attributes go in, a `person_key` comes out. Nothing here
//! returns attributes for a key.

use std::fmt;
use std::str::FromStr;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::Error;

/// A 医療機関コード: 10 digits — 2 for the prefecture, 1 for the fee table
/// (1 医科, 3 歯科, 4 薬局), 7 for the institution.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderCode(String);

impl ProviderCode {
    /// Reads a code: exactly 10 ASCII digits, a prefecture 01–47.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidId {
            kind: "provider code",
            value: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.len() != 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("expected 10 digits (医療機関コード)"));
        }
        let prefecture: u8 = text[..2].parse().map_err(|_| invalid("bad prefecture"))?;
        if !(1..=47).contains(&prefecture) {
            return Err(invalid("the first two digits must be a prefecture 01-47"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProviderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProviderCode({})", self.0)
    }
}

impl FromStr for ProviderCode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ProviderCode {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<ProviderCode> for String {
    fn from(c: ProviderCode) -> String {
        c.0
    }
}

/// Administrative sex as FHIR records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// male
    Male,
    /// female
    Female,
    /// other
    Other,
    /// unknown
    Unknown,
}

/// What a source says about who a record belongs to. Only identity stores
/// it; `Debug` shows which attributes are present, never their values.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyingAttributes {
    /// The provider's own patient id (患者ID).
    pub local_patient_id: Option<String>,
    /// 保険者番号.
    pub insurer_number: Option<String>,
    /// 被保険者証記号.
    pub insured_symbol: Option<String>,
    /// 被保険者証番号.
    pub insured_number: Option<String>,
    /// 枝番 (2 digits).
    pub insured_branch: Option<String>,
    /// Name in kanji.
    pub kanji_name: Option<String>,
    /// Name in kana.
    pub kana_name: Option<String>,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// Administrative sex.
    pub sex: Option<Sex>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Address as written.
    pub address: Option<String>,
    /// Telephone.
    pub phone: Option<String>,
}

impl fmt::Debug for IdentifyingAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present = |o: &Option<String>| if o.is_some() { "<present>" } else { "-" };
        f.debug_struct("IdentifyingAttributes")
            .field("local_patient_id", &present(&self.local_patient_id))
            .field("insurer_number", &present(&self.insurer_number))
            .field("insured_number", &present(&self.insured_number))
            .field("kanji_name", &present(&self.kanji_name))
            .field("kana_name", &present(&self.kana_name))
            .field("birth_date", &present(&self.birth_date))
            .field("address", &present(&self.address))
            .finish_non_exhaustive()
    }
}

/// How a record was linked to its person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMethod {
    /// A new person was created: nothing matched.
    NewPerson,
    /// Matched on the keyed token of the insurance number with 枝番.
    InsuranceNumber,
    /// Matched on the keyed token of the provider's own patient id.
    LocalPatientId,
    /// Matched on the keyed token of kana name, birth date and sex (as
    /// NDB's hashed ID 2), when no number matched.
    NameBirthSex,
}

/// The answer of identity for one source record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// The person the record belongs to.
    pub person_key: crate::PersonKey,
    /// How it was decided.
    pub method: LinkMethod,
    /// The attribute record identity kept for this answer: lake rows
    /// resolved through it carry it, so that a later split can move them.
    pub record: crate::RecordId,
}

/// Identity, as other functions call it. In-process and HTTP
/// implementations must answer alike (invariant 7).
pub trait IdentityResolver: Send + Sync + 'static {
    /// The person a source record belongs to, creating one if none matches.
    fn resolve(
        &self,
        provider: &ProviderCode,
        attributes: &IdentifyingAttributes,
    ) -> BoxFuture<'_, Result<Resolution, crate::ServiceError>>;

    /// [`resolve`](Self::resolve) for many records of one provider at
    /// once, answers in the same order. Implementations should do it in one
    /// transaction: collection calls this once per chunk of thousands of
    /// resources. Records of the same person in one batch get the same key.
    fn resolve_batch<'a>(
        &'a self,
        provider: &'a ProviderCode,
        records: &'a [IdentifyingAttributes],
    ) -> BoxFuture<'a, Result<Vec<Resolution>, crate::ServiceError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(records.len());
            for record in records {
                out.push(self.resolve(provider, record).await?);
            }
            Ok(out)
        })
    }

    /// [`resolve_batch`](Self::resolve_batch), staged under `batch`: later
    /// calls with the same batch see what it wrote (a submission's records
    /// of one person agree across its chunks) and nobody else does, until
    /// [`commit_batch`](Self::commit_batch) makes it visible or
    /// [`discard_batch`](Self::discard_batch) removes it. Collection
    /// stages each submission under its own id, so that identity commits
    /// or rolls back with the submission.
    fn resolve_staged<'a>(
        &'a self,
        batch: &'a crate::IdentityBatch,
        provider: &'a ProviderCode,
        records: &'a [IdentifyingAttributes],
    ) -> BoxFuture<'a, Result<Vec<Resolution>, crate::ServiceError>>;

    /// Makes everything staged under `batch` visible at once. Idempotent:
    /// a batch committed already, discarded or never staged is nothing to
    /// do. A token another batch gave to another person meanwhile stays
    /// with that person, and the pair is queued for review.
    fn commit_batch<'a>(
        &'a self,
        batch: &'a crate::IdentityBatch,
    ) -> BoxFuture<'a, Result<(), crate::ServiceError>>;

    /// Removes everything staged under `batch`. Idempotent.
    fn discard_batch<'a>(
        &'a self,
        batch: &'a crate::IdentityBatch,
    ) -> BoxFuture<'a, Result<(), crate::ServiceError>>;

    /// The persons already known under `provider`'s own patient ids, in the
    /// same order; `None` for an id never seen. Creates nothing: collection
    /// asks this for a resource whose Patient came in an earlier submission,
    /// and holds the resource as pending when the answer is `None`.
    fn find_local<'a>(
        &'a self,
        provider: &'a ProviderCode,
        local_patient_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Option<crate::PersonKey>>, crate::ServiceError>>;

    /// The current person a patient proves to be by presenting what the
    /// platform already holds about them: their insurance number with 枝番
    /// must name a person, and one of that person's records must carry the
    /// same kana name, birth date and sex. Creates nothing and reveals
    /// nothing: `None` does not say which attribute failed. The patient
    /// portal's embedded identification; My Number Card (JPKI) or OIDC
    /// replace it behind the opt-out crate's own trait.
    fn identify<'a>(
        &'a self,
        attributes: &'a IdentifyingAttributes,
    ) -> BoxFuture<'a, Result<Option<crate::PersonKey>, crate::ServiceError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_codes_are_ten_digits_with_a_prefecture() {
        assert!(ProviderCode::parse("1312345678").is_ok());
        let err = ProviderCode::parse("4812345678").expect_err("no 48th prefecture");
        assert!(err.to_string().contains("prefecture"), "{err}");
        assert!(ProviderCode::parse("13123").is_err());
        assert!(ProviderCode::parse("13１2345678").is_err());
    }

    #[test]
    fn debug_never_shows_attribute_values() {
        let a = IdentifyingAttributes {
            kanji_name: Some("山田太郎".to_owned()),
            insured_number: Some("12345".to_owned()),
            ..Default::default()
        };
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("山田") && !shown.contains("12345"),
            "{shown}"
        );
        assert!(shown.contains("<present>"));
    }
}
