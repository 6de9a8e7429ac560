//! Participation: the collections offered to a practice, its decisions
//! (`B1845`) and standing preferences (`B1844`). Each route checks the
//! practice is within the caller's reach, the same refusal whether the
//! practice exists or not.

use super::App;
use super::auth::Operator;
use super::body::{JsonBody, OPERATOR_LIMIT};
use super::error::ApiError;
use crate::db;
use crate::domain;
use crate::scheduler::ms;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use gpes_protocol::{
    CollectionState, DecisionRecord, DecisionRequest, Offer, Practice, Preference,
    PreferenceRequest,
};
use http::StatusCode;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/offers", get(offers))
        .route(
            "/v1/collections/{id}/decisions",
            get(list_decisions).post(decide),
        )
        .route(
            "/v1/practices/{code}/preferences",
            get(list_preferences).post(add_preference),
        )
        .route(
            "/v1/practices/{code}/preferences/{id}/remove",
            post(remove_preference),
        )
}

/// The practice, when the caller's grants reach it for this route.
pub async fn practice_within(
    app: &App,
    operator: &Operator,
    code: &str,
) -> Result<Practice, ApiError> {
    let code = code.trim().to_ascii_uppercase();
    let reach = operator.reach();
    let refused = || {
        ApiError::from(domain::Refusal::NotAllowed(format!(
            "{} may not {} for practice '{code}'",
            operator.actor,
            operator.permission.describe()
        )))
    };
    match db::practices::get(&app.db, &code).await {
        Ok(p) if reach.covers(&p.code, &p.region, p.supplier.as_deref()) => Ok(p),
        Ok(_) => Err(refused()),
        Err(domain::Refusal::UnknownPractice(_)) if !reach.everything => Err(refused()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeQuery {
    practice: Option<String>,
}

/// Every active, paused or draft collection targeting the practice now,
/// mandatory and offered, with where the practice stands for its next
/// run.
async fn offers(
    State(app): State<Arc<App>>,
    operator: Operator,
    q: Result<Query<PracticeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Offer>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let Some(code) = q.practice else {
        return Err(ApiError::unprocessable(
            "name the practice: /v1/offers?practice=CODE",
        ));
    };
    let practice = practice_within(&app, &operator, &code).await?;
    let now = app.clock.now();
    let mut out = Vec::new();
    for collection in db::collections::all(&app.db).await? {
        if collection.state == CollectionState::Retired {
            continue;
        }
        let mut tx = app.db.pool().begin().await.map_err(domain::Refusal::from)?;
        let (targets, _) =
            db::practices::resolve_targets(&mut tx, &collection.practices, &collection.targeting)
                .await?;
        tx.rollback().await.map_err(domain::Refusal::from)?;
        if !targets.contains(&practice.code) {
            continue;
        }
        let only = BTreeSet::from([practice.code.clone()]);
        let state = db::participation::states(&app.db, &collection, &only)
            .await?
            .remove(&practice.code)
            .unwrap_or(gpes_protocol::ParticipationState::NoAnswer);
        let next_run_ms = gpes_schedule::Schedule::parse(&collection.schedule)
            .ok()
            .and_then(|s| s.next_after(now))
            .map(ms);
        out.push(Offer {
            practice: practice.code.clone(),
            collection_id: collection.id,
            collection_name: collection.name,
            purpose: collection.purpose,
            data_class: collection.data_class,
            collection_state: collection.state,
            terms: collection.terms,
            next_run_ms,
            participation: state,
        });
    }
    out.sort_by_key(|o| {
        (
            o.next_run_ms.is_none(),
            o.next_run_ms,
            o.collection_id.clone(),
        )
    });
    Ok(Json(out))
}

async fn decide(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<DecisionRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<DecisionRecord>), ApiError> {
    let practice = practice_within(&app, &operator, &request.practice).await?;
    let reason = domain::participation::check_reason(request.reason.as_deref())?;
    let collection = db::collections::get(&app.db, &id).await?;
    let who = operator.did(
        "participation.decide",
        &id,
        serde_json::json!({
            "practice": practice.code,
            "decision": request.decision,
            "reason": reason,
        }),
    );
    let record = db::participation::decide(
        &app.db,
        &collection,
        &practice.code,
        request.decision,
        &reason,
        app.now_ms(),
        &who,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// A collection's decisions, oldest first: all of them for operators,
/// those of the caller's practices for anyone else.
async fn list_decisions(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    q: Result<Query<PracticeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DecisionRecord>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    db::collections::get(&app.db, &id).await?;
    let only = match q.practice {
        Some(code) => Some(BTreeSet::from([practice_within(&app, &operator, &code)
            .await?
            .code])),
        None if operator.reach().everything => None,
        None => {
            return Err(ApiError::unprocessable("name the practice: ?practice=CODE"));
        }
    };
    Ok(Json(
        db::participation::decisions(&app.db, &id, only.as_ref()).await?,
    ))
}

async fn list_preferences(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(code): Path<String>,
) -> Result<Json<Vec<Preference>>, ApiError> {
    let practice = practice_within(&app, &operator, &code).await?;
    Ok(Json(
        db::participation::preferences(&app.db, &practice.code).await?,
    ))
}

async fn add_preference(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(code): Path<String>,
    JsonBody(mut request): JsonBody<PreferenceRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<Preference>), ApiError> {
    let practice = practice_within(&app, &operator, &code).await?;
    request.requested_by = request
        .requested_by
        .map(|o| o.trim().to_ascii_uppercase())
        .filter(|o| !o.is_empty());
    let id = domain::random_id("preference");
    let detail = serde_json::to_value(&request).map_err(|e| ApiError::internal(e.to_string()))?;
    let who = operator.did("participation.prefer", &practice.code, detail);
    let made = db::participation::add_preference(
        &app.db,
        &id,
        &practice.code,
        &request,
        app.now_ms(),
        &who,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

async fn remove_preference(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path((code, id)): Path<(String, String)>,
) -> Result<Json<Vec<Preference>>, ApiError> {
    let practice = practice_within(&app, &operator, &code).await?;
    let who = operator.did(
        "participation.unprefer",
        &practice.code,
        serde_json::json!({ "preference": id }),
    );
    db::participation::remove_preference(&app.db, &practice.code, &id, app.now_ms(), &who).await?;
    Ok(Json(
        db::participation::preferences(&app.db, &practice.code).await?,
    ))
}
