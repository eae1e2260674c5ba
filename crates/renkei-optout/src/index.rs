//! The registry in memory: every opt-out in version order, column by
//! column, so that an exclusion set over ten million opt-outs is one pass
//! over a few flat arrays rather than a query.
//!
//! The database is the truth; this is rebuilt from it at open and caught
//! up from it (changes after the version it holds) before every answer,
//! so several processes sharing one database answer alike.

use std::collections::HashMap;

use renkei_core::PersonKey;
use roaring::RoaringBitmap;

use crate::{DataCategory, DataUse, Error, Purpose, Result, Scope};

/// Bit 0: all secondary use; bits 1–4 the fixed purposes; categories take
/// the bits above in the order this process first meets them (the masks
/// never leave memory, so the order need not be stable).
const ALL: u64 = 1;
const FIRST_CATEGORY_BIT: u32 = 5;

/// Persons the registry has met, numbered densely from 0 so that a set of
/// them is a roaring bitmap. The numbers are the registry's own
/// (`optout_persons`), stable across restarts.
#[derive(Debug, Default)]
pub(crate) struct Persons {
    by_key: HashMap<PersonKey, u32>,
    keys: Vec<Option<PersonKey>>,
}

impl Persons {
    pub(crate) fn ordinal(&self, person: &PersonKey) -> Option<u32> {
        self.by_key.get(person).copied()
    }

    pub(crate) fn key(&self, ordinal: u32) -> Option<PersonKey> {
        self.keys.get(ordinal as usize).copied().flatten()
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    fn learn(&mut self, ordinal: u32, person: PersonKey) {
        let i = ordinal as usize;
        if self.keys.len() <= i {
            self.keys.resize(i + 1, None);
        }
        if self.keys[i].is_none() {
            self.keys[i] = Some(person);
            self.by_key.insert(person, ordinal);
        }
    }
}

/// One stored change, as the index reads it.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) version: u64,
    pub(crate) ordinal: u32,
    pub(crate) person: PersonKey,
    pub(crate) scope: Scope,
    pub(crate) effective_us: i64,
    /// For a withdrawal, the version of the opt-out it withdraws.
    pub(crate) withdraws: Option<u64>,
}

/// Opt-outs as columns, in version order.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// The last change applied.
    pub(crate) version: u64,
    versions: Vec<u64>,
    ordinals: Vec<u32>,
    masks: Vec<u64>,
    effective: Vec<i64>,
    /// Version of the withdrawal, `u64::MAX` while none.
    withdrawn_at_version: Vec<u64>,
    /// When the withdrawal took effect.
    withdrawn_effective: Vec<i64>,
    categories: HashMap<DataCategory, u32>,
}

impl Index {
    fn purpose_bit(&mut self, purpose: &Purpose) -> Result<u64> {
        Ok(match purpose {
            Purpose::Commercial => 1 << 1,
            Purpose::ForeignOrganization => 1 << 2,
            Purpose::Genomic => 1 << 3,
            Purpose::Imaging => 1 << 4,
            Purpose::Category(c) => {
                let next = FIRST_CATEGORY_BIT + self.categories.len() as u32;
                let bit = *self.categories.entry(c.clone()).or_insert(next);
                if bit >= 64 {
                    return Err(Error::Corrupt(format!(
                        "more than {} data categories on record",
                        64 - FIRST_CATEGORY_BIT
                    )));
                }
                1 << bit
            }
        })
    }

    fn scope_mask(&mut self, scope: &Scope) -> Result<u64> {
        match scope {
            Scope::All => Ok(ALL),
            Scope::Purposes(ps) => ps.iter().try_fold(0, |m, p| Ok(m | self.purpose_bit(p)?)),
        }
    }

    /// The bits an opt-out must have one of to cover `used`. A category no
    /// opt-out names has no bit, and adds nothing.
    fn use_mask(&self, used: &DataUse) -> u64 {
        used.purposes.iter().fold(ALL, |m, p| {
            m | match p {
                Purpose::Commercial => 1 << 1,
                Purpose::ForeignOrganization => 1 << 2,
                Purpose::Genomic => 1 << 3,
                Purpose::Imaging => 1 << 4,
                Purpose::Category(c) => self.categories.get(c).map_or(0, |b| 1 << b),
            }
        })
    }

    /// Applies changes in version order; each must be the next version.
    pub(crate) fn apply(&mut self, rows: Vec<Row>, persons: &mut Persons) -> Result<()> {
        for row in rows {
            if row.version != self.version + 1 {
                return Err(Error::Corrupt(format!(
                    "change {} follows version {}: versions must have no gaps",
                    row.version, self.version
                )));
            }
            persons.learn(row.ordinal, row.person);
            match row.withdraws {
                None => {
                    let mask = self.scope_mask(&row.scope)?;
                    self.versions.push(row.version);
                    self.ordinals.push(row.ordinal);
                    self.masks.push(mask);
                    self.effective.push(row.effective_us);
                    self.withdrawn_at_version.push(u64::MAX);
                    self.withdrawn_effective.push(i64::MAX);
                }
                Some(target) => {
                    let i = self.versions.binary_search(&target).map_err(|_| {
                        Error::Corrupt(format!(
                            "change {} withdraws version {target}, which is no opt-out",
                            row.version
                        ))
                    })?;
                    self.withdrawn_at_version[i] = row.version;
                    self.withdrawn_effective[i] = row.effective_us;
                }
            }
            self.version = row.version;
        }
        Ok(())
    }

