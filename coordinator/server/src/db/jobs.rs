//! Runs, jobs and results: firing a run, leasing jobs to agents, failure
//! reports and retries, storing uploads, expiry and cancellation, and the
//! paginated views. Every read here is bounded by what it returns: a poll
//! reads the waiting jobs of one agent's practices (the partial index
//! `jobs_waiting`), a run's view that run's jobs (`jobs_by_run`).

use super::{Backend, Db, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::collections::resolve_parameters;
use crate::domain::jobs::{self, Expected, MAX_ATTEMPTS, retry_backoff_ms};
use gpes_canon::ContentHash;
use gpes_protocol::{
    Collection, DataClass, FailureAck, FailureReport, Job, JobCounts, JobStatus, Purpose, QueryRef,
    QuerySpec, Receipt, ResultOutput, ResultRow, Run, RunKind, RunSummary, UploadRequest,
};
use sqlx::AssertSqlSafe;
use std::collections::{BTreeMap, BTreeSet};

/// Turns a collection into a run due at `due_ms` with one job per
/// practice, in one transaction. Idempotent: a run is unique per
/// collection and due time in the schema, so a second firing (another
/// replica, a restart) returns the run already made. `only` names the
/// practices of a dry run (test practices) or an ad-hoc run (the
/// practice asking), instead of the collection's targeting.
#[allow(clippy::too_many_arguments)]
pub async fn fire(
    db: &Db,
    collection: &Collection,
    due_ms: u64,
    now_ms: u64,
    run_date: &str,
    kind: RunKind,
    only: Option<&BTreeSet<String>>,
    who: Option<&super::audit::Entry<'_>>,
) -> Result<(Run, bool), Refusal> {
    let run_id = match kind {
        RunKind::Scheduled | RunKind::Manual => format!("{}-{}", collection.id, due_ms),
        RunKind::DryRun => format!("{}-dry-run-{}", collection.id, due_ms),
        RunKind::Adhoc => format!("{}-adhoc-{}", collection.id, due_ms),
    };
    let parameters = resolve_parameters(&collection.parameters, run_date);
    let deadline_ms = due_ms.saturating_add(collection.deadline_seconds.saturating_mul(1000));
    let mut tx = db.write().await?;
    let inserted = sqlx::query(
        "INSERT INTO runs (id, collection_id, due_ms, created_ms, deadline_ms, parameters, \
         collection_version, query_id, query_version, kind) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (collection_id, due_ms) DO NOTHING",
    )
    .bind(&run_id)
    .bind(&collection.id)
    .bind(to_i64(due_ms))
    .bind(to_i64(now_ms))
    .bind(to_i64(deadline_ms))
    .bind(serde_json::to_string(&parameters).map_err(|e| Refusal::Store(e.to_string()))?)
    .bind(i64::from(collection.version))
    .bind(&collection.query_ref.id)
    .bind(i64::from(collection.query_ref.version))
    .bind(kind.as_str())
    .execute(&mut *tx)
    .await?;
    let created = inserted.rows_affected() == 1;
    if created {
        // The practices now: closed ones drop out, merged ones go to their
        // successor, targeted regions and suppliers are read afresh.
        let (practices, notes) = match only {
            Some(set) => (set.clone(), Vec::new()),
            None => {
                super::practices::resolve_targets(
                    &mut tx,
                    &collection.practices,
                    &collection.targeting,
                )
                .await?
            }
        };
        for note in &notes {
            tracing::warn!(run = %run_id, "{note}");
        }
        // Where each stands now: an offered collection extracts only
        // those who accepted, by decision or standing preference; the
        // rest are kept in the run as not participating, with why. A dry
        // or ad-hoc run extracts exactly the practices it names.
        let standing = match only {
            Some(_) => BTreeMap::new(),
            None => super::participation::states_in(&mut tx, collection, &practices).await?,
        };
        for practice in &practices {
            let (state, participation) = match standing.get(practice) {
                Some(s) if s.takes_part() => ("pending", s.as_str()),
                Some(s) => ("not-participating", s.as_str()),
                None if only.is_some() => ("pending", kind.as_str()),
                None => ("pending", "mandatory"),
            };
            sqlx::query(
                "INSERT INTO jobs (id, run_id, practice, state, not_before_ms, deadline_ms, \
                 attempts, updated_ms, participation) VALUES ($1, $2, $3, $4, 0, $5, 0, $6, $7)",
            )
            .bind(format!("{run_id}-{practice}"))
            .bind(&run_id)
            .bind(practice)
            .bind(state)
            .bind(to_i64(deadline_ms))
            .bind(to_i64(now_ms))
            .bind(participation)
            .execute(&mut *tx)
            .await?;
        }
        super::wakeups::jobs_made(&mut tx, db).await?;
        if let Some(who) = who {
            let detail = serde_json::json!({ "run": run_id, "parameters": parameters });
            super::audit::append(
                &mut tx,
                db,
                &super::audit::Entry {
                    detail,
                    ..who.clone()
                },
                now_ms,
            )
            .await?;
        }
    }
    tx.commit().await?;
    let run = run_by_collection_due(db, &collection.id, due_ms).await?;
    Ok((run, created))
}

#[derive(Debug, sqlx::FromRow)]
struct RunRow {
    id: String,
    collection_id: String,
    due_ms: i64,
    deadline_ms: i64,
    parameters: String,
    cancelled_ms: Option<i64>,
    name: String,
    collection_version: i64,
    query_id: Option<String>,
    query_version: Option<i64>,
    kind: String,
}

const RUN_COLUMNS: &str = "r.id, r.collection_id, r.due_ms, r.deadline_ms, r.parameters, \
                           r.cancelled_ms, c.name, r.collection_version, r.query_id, \
                           r.query_version, r.kind";

impl RunRow {
    fn into_run(self, job_count: u64) -> Result<(Run, String), Refusal> {
        Ok((
            Run {
                id: self.id,
                collection_id: self.collection_id,
                fired_ms: to_u64(self.due_ms),
                deadline_ms: to_u64(self.deadline_ms),
                parameters: serde_json::from_str(&self.parameters)
                    .map_err(|e| Refusal::Store(e.to_string()))?,
                job_count,
                cancelled_ms: self.cancelled_ms.map(to_u64),
                collection_version: u32::try_from(self.collection_version).unwrap_or(0),
                query_ref: match (self.query_id, self.query_version) {
                    (Some(id), Some(version)) => Some(QueryRef {
                        id,
                        version: u32::try_from(version).unwrap_or(0),
                    }),
                    _ => None,
                },
                kind: serde_json::from_value(serde_json::Value::String(self.kind.clone()))
                    .map_err(|_| Refusal::Store(format!("run kind '{}' stored", self.kind)))?,
            },
            self.name,
        ))
    }
}

async fn run_by_collection_due(db: &Db, collection: &str, due_ms: u64) -> Result<Run, Refusal> {
    let row: RunRow = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM runs r JOIN collections c ON c.id = r.collection_id \
         WHERE r.collection_id = $1 AND r.due_ms = $2"
    )))
    .bind(collection)
    .bind(to_i64(due_ms))
    .fetch_one(db.pool())
    .await?;
    let id = row.id.clone();
    Ok(summary_of(db, row, &id).await?.run)
}

