//! The two listeners and the requests they serve.

use crate::config::Config;
use crate::http::{ApiError, Body, check_request_version, error, json, read_json};
use crate::scheduler::{self, ms};
use crate::state::{JobState, Refusal, State};
use gpes_canon::ContentHash;
use gpes_pki::{CertificateAuthority, EnrollmentToken, ServerIdentity};
use gpes_protocol::{
    Collection, CreateCollectionRequest, CreateTokenRequest, CreateTokenResponse, EnrollRequest,
    EnrollResponse, ErrorCode, JobStatus, PollRequest, PollResponse, QuerySpec, ResultRow, RunView,
    UploadRequest,
};
use gpes_schedule::{Clock, Schedule};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest operator request body.
const OPERATOR_BODY_LIMIT: usize = 2 << 20;
/// Largest agent request body (an uploaded extract).
const AGENT_BODY_LIMIT: usize = 64 << 20;
/// Longest long-poll the coordinator holds.
const MAX_POLL: Duration = Duration::from_secs(30);
/// Connections served at once, per listener.
const MAX_CONNECTIONS: usize = 4096;
/// The admin token's file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

struct App {
    state: Arc<State>,
    ca: CertificateAuthority,
    config: Config,
    clock: Arc<dyn Clock>,
    admin_hash: String,
    jobs_ready: Notify,
    operator_address: String,
    agent_address: String,
}

/// A started coordinator.
#[derive(Debug)]
pub struct Running {
    pub agent_addr: SocketAddr,
    pub operator_addr: SocketAddr,
    pub ca_pem: String,
    pub admin_token_path: PathBuf,
    pub tracker: TaskTracker,
    /// The coordinator's state, for in-process tests.
    pub state: Arc<State>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listener {
    Agent,
    Operator,
}

/// Creates or reads the admin token (mode 0600) and returns its hash.
fn admin_token(dir: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(ADMIN_TOKEN_FILE);
    if !path.exists() {
        let token = crate::state::random_id("admin");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(token.as_bytes())?;
        f.sync_all()?;
    }
    let token = std::fs::read_to_string(&path)?;
    Ok(gpes_pki::hash_secret(token.trim()))
}

/// Starts the coordinator: opens the store, creates the CA and admin token
/// on first start, binds both listeners and starts the scheduler. Runs
/// until `shutdown` is cancelled; wait on `Running::tracker` after.
pub async fn start(
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    use anyhow::Context;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let ca = CertificateAuthority::load_or_create(&config.data_dir.join("ca"))?;
    let admin_hash = admin_token(&config.data_dir)?;
    let store = gpes_store::Store::open(&config.data_dir.join("store"), Default::default())?;
    let state = Arc::new(State::new(store)?);
    let server: ServerIdentity = ca.issue_server_cert(&config.server_names, 365)?;

    let agent_listener = TcpListener::bind(config.agent_listen)
        .await
        .with_context(|| format!("binding the agent listener to {}", config.agent_listen))?;
    let operator_listener = TcpListener::bind(config.operator_listen)
        .await
        .with_context(|| {
            format!(
                "binding the operator listener to {}",
                config.operator_listen
            )
        })?;
    let agent_addr = agent_listener.local_addr()?;
    let operator_addr = operator_listener.local_addr()?;

    let app = Arc::new(App {
        state,
        operator_address: config
            .operator_address
            .clone()
            .unwrap_or_else(|| operator_addr.to_string()),
        agent_address: config
            .agent_address
            .clone()
            .unwrap_or_else(|| agent_addr.to_string()),
        ca,
        config,
        clock,
        admin_hash,
        jobs_ready: Notify::new(),
    });
    let tracker = TaskTracker::new();
    let agent_tls = gpes_pki::agent_listener_config(&app.ca, &server)?;
    let operator_tls = gpes_pki::operator_listener_config(&server)?;
    tracker.spawn(serve(
        agent_listener,
        agent_tls,
        app.clone(),
        Listener::Agent,
        shutdown.clone(),
        tracker.clone(),
    ));
    tracker.spawn(serve(
        operator_listener,
        operator_tls,
        app.clone(),
        Listener::Operator,
        shutdown.clone(),
        tracker.clone(),
    ));
    tracker.spawn(schedule_loop(app.clone(), shutdown.clone()));
    tracker.close();
    tracing::info!(%agent_addr, %operator_addr, "coordinator listening");
    Ok(Running {
        agent_addr,
        operator_addr,
        ca_pem: app.ca.cert_pem().to_owned(),
        admin_token_path: app.config.data_dir.join(ADMIN_TOKEN_FILE),
        tracker,
        state: app.state.clone(),
    })
}

async fn schedule_loop(app: Arc<App>, shutdown: CancellationToken) {
    let tick = Duration::from_millis(app.config.scheduler_tick_ms);
    loop {
        let now = app.clock.now();
        let state = app.state.clone();
        match tokio::task::spawn_blocking(move || scheduler::tick(&state, now)).await {
            Ok(Ok(runs)) if !runs.is_empty() => app.jobs_ready.notify_waiters(),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "scheduler tick failed"),
            Err(e) => tracing::error!(error = %e, "scheduler task failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(tick) => {}
        }
    }
}

async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Arc<App>,
    kind: Listener,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    // Refused before any HTTP is read: no certificate, one
                    // from another CA, wrong TLS version.
                    tracing::info!(%peer, ?kind, error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => return,
            };
            let agent_id = match kind {
                Listener::Agent => {
                    let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
                    match cert.map(|c| gpes_pki::agent_id_from_cert(c)) {
                        Some(Ok(id)) => Some(id),
                        _ => return,
                    }
                }
                Listener::Operator => None,
            };
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                let agent_id = agent_id.clone();
                async move { Ok::<_, std::convert::Infallible>(route(app, kind, agent_id, req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                () = shutdown.cancelled() => {}
            }
        });
    }
}

