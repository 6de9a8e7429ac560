//! Loops forever when asked for the first batch.
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
use bindings::exports::gpes::plugin::extractor::{Extraction, Guest, GuestExtraction};
use bindings::gpes::plugin::types::{ExtractError, PluginInfo, Record, Request, Summary};

struct Plugin;
struct Never;

impl Guest for Plugin {
    type Extraction = Never;
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "endless-loop".into(),
            version: "0".into(),
            supplier: "tests".into(),
            data_model_version: 1,
        }
    }
    fn extract(request: Request) -> Result<Extraction, ExtractError> {
        let _ = request;
        Ok(Extraction::new(Never))
    }
}

impl GuestExtraction for Never {
    fn next_batch(&self) -> Result<Option<Vec<Record>>, ExtractError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    fn finish(&self) -> Result<Summary, ExtractError> {
        Ok(Summary {
            records_read: 0,
            records_mapped: 0,
            warnings: vec![],
        })
    }
}
