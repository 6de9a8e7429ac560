//! Supplier plugin for a FHIR R4 bulk-data export: NDJSON files, one
//! resource a line, named `<ResourceType>.<n>.ndjson` (README.md beside this
//! crate states the mapping). It lists and reads the practice's files only
//! through the host's data source, maps Patient, Condition, Observation,
//! Immunization, MedicationRequest, MedicationStatement and EpisodeOfCare
//! resources to records of the common data model, filters events and
//! medications by the request's code sets and date windows, and counts every
//! resource it could not use, by resource type and reason, as a data-quality
//! warning naming file and line.
//!
//! It is compiled to `wasm32-wasip2` by `plugins/artifacts`; it does no
//! query logic (the host's engine does) and opens only the files the request
//! needs.

// The generated bindings are the only unsafe code in a plugin.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({ path: "../../sdk/wit", world: "plugin" });
    #[cfg(target_arch = "wasm32")]
    use super::Plugin;
    // Exported only in the component: a native build (clippy, `cargo build
    // --workspace`) cannot link WIT export names.
    #[cfg(target_arch = "wasm32")]
    export!(Plugin);
}
mod fhir;
mod reader;
mod warnings;

use bindings::exports::gpes::plugin::extractor::{Extraction, Guest, GuestExtraction};
use bindings::gpes::plugin::types::{ExtractError, PluginInfo, Record, Request, Summary};
use std::cell::RefCell;

/// Records returned in one batch: enough to amortise the call, small enough
/// to keep the guest's memory flat.
const BATCH: usize = 1024;

struct Plugin;

impl Guest for Plugin {
    type Extraction = FhirExtraction;

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "fhir-ndjson".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            supplier: "GPES reference adapters".into(),
            data_model_version: 1,
        }
    }

    fn extract(request: Request) -> Result<Extraction, ExtractError> {
        Ok(Extraction::new(FhirExtraction {
            state: RefCell::new(fhir::Extractor::open(&request)?),
        }))
    }
}

struct FhirExtraction {
    state: RefCell<fhir::Extractor>,
}

impl GuestExtraction for FhirExtraction {
    fn next_batch(&self) -> Result<Option<Vec<Record>>, ExtractError> {
        self.state.borrow_mut().next_batch(BATCH)
    }

    fn finish(&self) -> Result<Summary, ExtractError> {
        Ok(self.state.borrow().summary())
    }
}
