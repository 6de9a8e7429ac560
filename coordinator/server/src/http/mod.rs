//! HTTP: the two routers (agent and operator), their extractors and the
//! one error type, and the listener that serves them over TLS. Handlers
//! turn requests into calls of the domain rules and the store, and say
//! which caller each route needs in their signature (`Agent`, `Operator`
//! or, for enrollment alone, neither).

pub mod agent;
pub mod attention;
pub mod auth;
pub mod body;
pub mod declarations;
pub mod error;
pub mod export;
pub mod listener;
pub mod operator;
pub mod organisations;
pub mod participation;
pub mod permissions;
pub mod practice_view;
pub mod queries;
pub mod side_runs;
pub mod timetable;
pub mod users;

use crate::config::Config;
use crate::db::Db;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use error::{ApiError, LoggedDetail, REQUEST_ID};
use gpes_pki::CertificateAuthority;
use gpes_protocol::{
    ErrorCode, OLDEST_AGENT_VERSION, PROTOCOL_VERSION, VERSION_HEADER, check_version, v1,
};
use gpes_schedule::Clock;
use http::{HeaderValue, StatusCode};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tracing::Instrument;

/// What every handler shares.
pub struct App {
    pub db: Db,
    pub ca: CertificateAuthority,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub authenticators: Vec<Box<dyn auth::Authenticator>>,
    /// Woken when jobs are made, so long-polls return at once.
    pub jobs_ready: Notify,
    /// The addresses written into enrollment tokens and answers.
    pub operator_address: String,
    pub agent_address: String,
    /// When each agent's heartbeat was last written (at most once a
    /// minute: it is operational state, not history).
    pub heartbeats: Mutex<HashMap<String, u64>>,
    /// The revoked agents the agent listener refuses at the handshake.
    pub revoked: Arc<gpes_pki::RevokedAgents>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    pub fn now_ms(&self) -> u64 {
        crate::scheduler::ms(self.clock.now())
    }
}

/// Which listener a router serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Agent,
    Operator,
}

/// The agent listener's routes.
pub fn agent_router(app: Arc<App>) -> Router {
    finish(agent::routes(), app, Listener::Agent)
}

/// The operator listener's routes.
pub fn operator_router(app: Arc<App>) -> Router {
    finish(operator::routes(), app, Listener::Operator)
}

fn finish(routes: Router<Arc<App>>, app: Arc<App>, kind: Listener) -> Router {
    let routes = match kind {
        Listener::Agent => routes,
        Listener::Operator => routes.route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            permissions::authorize,
        )),
    };
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            (app.clone(), kind),
            around,
        ))
        .with_state(app)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// The protocol version a request speaks, put in its extensions by the
/// middleware once checked: the current one, or [`OLDEST_AGENT_VERSION`]
/// on the agent routes that still serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerVersion(pub u32);

/// The agent routes that still serve agents one protocol version behind.
pub const OLDER_AGENT_ROUTES: [&str; 2] = ["/v1/jobs/poll", "/v1/results"];

/// Which version a request speaks, if this route serves it.
fn peer_version(
    kind: Listener,
    path: &str,
    theirs: Option<u32>,
) -> Result<u32, gpes_protocol::VersionMismatch> {
    match theirs {
        Some(v)
            if (OLDEST_AGENT_VERSION..PROTOCOL_VERSION).contains(&v)
                && kind == Listener::Agent
                && OLDER_AGENT_ROUTES.contains(&path) =>
        {
            Ok(v)
        }
        _ => check_version(theirs).map(|()| PROTOCOL_VERSION),
    }
}

/// A refusal as version 1 wrote it (`{error, message}`), from the problem
/// the handlers answered; the response's status and extensions are kept.
async fn v1_error(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let body = match serde_json::from_slice::<gpes_protocol::Problem>(&bytes) {
        Ok(problem) => {
            parts.headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            parts.headers.remove(http::header::CONTENT_LENGTH);
            serde_json::to_vec(&v1::ErrorBody::from(&problem)).unwrap_or_default()
        }
        Err(_) => bytes.to_vec(),
    };
    Response::from_parts(parts, axum::body::Body::from(body))
}

static REQUESTS: AtomicU64 = AtomicU64::new(1);

/// Around every request: an id and a span for its log lines, the protocol
/// version checked and sent back, and refusals logged in their table.
async fn around(
    State((app, kind)): State<(Arc<App>, Listener)>,
    req: Request,
    next: Next,
) -> Response {
    let id = format!("{:x}", REQUESTS.fetch_add(1, Ordering::Relaxed));
    let request_id = id.clone();
    let method = req.method().clone();
    // A calendar feed's address holds its secret: never logged.
    let path = if req.uri().path().starts_with("/feeds/") {
        "/feeds/{secret}/timetable.ics".to_owned()
    } else {
        req.uri().path().to_owned()
    };
    let span = tracing::info_span!("request", id = %id, %method, %path, listener = ?kind);
    let agent = req
        .extensions()
        .get::<auth::PeerAgent>()
        .map(|a| a.0.clone());
    // Filled by the permission layer once it knows who is asking, so a
    // refusal is logged under their name.
    let caller = auth::CallerSlot::default();
    let mut req = req;
    req.extensions_mut().insert(caller.clone());
    let work = async move {
        let theirs = req
            .headers()
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        // Calendar programs send no protocol version; nor need a reader
        // of the API document.
        let exempt = path == "/v1/openapi.json" || path.starts_with("/feeds/");
        let (spoken, mut response) = match peer_version(kind, &path, theirs) {
            Err(e) if !exempt => (
                PROTOCOL_VERSION,
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::VersionMismatch,
                    e.to_string(),
                )
                .into_response(),
            ),
            Ok(v) => {
                let mut req = req;
                req.extensions_mut().insert(PeerVersion(v));
                (v, next.run(req).await)
            }
            Err(_) => (PROTOCOL_VERSION, next.run(req).await),
        };
        if spoken == v1::VERSION && !response.status().is_success() {
            response = v1_error(response).await;
        }
        // An older agent is answered in its own version: it checks the
        // header as strictly as it did before this side was upgraded.
        response
            .headers_mut()
            .insert(VERSION_HEADER, HeaderValue::from(spoken));
        if let Ok(v) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-request-id", v);
        }
        let status = response.status();
        if status.is_client_error() {
            let detail = response
                .extensions()
                .get::<LoggedDetail>()
                .map(|d| d.0.clone())
                .unwrap_or_default();
            let actor = agent
                .or_else(|| caller.get())
                .unwrap_or_else(|| match kind {
                    Listener::Agent => "agent".into(),
                    Listener::Operator => "operator".into(),
                });
            tracing::info!(status = status.as_u16(), %detail, "refused");
            let route = format!("{method} {path}");
            if let Err(e) = crate::db::refusals::record(
                &app.db,
                app.now_ms(),
                &actor,
                &route,
                status.as_u16(),
                &detail,
            )
            .await
            {
                tracing::warn!(error = %e, "could not log a refusal");
            }
        } else if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "request failed");
        }
        response
    };
    REQUEST_ID.scope(request_id, work.instrument(span)).await
}
