//! Supplier plugin for a relational CSV export, one file per table, in the
//! format that `FORMAT.md` beside this crate defines. It reads the practice's
//! files only through the host's data source, maps each line to a record of
//! the common data model, filters events and medications by the request's
//! code sets and date windows, and counts every line it could not use as a
//! data-quality warning naming file and line.
//!
//! It is written against the Rust SDK (`gpes-plugin-sdk`) and compiled to
//! `wasm32-wasip2` by `plugins/artifacts`; natively it is the same code run
//! over a folder (`gpes_plugin_sdk::run_native`). It does no query logic (the
//! host's engine does) and reads nothing but what the request needs.

mod format;

use gpes_plugin_sdk::{
    Adapter, DATA_MODEL_VERSION, ExtractError, Extraction, PluginInfo, Record, Request, Source,
    Summary,
};

/// The csv-export adapter.
#[derive(Debug)]
pub struct CsvExport;

gpes_plugin_sdk::export_adapter!(CsvExport);

impl Adapter for CsvExport {
    type Extraction = CsvExtraction;

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "csv-export".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            supplier: "GPES reference adapters".into(),
            data_model_version: DATA_MODEL_VERSION,
        }
    }

    fn extract(request: &Request, source: Source) -> Result<CsvExtraction, ExtractError> {
        Ok(CsvExtraction(format::Extractor::open(request, source)?))
    }
}

/// One running extraction of a csv-export practice.
pub struct CsvExtraction(format::Extractor);

impl std::fmt::Debug for CsvExtraction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvExtraction").finish_non_exhaustive()
    }
}

impl Extraction for CsvExtraction {
    fn next_record(&mut self) -> Result<Option<Record>, ExtractError> {
        self.0.next_record()
    }

    fn finish(&mut self) -> Result<Summary, ExtractError> {
        Ok(self.0.summary())
    }
}
