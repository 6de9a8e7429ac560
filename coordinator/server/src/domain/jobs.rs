//! A job's life: pending, leased, and then done, failed, expired or
//! cancelled; retries with backoff; and what an upload must match to be
//! stored as the job's result.

use super::Refusal;
use gpes_canon::ContentHash;
use gpes_protocol::{Extract, JobStatus, ResultOutput, UploadRequest, v1};
use std::collections::BTreeMap;

/// How many times a job may fail with a retryable reason before it stays
/// failed.
pub const MAX_ATTEMPTS: i64 = 5;

/// The wait before a failed job is offered again: 30 s, doubling, at most
/// an hour.
pub fn retry_backoff_ms(attempts: i64) -> i64 {
    let shift = attempts.clamp(0, 7) as u32;
    (30_000i64 << shift).min(3_600_000)
}

/// A job's state as stored.
pub fn parse_state(s: &str) -> Result<JobStatus, Refusal> {
    Ok(match s {
        "pending" => JobStatus::Pending,
        "leased" => JobStatus::Leased,
        "done" => JobStatus::Done,
        "failed" => JobStatus::Failed,
        "expired" => JobStatus::Expired,
        "cancelled" => JobStatus::Cancelled,
        "not-participating" => JobStatus::NotParticipating,
        "manual" => JobStatus::Manual,
        other => return Err(Refusal::Store(format!("unknown job state '{other}'"))),
    })
}

pub fn state_name(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Pending => "pending",
        JobStatus::Leased => "leased",
        JobStatus::Done => "done",
        JobStatus::Failed => "failed",
        JobStatus::Expired => "expired",
        JobStatus::Cancelled => "cancelled",
        JobStatus::NotParticipating => "not-participating",
        JobStatus::Manual => "manual",
    }
}

/// What an upload is checked against: the job as the coordinator made it.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub practice: &'a str,
    pub query_hash: &'a ContentHash,
    pub parameters: &'a BTreeMap<String, String>,
    /// The query's output, parsed from its canonical form.
    pub output: &'a gpes_query::Output,
}

/// Checks an uploaded extract against its job and returns it parsed. The
/// hash must be the hash of the text, the text canonical, and the extract
/// for this practice, query and parameters, with a non-empty inputs
/// fingerprint and an answer of the query's output shape. An extract
/// sealed by a version 1 agent (`version` 1) is read in its own types,
/// held to the same rules, and returned in the current ones.
pub fn check_upload(
    upload: &UploadRequest,
    version: u32,
    expected: &Expected<'_>,
) -> Result<Extract, Refusal> {
    let actual = ContentHash::of_bytes(upload.extract.as_bytes());
    if actual != upload.extract_hash {
        return Err(Refusal::HashMismatch {
            claimed: upload.extract_hash,
            actual,
        });
    }
    fn bad(e: impl std::fmt::Display) -> Refusal {
        Refusal::BadExtract(e.to_string())
    }
    let (extract, canonical) = if version == v1::VERSION {
        let old: v1::Extract = serde_json::from_str(&upload.extract).map_err(bad)?;
        let canonical = gpes_canon::to_canonical_string(&old).map_err(bad)?;
        (old.to_current().map_err(bad)?, canonical)
    } else {
        let extract: Extract = serde_json::from_str(&upload.extract).map_err(bad)?;
        let canonical = gpes_canon::to_canonical_string(&extract).map_err(bad)?;
        (extract, canonical)
    };
    if canonical != upload.extract {
        return Err(Refusal::BadExtract(
            "the extract is not in canonical form (RFC 8785)".into(),
        ));
    }
    let wrong = |what: String| Err(Refusal::WrongExtract(what));
    if extract.practice != expected.practice {
        return wrong(format!(
            "it is for practice '{}', the job for '{}'",
            extract.practice, expected.practice
        ));
    }
    if &extract.query_hash != expected.query_hash {
        return wrong(format!(
            "it is for query {}, the job for {}",
            extract.query_hash, expected.query_hash
        ));
    }
    if &extract.parameters != expected.parameters {
        return wrong(format!(
            "it was made with parameters {}, the job has {}",
            show(&extract.parameters),
            show(expected.parameters)
        ));
    }
    if extract.inputs.is_empty() {
        return wrong("it names no input files: an extract must say what it read".into());
    }
    for input in &extract.inputs {
        if input.sha256.len() != 64 || !input.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return wrong(format!(
                "input '{}' has no SHA-256 fingerprint (64 hex digits)",
                input.name
            ));
        }
    }
    check_shape(&extract.result.output, expected.output)?;
    Ok(extract)
}