async fn summary_of(db: &Db, row: RunRow, id: &str) -> Result<RunSummary, Refusal> {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM jobs WHERE run_id = $1 GROUP BY state")
            .bind(id)
            .fetch_all(db.pool())
            .await?;
    let (late,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM results WHERE run_id = $1 AND late = 1")
            .bind(id)
            .fetch_one(db.pool())
            .await?;
    let mut jobs = JobCounts {
        late: to_u64(late),
        ..JobCounts::default()
    };
    for (state, n) in counts {
        let n = to_u64(n);
        match jobs::parse_state(&state)? {
            JobStatus::Pending => jobs.pending += n,
            JobStatus::Leased => jobs.leased += n,
            JobStatus::Done => jobs.done += n,
            JobStatus::Failed => jobs.failed += n,
            JobStatus::Expired => jobs.expired += n,
            JobStatus::Cancelled => jobs.cancelled += n,
            JobStatus::NotParticipating => jobs.not_participating += n,
            JobStatus::Manual => jobs.manual += n,
        }
    }
    let (run, collection_name) = row.into_run(jobs.total())?;
    Ok(RunSummary {
        run,
        collection_name,
        jobs,
    })
}

pub async fn run_summary(db: &Db, run_id: &str) -> Result<RunSummary, Refusal> {
    let row: RunRow = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM runs r JOIN collections c ON c.id = r.collection_id WHERE r.id = $1"
    )))
    .bind(run_id)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Refusal::UnknownRun(run_id.to_owned()))?;
    summary_of(db, row, run_id).await
}

