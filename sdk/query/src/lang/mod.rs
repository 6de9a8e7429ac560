//! The query language: YAML query files modelled on published QOF and
//! enhanced-service business rules (parameters, clusters, variables,
//! ordered rule sets defining populations, an aggregate or record-level
//! output), their validation with positioned errors, their canonical JSON
//! and content hash, what they need from the data, and the streaming engine
//! that evaluates them. `sdk/query/SPEC.md` is the language's definition.
//!
//! ```no_run
//! # use std::collections::BTreeMap;
//! let text = std::fs::read_to_string("dm020.yaml").unwrap();
//! let spec = gpes_query::lang::parse("dm020.yaml", &text).unwrap();
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
//! # use gpes_query::Evaluation;
//! let answer = evaluation.finish();
//! ```

mod ast;
mod canon;
mod dates;
mod engine;
mod explain;
mod expr;
mod needs;
mod parse;
mod validate;
mod yaml;

pub use ast::{
    Action, Bound, Breakdown, Cluster, CodeSystem, Column, ColumnValue, DataClass, EventAggregate,
    Output, ParamType, ParamValue, Parameter, Population, QuerySpec, Rule, Ties, Variable,
    VariableDef, Window,
};
pub use dates::{DateLit, add_days, add_months, add_years, age_on};
pub use engine::{
    AggregateResult, Answer, BindError, BoundQuery, Cell, LangEvaluation, OutValue,
    PopulationCount, RecordLevelResult, ResultOutput,
};
pub use explain::NULL_NOTE;
pub use expr::{CmpOp, Expr, ExprKind, MAX_EXPR_CHARS, MAX_EXPR_DEPTH, Unit};
pub use gpes_model::verhoeff_valid;
pub use needs::Needs;
pub use parse::check_sctid;
pub use validate::MAX_PASSES;
pub use yaml::{MAX_ALIAS_EVENTS, MAX_YAML_DEPTH, MAX_YAML_NODES};

use std::fmt;

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
/// panics; refuses files over [`MAX_SOURCE_BYTES`].
pub fn parse(file: &str, text: &str) -> Result<QuerySpec, Errors> {
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
    };
    let spec = parse::query(&mut cx, &root);
    if let Some(spec) = &spec
        && cx.errors.is_empty()
    {
        validate::check(&mut cx, spec);
    }
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
