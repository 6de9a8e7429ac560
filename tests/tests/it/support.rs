use gpes_agent::daemon::Daemon;
use gpes_client::{Uplink, UplinkError};
use gpes_coordinator::{Config, Running};
use gpes_protocol::{
    CreateCollectionRequest, CreateTokenRequest, CreateTokenResponse, DataClass, JobStatus,
    Purpose, RunView,
};
use gpes_schedule::SystemClock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A coordinator running in this process on loopback ports.
pub struct Coordinator {
    pub running: Running,
    pub shutdown: CancellationToken,
    /// Kept so the data directory lives as long as the coordinator.
    _dir: tempfile::TempDir,
}

impl Coordinator {
    pub async fn start() -> Coordinator {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::with_data_dir(dir.path().join("coordinator"));
        config.agent_listen = "127.0.0.1:0".parse().expect("addr");
        config.operator_listen = "127.0.0.1:0".parse().expect("addr");
        config.scheduler_tick_ms = 200;
        let shutdown = CancellationToken::new();
        let running = gpes_coordinator::start(config, Arc::new(SystemClock), shutdown.clone())
            .await
            .expect("coordinator starts");
        Coordinator {
            running,
            shutdown,
            _dir: dir,
        }
    }

    pub fn operator(&self) -> Uplink {
        let tls = gpes_pki::operator_client_config(&self.running.ca_pem).expect("tls");
        let token = std::fs::read_to_string(&self.running.admin_token_path).expect("admin token");
        Uplink::new(&self.running.operator_addr.to_string(), tls)
            .expect("uplink")
            .with_bearer(token.trim())
    }

    pub async fn token(&self, practices: &[&str], ttl_seconds: u64) -> CreateTokenResponse {
        self.operator()
            .post(
                "/v1/tokens",
                &CreateTokenRequest {
                    practices: practices.iter().map(|p| p.to_string()).collect(),
                    ttl_seconds,
                },
                TIMEOUT,
            )
            .await
            .expect("token")
    }

    pub async fn create_collection(
        &self,
        practices: &[&str],
        schedule: &str,
    ) -> Result<gpes_protocol::Collection, UplinkError> {
        self.create_collection_of(&gpes_tests::registered_count_query(), practices, schedule)
            .await
    }

    /// A collection of any query, with PPED 2025-03-31.
    pub async fn create_collection_of(
        &self,
        query: &str,
        practices: &[&str],
        schedule: &str,
    ) -> Result<gpes_protocol::Collection, UplinkError> {
        let mut parameters = BTreeMap::new();
        parameters.insert("PPED".to_string(), "2025-03-31".to_string());
        self.operator()
            .post(
                "/v1/collections",
                &CreateCollectionRequest {
                    name: "registered patients".into(),
                    query: query.to_owned(),
                    parameters,
                    schedule: schedule.into(),
                    practices: practices.iter().map(|p| p.to_string()).collect(),
                    purpose: Purpose::Planning,
                    data_class: DataClass::Aggregate,
                },
                TIMEOUT,
            )
            .await
    }

    pub async fn run_now(&self, collection: &str) -> gpes_protocol::Run {
        self.operator()
            .post(&format!("/v1/collections/{collection}/run"), &(), TIMEOUT)
            .await
            .expect("run now")
    }

    /// Waits until every job of the run is done.
    pub async fn wait_done(&self, run_id: &str) -> RunView {
        wait_done(&self.operator(), run_id).await
    }

    pub fn snapshot(&self) -> impl PartialEq + std::fmt::Debug {
        self.running.state.snapshot().expect("snapshot")
    }
}

pub async fn wait_done(operator: &Uplink, run_id: &str) -> RunView {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(views) = operator.get::<Vec<RunView>>("/v1/runs", TIMEOUT).await
            && let Some(v) = views.into_iter().find(|v| v.run.id == run_id)
            && v.results.iter().all(|r| r.status == JobStatus::Done)
        {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {run_id} did not finish within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An agent running in this process.
pub struct Agent {
    pub agent_id: String,
    shutdown: CancellationToken,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Enrolls an agent for the given demo practices with `token` and starts it.
pub async fn start_agent(dir: &Path, token: &str, practices: &[&str]) -> Agent {
    let with_data: Vec<(&str, PathBuf)> = practices
        .iter()
        .map(|p| (*p, gpes_tests::practice_data(p)))
        .collect();
    start_agent_with(dir, token, &with_data).await
}

/// Enrolls an agent for practices whose data is where given, and starts it.
pub async fn start_agent_with(dir: &Path, token: &str, with_data: &[(&str, PathBuf)]) -> Agent {
    let data_dir = dir.join("data");
    let text = gpes_tests::agent_config(&data_dir, with_data, 2);
    let config = gpes_agent::Config::parse(&text, Path::new("agent.toml")).expect("config");
    let enrollment = gpes_agent::identity::enroll(&data_dir, token)
        .await
        .expect("enrollment");
    let identity = gpes_agent::identity::load(&data_dir).expect("identity");
    let runner = gpes_agent::runner::Runner::new(&config)
        .await
        .expect("the signed plugins verify");
    let daemon = Daemon::new(config, identity, runner).expect("daemon");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move { daemon.run(stop).await });
    Agent {
        agent_id: enrollment.agent_id,
        shutdown,
    }
}

/// An uplink to the agent listener with an enrolled agent's identity.
pub fn agent_uplink(coordinator: &Coordinator, data_dir: &Path) -> Uplink {
    let identity = gpes_agent::identity::load(data_dir).expect("identity");
    Uplink::new(&coordinator.running.agent_addr.to_string(), identity.tls).expect("uplink")
}

/// Enrolls an agent without starting it (for tests that speak for it).
pub async fn enroll_only(dir: &Path, token: &str) -> PathBuf {
    let data_dir = dir.join("data");
    gpes_agent::identity::enroll(&data_dir, token)
        .await
        .expect("enrollment");
    data_dir
}

/// Builds the extract an agent would send for a job, with a chosen count.
pub fn upload_for(job: &gpes_protocol::Job, registered: u64) -> gpes_protocol::UploadRequest {
    let extract = gpes_protocol::Extract {
        practice: job.practice.clone(),
        query_hash: job.query.hash,
        parameters: job.parameters.clone(),
        plugin_name: "csv-export".into(),
        plugin_version: "0.1.0".into(),
        engine_version: "0.1.0".into(),
        inputs: vec![],
        result: gpes_protocol::Answer {
            output: gpes_protocol::ResultOutput::Aggregate(gpes_protocol::AggregateResult {
                populations: vec![gpes_protocol::PopulationCount {
                    population: "REGISTERED".into(),
                    count: Some(registered),
                    suppressed: false,
                    cells: vec![],
                }],
            }),
            patients_evaluated: registered,
            passes: 1,
            excluded_by_policy: 0,
            records_without_patient: 0,
        },
        data_quality_warnings: vec![],
    };
    let canonical = gpes_canon::to_canonical_string(&extract).expect("canonical");
    gpes_protocol::UploadRequest {
        job_id: job.job_id.clone(),
        extract_hash: gpes_canon::ContentHash::of_bytes(canonical.as_bytes()),
        extract: canonical,
    }
}