async fn route(
    app: Arc<App>,
    kind: Listener,
    agent_id: Option<String>,
    req: Request<Incoming>,
) -> Response<Body> {
    if let Err(e) = check_request_version(&req) {
        return error(e);
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = match (kind, &method, segments.as_slice()) {
        (Listener::Agent, &Method::POST, ["v1", "jobs", "poll"]) => {
            poll(&app, agent_id.unwrap_or_default(), req).await
        }
        (Listener::Agent, &Method::POST, ["v1", "results"]) => {
            upload(&app, agent_id.unwrap_or_default(), req).await
        }
        (Listener::Operator, &Method::POST, ["v1", "enroll"]) => enroll(&app, req).await,
        (Listener::Operator, _, ["v1", ..]) => match authorize(&app, &req) {
            Err(e) => Err(e),
            Ok(()) => match (&method, &segments[1..]) {
                (&Method::POST, ["tokens"]) => create_token(&app, req).await,
                (&Method::POST, ["collections"]) => create_collection(&app, req).await,
                (&Method::GET, ["collections"]) => blocking(&app, |s| s.collections())
                    .await
                    .map(|c| json(StatusCode::OK, &c)),
                (&Method::POST, ["collections", id, "run"]) => run_now(&app, id).await,
                (&Method::GET, ["runs"]) => runs(&app).await,
                _ => Err(ApiError::not_found(format!(
                    "no such endpoint: {method} {path}"
                ))),
            },
        },
        _ => Err(ApiError::not_found(format!(
            "no such endpoint: {method} {path}"
        ))),
    };
    result.unwrap_or_else(error)
}

fn authorize(app: &App, req: &Request<Incoming>) -> Result<(), ApiError> {
    let presented = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if gpes_pki::secret_matches(token, &app.admin_hash) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "a valid bearer token is needed (the admin token is in the coordinator's data directory)",
        )),
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        let (status, code) = match &r {
            Refusal::UnknownToken | Refusal::TokenUsed | Refusal::TokenExpired => {
                (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
            }
            Refusal::NotYourPractice { .. }
            | Refusal::NotYourJob { .. }
            | Refusal::UnknownAgent(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Refusal::UnknownJob(_) | Refusal::UnknownCollection(_) => {
                (StatusCode::NOT_FOUND, ErrorCode::NotFound)
            }
            Refusal::Conflict { .. } => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Refusal::HashMismatch { .. }
            | Refusal::BadExtract(_)
            | Refusal::WrongExtract { .. }
            | Refusal::Invalid(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            Refusal::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %r, "store failure");
        }
        ApiError::new(status, code, r.to_string())
    }
}

/// Runs a state operation off the async threads (it may flush to disk).
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&State) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, ApiError> {
    let state = app.state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| ApiError::internal(format!("task failed: {e}")))?
        .map_err(ApiError::from)
}

fn now_ms(app: &App) -> u64 {
    ms(app.clock.now())
}

