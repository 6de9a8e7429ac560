//! The answer of an evaluation: a type that serialises to the extract's
//! canonical JSON and reads back, so that the coordinator, gpesctl and the
//! tests read counts and rows as values, never by walking JSON.

use crate::ast::DataClass;
use serde::{Deserialize, Serialize};

/// One value of a record-level row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OutValue {
    Null,
    Bool(bool),
    Number(f64),
    /// Text, and dates as `YYYY-MM-DD`.
    Text(String),
}

/// A count of one population's patients in one cell of the breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    pub sex: Option<String>,
    pub age_band: Option<String>,
    /// The count; `None` only when the cell is [`Cell::suppressed`].
    pub count: Option<u64>,
    /// Withheld by the site's disclosure policy (small numbers), never
    /// by the engine, which always counts exactly.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suppressed: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationCount {
    pub population: String,
    /// The count; `None` only when it is [`PopulationCount::suppressed`].
    pub count: Option<u64>,
    /// Withheld by the site's disclosure policy; as for [`Cell`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub suppressed: bool,
    /// Non-empty cells of the breakdown, sorted; empty without one.
    pub cells: Vec<Cell>,
}

impl PopulationCount {
    /// The count as shown to a person: the number, or "suppressed".
    pub fn shown(&self) -> String {
        match self.count {
            Some(n) => n.to_string(),
            None => "suppressed".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AggregateResult {
    /// In the order the output names them.
    pub populations: Vec<PopulationCount>,
}

/// A record-level column: its name and its class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnHead {
    pub name: String,
    pub class: DataClass,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLevelResult {
    pub columns: Vec<ColumnHead>,
    /// One row per selected patient, sorted by patient id.
    pub rows: Vec<Vec<OutValue>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultOutput {
    Aggregate(AggregateResult),
    RecordLevel(RecordLevelResult),
}

/// The answer of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub output: ResultOutput,
    /// Patients with a record in the patients table, less those excluded.
    pub patients_evaluated: u64,
    /// Passes over the data the answer took; less than
    /// [`BoundQuery::passes`] only if `finish` came early, when the
    /// variables of the missing passes are left null, 0 or false.
    pub passes: u32,
    /// Patients removed by a policy exclusion before any rule.
    pub excluded_by_policy: u64,
    /// Patient ids seen in records the query reads but with no patient
    /// record (not evaluated).
    pub records_without_patient: u64,
}

impl Answer {
    /// The count of a population in an aggregate answer (`None` for a
    /// population the answer does not have, or whose count is suppressed).
    pub fn count(&self, population: &str) -> Option<u64> {
        match &self.output {
            ResultOutput::Aggregate(a) => a
                .populations
                .iter()
                .find(|p| p.population == population)
                .and_then(|p| p.count),
            ResultOutput::RecordLevel(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer goes into the sealed extract as canonical JSON and is
    /// read back as the same value: counts, cells (one suppressed),
    /// record-level columns and every kind of value.
    #[test]
    fn an_answer_reads_back_from_its_canonical_json() {
        let aggregate = Answer {
            output: ResultOutput::Aggregate(AggregateResult {
                populations: vec![PopulationCount {
                    population: "DM_REG".into(),
                    count: Some(161),
                    suppressed: false,
                    cells: vec![
                        Cell {
                            sex: Some("female".into()),
                            age_band: Some("17-64".into()),
                            count: Some(80),
                            suppressed: false,
                        },
                        Cell {
                            sex: Some("male".into()),
                            age_band: None,
                            count: None,
                            suppressed: true,
                        },
                    ],
                }],
            }),
            patients_evaluated: 1_000,
            passes: 2,
            excluded_by_policy: 3,
            records_without_patient: 1,
        };
        let rows = Answer {
            output: ResultOutput::RecordLevel(RecordLevelResult {
                columns: vec![ColumnHead {
                    name: "hba1c".into(),
                    class: DataClass::NonIdentifying,
                }],
                rows: vec![
                    vec![OutValue::Number(48.5)],
                    vec![OutValue::Null],
                    vec![OutValue::Text("2024-03-01".into())],
                    vec![OutValue::Bool(true)],
                ],
            }),
            patients_evaluated: 4,
            passes: 1,
            excluded_by_policy: 0,
            records_without_patient: 0,
        };
        for answer in [aggregate, rows] {
            let text = gpes_canon::to_canonical_string(&answer).expect("canonical");
            let back: Answer = serde_json::from_str(&text).expect("reads back");
            assert_eq!(back, answer, "{text}");
        }
        // An answer with a field this engine does not know is refused, not
        // half-read.
        assert!(serde_json::from_str::<Answer>(r#"{"output":{"aggregate":{"populations":[]}},"patients_evaluated":0,"passes":1,"excluded_by_policy":0,"records_without_patient":0,"extra":1}"#).is_err());
    }
}