/// A page of runs, newest first. The cursor is the last run's due time
/// and id.
pub async fn runs_page(
    db: &Db,
    cursor: Option<(u64, String)>,
    collection: Option<&str>,
    limit: u32,
) -> Result<(Vec<RunSummary>, Option<(u64, String)>), Refusal> {
    let (due, id) = cursor.unwrap_or((u64::MAX, String::new()));
    let due = to_i64(due);
    let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM runs r JOIN collections c ON c.id = r.collection_id \
         WHERE (r.due_ms < $1 OR (r.due_ms = $1 AND r.id < $2)) \
         AND ($3 = '' OR r.collection_id = $3) \
         ORDER BY r.due_ms DESC, r.id DESC LIMIT $4"
    )))
    .bind(due)
    .bind(&id)
    .bind(collection.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let fetched = rows.len();
    let mut out = Vec::new();
    for row in rows.into_iter().take(limit as usize) {
        let id = row.id.clone();
        out.push(summary_of(db, row, &id).await?);
    }
    let next = super::next_cursor(fetched, limit, &out, |s| (s.run.fired_ms, s.run.id.clone()));
    Ok((out, next))
}

#[derive(Debug, sqlx::FromRow)]
struct ResultLine {
    id: String,
    practice: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    extract_hash: Option<String>,
    extract: Option<String>,
    stored_ms: Option<i64>,
    late: Option<i64>,
    participation: Option<String>,
}

/// The stored extract of one practice's job in a run, for the audited
/// record-level download: (job id, extract
/// hash, extract), or `None` when nothing is stored for it.
pub async fn stored_extract(
    db: &Db,
    run_id: &str,
    practice: &str,
) -> Result<Option<(String, String, String)>, Refusal> {
    Ok(sqlx::query_as(
        "SELECT j.id, s.extract_hash, s.extract FROM jobs j JOIN results s ON s.job_id = j.id \
         WHERE j.run_id = $1 AND j.practice = $2",
    )
    .bind(run_id)
    .bind(practice)
    .fetch_optional(db.pool())
    .await?)
}

