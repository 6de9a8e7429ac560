//! The query language and the one engine that evaluates it: YAML query
//! files modelled on published QOF and enhanced-service business rules
//! (parameters, clusters, variables, ordered rule sets defining populations,
//! an aggregate or record-level output), their validation with positioned
//! errors, their canonical JSON and content hash, what they need from the
//! data, the streaming engine (records in any order, within and across
//! tables; a small state per patient), and its typed [`Answer`].
//! `sdk/query/SPEC.md` beside this crate is the language's definition.
//!
//! The crate does no I/O and knows nothing of plugins or WASM: whoever
//! holds the records pushes them in. Running queries through a plugin, pass
//! after pass, is `gpes_host::run_queries`.
//!
//! ```no_run
//! # use std::collections::BTreeMap;
//! let text = std::fs::read_to_string("dm020.yaml").unwrap();
//! let spec = gpes_query::parse("dm020.yaml", &text).unwrap();
//! let bound = spec.bind("A81001", &BTreeMap::new()).unwrap();
//! let mut needs = bound.needs();
//! let mut evaluation = bound.evaluation();
//! loop {
//!     let _request = needs.request("A81001");
//!     // extract with the request; for each record: evaluation.push(&record)
//!     match evaluation.end_pass() {
//!         Some(next) => needs = next, // a variable bounded by another
//!         None => break,
//!     }
//! }
//! let answer = evaluation.finish();
//! ```

mod answer;
mod ast;
mod bind;
mod canon;
mod codelist;
mod dates;
mod eval;
mod explain;
mod expr;
mod needs;
mod parse;
mod validate;
mod yaml;

pub use answer::{
    AggregateResult, Answer, Cell, ColumnHead, OutValue, PopulationCount, RecordLevelResult,
    ResultOutput,
};
pub use ast::{
    Action, Bound, Breakdown, Cluster, CodeListRef, CodeSystem, Column, ColumnValue, DataClass,
    EventAggregate, Output, ParamType, ParamValue, Parameter, Population, QuerySpec, Rule, Ties,
    ValueBound, ValueRange, Variable, VariableDef, Window,
};
pub use bind::{BindError, BoundQuery};
pub use codelist::{CodeLists, MAX_CODE_LIST_BYTES, fold};
pub use dates::{DateLit, add_days, add_months, add_years, age_on};
pub use eval::Evaluation;
pub use explain::NULL_NOTE;
pub use expr::{CmpOp, Expr, ExprKind, MAX_EXPR_CHARS, MAX_EXPR_DEPTH, Unit};
pub use gpes_model::verhoeff_valid;
pub use needs::Needs;
pub use parse::check_sctid;
pub use validate::MAX_PASSES;
pub use yaml::{MAX_ALIAS_EVENTS, MAX_YAML_DEPTH, MAX_YAML_NODES};

use std::fmt;

/// The engine's version, recorded in every sealed extract.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Largest query file accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;

/// Version of the language this module implements, part of every query's
/// canonical form.
pub const LANGUAGE_VERSION: &str = "gpes-query-language/1";

/// A position in a query file: 1-based line and column (columns count
/// characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

/// One problem in a query file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn new(file: &str, pos: Pos, message: String) -> Diagnostic {
        Diagnostic {
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            message,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Why a query file was refused: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Diagnostic>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// Parses and validates a query file. `file` names it in errors. Never
/// panics; refuses files over [`MAX_SOURCE_BYTES`]. A cluster that takes
/// its codes from a file (`codelist:` without `codes:`) is refused: use
/// [`parse_with`].
pub fn parse(file: &str, text: &str) -> Result<QuerySpec, Errors> {
    parse_with(file, text, &codelist::NoFiles)
}

/// [`parse`], reading the code-list files the query names through `lists`
/// (paths as the query writes them, relative to the query file). Errors in
/// a code-list file name that file, its line and column.
pub fn parse_with(file: &str, text: &str, lists: &dyn CodeLists) -> Result<QuerySpec, Errors> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(Errors(vec![Diagnostic::new(
            file,
            Pos { line: 1, column: 1 },
            format!(
                "the query file is {} bytes, over the limit of {MAX_SOURCE_BYTES}",
                text.len()
            ),
        )]));
    }
    let root = yaml::parse(file, text).map_err(|d| Errors(vec![d]))?;
    let mut cx = parse::Cx {
        file: file.to_owned(),
        errors: Vec::new(),
        code_lists: codelist::read_all(&root, lists),
        list_errors: Vec::new(),
    };
    let spec = parse::query(&mut cx, &root);
    if let Some(spec) = &spec
        && cx.errors.is_empty()
    {
        validate::check(&mut cx, spec);
    }
    let list_errors = std::mem::take(&mut cx.list_errors);
    cx.errors.extend(list_errors);
    cx.errors.sort_by_key(|d| (d.line, d.column));
    match spec {
        Some(spec) if cx.errors.is_empty() => Ok(spec),
        _ => {
            if cx.errors.is_empty() {
                cx.errors.push(Diagnostic::new(
                    file,
                    Pos { line: 1, column: 1 },
                    "the query is incomplete".into(),
                ));
            }
            Err(Errors(cx.errors))
        }
    }
}
