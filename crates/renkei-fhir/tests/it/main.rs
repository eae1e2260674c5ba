//! Integration tests of renkei-fhir: the published JP Core examples are
//! accepted (expected outcomes checked in, `UPDATE_EXPECT=1` regenerates),
//! and each kind of bad input is refused at the right place.

mod bad_input;
mod conformance;
mod fhirpath;
mod fuzz;
mod packages;
mod synthetic;
mod testdata;
