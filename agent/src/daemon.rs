//! The agent's main loop: upload what is buffered, long-poll for jobs, run
//! each, buffer its extract (flushed), upload it, and drop it only after the
//! receipt. When the coordinator is away, extracts wait in the buffer and
//! the loop backs off and tries again.

use crate::buffer::{Buffer, Buffered};
use crate::config::Config;
use crate::identity::Identity;
use crate::runner::Runner;
use gpes_client::{Uplink, UplinkError};
use gpes_protocol::{
    FailureAck, FailureReport, Heartbeat, PollRequest, PollResponse, PracticeHeartbeat, Receipt,
    UploadRequest,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Environment variable for fault-injection tests only: milliseconds to
/// wait between taking a job and running it.
pub const TEST_DELAY_ENV: &str = "GPES_AGENT_TEST_DELAY_BEFORE_RUN_MS";

const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Daemon {
    config: Config,
    uplink: Uplink,
    buffer: Buffer,
    runner: Runner,
    agent_id: String,
    /// Practices both configured here and granted at enrollment.
    practices: Vec<String>,
    test_delay: Option<Duration>,
    /// The last failed extraction per practice, for the heartbeat.
    last_errors: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// The daemon for `config`, running the plugins `runner` verified
    /// (`Runner::new`, before anything is opened or created).
    pub fn new(config: Config, identity: Identity, runner: Runner) -> anyhow::Result<Daemon> {
        for p in &identity.enrollment.practices {
            if config.practice(p).is_none() {
                tracing::warn!(practice = %p, "the coordinator lets this agent serve a practice the configuration does not list; its jobs are not taken");
            }
        }
        let practices: Vec<String> = config
            .practices
            .iter()
            .map(|p| p.code.clone())
            .filter(|code| {
                let granted = identity.enrollment.practices.contains(code);
                if !granted {
                    tracing::error!(practice = %code, "the configuration lists a practice this agent was not enrolled for; ask the operator for a token naming it");
                }
                granted
            })
            .collect();
        if practices.is_empty() {
            anyhow::bail!(
                "none of the configured practices is one this agent was enrolled for ({}); nothing to do",
                identity.enrollment.practices.join(", ")
            );
        }
        let buffer = Buffer::open(&config.data_dir.join("buffer"))?;
        let uplink = Uplink::new(&identity.enrollment.agent_api, identity.tls.clone())
            .map_err(anyhow::Error::msg)?;
        let test_delay = std::env::var(TEST_DELAY_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis);
        Ok(Daemon {
            practices,
            runner,
            agent_id: identity.enrollment.agent_id.clone(),
            config,
            uplink,
            buffer,
            test_delay,
            last_errors: Mutex::new(HashMap::new()),
        })
    }

    /// The practices to ask jobs for: those both enrolled and configured.
    fn practices(&self) -> Vec<String> {
        self.practices.clone()
    }

    /// Uploads one buffered extract; drops it on a receipt for its hash.
    async fn upload(&self, b: &Buffered) -> Result<(), UplinkError> {
        let receipt: Receipt = self
            .uplink
            .post(
                "/v1/results",
                &UploadRequest {
                    job_id: b.job_id.clone(),
                    extract: b.extract.clone(),
                    extract_hash: b.extract_hash,
                },
                UPLOAD_TIMEOUT,
            )
            .await?;
        if receipt.extract_hash != b.extract_hash {
            return Err(UplinkError::BadAnswer(format!(
                "the receipt for {} names hash {}, not {}",
                b.job_id, receipt.extract_hash, b.extract_hash
            )));
        }
        if let Err(e) = self.buffer.remove(&b.job_id).await {
            tracing::error!(job = %b.job_id, error = %e, "could not drop an acknowledged extract; it will be uploaded again (idempotent)");
        }
        tracing::info!(job = %b.job_id, hash = %b.extract_hash, "extract acknowledged");
        Ok(())
    }

    /// Tries every buffered extract once. Returns false if the coordinator
    /// was unreachable.
    async fn drain(&self) -> bool {
        let pending = match self.buffer.pending() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "could not read the buffer");
                return true;
            }
        };
        for b in pending {
            match self.upload(&b).await {
                Ok(()) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!(job = %b.job_id, error = %e, "upload failed; the extract stays buffered");
                    return false;
                }
                Err(e) => {
                    // Refused for good (for example a different result is
                    // already stored). Keep it for an operator to look at.
                    tracing::error!(job = %b.job_id, error = %e, "upload refused; the extract stays buffered for inspection");
                }
            }
        }
        true
    }

    pub async fn run(&self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        tracing::info!(agent = %self.agent_id, practices = ?self.practices(), "agent running");
        while !shutdown.is_cancelled() {
            let reachable = self.drain().await;
            let polled = if reachable {
                self.poll_once(&shutdown).await
            } else {
                false
            };
            if polled {
                backoff = Duration::from_millis(200);
            } else {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }

    /// One long-poll and the jobs it brings. False if the coordinator could
    /// not be reached.
    async fn poll_once(&self, shutdown: &CancellationToken) -> bool {
        let wait = Duration::from_secs(self.config.limits.poll_seconds);
        let held: Vec<String> = match self.buffer.pending() {
            Ok(p) => p.into_iter().map(|b| b.job_id).collect(),
            Err(e) => {
                tracing::error!(error = %e, "could not read the buffer");
                Vec::new()
            }
        };
        let request = PollRequest {
            practices: self.practices(),
            wait_ms: wait.as_millis() as u64,
            heartbeat: Some(self.heartbeat(held.len() as u64)),
            held,
        };
        let response: Result<PollResponse, _> = tokio::select! {
            () = shutdown.cancelled() => return true,
            r = self.uplink.post("/v1/jobs/poll", &request, wait + Duration::from_secs(10)) => r,
        };
        let jobs = match response {
            Ok(r) => r.jobs,
            Err(e) => {
                tracing::warn!(error = %e, "could not poll for jobs");
                return false;
            }
        };
        for job in jobs {
            tracing::info!(job = %job.job_id, practice = %job.practice, "job taken");
            if let Some(delay) = self.test_delay {
                tokio::time::sleep(delay).await;
            }
            self.handle(job).await;
        }
        true
    }

    /// What the agent tells the coordinator about itself with each poll.
    fn heartbeat(&self, buffered: u64) -> Heartbeat {
        let errors = self.last_errors.lock().unwrap_or_else(|p| p.into_inner());
        let practices = self
            .practices
            .iter()
            .filter_map(|code| {
                let practice = self.config.practice(code)?;
                let (plugin_name, plugin_version) = self.runner.plugin_info(practice)?;
                Some(PracticeHeartbeat {
                    practice: code.clone(),
                    plugin_name,
                    plugin_version,
                    buffer_depth: buffered,
                    last_error: errors.get(code).cloned(),
                })
            })
            .collect();
        Heartbeat {
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            practices,
        }
    }

    /// Tells the coordinator an extraction failed, and whether running it
    /// again could help. A report that does not arrive costs only time:
    /// the job's lease runs out and it is offered again.
    async fn report_failure(&self, job: &gpes_protocol::Job, error: &anyhow::Error) {
        let retryable = error
            .downcast_ref::<crate::runner::RefusedBySite>()
            .is_none();
        let reason = format!("{error:#}");
        self.last_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.practice.clone(), reason.clone());
        let report = FailureReport {
            job_id: job.job_id.clone(),
            reason,
            retryable,
        };
        match self
            .uplink
            .post::<_, FailureAck>("/v1/failures", &report, UPLOAD_TIMEOUT)
            .await
        {
            Ok(ack) => {
                tracing::info!(job = %job.job_id, status = ?ack.status, retry_at_ms = ?ack.retry_at_ms, "failure reported")
            }
            Err(e) => {
                tracing::warn!(job = %job.job_id, error = %e, "could not report the failure; the job's lease will run out instead")
            }
        }
    }

    async fn handle(&self, job: gpes_protocol::Job) {
        match self.buffer.contains(&job.job_id) {
            Ok(true) => return, // sealed already; drain uploads it
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "could not read the buffer"),
        }
        let Some(practice) = self.config.practice(&job.practice) else {
            tracing::error!(job = %job.job_id, practice = %job.practice, "job for a practice this site does not serve");
            let refused = anyhow::Error::new(crate::runner::RefusedBySite(format!(
                "practice {} is not configured at this site",
                job.practice
            )));
            self.report_failure(&job, &refused).await;
            return;
        };
        let sealed = match self.runner.run(&job, practice).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(job = %job.job_id, error = format!("{e:#}"), "extraction failed");
                self.report_failure(&job, &e).await;
                return;
            }
        };
        if let Err(e) = self.buffer.put(&sealed).await {
            tracing::error!(job = %job.job_id, error = %e, "could not buffer the extract; not uploading it");
            return;
        }
        tracing::info!(job = %sealed.job_id, hash = %sealed.extract_hash, "extract buffered");
        if let Err(e) = self.upload(&sealed).await {
            tracing::warn!(job = %sealed.job_id, error = %e, "upload failed; the extract stays buffered");
        }
    }
}