/// A page of a run's per-practice lines, in practice order after
/// `after`, at most `limit` lines and about `max_bytes` of extracts (at
/// least one line). Record-level answers are not included: they are a
/// download of their own.
pub async fn results_page(
    db: &Db,
    run_id: &str,
    only: Option<&str>,
    after: Option<&str>,
    limit: u32,
    max_bytes: usize,
) -> Result<(Vec<ResultRow>, Option<String>), Refusal> {
    let rows: Vec<ResultLine> = sqlx::query_as(
        "SELECT j.id, j.practice, j.state, j.attempts, j.last_error, s.extract_hash, s.extract, \
         s.stored_ms, s.late, j.participation FROM jobs j LEFT JOIN results s ON s.job_id = j.id \
         WHERE j.run_id = $1 AND j.practice > $2 AND ($4 = '' OR j.practice = $4) \
         ORDER BY j.practice LIMIT $3",
    )
    .bind(run_id)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .bind(only.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    let mut more = rows.len() > limit as usize;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for line in rows.into_iter().take(limit as usize) {
        let size = line.extract.as_ref().map_or(0, String::len) + 256;
        if !out.is_empty() && bytes + size > max_bytes {
            more = true;
            break;
        }
        bytes += size;
        let extract = line
            .extract
            .as_deref()
            .and_then(|e| gpes_protocol::v1::read_stored_extract(e).ok());
        let (result, warnings) = match extract {
            Some(e) => match e.result.output {
                ResultOutput::Aggregate(_) => (Some(e.result), e.data_quality_warnings),
                ResultOutput::RecordLevel(_) => (None, e.data_quality_warnings),
            },
            None => (None, Vec::new()),
        };
        out.push(ResultRow {
            job_id: line.id,
            practice: line.practice,
            status: jobs::parse_state(&line.state)?,
            attempts: to_u64(line.attempts),
            last_error: line.last_error,
            stored_ms: line.stored_ms.map(to_u64),
            late: line.late == Some(1),
            extract_hash: line
                .extract_hash
                .and_then(|h| h.parse::<ContentHash>().ok()),
            result,
            data_quality_warnings: warnings,
            participation: line.participation,
        });
    }
    let next = if more {
        out.last().map(|r| r.practice.clone())
    } else {
        None
    };
    Ok((out, next))
}

#[derive(Debug, sqlx::FromRow)]
struct JobContext {
    id: String,
    practice: String,
    state: String,
    agent_id: Option<String>,
    attempts: i64,
    lease_until_ms: Option<i64>,
    run_id: String,
    collection_id: String,
    parameters: String,
    run_deadline_ms: i64,
    query_canonical: String,
    query_hash: String,
    query_source: String,
    purpose: String,
    data_class: String,
}

const JOB_CONTEXT: &str = "SELECT j.id, j.practice, j.state, j.agent_id, j.attempts, \
     j.lease_until_ms, j.run_id, r.collection_id, r.parameters, r.deadline_ms AS run_deadline_ms, \
     c.query_canonical, c.query_hash, c.query_source, c.purpose, c.data_class \
     FROM jobs j JOIN runs r ON r.id = j.run_id JOIN collections c ON c.id = r.collection_id \
     WHERE j.id = $1";

impl JobContext {
    fn parameters(&self) -> Result<BTreeMap<String, String>, Refusal> {
        serde_json::from_str(&self.parameters).map_err(|e| Refusal::Store(e.to_string()))
    }
    fn query_hash(&self) -> Result<ContentHash, Refusal> {
        self.query_hash
            .parse()
            .map_err(|e| Refusal::Store(format!("stored query hash does not read: {e}")))
    }
    fn to_job(&self) -> Result<Job, Refusal> {
        let text = |s: &str| serde_json::Value::String(s.to_owned());
        Ok(Job {
            job_id: self.id.clone(),
            collection_id: self.collection_id.clone(),
            run_id: self.run_id.clone(),
            practice: self.practice.clone(),
            query: QuerySpec {
                canonical: self.query_canonical.clone(),
                hash: self.query_hash()?,
                source: self.query_source.clone(),
            },
            parameters: self.parameters()?,
            purpose: serde_json::from_value::<Purpose>(text(&self.purpose))
                .map_err(|e| Refusal::Store(e.to_string()))?,
            data_class: serde_json::from_value::<DataClass>(text(&self.data_class))
                .map_err(|e| Refusal::Store(e.to_string()))?,
            lease_expires_ms: self.lease_until_ms.map_or(0, to_u64),
        })
    }
}

async fn job_context<'e, E>(executor: E, job_id: &str) -> Result<JobContext, Refusal>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_as::<_, JobContext>(JOB_CONTEXT)
        .bind(job_id)
        .fetch_optional(executor)
        .await?
        .ok_or_else(|| Refusal::UnknownJob(job_id.to_owned()))
}

