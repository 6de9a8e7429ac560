//! Version 1 of the agent API, as agents of that version speak it: the
//! coordinator keeps serving their poll and upload (it accepts agents one
//! version behind), translating to and from the current types here.
//!
//! What changed in version 2: the extract's `result` became the typed
//! [`Answer`](crate::Answer) (counts may be marked suppressed; record-level
//! columns are named heads), and the extract carries its data-quality
//! warnings counted by kind. A version 1 agent put one total,
//! `data_quality_warnings`, inside its `result` object; it is read as that
//! many warnings of kind `other`. A poll carried no heartbeat and no held
//! jobs; errors were `{error, message}`, not RFC 9457 problems. Version 1
//! agents refuse unknown fields in every answer, so what is sent to them
//! is built from the types below, never the current ones.

use crate::{DataClass, InputFile, Purpose, WarningCount, WarningKind};
use gpes_canon::ContentHash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version this module speaks.
pub const VERSION: u32 = 1;

/// `POST /v1/jobs/poll` from a version 1 agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollRequest {
    pub practices: Vec<String>,
    pub wait_ms: u64,
}

impl PollRequest {
    /// The current request: no heartbeat, no held jobs.
    pub fn into_current(self) -> crate::PollRequest {
        crate::PollRequest {
            practices: self.practices,
            wait_ms: self.wait_ms,
            heartbeat: None,
            held: Vec::new(),
        }
    }
}

/// The answer to a version 1 poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollResponse {
    pub jobs: Vec<Job>,
}

impl From<crate::PollResponse> for PollResponse {
    fn from(r: crate::PollResponse) -> PollResponse {
        PollResponse {
            jobs: r.jobs.into_iter().map(Job::from).collect(),
        }
    }
}

/// A job as version 1 agents read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub job_id: String,
    pub collection_id: String,
    pub run_id: String,
    pub practice: String,
    pub query: QuerySpec,
    pub parameters: BTreeMap<String, String>,
    pub purpose: Purpose,
    pub data_class: DataClass,
    pub lease_expires_ms: u64,
}

impl From<crate::Job> for Job {
    fn from(j: crate::Job) -> Job {
        Job {
            job_id: j.job_id,
            collection_id: j.collection_id,
            run_id: j.run_id,
            practice: j.practice,
            query: QuerySpec {
                canonical: j.query.canonical,
                hash: j.query.hash,
                source: j.query.source,
            },
            parameters: j.parameters,
            purpose: j.purpose,
            data_class: j.data_class,
            lease_expires_ms: j.lease_expires_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    pub canonical: String,
    pub hash: ContentHash,
    pub source: String,
}

/// A version 1 receipt (the same fields as the current one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub job_id: String,
    pub extract_hash: ContentHash,
    pub stored_ms: u64,
}

impl From<crate::Receipt> for Receipt {
    fn from(r: crate::Receipt) -> Receipt {
        Receipt {
            job_id: r.job_id,
            extract_hash: r.extract_hash,
            stored_ms: r.stored_ms,
        }
    }
}

/// The body of every error answer in version 1 (version 2 answers RFC
/// 9457 problems).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

/// Version 1's error codes: a current code it did not have is sent as
/// the nearest it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    VersionMismatch,
    TooLarge,
    Internal,
}

impl From<&crate::Problem> for ErrorBody {
    fn from(p: &crate::Problem) -> ErrorBody {
        use crate::ErrorCode as Now;
        let error = match p.code {
            Now::Unauthorized => ErrorCode::Unauthorized,
            Now::Forbidden => ErrorCode::Forbidden,
            Now::NotFound => ErrorCode::NotFound,
            Now::Conflict => ErrorCode::Conflict,
            Now::VersionMismatch => ErrorCode::VersionMismatch,
            Now::TooLarge => ErrorCode::TooLarge,
            Now::Unavailable | Now::Internal => ErrorCode::Internal,
            Now::BadRequest
            | Now::UnsupportedMediaType
            | Now::Unprocessable
            | Now::MethodNotAllowed
            | Now::Timeout
            | Now::Other => ErrorCode::BadRequest,
        };
        ErrorBody {
            error,
            message: p.detail.clone(),
        }
    }
}

/// What a version 1 agent sealed. Its hash covers this text, so the
/// coordinator stores the text as it came and reads it through
/// [`Extract::to_current`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extract {
    pub practice: String,
    pub query_hash: ContentHash,
    pub parameters: BTreeMap<String, String>,
    pub plugin_name: String,
    pub plugin_version: String,
    pub engine_version: String,
    pub inputs: Vec<InputFile>,
    /// The version 1 engine's answer, with the warnings' total in it.
    pub result: serde_json::Value,
}