async fn poll(
    app: &Arc<App>,
    agent_id: String,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let poll: PollRequest = read_json(req.into_body(), OPERATOR_BODY_LIMIT).await?;
    let wait = Duration::from_millis(poll.wait_ms).min(MAX_POLL);
    let deadline = tokio::time::Instant::now() + wait;
    let lease_ms = app.config.lease_seconds * 1000;
    loop {
        let notified = app.jobs_ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (agent, practices, now) = (agent_id.clone(), poll.practices.clone(), now_ms(app));
        let jobs = blocking(app, move |s| {
            s.lease_jobs(&agent, &practices, now, lease_ms)
        })
        .await?;
        if !jobs.is_empty() || tokio::time::Instant::now() >= deadline {
            tracing::info!(agent = %agent_id, jobs = jobs.len(), "jobs handed out");
            return Ok(json(StatusCode::OK, &PollResponse { jobs }));
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(json(StatusCode::OK, &PollResponse { jobs: vec![] }));
        }
    }
}

async fn upload(
    app: &Arc<App>,
    agent_id: String,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let upload: UploadRequest = read_json(req.into_body(), AGENT_BODY_LIMIT).await?;
    let now = now_ms(app);
    let agent = agent_id.clone();
    let receipt = blocking(app, move |s| s.accept_upload(&agent, &upload, now)).await?;
    tracing::info!(agent = %agent_id, job = %receipt.job_id, hash = %receipt.extract_hash, "result stored");
    Ok(json(StatusCode::OK, &receipt))
}

async fn enroll(app: &Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let enroll: EnrollRequest = read_json(req.into_body(), OPERATOR_BODY_LIMIT).await?;
    let now = now_ms(app);
    let secret = enroll.secret.clone();
    let token = blocking(app, move |s| s.check_token(&secret, now)).await?;
    let cert = app
        .ca
        .sign_agent_csr(&enroll.csr_pem, &token.agent_id, app.config.agent_cert_days)
        .map_err(|e| ApiError::bad_request(format!("the certificate request was refused: {e}")))?;
    let secret = enroll.secret;
    let agent = blocking(app, move |s| s.redeem_token(&secret, now)).await?;
    tracing::info!(agent = %agent.id, practices = agent.practices.len(), "agent enrolled");
    Ok(json(
        StatusCode::OK,
        &EnrollResponse {
            agent_id: agent.id,
            certificate_pem: cert.cert_pem,
            ca_pem: app.ca.cert_pem().to_owned(),
            practices: agent.practices,
            agent_api: app.agent_address.clone(),
        },
    ))
}

async fn create_token(app: &Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let request: CreateTokenRequest = read_json(req.into_body(), OPERATOR_BODY_LIMIT).await?;
    for p in &request.practices {
        check_practice_code(p)?;
    }
    let (mut token, secret_hash) = EnrollmentToken::generate(
        &app.operator_address,
        Duration::from_secs(request.ttl_seconds),
        &app.ca,
    )
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let expires_ms = now_ms(app) + request.ttl_seconds * 1000;
    token.expires_at = expires_ms / 1000;
    let agent_id = crate::state::random_id("agent");
    let (id, practices) = (agent_id.clone(), request.practices.clone());
    blocking(app, move |s| {
        s.create_token(&id, &secret_hash, practices, expires_ms)
    })
    .await?;
    Ok(json(
        StatusCode::OK,
        &CreateTokenResponse {
            token: token.encode(),
            agent_id,
            expires_ms,
        },
    ))
}

/// ODS practice codes: letters and digits, 3 to 10 of them.
fn check_practice_code(code: &str) -> Result<(), ApiError> {
    if (3..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "'{code}' is not a practice (ODS) code: 3 to 10 letters and digits"
        )))
    }
}

