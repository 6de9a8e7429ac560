//! The query library: push a version, list the queries, a query's
//! versions, one version with its text.

use super::App;
use super::auth::Operator;
use super::body::{JsonBody, OPERATOR_LIMIT};
use super::error::ApiError;
use super::operator::{PageQuery, page_query};
use crate::db;
use crate::domain;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use gpes_protocol::{Page, PushQueryRequest, PushQueryResponse, QueryRef, QueryVersion};
use http::StatusCode;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/queries", post(push).get(list))
        .route("/v1/queries/{id}", get(versions))
        .route("/v1/queries/{id}/{version}", get(show))
}

/// 201 with the new version, or 200 with the version that already holds
/// the same canonical query.
async fn push(
    State(app): State<Arc<App>>,
    operator: Operator,
    JsonBody(request): JsonBody<PushQueryRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<PushQueryResponse>), ApiError> {
    let checked = domain::queries::check(&request.source)?;
    let who = operator.did("query.push", &checked.id, serde_json::Value::Null);
    let (query, created) = db::queries::push(&app.db, &checked, app.now_ms(), &who).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(PushQueryResponse { query, created })))
}

async fn list(
    State(app): State<Arc<App>>,
    _operator: Operator,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<QueryVersion>>, ApiError> {
    let q = page_query(q)?;
    let (items, next) = db::queries::page(&app.db, q.cursor.as_deref(), q.limit()?).await?;
    Ok(Json(Page { items, next }))
}

async fn versions(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Vec<QueryVersion>>, ApiError> {
    Ok(Json(db::queries::versions(&app.db, &id).await?))
}

async fn show(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<QueryVersion>, ApiError> {
    let version: u32 = version.parse().map_err(|_| {
        ApiError::bad_request(format!("'{version}' is not a version number (1, 2, ...)"))
    })?;
    Ok(Json(
        db::queries::get(&app.db, &QueryRef { id, version }).await?,
    ))
}