/// What a poll asks for.
#[derive(Debug, Clone)]
pub struct LeaseRequest<'a> {
    pub agent_id: &'a str,
    /// Restrict to these practices (all the agent serves when empty);
    /// already checked to be the agent's.
    pub only: &'a [String],
    /// Jobs the agent holds sealed: their leases are extended, and they
    /// are not handed out again.
    pub held: &'a [String],
    pub now_ms: u64,
    pub lease_ms: u64,
    pub limit: u32,
}

/// Hands out the jobs waiting for an agent's practices: pending ones
/// (past any retry backoff), ones whose lease expired, and ones leased to
/// this same agent that it no longer holds (it restarted). Extends the
/// leases of the jobs it holds. One transaction.
pub async fn lease(db: &Db, request: &LeaseRequest<'_>) -> Result<Vec<Job>, Refusal> {
    let now = to_i64(request.now_ms);
    let until = to_i64(request.now_ms.saturating_add(request.lease_ms));
    // Most polls find nothing: a read says so without queueing for the
    // write lock (on SQLite every write transaction takes it), which
    // matters when a new run wakes every waiting long-poll at once.
    if request.held.is_empty() {
        let any: Option<(String,)> = sqlx::query_as(
            "SELECT j.id FROM jobs j \
             WHERE j.practice IN (SELECT practice FROM agent_practices WHERE agent_id = $1) \
             AND j.state IN ('pending', 'leased') AND j.deadline_ms > $2 \
             AND ((j.state = 'pending' AND j.not_before_ms <= $2) \
                  OR (j.state = 'leased' AND (j.lease_until_ms <= $2 OR j.agent_id = $1))) \
             LIMIT 1",
        )
        .bind(request.agent_id)
        .bind(now)
        .fetch_optional(db.pool())
        .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
    }
    let mut tx = db.write().await?;
    for held in request.held {
        sqlx::query(
            "UPDATE jobs SET lease_until_ms = $3 WHERE id = $1 AND agent_id = $2 AND state = 'leased'",
        )
        .bind(held)
        .bind(request.agent_id)
        .bind(until)
        .execute(&mut *tx)
        .await?;
    }
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let candidates: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT j.id, j.practice FROM jobs j \
         WHERE j.practice IN (SELECT practice FROM agent_practices WHERE agent_id = $1) \
         AND j.state IN ('pending', 'leased') AND j.deadline_ms > $2 \
         AND ((j.state = 'pending' AND j.not_before_ms <= $2) \
              OR (j.state = 'leased' AND (j.lease_until_ms <= $2 OR j.agent_id = $1))) \
         ORDER BY j.id LIMIT $3{lock}"
    )))
    .bind(request.agent_id)
    .bind(now)
    .bind(i64::from(request.limit) * 4)
    .fetch_all(&mut *tx)
    .await?;
    let mut jobs = Vec::new();
    for (id, practice) in candidates {
        if jobs.len() >= request.limit as usize {
            break;
        }
        if request.held.contains(&id)
            || (!request.only.is_empty() && !request.only.contains(&practice))
        {
            continue;
        }
        sqlx::query(
            "UPDATE jobs SET state = 'leased', agent_id = $2, lease_until_ms = $3, updated_ms = $4 \
             WHERE id = $1",
        )
        .bind(&id)
        .bind(request.agent_id)
        .bind(until)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO job_agents (job_id, agent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(request.agent_id)
        .execute(&mut *tx)
        .await?;
        jobs.push(job_context(&mut *tx, &id).await?.to_job()?);
    }
    tx.commit().await?;
    Ok(jobs)
}

