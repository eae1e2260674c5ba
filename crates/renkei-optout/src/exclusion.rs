//! The answer processing asks for before every extract: who is out.

use std::sync::{Arc, RwLock};

use renkei_core::{PersonKey, Timestamp};
use roaring::RoaringBitmap;

use crate::DataUse;
use crate::index::Persons;

/// The persons kept out of one use at one instant, and the registry
/// version the answer reflects. An extract records that version in its
/// manifest, so that which opt-outs it honoured can be shown later: every
/// change up to the version is wholly in the set, every later one wholly
/// out.
#[derive(Clone, Debug)]
pub struct ExclusionSet {
    pub(crate) version: u64,
    pub(crate) at: Timestamp,
    pub(crate) used: DataUse,
    pub(crate) bitmap: RoaringBitmap,
    pub(crate) persons: Arc<RwLock<Persons>>,
}

impl ExclusionSet {
    /// The registry version the set reflects.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The instant it was computed for.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The use it was computed for.
    pub fn data_use(&self) -> &DataUse {
        &self.used
    }

    /// How many persons are out.
    pub fn len(&self) -> u64 {
        self.bitmap.len()
    }

    /// Whether nobody is out.
    pub fn is_empty(&self) -> bool {
        self.bitmap.is_empty()
    }

    /// Whether `person` is out.
    pub fn contains(&self, person: &PersonKey) -> bool {
        let persons = self.persons.read().unwrap_or_else(|e| e.into_inner());
        persons
            .ordinal(person)
            .is_some_and(|o| self.bitmap.contains(o))
    }

    /// The persons out, in the registry's order.
    pub fn person_keys(&self) -> Vec<PersonKey> {
        let persons = self.persons.read().unwrap_or_else(|e| e.into_inner());
        self.bitmap.iter().filter_map(|o| persons.key(o)).collect()
    }

    /// The set over the registry's person numbers, as a roaring bitmap
    /// (portable format when serialized).
    pub fn bitmap(&self) -> &RoaringBitmap {
        &self.bitmap
    }
}
