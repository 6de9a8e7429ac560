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
//! It is written against the Rust SDK (`gpes-plugin-sdk`) and compiled to
//! `wasm32-wasip2` by `plugins/artifacts`; it does no
//! query logic (the host's engine does) and opens only the files the request
//! needs.

mod fhir;

use gpes_plugin_sdk::{
    Adapter, DATA_MODEL_VERSION, ExtractError, Extraction, PluginInfo, Record, Request, Source,
    Summary,
};

/// The FHIR R4 bulk-data adapter.
#[derive(Debug)]
pub struct FhirNdjson;

gpes_plugin_sdk::export_adapter!(FhirNdjson);

impl Adapter for FhirNdjson {
    type Extraction = FhirExtraction;

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "fhir-ndjson".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            supplier: "GPES reference adapters".into(),
            data_model_version: DATA_MODEL_VERSION,
        }
    }

    fn extract(request: &Request, source: Source) -> Result<FhirExtraction, ExtractError> {
        Ok(FhirExtraction(fhir::Extractor::open(request, source)?))
    }
}

/// One running extraction of a bulk export.
pub struct FhirExtraction(fhir::Extractor);

impl std::fmt::Debug for FhirExtraction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirExtraction").finish_non_exhaustive()
    }
}

impl Extraction for FhirExtraction {
    fn next_record(&mut self) -> Result<Option<Record>, ExtractError> {
        self.0.next_record()
    }

    fn finish(&mut self) -> Result<Summary, ExtractError> {
        Ok(self.0.summary())
    }
}