/// Records an agent's failed extraction: retried after a backoff while
/// the reason is retryable and attempts remain, failed otherwise.
pub async fn report_failure(
    db: &Db,
    agent_id: &str,
    report: &FailureReport,
    now_ms: u64,
) -> Result<FailureAck, Refusal> {
    let mut tx = db.write().await?;
    let job = job_context(&mut *tx, &report.job_id).await?;
    if job.agent_id.as_deref() != Some(agent_id) {
        return Err(Refusal::NotYourJob {
            job: report.job_id.clone(),
            agent: agent_id.to_owned(),
        });
    }
    if job.state != "leased" {
        return Err(Refusal::WrongState {
            job: job.id,
            state: job.state,
            what: "only a job handed to the agent can fail".into(),
        });
    }
    let reason: String = report.reason.chars().take(2000).collect();
    let attempts = job.attempts + 1;
    let retry = report.retryable && attempts < MAX_ATTEMPTS;
    let (state, not_before) = if retry {
        ("pending", to_i64(now_ms) + retry_backoff_ms(job.attempts))
    } else {
        ("failed", 0)
    };
    sqlx::query(
        "UPDATE jobs SET state = $2, attempts = $3, last_error = $4, not_before_ms = $5, \
         lease_until_ms = NULL, updated_ms = $6 WHERE id = $1",
    )
    .bind(&job.id)
    .bind(state)
    .bind(attempts)
    .bind(&reason)
    .bind(not_before)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(FailureAck {
        job_id: job.id,
        status: if retry {
            JobStatus::Pending
        } else {
            JobStatus::Failed
        },
        retry_at_ms: retry.then(|| to_u64(not_before)),
    })
}

