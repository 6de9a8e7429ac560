//! Values entered by hand: each version kept; the current one is the
//! job's result, and the job is `manual`.

use super::{Db, audit, to_i64, to_u64};
use crate::domain::Refusal;
use gpes_canon::ContentHash;
use gpes_protocol::{ManualEntry, PopulationCount, ResultOutput};

/// What an entry needs of its run and job.
#[derive(Debug)]
pub struct Target {
    pub job_id: String,
    pub query_source: String,
    pub query_hash: String,
    pub parameters: String,
    pub manual_collection: bool,
}

/// The practice's job in a run, with what checking an entry needs.
pub async fn target(db: &Db, run_id: &str, practice: &str) -> Result<Target, Refusal> {
    let row: Option<(String, String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT j.id, j.state, c.query_source, c.query_hash, r.parameters, c.method, r.kind \
         FROM jobs j JOIN runs r ON r.id = j.run_id JOIN collections c ON c.id = r.collection_id \
         WHERE j.run_id = $1 AND j.practice = $2",
    )
    .bind(run_id)
    .bind(practice)
    .fetch_optional(db.pool())
    .await?;
    let Some((job_id, _state, query_source, query_hash, parameters, method, kind)) = row else {
        return Err(Refusal::Invalid(format!(
            "run '{run_id}' has no job for practice '{practice}'"
        )));
    };
    if !matches!(kind.as_str(), "scheduled" | "manual") {
        return Err(Refusal::Invalid(format!(
            "run '{run_id}' is a {kind} run: values are entered for national runs only"
        )));
    }
    Ok(Target {
        job_id,
        query_source,
        query_hash,
        parameters,
        manual_collection: method == "manual",
    })
}

/// Whether an agent serves the practice (an enrolled, unrevoked one).
pub async fn has_agent(db: &Db, practice: &str) -> Result<bool, Refusal> {
    let found: Option<(String,)> = sqlx::query_as(
        "SELECT a.id FROM agents a JOIN agent_practices p ON p.agent_id = a.id \
         WHERE p.practice = $1 AND a.revoked_ms IS NULL LIMIT 1",
    )
    .bind(practice)
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

/// Stores the next version of a practice's values: kept in the history,
/// made the job's result, the job `manual`; a declaration of a different
/// earlier result for the period re-opens. With its audit entry.
#[allow(clippy::too_many_arguments)]
pub async fn enter(
    db: &Db,
    run_id: &str,
    practice: &str,
    job_id: &str,
    make: impl FnOnce(u32) -> Result<(String, ContentHash), Refusal>,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<ManualEntry, Refusal> {
    let mut tx = db.write().await?;
    let (state,): (String,) = sqlx::query_as("SELECT state FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(&mut *tx)
        .await?;
    if !matches!(state.as_str(), "pending" | "expired" | "failed" | "manual") {
        return Err(Refusal::WrongState {
            job: job_id.to_owned(),
            state,
            what: "values are entered only for a job no agent holds or has answered".into(),
        });
    }
    let (last,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(version) FROM manual_entries WHERE job_id = $1")
            .bind(job_id)
            .fetch_one(&mut *tx)
            .await?;
    let version = u32::try_from(last.unwrap_or(0) + 1)
        .map_err(|_| Refusal::Store("manual entry version out of range".into()))?;
    let (extract, hash) = make(version)?;
    sqlx::query(
        "INSERT INTO manual_entries (job_id, version, run_id, practice, extract, extract_hash, \
         entered_ms, entered_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(job_id)
    .bind(i64::from(version))
    .bind(run_id)
    .bind(practice)
    .bind(&extract)
    .bind(hash.to_string())
    .bind(to_i64(now_ms))
    .bind(who.actor)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM results WHERE job_id = $1")
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO results (job_id, run_id, agent_id, extract, extract_hash, stored_ms, late) \
         VALUES ($1, $2, $3, $4, $5, $6, 0)",
    )
    .bind(job_id)
    .bind(run_id)
    .bind(format!("manual:{}", who.actor))
    .bind(&extract)
    .bind(hash.to_string())
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE jobs SET state = 'manual', lease_until_ms = NULL, updated_ms = $2 WHERE id = $1",
    )
    .bind(job_id)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        db,
        &audit::Entry {
            detail: serde_json::json!({
                "run": run_id,
                "practice": practice,
                "version": version,
                "extract_hash": hash.to_string(),
            }),
            ..who.clone()
        },
        now_ms,
    )
    .await?;
    super::declarations::reopen_for_new_result(&mut tx, db, run_id, practice, &hash, now_ms)
        .await?;
    tx.commit().await?;
    history(db, run_id, practice)
        .await?
        .pop()
        .ok_or_else(|| Refusal::Store("the entry just made is not there".into()))
}

/// Every version of a practice's values for a run, oldest first.
pub async fn history(db: &Db, run_id: &str, practice: &str) -> Result<Vec<ManualEntry>, Refusal> {
    let rows: Vec<(i64, String, String, i64, String)> = sqlx::query_as(
        "SELECT version, extract, extract_hash, entered_ms, entered_by FROM manual_entries \
         WHERE run_id = $1 AND practice = $2 ORDER BY version",
    )
    .bind(run_id)
    .bind(practice)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(version, extract, hash, entered_ms, entered_by)| {
            let extract = gpes_protocol::v1::read_stored_extract(&extract)
                .map_err(|e| Refusal::Store(format!("a stored entry does not read: {e}")))?;
            let populations: Vec<PopulationCount> = match extract.result.output {
                ResultOutput::Aggregate(a) => a.populations,
                ResultOutput::RecordLevel(_) => Vec::new(),
            };
            Ok(ManualEntry {
                run_id: run_id.to_owned(),
                practice: practice.to_owned(),
                version: u32::try_from(version).unwrap_or(0),
                extract_hash: hash
                    .parse()
                    .map_err(|e| Refusal::Store(format!("stored hash does not read: {e}")))?,
                populations,
                entered_ms: to_u64(entered_ms),
                entered_by,
            })
        })
        .collect()
}
