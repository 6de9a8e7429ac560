//! The operator listener's routes: enrollment (unauthenticated: the
//! token's secret is checked from the header before any body is read),
//! enrollment tokens, collections, runs and their results, page by page.

use super::App;
use super::auth::Operator;
use super::body::{ENROLL_LIMIT, JsonBody, OPERATOR_LIMIT, read_json};
use super::error::ApiError;
use crate::db;
use crate::domain;
use crate::scheduler::{self, ms};
use axum::extract::{Path, Query, Request, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use gpes_pki::EnrollmentToken;
use gpes_protocol::{
    AgentInfo, AuditEntry, AuditVerification, Collection, CollectionState, CreateCollectionRequest,
    CreateTokenRequest, CreateTokenResponse, EnrollRequest, EnrollResponse, Page, Practice,
    PracticeImportRequest, PracticeImportResponse, PracticeSetRequest, RecordsDownload,
    ResultOutput, RevokeResponse, Run, RunResults, RunSummary,
};
use http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Longest an enrollment token may live.
pub const MAX_TOKEN_TTL_SECONDS: u64 = 30 * 24 * 3600;
/// Lines per page when the caller does not say, and at most.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;
/// A page of results is kept under about this many bytes.
pub const PAGE_BYTES: usize = 1 << 20;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/enroll", post(enroll))
        .route("/v1/tokens", post(create_token))
        .route(
            "/v1/collections",
            post(create_collection).get(list_collections),
        )
        .route(
            "/v1/collections/{id}",
            get(show_collection).put(edit_collection),
        )
        .route("/v1/collections/{id}/versions", get(collection_versions))
        .route("/v1/collections/{id}/run", post(run_now))
        .route("/v1/collections/{id}/activate", post(activate_collection))
        .route("/v1/collections/{id}/pause", post(pause_collection))
        .route("/v1/collections/{id}/retire", post(retire_collection))
        .route("/v1/runs", get(list_runs))
        .route("/v1/runs/{id}", get(show_run))
        .route("/v1/runs/{id}/results", get(run_results))
        .route("/v1/runs/{id}/export", get(super::export::export_run))
        .route("/v1/runs/{id}/records", get(download_records))
        .route("/v1/runs/{id}/cancel", post(cancel_run))
        .route("/v1/runs/{id}/retry", post(retry_run))
        .route("/v1/agents", get(list_agents))
        .route("/v1/agents/{id}", get(show_agent))
        .route("/v1/agents/{id}/revoke", post(revoke_agent))
        .route("/v1/practices", get(list_practices))
        .route("/v1/practices/import", post(import_practices))
        .route(
            "/v1/practices/{code}",
            get(show_practice).post(set_practice),
        )
        .route("/v1/audit", get(list_audit))
        .route("/v1/audit/verify", get(verify_audit))
        .route("/v1/openapi.json", get(openapi))
        .merge(super::users::routes())
        .merge(super::queries::routes())
        .merge(super::organisations::routes())
        .merge(super::participation::routes())
        .merge(super::timetable::routes())
        .merge(super::side_runs::routes())
        .merge(super::attention::routes())
        .merge(super::declarations::routes())
        .merge(super::practice_view::routes())
}

/// The OpenAPI 3.1 document of both listeners, kept in step with the
/// routers by a test (`tests/tests/it/openapi.rs`).
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Served without a token or protocol header: it holds no secret.
async fn openapi() -> impl axum::response::IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// `?cursor=...&limit=...` on every list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    /// On `/v1/runs`: only this collection's runs.
    #[serde(default)]
    pub collection: Option<String>,
    /// On a run's results: only this practice's (what a practice's or a
    /// region's users must ask for).
    #[serde(default)]
    pub practice: Option<String>,
}