/// Stores an uploaded extract, idempotently, and returns the receipt once
/// committed. The same extract again is acknowledged again; a different one
/// for a job already stored is refused and the stored one kept. An upload
/// for a job whose lease expired, that expired, or whose run was
/// cancelled is still stored (marked late past the deadline): an extract a
/// site buffered is never dropped. The extract is stored as its agent
/// sealed it, in the protocol `version` it spoke (readers go through
/// `gpes_protocol::v1::read_stored_extract`).
/// Whether an upload is already settled: refused because the agent never
/// held the job, or answered by the result stored before (the same hash
/// acknowledged again, another refused). `None`: it may be stored.
async fn settled(
    conn: &mut sqlx::AnyConnection,
    agent_id: &str,
    upload: &UploadRequest,
) -> Result<Option<Result<Receipt, Refusal>>, Refusal> {
    let held: Option<(String,)> =
        sqlx::query_as("SELECT agent_id FROM job_agents WHERE job_id = $1 AND agent_id = $2")
            .bind(&upload.job_id)
            .bind(agent_id)
            .fetch_optional(&mut *conn)
            .await?;
    if held.is_none() {
        // An unknown job says so, rather than "not yours".
        job_context(&mut *conn, &upload.job_id).await?;
        return Ok(Some(Err(Refusal::NotYourJob {
            job: upload.job_id.clone(),
            agent: agent_id.to_owned(),
        })));
    }
    let stored: Option<(String, i64)> =
        sqlx::query_as("SELECT extract_hash, stored_ms FROM results WHERE job_id = $1")
            .bind(&upload.job_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((hash, stored_ms)) = stored else {
        return Ok(None);
    };
    let hash: ContentHash = hash
        .parse()
        .map_err(|e| Refusal::Store(format!("stored hash does not read: {e}")))?;
    Ok(Some(if hash == upload.extract_hash {
        Ok(Receipt {
            job_id: upload.job_id.clone(),
            extract_hash: hash,
            stored_ms: to_u64(stored_ms),
        })
    } else {
        Err(Refusal::Conflict {
            job: upload.job_id.clone(),
            stored: hash,
            offered: upload.extract_hash,
        })
    }))
}

pub async fn accept_upload(
    db: &Db,
    agent_id: &str,
    upload: &UploadRequest,
    version: u32,
    now_ms: u64,
) -> Result<Receipt, Refusal> {
    // The checks that cost (parsing the query, reading and re-hashing the
    // extract) run before the write transaction, so the write lock (all
    // of SQLite, the audit head on PostgreSQL) is held only for the
    // writes; what they read is read again inside it.
    let job = {
        let mut conn = db.pool().acquire().await?;
        if let Some(receipt) = settled(&mut conn, agent_id, upload).await? {
            return receipt;
        }
        job_context(&mut *conn, &upload.job_id).await?
    };
    let spec = gpes_query::parse("query", &job.query_source)
        .map_err(|e| Refusal::Store(format!("the stored query does not parse: {e}")))?;
    let parameters = job.parameters()?;
    let query_hash = job.query_hash()?;
    jobs::check_upload(
        upload,
        version,
        &Expected {
            practice: &job.practice,
            query_hash: &query_hash,
            parameters: &parameters,
            output: &spec.output,
        },
    )?;
    let mut tx = db.write().await?;
    if let Some(receipt) = settled(&mut tx, agent_id, upload).await? {
        return receipt;
    }
    let job = job_context(&mut *tx, &upload.job_id).await?;
    let late = to_i64(now_ms) > job.run_deadline_ms;
    sqlx::query(
        "INSERT INTO results (job_id, run_id, agent_id, extract, extract_hash, stored_ms, late) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&upload.job_id)
    .bind(&job.run_id)
    .bind(agent_id)
    .bind(&upload.extract)
    .bind(upload.extract_hash.to_string())
    .bind(to_i64(now_ms))
    .bind(i64::from(late))
    .execute(&mut *tx)
    .await?;
    if job.state != "cancelled" {
        sqlx::query(
            "UPDATE jobs SET state = 'done', agent_id = $2, lease_until_ms = NULL, updated_ms = $3 \
             WHERE id = $1",
        )
        .bind(&upload.job_id)
        .bind(agent_id)
        .bind(to_i64(now_ms))
        .execute(&mut *tx)
        .await?;
    }
    super::audit::append(
        &mut tx,
        db,
        &super::audit::Entry {
            actor: &format!("agent:{agent_id}"),
            grant: "agent",
            action: "result.store",
            target: &upload.job_id,
            detail: serde_json::json!({
                "run": job.run_id,
                "extract_hash": upload.extract_hash.to_string(),
                "late": late,
            }),
        },
        now_ms,
    )
    .await?;
    // A recalculation re-opens what the practice declared for the period.
    super::declarations::reopen_for_new_result(
        &mut tx,
        db,
        &job.run_id,
        &job.practice,
        &upload.extract_hash,
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(Receipt {
        job_id: upload.job_id.clone(),
        extract_hash: upload.extract_hash,
        stored_ms: now_ms,
    })
}

/// Expires the waiting jobs of runs past their deadline. Returns how many.
pub async fn expire_due(db: &Db, now_ms: u64) -> Result<u64, Refusal> {
    let mut tx = db.write().await?;
    let done = sqlx::query(
        "UPDATE jobs SET state = 'expired', lease_until_ms = NULL, updated_ms = $1 \
         WHERE state IN ('pending', 'leased') AND deadline_ms <= $1",
    )
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Cancels a run: its waiting jobs are cancelled (an extract already
/// buffered at a site is still stored when it arrives).
pub async fn cancel_run(
    db: &Db,
    run_id: &str,
    now_ms: u64,
    who: &super::audit::Entry<'_>,
) -> Result<RunSummary, Refusal> {
    let mut tx = db.write().await?;
    let updated =
        sqlx::query("UPDATE runs SET cancelled_ms = $2 WHERE id = $1 AND cancelled_ms IS NULL")
            .bind(run_id)
            .bind(to_i64(now_ms))
            .execute(&mut *tx)
            .await?;
    if updated.rows_affected() == 0 {
        let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(Refusal::UnknownRun(run_id.to_owned()));
        }
    }
    sqlx::query(
        "UPDATE jobs SET state = 'cancelled', lease_until_ms = NULL, updated_ms = $2 \
         WHERE run_id = $1 AND state IN ('pending', 'leased')",
    )
    .bind(run_id)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    super::audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    run_summary(db, run_id).await
}

/// Deletes a dry run, its jobs and results, with an audit entry naming
/// it. Refused for any other kind of run, and for a dry run with jobs
/// still waiting or held by an agent (cancel it first). Returns how many
/// jobs went.
pub async fn delete_dry_run(
    db: &Db,
    run_id: &str,
    now_ms: u64,
    who: &super::audit::Entry<'_>,
) -> Result<u64, Refusal> {
    let mut tx = db.write().await?;
    let found: Option<(String,)> = sqlx::query_as("SELECT kind FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((kind,)) = found else {
        return Err(Refusal::UnknownRun(run_id.to_owned()));
    };
    if kind != RunKind::DryRun.as_str() {
        return Err(Refusal::Exists(format!(
            "run '{run_id}' is a {kind} run: only dry runs are deleted; every other run is kept"
        )));
    }
    let (open,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE run_id = $1 AND state IN ('pending', 'leased')",
    )
    .bind(run_id)
    .fetch_one(&mut *tx)
    .await?;
    if open > 0 {
        return Err(Refusal::Exists(format!(
            "dry run '{run_id}' still has {open} jobs waiting or running: cancel it first"
        )));
    }
    for sql in [
        "DELETE FROM results WHERE run_id = $1",
        "DELETE FROM job_agents WHERE job_id IN (SELECT id FROM jobs WHERE run_id = $1)",
    ] {
        sqlx::query(sql).bind(run_id).execute(&mut *tx).await?;
    }
    let jobs = sqlx::query("DELETE FROM jobs WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM runs WHERE id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    super::audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    Ok(jobs)
}

/// Offers a run's failed jobs again, with fresh attempts. Returns how many.
/// Refused, changing nothing, when the run has no failed jobs.
pub async fn retry_failed(
    db: &Db,
    run_id: &str,
    now_ms: u64,
    who: &super::audit::Entry<'_>,
) -> Result<u64, Refusal> {
    let mut tx = db.write().await?;
    let run: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT deadline_ms, cancelled_ms FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((deadline, cancelled)) = run else {
        return Err(Refusal::UnknownRun(run_id.to_owned()));
    };
    if cancelled.is_some() {
        return Err(Refusal::Invalid(format!(
            "run '{run_id}' was cancelled; its jobs are not retried"
        )));
    }
    if deadline <= to_i64(now_ms) {
        return Err(Refusal::Invalid(format!(
            "run '{run_id}' is past its deadline; make a new run instead"
        )));
    }
    let done = sqlx::query(
        "UPDATE jobs SET state = 'pending', attempts = 0, not_before_ms = 0, updated_ms = $2 \
         WHERE run_id = $1 AND state = 'failed'",
    )
    .bind(run_id)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    let retried = done.rows_affected();
    if retried == 0 {
        return Err(Refusal::Invalid(format!(
            "run '{run_id}' has no failed jobs"
        )));
    }
    super::wakeups::jobs_made(&mut tx, db).await?;
    let detail = serde_json::json!({ "jobs": retried });
    super::audit::append(
        &mut tx,
        db,
        &super::audit::Entry {
            detail,
            ..who.clone()
        },
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(retried)
}

/// One practice's line of a run for its own view: the job's state and
/// participation, and the stored result with who stored it and when.
#[derive(Debug)]
pub struct PracticeLine {
    pub state: String,
    pub participation: Option<String>,
    /// (stored by, extract, extract hash, stored at)
    pub stored: Option<(String, String, String, u64)>,
}

pub async fn practice_line(
    db: &Db,
    run_id: &str,
    practice: &str,
) -> Result<Option<PracticeLine>, Refusal> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT j.state, j.participation, s.agent_id, s.extract, s.extract_hash, s.stored_ms \
         FROM jobs j LEFT JOIN results s ON s.job_id = j.id \
         WHERE j.run_id = $1 AND j.practice = $2",
    )
    .bind(run_id)
    .bind(practice)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(
        |(state, participation, by, extract, hash, at)| PracticeLine {
            state,
            participation,
            stored: match (by, extract, hash, at) {
                (Some(by), Some(e), Some(h), Some(at)) => Some((by, e, h, to_u64(at))),
                _ => None,
            },
        },
    ))
}
