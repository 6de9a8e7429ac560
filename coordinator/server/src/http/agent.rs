//! The agent listener's routes: long-poll for jobs (with a heartbeat and
//! the jobs the agent holds), upload a sealed extract, report a failed
//! extraction.

use super::App;
use super::auth::Agent;
use super::body::{AGENT_LIMIT, JsonBody, OPERATOR_LIMIT};
use super::error::ApiError;
use crate::db;
use crate::db::jobs::LeaseRequest;
use crate::domain::Refusal;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use gpes_protocol::{
    FailureAck, FailureReport, PROTOCOL_VERSION, PollRequest, PollResponse, Receipt, UploadRequest,
};
use std::sync::Arc;
use std::time::Duration;

/// Longest a long-poll is held.
pub const MAX_POLL: Duration = Duration::from_secs(30);
/// Most jobs handed out by one poll.
const JOBS_PER_POLL: u32 = 64;
/// A heartbeat is written at most this often per agent.
const HEARTBEAT_EVERY_MS: u64 = 60_000;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/jobs/poll", post(poll))
        .route("/v1/results", post(upload))
        .route("/v1/failures", post(failure))
}

async fn poll(
    State(app): State<Arc<App>>,
    agent: Agent,
    JsonBody(poll): JsonBody<PollRequest, OPERATOR_LIMIT>,
) -> Result<Json<PollResponse>, ApiError> {
    for p in &poll.practices {
        if !agent.practices.contains(p) {
            return Err(Refusal::NotYourPractice {
                agent: agent.id.clone(),
                practice: p.clone(),
            }
            .into());
        }
    }
    heartbeat(&app, &agent, &poll).await;
    let wait = Duration::from_millis(poll.wait_ms).min(MAX_POLL);
    let deadline = tokio::time::Instant::now() + wait;
    let lease_ms = app.config.lease_seconds.saturating_mul(1000);
    loop {
        let notified = app.jobs_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let jobs = db::jobs::lease(
            &app.db,
            &LeaseRequest {
                agent_id: &agent.id,
                only: &poll.practices,
                held: &poll.held,
                now_ms: app.now_ms(),
                lease_ms,
                limit: JOBS_PER_POLL,
            },
        )
        .await?;
        if !jobs.is_empty() {
            tracing::info!(agent = %agent.id, jobs = jobs.len(), "jobs handed out");
            return Ok(Json(PollResponse { jobs }));
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(Json(PollResponse { jobs: vec![] }));
        }
    }
}

/// Writes the agent's heartbeat when the last is a minute old.
async fn heartbeat(app: &App, agent: &Agent, poll: &PollRequest) {
    let now = app.now_ms();
    {
        let mut last = app.heartbeats.lock().unwrap_or_else(|p| p.into_inner());
        match last.get(&agent.id) {
            Some(at) if now.saturating_sub(*at) < HEARTBEAT_EVERY_MS => return,
            _ => {
                last.insert(agent.id.clone(), now);
            }
        }
    }
    if let Err(e) = db::agents::record_heartbeat(
        &app.db,
        &agent.id,
        poll.heartbeat.as_ref(),
        PROTOCOL_VERSION,
        now,
    )
    .await
    {
        tracing::warn!(agent = %agent.id, error = %e, "could not record a heartbeat");
    }
}

async fn upload(
    State(app): State<Arc<App>>,
    agent: Agent,
    JsonBody(upload): JsonBody<UploadRequest, AGENT_LIMIT>,
) -> Result<Json<Receipt>, ApiError> {
    let receipt = db::jobs::accept_upload(&app.db, &agent.id, &upload, app.now_ms()).await?;
    tracing::info!(agent = %agent.id, job = %receipt.job_id, hash = %receipt.extract_hash, "result stored");
    Ok(Json(receipt))
}

async fn failure(
    State(app): State<Arc<App>>,
    agent: Agent,
    JsonBody(report): JsonBody<FailureReport, OPERATOR_LIMIT>,
) -> Result<Json<FailureAck>, ApiError> {
    let ack = db::jobs::report_failure(&app.db, &agent.id, &report, app.now_ms()).await?;
    tracing::warn!(agent = %agent.id, job = %report.job_id, reason = %report.reason, retryable = report.retryable, status = ?ack.status, "extraction failed at the site");
    if ack.status == gpes_protocol::JobStatus::Pending {
        app.jobs_ready.notify_waiters();
    }
    Ok(Json(ack))
}
