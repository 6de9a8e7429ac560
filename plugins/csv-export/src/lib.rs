//! Supplier plugin for a relational CSV export, one file per table, in the
//! format that `FORMAT.md` beside this crate defines. It reads the practice's
//! files only through the host's data source, maps each line to a record of
//! the common data model, filters events and medications by the request's
//! code sets and date windows, and counts every line it could not use as a
//! data-quality warning naming file and line.
//!
//! It is compiled to `wasm32-wasip2` by `plugins/artifacts`; it does no
//! query logic (the host's engine does) and reads nothing but what the
//! request needs.

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
mod format;
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
    type Extraction = CsvExtraction;

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "csv-export".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            supplier: "GPES reference adapters".into(),
            data_model_version: 1,
        }
    }

    fn extract(request: Request) -> Result<Extraction, ExtractError> {
        Ok(Extraction::new(CsvExtraction {
            state: RefCell::new(format::Extractor::open(&request)?),
        }))
    }
}

struct CsvExtraction {
    state: RefCell<format::Extractor>,
}

impl GuestExtraction for CsvExtraction {
    fn next_batch(&self) -> Result<Option<Vec<Record>>, ExtractError> {
        self.state.borrow_mut().next_batch(BATCH)
    }

    fn finish(&self) -> Result<Summary, ExtractError> {
        Ok(self.state.borrow().summary())
    }
}
