//! Opens the file named by the request's practice code and reads it to
//! the end: the tests use it to ask for names outside the practice's root.
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
            name: "open-named".into(),
            version: "0".into(),
            supplier: "tests".into(),
            data_model_version: 1,
        }
    }
    fn extract(request: Request) -> Result<Extraction, ExtractError> {
        use bindings::gpes::plugin::data_source;
        let file = data_source::open(&request.practice).map_err(|e| ExtractError {
            message: format!("open refused: {e:?}"),
            file: Some(request.practice.clone()),
        })?;
        while !file
            .read(65536)
            .map_err(|e| ExtractError {
                message: format!("read failed: {e:?}"),
                file: None,
            })?
            .is_empty()
        {}
        Ok(Extraction::new(Never))
    }
}

impl GuestExtraction for Never {
    fn next_batch(&self) -> Result<Option<Vec<Record>>, ExtractError> {
        Ok(None)
    }
    fn finish(&self) -> Result<Summary, ExtractError> {
        Ok(Summary {
            records_read: 0,
            records_mapped: 0,
            warnings: vec![],
        })
    }
}