/// The practice a scoped caller may read results of: operators may ask
/// for one practice or none (all); a practice's or region's users must
/// name a practice their grants reach. A practice outside their reach is
/// refused the same whether it exists or not.
pub async fn results_scope(
    app: &App,
    operator: &Operator,
    practice: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let practice = practice.map(str::to_ascii_uppercase);
    let reach = operator.reach();
    if reach.everything {
        return Ok(practice);
    }
    let mine: Vec<String> = reach
        .practices
        .iter()
        .cloned()
        .chain(
            reach
                .regions
                .iter()
                .map(|r| format!("the practices of region {r}")),
        )
        .collect();
    let refuse = |what: &str| {
        ApiError::forbidden(format!(
            "{} may read results of {} only{what}",
            operator.actor,
            mine.join(", ")
        ))
    };
    let Some(code) = practice else {
        return Err(refuse(": name one with ?practice=CODE"));
    };
    match db::practices::get(&app.db, &code).await {
        Ok(p) if reach.covers(&p.code, &p.region, p.supplier.as_deref()) => Ok(Some(code)),
        Ok(_) | Err(domain::Refusal::UnknownPractice(_)) => {
            Err(refuse(&format!(", not of {code}")))
        }
        Err(e) => Err(e.into()),
    }
}

impl PageQuery {
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::unprocessable(format!(
                "limit must be between 1 and {MAX_PAGE}, not {n}"
            ))),
        }
    }
}

pub fn page_query(
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<PageQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("the query string is not valid: {e}")))
}

async fn enroll(
    State(app): State<Arc<App>>,
    req: Request,
) -> Result<Json<EnrollResponse>, ApiError> {
    // The secret comes in the header and is checked before the body is
    // read: an unauthenticated caller gets nothing buffered.
    let (parts, body) = req.into_parts();
    let secret = super::auth::bearer(&parts)?;
    let secret_hash = gpes_pki::hash_secret(&secret);
    let now = app.now_ms();
    let token = db::agents::check_token(&app.db, &secret_hash, now).await?;
    let enroll: EnrollRequest = read_json(Request::from_parts(parts, body), ENROLL_LIMIT).await?;
    if !gpes_pki::secret_matches(&enroll.secret, &secret_hash) {
        return Err(ApiError::unprocessable(
            "the body's secret is not the one in the Authorization header",
        ));
    }
    let cert = app
        .ca
        .sign_agent_csr(&enroll.csr_pem, &token.agent_id, app.config.agent_cert_days)
        .map_err(|e| {
            ApiError::unprocessable(format!("the certificate request was refused: {e}"))
        })?;
    let (agent_id, practices) = db::agents::redeem_token(&app.db, &secret_hash, now).await?;
    tracing::info!(agent = %agent_id, practices = practices.len(), "agent enrolled");
    Ok(Json(EnrollResponse {
        agent_id,
        certificate_pem: cert.cert_pem,
        ca_pem: app.ca.cert_pem().to_owned(),
        practices,
        agent_api: app.agent_address.clone(),
    }))
}

async fn create_token(
    State(app): State<Arc<App>>,
    operator: Operator,
    JsonBody(request): JsonBody<CreateTokenRequest, OPERATOR_LIMIT>,
) -> Result<Json<CreateTokenResponse>, ApiError> {
    if request.ttl_seconds == 0 || request.ttl_seconds > MAX_TOKEN_TTL_SECONDS {
        return Err(ApiError::unprocessable(format!(
            "ttl_seconds must be between 1 and {MAX_TOKEN_TTL_SECONDS} (30 days), not {}",
            request.ttl_seconds
        )));
    }
    if request.practices.is_empty() {
        return Err(ApiError::unprocessable(
            "an enrollment token must name at least one practice",
        ));
    }
    let mut practices = Vec::new();
    for p in &request.practices {
        domain::check_practice_code(p)?;
        let p = p.to_ascii_uppercase();
        if !practices.contains(&p) {
            practices.push(p);
        }
    }
    db::practices::check_active(&app.db, &practices).await?;
    let (mut token, secret_hash) = EnrollmentToken::generate(
        &app.operator_address,
        Duration::from_secs(request.ttl_seconds),
        &app.ca,
    )
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let now = app.now_ms();
    let expires_ms = now + request.ttl_seconds * 1000;
    token.expires_at = expires_ms / 1000;
    let agent_id = domain::random_id("agent");
    db::agents::create_token(
        &app.db,
        &secret_hash,
        &agent_id,
        &practices,
        now,
        expires_ms,
        &operator.did(
            "token.create",
            &agent_id,
            serde_json::json!({ "practices": practices, "expires_ms": expires_ms }),
        ),
    )
    .await?;
    Ok(Json(CreateTokenResponse {
        token: token.encode(),
        agent_id,
        expires_ms,
    }))
}

