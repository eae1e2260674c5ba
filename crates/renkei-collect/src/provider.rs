//! The registry of providers (医療機関・薬局) allowed to submit, with their
//! facility type, which decides what they must submit.

use std::fmt;
use std::str::FromStr;

use renkei_core::{OrgId, ProviderCode, Timestamp};
use renkei_store::Db;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Error, Result};

/// A facility type, as the medical care act classifies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    /// 特定機能病院.
    AdvancedTreatmentHospital,
    /// 地域医療支援病院.
    RegionalSupportHospital,
    /// 一般病院.
    Hospital,
    /// 診療所.
    Clinic,
    /// 薬局.
    Pharmacy,
}

impl FacilityKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::AdvancedTreatmentHospital,
        Self::RegionalSupportHospital,
        Self::Hospital,
        Self::Clinic,
        Self::Pharmacy,
    ];

    /// The name in configuration and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AdvancedTreatmentHospital => "advanced_treatment_hospital",
            Self::RegionalSupportHospital => "regional_support_hospital",
            Self::Hospital => "hospital",
            Self::Clinic => "clinic",
            Self::Pharmacy => "pharmacy",
        }
    }

    /// The Japanese name (as on pages, and as JP Core Organization.type
    /// texts say it).
    pub fn japanese(self) -> &'static str {
        match self {
            Self::AdvancedTreatmentHospital => "特定機能病院",
            Self::RegionalSupportHospital => "地域医療支援病院",
            Self::Hospital => "一般病院",
            Self::Clinic => "診療所",
            Self::Pharmacy => "薬局",
        }
    }
}

impl fmt::Display for FacilityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FacilityKind {
    type Err = Error;
    /// Reads the English name or the Japanese one.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.japanese() == s)
            .ok_or_else(|| {
                Error::Provider(
                    s.to_owned(),
                    format!(
                        "unknown facility kind; one of: {}",
                        Self::ALL
                            .map(|k| format!("{} ({})", k.as_str(), k.japanese()))
                            .join(", ")
                    ),
                )
            })
    }
}

/// A registered provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// 医療機関コード.
    pub code: ProviderCode,
    /// Its name.
    pub name: String,
    /// Its facility type.
    pub kind: FacilityKind,
    /// The organization whose provider accounts may submit for it.
    pub org_id: Option<OrgId>,
    /// When it was registered.
    pub registered_at: Timestamp,
}

pub(crate) async fn register(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    p: &Provider,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO providers (code, name, kind, org_id, registered_us) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, org_id = excluded.org_id",
    )
    .bind(p.code.as_str())
    .bind(p.name.as_str())
    .bind(p.kind.as_str())
    .bind(p.org_id.map(|o| o.to_string()))
    .bind(p.registered_at.unix_micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn list(db: &Db, code: Option<&ProviderCode>) -> Result<Vec<Provider>> {
    let rows = match code {
        Some(c) => {
            sqlx::query(
                "SELECT code, name, kind, org_id, registered_us FROM providers WHERE code = $1",
            )
            .bind(c.as_str())
            .fetch_all(db.pool())
            .await?
        }
        None => {
            sqlx::query(
                "SELECT code, name, kind, org_id, registered_us FROM providers ORDER BY code",
            )
            .fetch_all(db.pool())
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            let corrupt = |e: renkei_core::Error| Error::Corrupt(e.to_string());
            let org: Option<String> = r.try_get("org_id")?;
            Ok(Provider {
                code: ProviderCode::parse(&r.try_get::<String, _>("code")?).map_err(corrupt)?,
                name: r.try_get("name")?,
                kind: r.try_get::<String, _>("kind")?.parse()?,
                org_id: org.map(|o| OrgId::parse(&o)).transpose().map_err(corrupt)?,
                registered_at: Timestamp::from_unix_micros(r.try_get("registered_us")?),
            })
        })
        .collect()
}
