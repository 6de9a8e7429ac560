//! Requesting organisations and their delivery targets: an admin keeps
//! them; collection managers name one on a collection.

use super::App;
use super::auth::Operator;
use super::body::{JsonBody, OPERATOR_LIMIT};
use super::error::ApiError;
use crate::db;
use crate::domain;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use gpes_protocol::{Organisation, OrganisationSetRequest};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/organisations", get(list))
        .route("/v1/organisations/{code}", get(show).post(set))
}

async fn list(
    State(app): State<Arc<App>>,
    _operator: Operator,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    Ok(Json(db::organisations::list(&app.db).await?))
}

async fn show(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(code): Path<String>,
) -> Result<Json<Organisation>, ApiError> {
    Ok(Json(
        db::organisations::get(&app.db, &code.to_ascii_uppercase()).await?,
    ))
}

async fn set(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(code): Path<String>,
    JsonBody(request): JsonBody<OrganisationSetRequest, OPERATOR_LIMIT>,
) -> Result<Json<Organisation>, ApiError> {
    let (code, request) = domain::organisations::check(&code, &request)?;
    let detail = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let who = operator.did("organisation.set", &code, detail);
    Ok(Json(
        db::organisations::set(&app.db, &code, &request, app.now_ms(), &who).await?,
    ))
}
