//! Providers: hospitals, clinics and pharmacies with their 医療機関コード,
//! and how a person chooses among them.

use std::collections::HashSet;

use rand::Rng;

use crate::check_digit::with_check_digit;
use crate::person::Tables;
use crate::sample::{Weighted, chance};
use crate::tables::names::SURNAMES;
use crate::tables::places::{PREFECTURES, TOWNS};

/// The kinds of provider (医療法 hospital categories, clinics, pharmacies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// 特定機能病院 (advanced treatment hospital, ~88 nationwide).
    Tokutei,
    /// 地域医療支援病院 (regional medical care support hospital).
    ChiikiShien,
    /// 一般病院 (other hospitals).
    Ippan,
    /// 診療所 (clinic).
    Clinic,
    /// 薬局 (pharmacy).
    Pharmacy,
}

impl ProviderKind {
    /// All kinds, in the order above.
    pub const ALL: [Self; 5] = [
        Self::Tokutei,
        Self::ChiikiShien,
        Self::Ippan,
        Self::Clinic,
        Self::Pharmacy,
    ];

    /// Japanese name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tokutei => "特定機能病院",
            Self::ChiikiShien => "地域医療支援病院",
            Self::Ippan => "一般病院",
            Self::Clinic => "診療所",
            Self::Pharmacy => "薬局",
        }
    }

    /// Whether it is a hospital.
    pub fn is_hospital(self) -> bool {
        matches!(self, Self::Tokutei | Self::ChiikiShien | Self::Ippan)
    }

    /// 点数表番号 in the 医療機関コード: 1 医科, 4 薬局 (3 歯科 unused).
    pub fn score_table(self) -> u8 {
        if self == Self::Pharmacy { 4 } else { 1 }
    }

    /// Share among generated providers (‰), roughly the national counts
    /// (医療施設調査 2022: ~8,150 hospitals of which ~700 地域医療支援,
    /// ~88 特定機能; ~105,000 clinics; ~62,000 pharmacies), with hospitals
    /// over-represented so that small populations still have some.
    fn weight(self) -> u64 {
        match self {
            Self::Tokutei => 10,
            Self::ChiikiShien => 40,
            Self::Ippan => 150,
            Self::Clinic => 500,
            Self::Pharmacy => 300,
        }
    }

    /// How much a person prefers it for a visit (pharmacies are chosen apart).
    fn visit_weight(self) -> u64 {
        match self {
            Self::Tokutei => 1,
            Self::ChiikiShien => 2,
            Self::Ippan => 3,
            Self::Clinic => 8,
            Self::Pharmacy => 0,
        }
    }
}

/// A provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// 医療機関コード (10 digits): prefecture 2, 点数表 1, 医療機関番号 7 with
    /// its check digit.
    pub code: String,
    /// The kind.
    pub kind: ProviderKind,
    /// Index into [`PREFECTURES`].
    pub pref: usize,
    /// Index into the prefecture's municipalities.
    pub muni: usize,
    /// Name.
    pub name: String,
}

impl Provider {
    /// The 7-digit 医療機関番号 (郡市区番号 + 機関番号 + 検証番号).
    pub fn institution_number(&self) -> &str {
        self.code.get(3..).unwrap_or("")
    }

    /// Prefecture code (2 digits).
    pub fn prefecture_code(&self) -> &str {
        self.code.get(..2).unwrap_or("")
    }

    /// Prefecture name.
    pub fn prefecture(&self) -> &'static str {
        PREFECTURES.get(self.pref).map_or("", |p| p.name)
    }

    /// Municipality name.
    pub fn municipality(&self) -> &'static str {
        PREFECTURES
            .get(self.pref)
            .and_then(|p| p.municipalities.get(self.muni))
            .map_or("", |m| m.0)
    }
}

/// Generates `count` providers. The first five are one of each kind, so
/// that every kind exists whenever `count >= 5`.
pub fn generate(count: u32, tables: &Tables, rng: &mut impl Rng) -> Vec<Provider> {
    let kinds = Weighted::new(ProviderKind::ALL.iter().map(|k| k.weight()));
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let kind = ProviderKind::ALL.get(i).copied().unwrap_or_else(|| {
            ProviderKind::ALL
                .get(kinds.draw(rng))
                .copied()
                .unwrap_or(ProviderKind::Clinic)
        });
        let pref = tables.prefecture(rng);
        let muni = tables.municipality(pref, rng);
        let pcode = PREFECTURES.get(pref).map_or(13, |p| p.code);
        let code = loop {
            let body = format!(
                "{:02}{:04}",
                rng.gen_range(1..100),
                rng.gen_range(0..10_000)
            );
            let code = format!(
                "{pcode:02}{}{}",
                kind.score_table(),
                with_check_digit(&body)
            );
            if seen.insert(code.clone()) {
                break code;
            }
        };
        let muni_name = PREFECTURES
            .get(pref)
            .and_then(|p| p.municipalities.get(muni))
            .map_or("", |m| m.0);
        let surname = SURNAMES.get(tables.surname(rng)).map_or("", |s| s.0);
        let town = TOWNS
            .get(rng.gen_range(0..TOWNS.len()))
            .copied()
            .unwrap_or("");
        let name = match kind {
            ProviderKind::Tokutei => format!("{muni_name}医科大学附属病院"),
            ProviderKind::ChiikiShien => format!("{muni_name}総合医療センター"),
            ProviderKind::Ippan if chance(rng, 0.5) => format!("{surname}病院"),
            ProviderKind::Ippan => format!("{town}記念病院"),
            ProviderKind::Clinic if chance(rng, 0.5) => format!("{surname}内科クリニック"),
            ProviderKind::Clinic => format!("{town}ファミリークリニック"),
            ProviderKind::Pharmacy if chance(rng, 0.5) => format!("{town}薬局"),
            ProviderKind::Pharmacy => format!("{surname}調剤薬局"),
        };
        out.push(Provider {
            code,
            kind,
            pref,
            muni,
            name,
        });
    }
    out
}

