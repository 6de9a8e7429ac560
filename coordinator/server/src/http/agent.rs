//! The agent listener's routes: long-poll for jobs (with a heartbeat and
//! the jobs the agent holds), upload a sealed extract, report a failed
//! extraction. The poll and the upload also serve agents one protocol
//! version behind (`gpes_protocol::v1`), answered in their version.

use super::auth::Agent;
use super::body::{AGENT_LIMIT, JsonBody, OPERATOR_LIMIT, read_json};
use super::error::ApiError;
use super::{App, PeerVersion};
use crate::db;
use crate::db::jobs::LeaseRequest;
use crate::domain::Refusal;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use gpes_protocol::{
    FailureAck, FailureReport, PROTOCOL_VERSION, PollRequest, PollResponse, UploadRequest, v1,
};
use serde::Serialize;
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

/// A poll's body in the version its agent speaks, read as the current
/// request (a version 1 agent sends no heartbeat and no held jobs).
struct PollBody {
    version: u32,
    request: PollRequest,
}

impl<S: Send + Sync> FromRequest<S> for PollBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let version = spoken(&req);
        let request = if version == v1::VERSION {
            read_json::<v1::PollRequest>(req, OPERATOR_LIMIT)
                .await?
                .into_current()
        } else {
            read_json::<PollRequest>(req, OPERATOR_LIMIT).await?
        };
        Ok(PollBody { version, request })
    }
}

/// The version the middleware found the request to speak.
fn spoken(req: &Request) -> u32 {
    req.extensions()
        .get::<PeerVersion>()
        .map_or(PROTOCOL_VERSION, |v| v.0)
}

/// An answer in the version its agent speaks.
fn answer<T: Serialize, Old: Serialize + From<T>>(version: u32, value: T) -> Response {
    if version == v1::VERSION {
        Json(Old::from(value)).into_response()
    } else {
        Json(value).into_response()
    }
}

async fn poll(
    State(app): State<Arc<App>>,
    agent: Agent,
    body: PollBody,
) -> Result<Response, ApiError> {
    let PollBody {
        version,
        request: poll,
    } = body;
    for p in &poll.practices {
        if !agent.practices.contains(p) {
            return Err(Refusal::NotYourPractice {
                agent: agent.id.clone(),
                practice: p.clone(),
            }
            .into());
        }
    }
    heartbeat(&app, &agent, &poll, version).await;
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
            return Ok(answer::<_, v1::PollResponse>(
                version,
                PollResponse { jobs },
            ));
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(answer::<_, v1::PollResponse>(
                version,
                PollResponse { jobs: vec![] },
            ));
        }
    }
}

/// Writes the agent's heartbeat when the last is a minute old.
async fn heartbeat(app: &App, agent: &Agent, poll: &PollRequest, version: u32) {
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
    if let Err(e) =
        db::agents::record_heartbeat(&app.db, &agent.id, poll.heartbeat.as_ref(), version, now)
            .await
    {
        tracing::warn!(agent = %agent.id, error = %e, "could not record a heartbeat");
    }
}

async fn upload(
    State(app): State<Arc<App>>,
    agent: Agent,
    Extension(PeerVersion(version)): Extension<PeerVersion>,
    JsonBody(upload): JsonBody<UploadRequest, AGENT_LIMIT>,
) -> Result<Response, ApiError> {
    let receipt =
        db::jobs::accept_upload(&app.db, &agent.id, &upload, version, app.now_ms()).await?;
    tracing::info!(agent = %agent.id, job = %receipt.job_id, hash = %receipt.extract_hash, protocol = version, "result stored");
    Ok(answer::<_, v1::Receipt>(version, receipt))
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
