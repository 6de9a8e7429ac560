//! The query specification and the one engine that evaluates it: a query
//! says what the data must give; the engine streams over common-model records
//! (in any order, within and across tables) keeping a small state per
//! patient, and answers when the stream ends.
//!
//! Two forms live here. [`lang`] is the query language: YAML query files
//! modelled on published QOF and enhanced-service business rules
//! (parameters, clusters, variables, ordered rule sets defining populations,
//! aggregate or record-level output), validated with file/line/column
//! errors, hashed over their canonical JSON, turned into the plugin request
//! they need, and evaluated by a streaming engine; `SPEC.md` beside this
//! crate defines it. The first slice ([`Query`], [`RegisteredOn`]) is the
//! JSON document for one query, the number of patients registered on a
//! reference date; the coordinator and agent still use it until they switch
//! to [`lang`], whose `registered` variable keeps the same rules. The crate
//! does no I/O and knows nothing of plugins or WASM: whoever holds the
//! records (the host, a test, a benchmark) pushes them in.

pub mod lang;
mod registered;

pub use registered::{RegisteredCount, RegisteredEvaluation, RegisteredOn};

/// The engine's version, recorded in every sealed extract.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

use gpes_model::{Record, Table};
use serde::{Deserialize, Serialize};

/// What a query needs from the data: the request a plugin receives (less the
/// practice code, which the caller adds).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DataNeeds {
    /// Tables needed in full.
    pub tables: Vec<Table>,
}

/// A query evaluated by streaming: feed every record, then finish.
pub trait Evaluation {
    type Output;
    /// Takes one record; records may come in any order.
    fn push(&mut self, record: &Record);
    /// The answer once every record has been pushed.
    fn finish(self) -> Self::Output;
}