/// The providers grouped for visiting: per prefecture and nationwide,
/// separately for care providers and pharmacies.
#[derive(Debug)]
pub struct Directory {
    care_by_pref: Vec<(Vec<usize>, Option<Weighted>)>,
    care_all: (Vec<usize>, Option<Weighted>),
    hospitals: Vec<usize>,
    pharmacies_by_pref: Vec<Vec<usize>>,
    pharmacies_all: Vec<usize>,
}

fn weighted(providers: &[Provider], ids: &[usize]) -> Option<Weighted> {
    (!ids.is_empty()).then(|| {
        Weighted::new(
            ids.iter()
                .map(|&i| providers.get(i).map_or(0, |p| p.kind.visit_weight())),
        )
    })
}

impl Directory {
    /// Indexes `providers`.
    pub fn new(providers: &[Provider]) -> Self {
        let care: Vec<usize> = (0..providers.len())
            .filter(|&i| providers[i].kind != ProviderKind::Pharmacy)
            .collect();
        let pharmacies: Vec<usize> = (0..providers.len())
            .filter(|&i| providers[i].kind == ProviderKind::Pharmacy)
            .collect();
        let care_by_pref = (0..PREFECTURES.len())
            .map(|p| {
                let ids: Vec<usize> = care
                    .iter()
                    .copied()
                    .filter(|&i| providers[i].pref == p)
                    .collect();
                let w = weighted(providers, &ids);
                (ids, w)
            })
            .collect();
        let pharmacies_by_pref = (0..PREFECTURES.len())
            .map(|p| {
                pharmacies
                    .iter()
                    .copied()
                    .filter(|&i| providers[i].pref == p)
                    .collect()
            })
            .collect();
        let hospitals = care
            .iter()
            .copied()
            .filter(|&i| providers[i].kind.is_hospital())
            .collect();
        let care_all_w = weighted(providers, &care);
        Self {
            care_by_pref,
            care_all: (care, care_all_w),
            hospitals,
            pharmacies_by_pref,
            pharmacies_all: pharmacies,
        }
    }

    /// A care provider (not a pharmacy) for someone living in `pref`: near
    /// home with probability 0.85, anywhere otherwise.
    pub fn care(&self, pref: usize, rng: &mut impl Rng) -> Option<usize> {
        let (ids, w) = match self.care_by_pref.get(pref) {
            Some((ids, Some(w))) if chance(rng, 0.85) => (ids, w),
            _ => match &self.care_all {
                (ids, Some(w)) => (ids, w),
                _ => return None,
            },
        };
        ids.get(w.draw(rng)).copied()
    }

    /// A hospital (for cancer care), near home when there is one.
    pub fn hospital(
        &self,
        pref: usize,
        providers: &[Provider],
        rng: &mut impl Rng,
    ) -> Option<usize> {
        let near: Vec<usize> = self
            .hospitals
            .iter()
            .copied()
            .filter(|&i| providers[i].pref == pref)
            .collect();
        let pool = if near.is_empty() {
            &self.hospitals
        } else {
            &near
        };
        (!pool.is_empty()).then(|| pool[rng.gen_range(0..pool.len())])
    }

    /// A pharmacy near home if any, else anywhere.
    pub fn pharmacy(&self, pref: usize, rng: &mut impl Rng) -> Option<usize> {
        let near = self.pharmacies_by_pref.get(pref).filter(|v| !v.is_empty());
        let pool = near.unwrap_or(&self.pharmacies_all);
        (!pool.is_empty()).then(|| pool[rng.gen_range(0..pool.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check_digit::is_valid;
    use rand::SeedableRng;

    #[test]
    fn codes_have_ten_digits_and_a_valid_check_digit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let providers = generate(200, &Tables::new(), &mut rng);
        for p in &providers {
            assert_eq!(p.code.len(), 10, "{}", p.code);
            assert!(is_valid(p.institution_number()), "{}", p.code);
            let table = if p.kind == ProviderKind::Pharmacy {
                "4"
            } else {
                "1"
            };
            assert_eq!(&p.code[2..3], table);
        }
        for kind in ProviderKind::ALL {
            assert!(providers.iter().any(|p| p.kind == kind), "{}", kind.name());
        }
    }
}
