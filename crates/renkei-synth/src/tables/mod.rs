//! Embedded reference tables: names, places and clinical codes. Each table
//! cites its source; they are small on purpose (enough for realism, not a
//! terminology service).

pub mod clinical;
pub mod names;
pub mod places;
