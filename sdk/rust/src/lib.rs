//! The Rust SDK for supplier plugins: what an adapter author depends on. An
//! adapter implements [`Adapter`] (say what it is; given a [`Request`] and a
//! [`Source`] of files, start an [`Extraction`] that yields records of the
//! common data model one at a time and ends with a [`Summary`]), and calls
//! [`export_adapter!`] once. The SDK owns the one `wit_bindgen::generate!`
//! of the contract in `sdk/wit`, converts between its types and the model's,
//! batches records across the boundary, and gives the pieces every adapter
//! needs: a [`Source`] that reads the practice's files through the host (or,
//! natively, from a folder, for tests and benchmarks), [`Warnings`] that
//! count data-quality problems by kind, file and reason, [`Patients`], which
//! holds a table's patients until it has been read whole so that an id on
//! more than one line is counted and never silently resolved, and
//! [`Wanted`], the request's code sets and date windows as a filter.
//!
//! It is not a host and does no query logic: the host runs the component
//! and the engine evaluates queries. Authors never touch the raw WIT types
//! unless they want to (they are in [`bindings`]).

// The generated bindings are the only unsafe code in a plugin.
#[allow(unsafe_code)]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "gpes_plugin_sdk::bindings",
        runtime_path: "gpes_plugin_sdk::__wit_bindgen::rt",
    });
}

mod error;
#[doc(hidden)]
pub mod glue;
#[cfg(not(target_arch = "wasm32"))]
mod native;
mod patients;
mod source;
mod wanted;
mod warnings;

// Lets the generated code name this crate the way dependants do.
extern crate self as gpes_plugin_sdk;
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub use error::ExtractError;
pub use gpes_model as model;
pub use gpes_model::{
    CodeSet, DATA_MODEL_VERSION, Date, Event, Medication, Patient, PluginInfo, Precision, Record,
    Registration, RegistrationType, Request, Sex, Summary, Table, Warning, WarningKind,
};
#[cfg(not(target_arch = "wasm32"))]
pub use native::{NativeRun, run_native};
pub use patients::Patients;
pub use source::{Source, SourceError, SourceFile};
pub use wanted::{CodeFilter, Wanted};
pub use warnings::Warnings;

/// A supplier's data adapter. Implement it on a unit struct and export it
/// with [`export_adapter!`].
pub trait Adapter: 'static {
    /// The running extraction this adapter starts.
    type Extraction: Extraction;

    /// What the plugin is. `data_model_version` should be
    /// [`DATA_MODEL_VERSION`]; the signed manifest must say the same.
    fn describe() -> PluginInfo;

    /// Starts an extraction of what `request` needs from the files in
    /// `source`. Open and check every file the request needs here, so that a
    /// missing or unusable one fails before any record is returned.
    fn extract(request: &Request, source: Source) -> Result<Self::Extraction, ExtractError>;
}

/// A running extraction: records one at a time, then a summary.
pub trait Extraction: 'static {
    /// The next record, or `None` when the source is exhausted. A problem
    /// with one source line is a counted warning, not an error: return an
    /// error only when the extraction cannot go on (an unreadable file).
    ///
    /// Filtering by the request's code sets is an optimisation: returning
    /// more than was asked is allowed, returning less never is.
    fn next_record(&mut self) -> Result<Option<Record>, ExtractError>;

    /// Called once, after `next_record` returned `None`: what was read,
    /// mapped and warned about.
    fn finish(&mut self) -> Result<Summary, ExtractError>;
}

/// Exports an [`Adapter`] as the plugin's implementation of the contract.
/// Call it once, at the root of the plugin crate:
///
/// ```ignore
/// gpes_plugin_sdk::export_adapter!(MyAdapter);
/// ```
///
/// It exports only when compiled for WebAssembly, so the same crate also
/// builds natively (for `cargo clippy`, tests and [`run_native`]).
#[macro_export]
macro_rules! export_adapter {
    ($adapter:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            struct GpesPluginExport;

            impl $crate::bindings::exports::gpes::plugin::extractor::Guest for GpesPluginExport {
                type Extraction = $crate::glue::Running<$adapter>;

                fn describe() -> $crate::bindings::gpes::plugin::types::PluginInfo {
                    $crate::glue::describe::<$adapter>()
                }

                fn extract(
                    request: $crate::bindings::gpes::plugin::types::Request,
                ) -> ::core::result::Result<
                    $crate::bindings::exports::gpes::plugin::extractor::Extraction,
                    $crate::bindings::gpes::plugin::types::ExtractError,
                > {
                    $crate::glue::extract::<$adapter>(request)
                }
            }

    $crate::bindings::__export_plugin!(GpesPluginExport with_types_in $crate::bindings);
        };
    };
}