async fn create_collection(
    app: &Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let request: CreateCollectionRequest = read_json(req.into_body(), OPERATOR_BODY_LIMIT).await?;
    let spec = gpes_query::parse("query", &request.query)
        .map_err(|e| ApiError::bad_request(format!("the query is not valid:\n{e}")))?;
    // Bind once now, with today's date for `run-date`, so that missing,
    // unknown or malformed parameters are refused here, not at every site.
    let today = scheduler::london_date(app.clock.now());
    let trial: BTreeMap<String, String> = request
        .parameters
        .iter()
        .map(|(k, v)| {
            let v = if v == "run-date" {
                today.clone()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    spec.bind("CHECK", &trial)
        .map_err(|e| ApiError::bad_request(format!("the parameters do not fit the query: {e}")))?;
    // The same check every agent makes before reading any data (refused
    // here too, so the operator hears of it at once).
    check_output_class(&spec, request.data_class)?;
    if !request.schedule.trim().is_empty() {
        Schedule::parse(&request.schedule)
            .map_err(|e| ApiError::bad_request(format!("the schedule is not valid: {e}")))?;
    }
    if request.practices.is_empty() {
        return Err(ApiError::bad_request(
            "a collection needs at least one practice",
        ));
    }
    for p in &request.practices {
        check_practice_code(p)?;
    }
    if request.name.trim().is_empty() {
        return Err(ApiError::bad_request("a collection needs a name"));
    }
    let canonical = spec
        .canonical_json()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let collection = Collection {
        id: crate::state::random_id("collection"),
        name: request.name,
        query: QuerySpec {
            hash: ContentHash::of_bytes(canonical.as_bytes()),
            canonical,
            source: request.query,
        },
        parameters: request.parameters,
        schedule: request.schedule.trim().to_owned(),
        practices: request.practices,
        purpose: request.purpose,
        data_class: request.data_class,
        created_ms: now_ms(app),
    };
    let c = collection.clone();
    blocking(app, move |s| s.create_collection(&c)).await?;
    Ok(json(StatusCode::CREATED, &collection))
}

async fn run_now(app: &Arc<App>, id: &str) -> Result<Response<Body>, ApiError> {
    let id = id.to_owned();
    let now = app.clock.now();
    let run = blocking(app, move |s| {
        let c = s.collection(&id)?;
        s.fire(&c, ms(now), &scheduler::london_date(now))
    })
    .await?;
    app.jobs_ready.notify_waiters();
    Ok(json(StatusCode::CREATED, &run))
}

async fn runs(app: &Arc<App>) -> Result<Response<Body>, ApiError> {
    let views = blocking(app, |s| {
        let mut views = Vec::new();
        for run in s.runs()? {
            let name = s
                .collection(&run.collection_id)
                .map(|c| c.name)
                .unwrap_or_default();
            let mut results = Vec::new();
            for job_id in &run.jobs {
                let record = s.job(job_id)?;
                let stored = s.result(job_id)?;
                let status = match (&record.state, &stored) {
                    (_, Some(_)) | (JobState::Done { .. }, _) => JobStatus::Done,
                    (JobState::Leased { .. }, None) => JobStatus::Leased,
                    (JobState::Pending, None) => JobStatus::Pending,
                };
                // Stored extracts were checked on upload; one that no longer
                // reads is shown without a result rather than failing the
                // whole view.
                let extract = stored
                    .as_ref()
                    .and_then(|r| serde_json::from_str::<gpes_protocol::Extract>(&r.extract).ok());
                let (result, data_quality_warnings) = match extract {
                    Some(e) => (Some(e.result), e.data_quality_warnings),
                    None => (None, Vec::new()),
                };
                results.push(ResultRow {
                    job_id: job_id.clone(),
                    practice: record.job.practice,
                    status,
                    extract_hash: stored.map(|r| r.extract_hash),
                    result,
                    data_quality_warnings,
                });
            }
            views.push(RunView {
                run,
                collection_name: name,
                results,
            });
        }
        Ok(views)
    })
    .await?;
    Ok(json(StatusCode::OK, &views))
}

/// A query's output must fit the collection's data class: the rule agents
/// enforce (`gpes_agent::runner::output_allowed`), applied when the
/// collection is made.
fn check_output_class(
    spec: &gpes_query::QuerySpec,
    class: gpes_protocol::DataClass,
) -> Result<(), ApiError> {
    use gpes_protocol::DataClass;
    use gpes_query::{DataClass as Column, Output};
    let Output::RecordLevel { columns, .. } = &spec.output else {
        return Ok(());
    };
    if class == DataClass::Aggregate {
        return Err(ApiError::bad_request(
            "the query gives one row per patient: the collection's data class must be record-level-deidentified or patient-identifiable",
        ));
    }
    for c in columns {
        let refused = match c.class {
            Column::Identifier => class != DataClass::PatientIdentifiable,
            Column::Pseudonym => true,
            Column::NonIdentifying => false,
        };
        if refused {
            return Err(ApiError::bad_request(format!(
                "column '{}' ({:?}) is not allowed in a {:?} collection (pseudonyms are not supported yet)",
                c.name, c.class, class
            )));
        }
    }
    Ok(())
}
