//! The query as the language defines it, after parsing and validation.
//! Every definition keeps the position it was written at; positions are not
//! part of the query's canonical form.

use crate::Pos;
use crate::dates::DateLit;
use crate::expr::Expr;
use serde::Serialize;

/// A parsed and validated query (SPEC.md is its definition).
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySpec {
    pub id: String,
    pub title: String,
    pub source: String,
    pub parameters: Vec<Parameter>,
    pub clusters: Vec<Cluster>,
    pub variables: Vec<Variable>,
    pub populations: Vec<Population>,
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    Date,
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Date(DateLit),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub pos: Pos,
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub default: Option<ParamValue>,
    pub description: Option<String>,
}

/// The coding system of a cluster, which also says which table its codes
/// are looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeSystem {
    /// SNOMED CT concepts, looked for in the events table.
    Snomed,
    /// dm+d products, looked for in the medications table.
    Dmd,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub pos: Pos,
    pub system: CodeSystem,
    /// Sorted, without repeats.
    #[serde(serialize_with = "codes_as_strings")]
    pub codes: Vec<u64>,
    pub description: Option<String>,
    /// Where the codes came from, when a file: the reference set and its
    /// version are part of the canonical form (so is every code); the
    /// file's path is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codelist: Option<CodeListRef>,
}

/// A code list read from a CSV file (OpenCodelists layout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeListRef {
    #[serde(skip)]
    pub file: String,
    /// Where the `codelist` key is written.
    #[serde(skip)]
    pub key_pos: Pos,
    /// Whether the codes were read from the file (rather than written out
    /// beside it, the folded form).
    #[serde(skip)]
    pub read_from_file: bool,
    /// The reference set's SNOMED CT id.
    pub refset: String,
    pub version: String,
}

fn codes_as_strings<S: serde::Serializer>(codes: &[u64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(codes.iter().map(|c| c.to_string()))
}

/// Which value of the matching events a variable takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAggregate {
    /// Date of the earliest matching event.
    Earliest,
    /// Date of the latest matching event.
    Latest,
    /// Value of the earliest matching event that has a value.
    EarliestValue,
    /// Value of the latest matching event that has a value.
    LatestValue,
    /// Number of matching events.
    Count,
    /// Whether there is a matching event.
    Exists,
    /// Lowest value among the matching events that have one.
    MinimumValue,
    /// Highest value among the matching events that have one.
    MaximumValue,
    /// Arithmetic mean of the values of the matching events that have one.
    MeanValue,
    /// Number of distinct dates with a matching event.
    CountDates,
    /// The latest date on which every listed cluster has a matching event.
    LatestSameDay,
    /// The earliest date on which every listed cluster has a matching event.
    EarliestSameDay,
}

impl EventAggregate {
    /// Whether the kind reads several clusters on one day (`clusters:`).
    pub fn is_same_day(self) -> bool {
        matches!(
            self,
            EventAggregate::LatestSameDay | EventAggregate::EarliestSameDay
        )
    }
}

/// One end of a range of values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueBound {
    pub value: Expr,
    pub inclusive: bool,
}

/// Which events count by their value: only those that have one, and (when
/// bounds are given) whose value is inside the bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ValueRange {
    pub from: Option<ValueBound>,
    pub to: Option<ValueBound>,
}

/// How a tie between values on the same date is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    Lowest,
    Highest,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bound {
    pub date: Expr,
    pub inclusive: bool,
}

/// A date window; a missing bound is open.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Window {
    pub from: Option<Bound>,
    pub to: Option<Bound>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableDef {
    Events {
        aggregate: EventAggregate,
        cluster: String,
        #[serde(skip)]
        cluster_pos: Pos,
        window: Window,
        ties: Ties,
        /// For the same-day kinds, the clusters after the first (`cluster`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        with_clusters: Vec<String>,
        #[serde(skip)]
        with_positions: Vec<Pos>,
        /// Only events with a value (in this range, when it has bounds).
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Box<ValueRange>>,
    },
    Age {
        on: Expr,
    },
    Sex,
    DateOfBirth,
    DateOfDeath,
    Registered {
        on: Expr,
    },
    RegistrationType {
        on: Expr,
    },
    RegistrationStart {
        on: Expr,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variable {
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub pos: Pos,
    #[serde(flatten)]
    pub def: VariableDef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Select,
    Reject,
    Next,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    #[serde(skip)]
    pub pos: Pos,
    pub when: Expr,
    pub then: Action,
    #[serde(rename = "else")]
    pub otherwise: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Population {
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub pos: Pos,
    pub from: String,
    #[serde(skip)]
    pub from_pos: Pos,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    Sex,
    /// Bands of age in whole years on a date: `[0, 17, 45]` gives 0-16,
    /// 17-44 and 45+ (and "unknown" for patients with no age).
    AgeBands {
        on: Expr,
        bounds: Vec<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataClass {
    Identifier,
    Pseudonym,
    NonIdentifying,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnValue {
    NhsNumber,
    PatientId,
    Variable(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    pub name: String,
    pub value: ColumnValue,
    pub class: DataClass,
    #[serde(skip)]
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Aggregate {
        populations: Vec<String>,
        breakdown: Vec<Breakdown>,
        /// Where each population is named.
        #[serde(skip)]
        positions: Vec<Pos>,
    },
    RecordLevel {
        population: String,
        columns: Vec<Column>,
        #[serde(skip)]
        position: Pos,
    },
}

impl VariableDef {
    /// The clusters an event variable reads, with where each is named.
    pub fn clusters(&self) -> Vec<(&str, Pos)> {
        match self {
            VariableDef::Events {
                cluster,
                cluster_pos,
                with_clusters,
                with_positions,
                ..
            } => std::iter::once((cluster.as_str(), *cluster_pos))
                .chain(
                    with_clusters
                        .iter()
                        .map(String::as_str)
                        .zip(with_positions.iter().copied()),
                )
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl QuerySpec {
    /// Names of the parameters, in file order.
    pub fn parameter_names(&self) -> Vec<&str> {
        self.parameters.iter().map(|p| p.name.as_str()).collect()
    }
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }
    pub fn population(&self, name: &str) -> Option<&Population> {
        self.populations.iter().find(|p| p.name == name)
    }
}