fn show(p: &BTreeMap<String, String>) -> String {
    if p.is_empty() {
        return "none".into();
    }
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names for a message, the first `n` of them: an upload's error must not
/// grow with what a hostile or broken agent sent.
fn at_most(names: &[&str], n: usize) -> String {
    let mut shown: Vec<String> = names
        .iter()
        .take(n)
        .map(|name| name.chars().take(80).collect())
        .collect();
    if names.len() > n {
        shown.push(format!("... {} more", names.len() - n));
    }
    shown.join(", ")
}

/// The answer must have the query's shape: the same populations in order
/// for an aggregate, the query's columns for record-level output.
fn check_shape(answer: &ResultOutput, output: &gpes_query::Output) -> Result<(), Refusal> {
    use gpes_query::Output;
    match (answer, output) {
        (ResultOutput::Aggregate(a), Output::Aggregate { populations, .. }) => {
            let got: Vec<&str> = a
                .populations
                .iter()
                .map(|p| p.population.as_str())
                .collect();
            let want: Vec<&str> = populations.iter().map(String::as_str).collect();
            if got != want {
                return Err(Refusal::WrongExtract(format!(
                    "its populations are [{}], the query's [{}]",
                    at_most(&got, 12),
                    at_most(&want, 12)
                )));
            }
            for p in &a.populations {
                if p.count.is_none() && !p.suppressed {
                    return Err(Refusal::WrongExtract(format!(
                        "population '{}' has no count and is not marked suppressed",
                        p.population
                    )));
                }
            }
            Ok(())
        }
        (ResultOutput::RecordLevel(r), Output::RecordLevel { columns, .. }) => {
            let got: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
            let want: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            if got != want {
                return Err(Refusal::WrongExtract(format!(
                    "its columns are [{}], the query's [{}]",
                    got.join(", "),
                    want.join(", ")
                )));
            }
            if let Some(bad) = r.rows.iter().position(|row| row.len() != want.len()) {
                return Err(Refusal::WrongExtract(format!(
                    "row {} has {} values for {} columns",
                    bad + 1,
                    r.rows[bad].len(),
                    want.len()
                )));
            }
            Ok(())
        }
        (ResultOutput::Aggregate(_), Output::RecordLevel { .. }) => Err(Refusal::WrongExtract(
            "it holds counts, but the query gives one row per patient".into(),
        )),
        (ResultOutput::RecordLevel(_), Output::Aggregate { .. }) => Err(Refusal::WrongExtract(
            "it holds rows, but the query gives counts".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(retry_backoff_ms(0), 30_000);
        assert_eq!(retry_backoff_ms(1), 60_000);
        assert_eq!(retry_backoff_ms(20), 3_600_000);
    }

    #[test]
    fn every_state_reads_back() {
        for s in [
            JobStatus::Pending,
            JobStatus::Leased,
            JobStatus::Done,
            JobStatus::Failed,
            JobStatus::Expired,
            JobStatus::Cancelled,
            JobStatus::NotParticipating,
            JobStatus::Manual,
        ] {
            assert_eq!(parse_state(state_name(s)).expect("known"), s);
        }
        assert!(parse_state("lost").is_err());
    }
}
