//! Cost (費用負担): metering what each function does for whom, and charging
//! for it.
//!
//! **Owns:** fee schedules, meter readings (rows extracted, bytes, compute),
//! invoices, provider incentives, and the cost model per operating model.
//!
//! **Never:** sees clinical data or identifying attributes: it counts, it
//! does not read.
//!
//! **Status:** not yet scheduled; this crate holds only its contract until
//! then.
#![warn(missing_docs)]