/// The version 1 engine's answer, as its agents serialised it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    output: ResultOutput,
    patients_evaluated: u64,
    passes: u32,
    excluded_by_policy: u64,
    records_without_patient: u64,
    #[serde(default)]
    data_quality_warnings: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ResultOutput {
    Aggregate(AggregateResult),
    RecordLevel(RecordLevelResult),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregateResult {
    populations: Vec<PopulationCount>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationCount {
    population: String,
    count: u64,
    cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cell {
    sex: Option<String>,
    age_band: Option<String>,
    count: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLevelResult {
    columns: Vec<(String, gpes_query::DataClass)>,
    rows: Vec<Vec<crate::OutValue>>,
}

impl Extract {
    /// The same extract in the current types: counts never suppressed,
    /// columns as named heads, the warnings' total as kind `other`.
    pub fn to_current(&self) -> Result<crate::Extract, serde_json::Error> {
        let answer: Answer = serde_json::from_value(self.result.clone())?;
        let output = match answer.output {
            ResultOutput::Aggregate(a) => crate::ResultOutput::Aggregate(crate::AggregateResult {
                populations: a
                    .populations
                    .into_iter()
                    .map(|p| crate::PopulationCount {
                        population: p.population,
                        count: Some(p.count),
                        suppressed: false,
                        cells: p
                            .cells
                            .into_iter()
                            .map(|c| crate::Cell {
                                sex: c.sex,
                                age_band: c.age_band,
                                count: Some(c.count),
                                suppressed: false,
                            })
                            .collect(),
                    })
                    .collect(),
            }),
            ResultOutput::RecordLevel(r) => {
                crate::ResultOutput::RecordLevel(crate::RecordLevelResult {
                    columns: r
                        .columns
                        .into_iter()
                        .map(|(name, class)| crate::ColumnHead { name, class })
                        .collect(),
                    rows: r.rows,
                })
            }
        };
        let data_quality_warnings = if answer.data_quality_warnings > 0 {
            vec![WarningCount {
                kind: WarningKind::Other,
                count: answer.data_quality_warnings,
            }]
        } else {
            Vec::new()
        };
        Ok(crate::Extract {
            practice: self.practice.clone(),
            query_hash: self.query_hash,
            parameters: self.parameters.clone(),
            plugin_name: self.plugin_name.clone(),
            plugin_version: self.plugin_version.clone(),
            engine_version: self.engine_version.clone(),
            inputs: self.inputs.clone(),
            result: crate::Answer {
                output,
                patients_evaluated: answer.patients_evaluated,
                passes: answer.passes,
                excluded_by_policy: answer.excluded_by_policy,
                records_without_patient: answer.records_without_patient,
            },
            data_quality_warnings,
        })
    }
}

/// A stored extract's text, in the current types whichever version sealed
/// it (the current version first; the two never both read).
pub fn read_stored_extract(text: &str) -> Result<crate::Extract, serde_json::Error> {
    match serde_json::from_str::<crate::Extract>(text) {
        Ok(e) => Ok(e),
        Err(current) => match serde_json::from_str::<Extract>(text) {
            Ok(old) => old.to_current(),
            Err(_) => Err(current),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_EXTRACT: &str = r#"{"engine_version":"0.1.0","inputs":[{"bytes":10,"name":"patients.csv","sha256":"ab"}],"parameters":{"PPED":"2025-03-31"},"plugin_name":"csv-export","plugin_version":"0.1.0","practice":"A81001","query_hash":"sha256:0000000000000000000000000000000000000000000000000000000000000000","result":{"data_quality_warnings":2,"excluded_by_policy":0,"output":{"aggregate":{"populations":[{"cells":[{"age_band":"0-16","count":4,"sex":"female"}],"count":39,"population":"REGISTERED"}]}},"passes":1,"patients_evaluated":39,"records_without_patient":0}}"#;

    #[test]
    fn a_version_1_extract_reads_as_the_current_one() {
        let e = read_stored_extract(V1_EXTRACT).expect("reads");
        assert_eq!(e.result.count("REGISTERED"), Some(39));
        assert_eq!(
            e.data_quality_warnings,
            [WarningCount {
                kind: WarningKind::Other,
                count: 2
            }]
        );
        let crate::ResultOutput::Aggregate(a) = &e.result.output else {
            panic!("aggregate")
        };
        assert_eq!(a.populations[0].cells[0].count, Some(4));
    }

    #[test]
    fn a_version_1_extract_stays_strict() {
        let surprise = V1_EXTRACT.replacen("\"passes\":1", "\"passes\":1,\"surprise\":1", 1);
        assert!(read_stored_extract(&surprise).is_err());
        let outer = V1_EXTRACT.replacen("{\"engine_version\"", "{\"x\":1,\"engine_version\"", 1);
        assert!(read_stored_extract(&outer).is_err());
    }

    #[test]
    fn jobs_for_version_1_agents_have_exactly_its_fields() {
        let job = crate::Job {
            job_id: "j".into(),
            collection_id: "c".into(),
            run_id: "r".into(),
            practice: "A81001".into(),
            query: crate::QuerySpec {
                canonical: "{}".into(),
                hash: gpes_canon::ContentHash::of_bytes(b"{}"),
                source: "x".into(),
            },
            parameters: BTreeMap::new(),
            purpose: Purpose::Planning,
            data_class: DataClass::Aggregate,
            lease_expires_ms: 5,
        };
        let text =
            serde_json::to_string(&PollResponse::from(crate::PollResponse { jobs: vec![job] }))
                .expect("json");
        let back: PollResponse = serde_json::from_str(&text).expect("a v1 agent reads it");
        assert_eq!(back.jobs[0].lease_expires_ms, 5);
    }
}
