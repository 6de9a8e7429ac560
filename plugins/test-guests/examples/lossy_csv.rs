//! The csv-export adapter with one quiet bug: it loses every event dated on
//! the first day of a month (the kind of boundary slip a real adapter can
//! have). The conformance kit must catch it.

// Natively (clippy, `cargo build --workspace`) nothing is exported, so the
// adapter is unused there.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
#[path = "../../csv-export/src/format.rs"]
mod format;

use gpes_plugin_sdk::{
    Adapter, DATA_MODEL_VERSION, ExtractError, Extraction, PluginInfo, Record, Request, Source,
    Summary,
};

struct Lossy;

gpes_plugin_sdk::export_adapter!(Lossy);

impl Adapter for Lossy {
    type Extraction = LossyExtraction;

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "lossy-csv".into(),
            version: "0".into(),
            supplier: "tests".into(),
            data_model_version: DATA_MODEL_VERSION,
        }
    }

    fn extract(request: &Request, source: Source) -> Result<LossyExtraction, ExtractError> {
        Ok(LossyExtraction(format::Extractor::open(request, source)?))
    }
}

struct LossyExtraction(format::Extractor);

impl Extraction for LossyExtraction {
    fn next_record(&mut self) -> Result<Option<Record>, ExtractError> {
        loop {
            match self.0.next_record()? {
                Some(Record::Event(e)) if e.date.day == 1 => continue,
                other => return Ok(other),
            }
        }
    }

    fn finish(&mut self) -> Result<Summary, ExtractError> {
        Ok(self.0.summary())
    }
}