async fn create_collection(
    State(app): State<Arc<App>>,
    operator: Operator,
    JsonBody(request): JsonBody<CreateCollectionRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<Collection>), ApiError> {
    let checked = check_collection(&app, request).await?;
    let id = domain::random_id("collection");
    let who = operator.did("collection.create", &id, definition_detail(&checked));
    let collection = db::collections::create(&app.db, &id, &checked, app.now_ms(), &who).await?;
    Ok((StatusCode::CREATED, Json(collection)))
}

/// `PUT /v1/collections/{id}`: a draft's or paused collection's definition
/// replaced whole, as its next version.
async fn edit_collection(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<CreateCollectionRequest, OPERATOR_LIMIT>,
) -> Result<Json<Collection>, ApiError> {
    let checked = check_collection(&app, request).await?;
    let who = operator.did("collection.edit", &id, definition_detail(&checked));
    Ok(Json(
        db::collections::edit(&app.db, &id, &checked, app.now_ms(), &who).await?,
    ))
}

async fn collection_versions(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Vec<gpes_protocol::CollectionVersion>>, ApiError> {
    Ok(Json(db::collections::versions(&app.db, &id).await?))
}

/// What the audit trail says of a collection's definition.
fn definition_detail(c: &domain::collections::NewCollection) -> serde_json::Value {
    serde_json::json!({
        "name": c.name,
        "query": c.query.id,
        "query_hash": c.query.spec.hash.to_string(),
        "practices": c.practices,
        "targeting": c.targeting,
        "schedule": c.schedule,
        "terms": c.terms,
    })
}

/// A collection's definition checked whole: its query (text or library
/// version), parameters, schedule, practices and targeting against the
/// registry, and its requesting organisation.
async fn check_collection(
    app: &App,
    request: CreateCollectionRequest,
) -> Result<domain::collections::NewCollection, ApiError> {
    let query = match (&request.query_ref, request.query.trim().is_empty()) {
        (Some(_), false) => {
            return Err(ApiError::unprocessable(
                "give the query's text or a version of the library (query_ref), not both",
            ));
        }
        (None, true) => {
            return Err(ApiError::unprocessable(
                "a collection needs a query: its text, or a version of the library (query_ref)",
            ));
        }
        (Some(r), true) => domain::queries::check(&db::queries::spec(&app.db, r).await?.source)?,
        (None, false) => domain::queries::check(&request.query)?,
    };
    let today = scheduler::london_date(app.clock.now());
    let checked = domain::collections::validate(
        request,
        query,
        &today,
        app.config.run_deadline_hours.saturating_mul(3600),
    )?;
    db::practices::check_active(&app.db, &checked.practices).await?;
    db::practices::check_targeting(&app.db, &checked.targeting).await?;
    db::organisations::check_exists(&app.db, checked.terms.requested_by.as_deref()).await?;
    Ok(checked)
}

async fn list_collections(
    State(app): State<Arc<App>>,
    _operator: Operator,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Collection>>, ApiError> {
    let q = page_query(q)?;
    let (items, next) = db::collections::page(&app.db, q.cursor.as_deref(), q.limit()?).await?;
    Ok(Json(Page { items, next }))
}

async fn show_collection(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Collection>, ApiError> {
    Ok(Json(db::collections::get(&app.db, &id).await?))
}

async fn set_state(
    app: &App,
    operator: &Operator,
    id: &str,
    to: CollectionState,
) -> Result<Json<Collection>, ApiError> {
    let action = format!(
        "collection.{}",
        match to {
            CollectionState::Active => "activate",
            CollectionState::Paused => "pause",
            CollectionState::Retired => "retire",
            CollectionState::Draft => "draft",
        }
    );
    let who = operator.did(&action, id, serde_json::Value::Null);
    Ok(Json(
        db::collections::set_state(&app.db, id, to, app.now_ms(), &who).await?,
    ))
}

async fn activate_collection(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Collection>, ApiError> {
    set_state(&app, &operator, &id, CollectionState::Active).await
}

async fn pause_collection(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Collection>, ApiError> {
    set_state(&app, &operator, &id, CollectionState::Paused).await
}

async fn retire_collection(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Collection>, ApiError> {
    set_state(&app, &operator, &id, CollectionState::Retired).await
}

async fn run_now(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let collection = db::collections::get(&app.db, &id).await?;
    if collection.state != CollectionState::Active {
        return Err(domain::Refusal::CollectionState {
            id,
            state: collection.state.as_str(),
            what: "only an active collection runs (activate it first)".into(),
        }
        .into());
    }
    let now = app.clock.now();
    let (run, _) = db::jobs::fire(
        &app.db,
        &collection,
        ms(now),
        ms(now),
        &scheduler::london_date(now),
        gpes_protocol::RunKind::Manual,
        None,
        Some(&operator.did("run.now", &id, serde_json::Value::Null)),
    )
    .await?;
    app.jobs_ready.notify_waiters();
    Ok((StatusCode::CREATED, Json(run)))
}

/// A runs cursor: the last run's due time and id.
fn runs_cursor(text: &str) -> Result<(u64, String), ApiError> {
    text.split_once('.')
        .and_then(|(due, id)| Some((due.parse().ok()?, id.to_owned())))
        .ok_or_else(|| ApiError::bad_request(format!("'{text}' is not a cursor this list gave")))
}

async fn list_runs(
    State(app): State<Arc<App>>,
    _operator: Operator,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<RunSummary>>, ApiError> {
    let q = page_query(q)?;
    let cursor = q.cursor.as_deref().map(runs_cursor).transpose()?;
    let (items, next) =
        db::jobs::runs_page(&app.db, cursor, q.collection.as_deref(), q.limit()?).await?;
    Ok(Json(Page {
        items,
        next: next.map(|(due, id)| format!("{due}.{id}")),
    }))
}

async fn show_run(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    Ok(Json(db::jobs::run_summary(&app.db, &id).await?))
}

async fn run_results(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RunResults>, ApiError> {
    let q = page_query(q)?;
    let limit = q.limit()?;
    let only = results_scope(&app, &operator, q.practice.as_deref()).await?;
    let summary = db::jobs::run_summary(&app.db, &id).await?;
    // The read is on the trail before anything is returned.
    db::audit::record(
        &app.db,
        &operator.did(
            "results.read",
            &id,
            serde_json::json!({ "cursor": q.cursor, "limit": limit, "practice": only }),
        ),
        app.now_ms(),
    )
    .await?;
    let (results, next) = db::jobs::results_page(
        &app.db,
        &id,
        only.as_deref(),
        q.cursor.as_deref(),
        limit,
        PAGE_BYTES,
    )
    .await?;
    Ok(Json(RunResults {
        summary,
        results,
        next,
    }))
}

/// One practice's record-level answer, on the trail before it is sent.
async fn download_records(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RecordsDownload>, ApiError> {
    let q = page_query(q)?;
    if q.practice.is_none() && operator.reach().everything {
        return Err(ApiError::unprocessable(
            "record-level results are downloaded one practice at a time: add ?practice=CODE",
        ));
    }
    let Some(practice) = results_scope(&app, &operator, q.practice.as_deref()).await? else {
        return Err(ApiError::unprocessable("name the practice: ?practice=CODE"));
    };
    db::jobs::run_summary(&app.db, &id).await?;
    let Some((job_id, hash, text)) = db::jobs::stored_extract(&app.db, &id, &practice).await?
    else {
        return Err(ApiError::not_found(format!(
            "run '{id}' has no result stored for practice '{practice}'"
        )));
    };
    let extract = gpes_protocol::v1::read_stored_extract(&text)
        .map_err(|e| ApiError::internal(format!("a stored extract does not read: {e}")))?;
    let ResultOutput::RecordLevel(records) = extract.result.output else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            gpes_protocol::ErrorCode::Conflict,
            format!("run '{id}' gave counts, not records: read them at /v1/runs/{id}/results"),
        ));
    };
    let extract_hash = hash
        .parse()
        .map_err(|_| ApiError::internal("a stored extract hash does not read"))?;
    db::audit::record(
        &app.db,
        &operator.did(
            "records.download",
            &id,
            serde_json::json!({ "practice": practice, "job": job_id, "rows": records.rows.len() }),
        ),
        app.now_ms(),
    )
    .await?;
    Ok(Json(RecordsDownload {
        run_id: id,
        practice,
        job_id,
        extract_hash,
        records,
    }))
}

async fn cancel_run(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    Ok(Json(
        db::jobs::cancel_run(
            &app.db,
            &id,
            app.now_ms(),
            &operator.did("run.cancel", &id, serde_json::Value::Null),
        )
        .await?,
    ))
}

async fn retry_run(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    db::jobs::retry_failed(
        &app.db,
        &id,
        app.now_ms(),
        &operator.did("run.retry", &id, serde_json::Value::Null),
    )
    .await?;
    app.jobs_ready.notify_waiters();
    Ok(Json(db::jobs::run_summary(&app.db, &id).await?))
}

async fn list_agents(
    State(app): State<Arc<App>>,
    operator: Operator,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<AgentInfo>>, ApiError> {
    let q = page_query(q)?;
    let (items, next) =
        db::agents::page(&app.db, q.cursor.as_deref(), q.limit()?, &operator.reach()).await?;
    Ok(Json(Page { items, next }))
}

async fn show_agent(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<AgentInfo>, ApiError> {
    let reach = operator.reach();
    if !reach.everything && !db::agents::within(&app.db, &id, &reach).await? {
        return Err(ApiError::forbidden(format!(
            "{} may see only the agents of their practices, not '{id}'",
            operator.actor
        )));
    }
    Ok(Json(db::agents::get(&app.db, &id).await?))
}

/// Revokes an agent: stored first, then added to this replica's list the
/// agent listener consults (other replicas reload theirs every
/// `revocation_refresh_seconds`).
async fn revoke_agent(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<RevokeResponse>, ApiError> {
    let (agent, jobs_released) = db::agents::revoke(
        &app.db,
        &id,
        app.now_ms(),
        &operator.did("agent.revoke", &id, serde_json::Value::Null),
    )
    .await?;
    app.revoked.revoke(&id);
    tracing::warn!(agent = %id, actor = %operator.actor, jobs_released, "agent revoked");
    if jobs_released > 0 {
        app.jobs_ready.notify_waiters();
    }
    Ok(Json(RevokeResponse {
        agent,
        jobs_released,
    }))
}

async fn list_audit(
    State(app): State<Arc<App>>,
    _operator: Operator,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let q = page_query(q)?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("'{c}' is not a cursor this list gave")))
        })
        .transpose()?;
    let (items, next) = db::audit::page(&app.db, before, q.limit()?).await?;
    Ok(Json(Page {
        items,
        next: next.map(|n| n.to_string()),
    }))
}

/// Walks the whole trail against this replica's signed checkpoint.
async fn verify_audit(
    State(app): State<Arc<App>>,
    _operator: Operator,
) -> Result<Json<AuditVerification>, ApiError> {
    let path = app.config.data_dir.join(db::audit::CHECKPOINT_FILE);
    let checkpoint = db::audit::read_checkpoint(&path).map_err(ApiError::internal)?;
    Ok(Json(db::audit::verify(&app.db, checkpoint.as_ref()).await?))
}

async fn list_practices(
    State(app): State<Arc<App>>,
    operator: Operator,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Practice>>, ApiError> {
    let q = page_query(q)?;
    let (items, next) =
        db::practices::page(&app.db, q.cursor.as_deref(), q.limit()?, &operator.reach()).await?;
    Ok(Json(Page { items, next }))
}

async fn show_practice(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(code): Path<String>,
) -> Result<Json<Practice>, ApiError> {
    let code = code.to_ascii_uppercase();
    let reach = operator.reach();
    let refused =
        || ApiError::forbidden(format!("{} may not see practice '{code}'", operator.actor));
    match db::practices::get(&app.db, &code).await {
        Ok(p) if reach.covers(&p.code, &p.region, p.supplier.as_deref()) => Ok(Json(p)),
        Ok(_) => Err(refused()),
        Err(domain::Refusal::UnknownPractice(_)) if !reach.everything => Err(refused()),
        Err(e) => Err(e.into()),
    }
}

/// At most this many lines per import request (gpesctl sends batches).
const IMPORT_BATCH: usize = 2_000;

fn check_date(what: &str, code: &str, date: Option<&str>) -> Result<(), ApiError> {
    match date {
        Some(d) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() => {
            Err(ApiError::unprocessable(format!(
                "practice '{code}': the {what} '{d}' is not a date (YYYY-MM-DD)"
            )))
        }
        _ => Ok(()),
    }
}

async fn import_practices(
    State(app): State<Arc<App>>,
    operator: Operator,
    JsonBody(request): JsonBody<PracticeImportRequest, OPERATOR_LIMIT>,
) -> Result<Json<PracticeImportResponse>, ApiError> {
    let lines = request.practices.len() + request.successors.len();
    if lines > IMPORT_BATCH {
        return Err(ApiError::unprocessable(format!(
            "at most {IMPORT_BATCH} lines per import request, not {lines}"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &request.practices {
        domain::check_practice_code(&p.code)?;
        if p.code != p.code.to_ascii_uppercase() || !seen.insert(p.code.as_str()) {
            return Err(ApiError::unprocessable(format!(
                "practice '{}' is not upper case or is named twice",
                p.code
            )));
        }
        if p.name.trim().is_empty() || p.region.trim().is_empty() {
            return Err(ApiError::unprocessable(format!(
                "practice '{}' has no name or no commissioner",
                p.code
            )));
        }
        check_date("open date", &p.code, p.open_date.as_deref())?;
        check_date("close date", &p.code, p.close_date.as_deref())?;
    }
    for s in &request.successors {
        domain::check_practice_code(&s.code)?;
        domain::check_practice_code(&s.successor)?;
        if s.code == s.successor {
            return Err(ApiError::unprocessable(format!(
                "practice '{}' is named as its own successor",
                s.code
            )));
        }
    }
    let who = operator.did("practices.import", "registry", serde_json::Value::Null);
    Ok(Json(
        db::practices::import(&app.db, &request, app.now_ms(), &who).await?,
    ))
}

async fn set_practice(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(code): Path<String>,
    JsonBody(request): JsonBody<PracticeSetRequest, OPERATOR_LIMIT>,
) -> Result<Json<Practice>, ApiError> {
    let code = code.to_ascii_uppercase();
    let who = operator.did("practice.set", &code, serde_json::Value::Null);
    Ok(Json(
        db::practices::set(&app.db, &code, &request, app.now_ms(), &who).await?,
    ))
}
