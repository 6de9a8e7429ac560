//! Reads the wall clock and the monotonic clock and asks for random bytes
//! (secure and insecure), and logs what it got, so the tests can check that
//! the host answers the same on every run.
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
            name: "clock-and-random".into(),
            version: "0".into(),
            supplier: "tests".into(),
            data_model_version: 1,
        }
    }
    fn extract(request: Request) -> Result<Extraction, ExtractError> {
        let _ = request;
        use bindings::gpes::plugin::log::{Level, log};
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let start = std::time::Instant::now();
        let elapsed = start.elapsed().as_nanos();
        let (secure, insecure) = random::numbers();
        let hashed = {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one("same every run")
        };
        log(
            Level::Info,
            &format!(
                "wall={wall} elapsed={elapsed} secure={secure:x} insecure={insecure:x} hashed={hashed:x}"
            ),
        );
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

/// Raw imports of two WASI random functions: each returns a u64, so the
/// canonical ABI needs no memory and no generated bindings.
#[allow(unsafe_code)]
mod random {
    #[link(wasm_import_module = "wasi:random/random@0.2.4")]
    unsafe extern "C" {
        #[link_name = "get-random-u64"]
        fn get_random_u64() -> i64;
    }
    #[link(wasm_import_module = "wasi:random/insecure@0.2.4")]
    unsafe extern "C" {
        #[link_name = "get-insecure-random-u64"]
        fn get_insecure_random_u64() -> i64;
    }

    pub fn numbers() -> (u64, u64) {
        // SAFETY: both imports take no arguments and return a plain integer.
        unsafe { (get_random_u64() as u64, get_insecure_random_u64() as u64) }
    }
}
