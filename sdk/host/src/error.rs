//! Why loading a plugin or running an extraction failed.

use gpes_model::ModelError;
use std::time::Duration;

/// A plugin that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("the plugin is not a valid WebAssembly component: {0}")]
    Compile(String),
    #[error(
        "the plugin does not fit the gpes:plugin contract (wrong or missing imports or exports): {0}"
    )]
    Contract(String),
    #[error("the host could not start: {0}")]
    Engine(String),
    /// The signature or the wasm's hash did not check out against the trust
    /// list; the plugin was not compiled.
    #[error(transparent)]
    Unverified(#[from] gpes_sign::VerifyError),
    /// `describe` failed, so the plugin cannot be checked against its
    /// manifest.
    #[error(
        "the plugin's describe failed, so it cannot be checked against its signed manifest: {0}"
    )]
    Describe(ExtractionError),
    /// The plugin says it is something other than what its supplier signed.
    #[error(
        "the plugin's describe gives {field} '{plugin}', but its signed manifest says '{manifest}'; the plugin and the manifest do not belong together: get the matching pair from the supplier"
    )]
    ManifestMismatch {
        field: &'static str,
        manifest: String,
        plugin: String,
    },
}

/// Why an extraction failed. Every variant says what the plugin did; the
/// host is left as it was and serves the next extraction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractionError {
    /// The plugin trapped: a panic, an abort, an out-of-bounds access.
    #[error("the plugin crashed: {message}{}", stderr_suffix(.stderr))]
    Crashed { message: String, stderr: String },
    /// The plugin ran past its deadline (for example an endless loop).
    #[error("the plugin did not finish within its deadline of {deadline:?} and was stopped")]
    DeadlineExceeded { deadline: Duration },
    /// The plugin asked for more memory than its cap.
    #[error(transparent)]
    MemoryCap(#[from] MemoryCapExceeded),
    /// The plugin asked for a name outside the practice's root.
    #[error(transparent)]
    AccessDenied(#[from] AccessDenied),
    /// The plugin returned a record that breaks the data model.
    #[error("the plugin returned a record that breaks the data model (record {number}): {source}")]
    BadRecord {
        /// 1-based position of the record in the stream.
        number: u64,
        source: ModelError,
    },
    /// The plugin itself reported that the extraction cannot be done (a
    /// missing or unusable file).
    #[error("the plugin could not extract: {message}")]
    Plugin {
        message: String,
        file: Option<String>,
    },
    /// A file read twice in one extraction had different contents.
    #[error(
        "{name} changed while it was being read; run the extraction again once the export is complete"
    )]
    FileChanged { name: String },
    /// Registrations were asked for, and none names the practice being
    /// extracted: an export of another practice, or a practice code that
    /// differs from the export's (codes are compared exactly). Every count
    /// would be zero, so nothing is answered.
    #[error(
        "no registration in the export names practice {practice}; {}; check the practice code in the agent's configuration against the export",
        seen_codes(.seen)
    )]
    PracticeNotInExport {
        practice: String,
        /// Practice codes the registrations did name, with how many each.
        seen: Vec<(String, u64)>,
    },
    /// A file opened in two passes of one run had different contents.
    #[error("{name} changed between passes; run the queries again once the export is complete")]
    ChangedBetweenPasses { name: String },
    /// The practice's root could not be used.
    #[error("the practice's data folder {path} cannot be used: {reason}")]
    Root { path: String, reason: String },
    /// The plugin broke the calling protocol (for example a summary before
    /// the end of the stream).
    #[error("the plugin broke the contract: {0}")]
    Contract(String),
}

fn seen_codes(seen: &[(String, u64)]) -> String {
    if seen.is_empty() {
        return "the export has no registrations at all".into();
    }
    let codes: Vec<String> = seen.iter().map(|(c, n)| format!("'{c}' ({n})")).collect();
    format!("its registrations name {}", codes.join(", "))
}

fn stderr_suffix(stderr: &str) -> String {
    let tail = stderr.trim();
    if tail.is_empty() {
        String::new()
    } else {
        format!(" (the plugin wrote: {tail})")
    }
}

/// The host's total memory cap, reached. Returned from the limiter itself so
/// it reaches the caller as this error, not as a generic trap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plugin asked for {requested} bytes of memory in all, over its cap of {cap} bytes")]
pub struct MemoryCapExceeded {
    pub cap: usize,
    pub requested: usize,
}

/// A name the data source refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plugin asked for '{name}', which is outside the practice's data: {reason}")]
pub struct AccessDenied {
    pub name: String,
    pub reason: &'static str,
}