    /// The persons kept out of `used` at instant `at_us` by the registry as
    /// it stood at `version`: an opt-out counts if it was recorded by then,
    /// covers the use, has taken effect, and no withdrawal recorded by then
    /// has taken effect.
    pub(crate) fn excluded(
        &self,
        used: &DataUse,
        at_us: i64,
        version: u64,
        persons: usize,
    ) -> RoaringBitmap {
        let want = self.use_mask(used);
        let n = self.versions.partition_point(|v| *v <= version);
        let mut dense = vec![0u64; persons.div_ceil(64)];
        // Branch-free: whether an opt-out covers the use is a coin toss
        // for the CPU's predictor (scopes are mixed), and mispredicting it
        // cost more than the scan; every row ORs in its bit, 0 or 1.
        let rows = self.masks[..n]
            .iter()
            .zip(&self.effective[..n])
            .zip(&self.withdrawn_at_version[..n])
            .zip(&self.withdrawn_effective[..n])
            .zip(&self.ordinals[..n]);
        for ((((&mask, &effective), &withdrawn_at), &withdrawn_effective), &o) in rows {
            let withdrawn = (withdrawn_at <= version) & (withdrawn_effective <= at_us);
            let out = (mask & want != 0) & (effective <= at_us) & !withdrawn;
            let o = o as usize;
            dense[o / 64] |= u64::from(out) << (o % 64);
        }
        let bytes: Vec<u8> = dense.iter().flat_map(|w| w.to_le_bytes()).collect();
        RoaringBitmap::from_lsb0_bytes(0, &bytes)
    }

    /// Opt-outs in force at `at_us` by the registry as it stood at
    /// `version`, counted by what they cover: `all`, then each purpose (an
    /// opt-out naming two purposes counts under both).
    pub(crate) fn in_force_by_scope(&self, at_us: i64, version: u64) -> Vec<(String, u64)> {
        let mut counts = [0u64; 64];
        let n = self.versions.partition_point(|v| *v <= version);
        for i in 0..n {
            let withdrawn =
                self.withdrawn_at_version[i] <= version && self.withdrawn_effective[i] <= at_us;
            if self.effective[i] <= at_us && !withdrawn {
                let mut m = self.masks[i];
                while m != 0 {
                    counts[m.trailing_zeros() as usize] += 1;
                    m &= m - 1;
                }
            }
        }
        let mut out = vec![("all".to_owned(), counts[0])];
        for (bit, p) in Purpose::FIXED.iter().enumerate() {
            out.push((p.to_string(), counts[bit + 1]));
        }
        let mut cats: Vec<(&DataCategory, &u32)> = self.categories.iter().collect();
        cats.sort();
        for (c, bit) in cats {
            out.push((
                Purpose::Category(c.clone()).to_string(),
                counts[*bit as usize],
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: u64, ordinal: u32, scope: &str, eff: i64, withdraws: Option<u64>) -> Row {
        Row {
            version,
            ordinal,
            person: PersonKey::generate(),
            scope: Scope::parse(scope).expect("scope"),
            effective_us: eff,
            withdraws,
        }
    }

    #[test]
    fn a_set_reflects_its_version_instant_and_use() {
        let mut index = Index::default();
        let mut persons = Persons::default();
        index
            .apply(
                vec![
                    row(1, 0, "all", 0, None),
                    row(2, 1, "genomic", 0, None),
                    row(3, 2, "commercial", 100, None),
                    row(4, 0, "all", 50, Some(1)),
                ],
                &mut persons,
            )
            .expect("apply");
        let ordinary = DataUse::default();
        let genomic = DataUse::parse("genomic").expect("use");
        let commercial = DataUse::parse("commercial").expect("use");
        let set = |u: &DataUse, at, v| {
            index
                .excluded(u, at, v, persons.len())
                .iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            set(&ordinary, 10, 4),
            vec![0],
            "the all-scope opt-out holds until its withdrawal takes effect"
        );
        assert_eq!(set(&ordinary, 60, 4), Vec::<u32>::new(), "withdrawn at 50");
        assert_eq!(
            set(&ordinary, 60, 3),
            vec![0],
            "at version 3 the withdrawal was not on record"
        );
        assert_eq!(set(&genomic, 10, 4), vec![0, 1]);
        assert_eq!(
            set(&commercial, 99, 4),
            Vec::<u32>::new(),
            "not yet in force at 99, and the all-scope one was withdrawn at 50"
        );
        assert_eq!(set(&commercial, 100, 4), vec![2]);
        let gap = index.apply(vec![row(6, 3, "all", 0, None)], &mut persons);
        assert!(gap.is_err(), "a gap in versions is refused");
    }
}
