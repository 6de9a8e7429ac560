//! Running an adapter natively, over a folder: the same code the component
//! runs, without the sandbox. For tests of an adapter's logic and for the
//! WASM-against-native benchmark; never how a site runs a plugin.

use crate::{Adapter, ExtractError, Extraction, Record, Request, Source, Summary};
use std::path::Path;

/// What a native run produced.
#[derive(Debug)]
pub struct NativeRun {
    pub summary: Summary,
    /// Records handed to the sink.
    pub records: u64,
}

/// Runs `A` over the practice files in `root`, handing each record to
/// `sink`, then returns its summary. Records are not checked against the
/// model here (the host does that for real runs).
pub fn run_native<A: Adapter>(
    root: &Path,
    request: &Request,
    mut sink: impl FnMut(Record),
) -> Result<NativeRun, ExtractError> {
    let mut extraction = A::extract(request, Source::folder(root))?;
    let mut records = 0;
    while let Some(r) = extraction.next_record()? {
        records += 1;
        sink(r);
    }
    Ok(NativeRun {
        summary: extraction.finish()?,
        records,
    })
}
