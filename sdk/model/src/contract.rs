//! The plain-Rust form of the contract's request and answer: what a plugin
//! is asked for and the summary it gives back (the `types` interface of
//! `sdk/wit`, less the records themselves).

use crate::{Date, Table};
use serde::{Deserialize, Serialize};

/// Codes the query needs from one table, with the widest date window any
/// variable needs (bounds inclusive; `None` means unbounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSet {
    pub table: Table,
    pub codes: Vec<u64>,
    pub earliest: Option<Date>,
    pub latest: Option<Date>,
    /// Added by the site's policy (e.g. objection codes), not by the query.
    pub policy: bool,
}

/// What a plugin is asked to extract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// ODS code of the practice.
    pub practice: String,
    /// Tables needed in full.
    pub tables: Vec<Table>,
    /// Events and medications needed, by code.
    pub code_sets: Vec<CodeSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    MalformedLine,
    BadDate,
    BadNhsNumber,
    UnmappableCode,
    UnknownCodeSystem,
    DuplicatePatient,
    BadValue,
    Other,
}

impl WarningKind {
    /// The kind's name, as the WIT and the JSON spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::MalformedLine => "malformed-line",
            WarningKind::BadDate => "bad-date",
            WarningKind::BadNhsNumber => "bad-nhs-number",
            WarningKind::UnmappableCode => "unmappable-code",
            WarningKind::UnknownCodeSystem => "unknown-code-system",
            WarningKind::DuplicatePatient => "duplicate-patient",
            WarningKind::BadValue => "bad-value",
            WarningKind::Other => "other",
        }
    }
}

impl std::fmt::Display for WarningKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One kind of data-quality problem in one file: how often, and where first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub count: u64,
    pub file: String,
    /// 1-based line (or NDJSON record) number of the first occurrence.
    pub line: u64,
    pub message: String,
}

/// What a plugin reports when its stream ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Source records (lines, resources) read.
    pub records_read: u64,
    /// Common-model records returned.
    pub records_mapped: u64,
    pub warnings: Vec<Warning>,
}

impl Summary {
    /// Total count of warnings of one kind, over all files.
    pub fn warnings_of(&self, kind: WarningKind) -> u64 {
        self.warnings
            .iter()
            .filter(|w| w.kind == kind)
            .map(|w| w.count)
            .sum()
    }
}

/// What a plugin says it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub supplier: String,
    pub data_model_version: u32,
}
