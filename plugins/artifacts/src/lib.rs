//! Paths of every guest plugin, built for `wasm32-wasip2` from the current
//! sources by this crate's build script. Tests depend on this crate; nothing
//! in production does, and nobody builds `.wasm` files by hand.
//!
//! [`tools`] finds what tests need from outside Rust (DuckDB, and
//! componentize-py for the Python adapter), or fails naming the install
//! command: tests never pass by skipping.

pub mod tools;

/// The csv-export supplier plugin (`plugins/csv-export`).
pub const CSV_EXPORT: &str = env!("GPES_GUEST_CSV_EXPORT");
/// The FHIR R4 bulk-data (NDJSON) supplier plugin (`plugins/fhir-ndjson`).
pub const FHIR_NDJSON: &str = env!("GPES_GUEST_FHIR_NDJSON");
/// Panics in `extract`.
pub const PANIC: &str = env!("GPES_GUEST_PANIC");
/// Loops forever in `next-batch`.
pub const ENDLESS_LOOP: &str = env!("GPES_GUEST_ENDLESS_LOOP");
/// Allocates until stopped.
pub const MEMORY_BOMB: &str = env!("GPES_GUEST_MEMORY_BOMB");
/// Opens the file named by the request's practice code.
pub const OPEN_NAMED: &str = env!("GPES_GUEST_OPEN_NAMED");
/// Returns an event dated 30 February.
pub const BAD_RECORD: &str = env!("GPES_GUEST_BAD_RECORD");
/// Logs what the clocks and random sources told it.
pub const CLOCK_AND_RANDOM: &str = env!("GPES_GUEST_CLOCK_AND_RANDOM");
/// The csv-export adapter losing every event dated on the 1st of a month.
pub const LOSSY_CSV: &str = env!("GPES_GUEST_LOSSY_CSV");
