//! Which persons a table counts, cell by cell, kept inside the platform so
//! that releases are compared by the persons in their cells, not by the
//! names of their dimensions.
//!
//! Each person is known by a 64-bit digest of their per-permit pseudonym
//! (the workspace makes it; this module never sees a pseudonym) and lies in
//! exactly one interior cell: a table in which a person could be counted
//! twice is refused before it gets here. Margins are unions of interior
//! cells, so one interior key per person describes every cell of the table.

use std::collections::HashMap;

use super::error::{Error, Result};
use super::table::CellKey;

/// The interior cell of every person of a table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Membership {
    keys: Vec<CellKey>,
    index: HashMap<CellKey, u32>,
    /// (person digest, index into `keys`), sorted by digest once sealed.
    persons: Vec<(u64, u32)>,
}

impl Membership {
    /// No persons yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a person (by digest) into the interior cell `key`.
    pub fn add(&mut self, person: u64, key: &CellKey) {
        let next = self.keys.len() as u32;
        let at = *self.index.entry(key.clone()).or_insert_with(|| {
            self.keys.push(key.clone());
            next
        });
        self.persons.push((person, at));
    }

    /// Sorts the persons; a person in two cells is refused (the workspace
    /// puts each person in one).
    pub fn seal(mut self) -> Result<Self> {
        self.persons.sort_unstable();
        if self.persons.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::PersonInTwoCells);
        }
        Ok(self)
    }

    /// Persons counted.
    pub fn len(&self) -> usize {
        self.persons.len()
    }

    /// Whether the table counts nobody.
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }

    /// The interior keys, in the order [`Membership::persons`] indexes.
    pub fn keys(&self) -> &[CellKey] {
        &self.keys
    }

    /// Each person's digest and interior key index, by digest.
    pub fn persons(&self) -> &[(u64, u32)] {
        &self.persons
    }

    /// Encodes for storage: the keys as JSON, then 12 bytes a person.
    pub fn to_bytes(&self) -> Vec<u8> {
        let keys = serde_json::to_vec(&self.keys).expect("keys of strings serialize");
        let mut out = Vec::with_capacity(4 + keys.len() + self.persons.len() * 12);
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        out.extend_from_slice(&keys);
        for (person, key) in &self.persons {
            out.extend_from_slice(&person.to_le_bytes());
            out.extend_from_slice(&key.to_le_bytes());
        }
        out
    }

    /// Decodes what [`Membership::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |detail: &'static str| Error::InvalidMembership { detail };
        let head: [u8; 4] = bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("shorter than its header"))?;
        let len = u32::from_le_bytes(head) as usize;
        let keys_end = 4usize.checked_add(len).ok_or_else(|| bad("key length"))?;
        let keys: Vec<CellKey> = serde_json::from_slice(
            bytes
                .get(4..keys_end)
                .ok_or_else(|| bad("shorter than its keys"))?,
        )
        .map_err(|_| bad("keys are not a list of cell keys"))?;
        let rest = &bytes[keys_end..];
        if !rest.len().is_multiple_of(12) {
            return Err(bad("a person entry is cut short"));
        }
        let mut persons = Vec::with_capacity(rest.len() / 12);
        for chunk in rest.chunks_exact(12) {
            let person = u64::from_le_bytes(chunk[..8].try_into().expect("8 bytes"));
            let key = u32::from_le_bytes(chunk[8..].try_into().expect("4 bytes"));
            if key as usize >= keys.len() {
                return Err(bad("a person names a key that is not there"));
            }
            persons.push((person, key));
        }
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        Membership {
            keys,
            index,
            persons,
        }
        .seal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::Key;

    #[test]
    fn membership_round_trips_and_refuses_a_person_in_two_cells() {
        let f = CellKey::new([Key::value("F")]);
        let m = CellKey::new([Key::value("M")]);
        let mut members = Membership::new();
        members.add(7, &f);
        members.add(3, &m);
        members.add(5, &f);
        let sealed = members.clone().seal().expect("one cell each");
        let back = Membership::from_bytes(&sealed.to_bytes()).expect("decodes");
        assert_eq!(back.persons(), sealed.persons());
        assert_eq!(back.keys(), sealed.keys());
        members.add(7, &m);
        assert!(matches!(members.seal(), Err(Error::PersonInTwoCells)));
        assert!(Membership::from_bytes(&[1, 0]).is_err());
    }
}
