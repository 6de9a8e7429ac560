//! Declarations and approvals: a practice's declarer declares one exact
//! result of a national run; the commissioner of its region approves or
//! rejects it with a reason.

use super::App;
use super::auth::Operator;
use super::body::{JsonBody, OPERATOR_LIMIT};
use super::error::ApiError;
use crate::db;
use crate::domain;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use gpes_protocol::{Declaration, DeclarationState, DeclareRequest, RejectRequest};
use http::StatusCode;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/runs/{id}/declarations", post(declare))
        .route("/v1/declarations", get(list))
        .route("/v1/declarations/{id}/approve", post(approve))
        .route("/v1/declarations/{id}/reject", post(reject))
        .route("/v1/runs/{id}/payments", get(payments))
        .route(
            "/v1/runs/{id}/manual",
            get(manual_history).post(enter_manual),
        )
}

/// A practice's values entered by hand: for a collection entered by
/// hand, or a practice no agent serves yet. Checked against the query's
/// output; a correction is the next version.
async fn enter_manual(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(run_id): Path<String>,
    JsonBody(request): JsonBody<gpes_protocol::ManualEntryRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<gpes_protocol::ManualEntry>), ApiError> {
    let practice =
        super::participation::practice_within(&app, &operator, &request.practice).await?;
    let target = db::manual::target(&app.db, &run_id, &practice.code).await?;
    if !target.manual_collection && db::manual::has_agent(&app.db, &practice.code).await? {
        return Err(ApiError::unprocessable(format!(
            "practice {} has an agent: its values are extracted, not entered by hand",
            practice.code
        )));
    }
    let spec = gpes_query::parse("query", &target.query_source)
        .map_err(|e| ApiError::internal(format!("the stored query does not parse: {e}")))?;
    let populations = domain::manual::check(&spec, &request.populations)?;
    let parameters: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&target.parameters)
            .map_err(|e| ApiError::internal(format!("stored parameters do not read: {e}")))?;
    let query_hash: gpes_canon::ContentHash = target
        .query_hash
        .parse()
        .map_err(|e| ApiError::internal(format!("stored query hash does not read: {e}")))?;
    let who = operator.did("manual.enter", &target.job_id, serde_json::Value::Null);
    let code = practice.code.clone();
    let entry = db::manual::enter(
        &app.db,
        &run_id,
        &practice.code,
        &target.job_id,
        move |version| {
            let extract =
                domain::manual::extract(&code, query_hash, parameters, version, populations);
            let text = gpes_canon::to_canonical_string(&extract)
                .map_err(|e| domain::Refusal::Store(e.to_string()))?;
            let hash = gpes_canon::ContentHash::of_bytes(text.as_bytes());
            Ok((text, hash))
        },
        app.now_ms(),
        &who,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeOnly {
    practice: String,
}

async fn manual_history(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(run_id): Path<String>,
    q: Result<Query<PracticeOnly>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<gpes_protocol::ManualEntry>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let practice = super::participation::practice_within(&app, &operator, &q.practice).await?;
    Ok(Json(
        db::manual::history(&app.db, &run_id, &practice.code).await?,
    ))
}

/// The payment lines of a national run of a collection with a payment
/// rule: one per approved practice and indicator, with the working shown;
/// the practices still waiting for an approval are named.
async fn payments(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(run_id): Path<String>,
) -> Result<Json<gpes_protocol::Payments>, ApiError> {
    let summary = db::jobs::run_summary(&app.db, &run_id).await?;
    if !matches!(
        summary.run.kind,
        gpes_protocol::RunKind::Scheduled | gpes_protocol::RunKind::Manual
    ) {
        return Err(ApiError::unprocessable(format!(
            "run '{run_id}' is a {} run: only national runs are paid",
            summary.run.kind.as_str()
        )));
    }
    let collection = db::collections::get(&app.db, &summary.run.collection_id).await?;
    let Some(rule) = &collection.terms.payment else {
        return Err(ApiError::unprocessable(format!(
            "collection '{}' has no payment rule",
            collection.id
        )));
    };
    let reach = operator.reach();
    let mine: Option<BTreeSet<String>> = if reach.everything {
        None
    } else {
        let mut codes = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) =
                db::practices::page(&app.db, cursor.as_deref(), 1000, &reach).await?;
            codes.extend(page.into_iter().map(|p| p.code));
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        Some(codes)
    };
    let mut lines = Vec::new();
    let mut waiting = Vec::new();
    for (practice, extract) in db::declarations::payable_extracts(&app.db, &run_id).await? {
        if mine.as_ref().is_some_and(|m| !m.contains(&practice)) {
            continue;
        }
        let Some(text) = extract else {
            waiting.push(practice);
            continue;
        };
        let extract = gpes_protocol::v1::read_stored_extract(&text)
            .map_err(|e| ApiError::internal(format!("a stored extract does not read: {e}")))?;
        let practice_lines = domain::payments::lines_for(rule, &practice, &extract.result)
            .map_err(|e| ApiError::unprocessable(format!("practice {practice}: {e}")))?;
        lines.extend(practice_lines);
    }
    let total_pence = lines.iter().map(|l| l.pence).sum();
    Ok(Json(gpes_protocol::Payments {
        run_id,
        lines,
        total_pence,
        waiting,
        rounding: domain::payments::ROUNDING.to_owned(),
    }))
}

async fn declare(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(run_id): Path<String>,
    JsonBody(request): JsonBody<DeclareRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<Declaration>), ApiError> {
    let practice =
        super::participation::practice_within(&app, &operator, &request.practice).await?;
    let id = domain::random_id("declaration");
    let who = operator.did(
        "declaration.declare",
        &id,
        serde_json::json!({
            "run": run_id,
            "practice": practice.code,
            "extract_hash": request.extract_hash.to_string(),
        }),
    );
    let made = db::declarations::declare(
        &app.db,
        &id,
        &run_id,
        &practice.code,
        &request.extract_hash,
        app.now_ms(),
        &who,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(made)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    run: Option<String>,
    #[serde(default)]
    practice: Option<String>,
    #[serde(default)]
    state: Option<DeclarationState>,
}

/// Declarations, newest first, within the caller's grants.
async fn list(
    State(app): State<Arc<App>>,
    operator: Operator,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Declaration>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let practice = match &q.practice {
        Some(code) => Some(
            super::participation::practice_within(&app, &operator, code)
                .await?
                .code,
        ),
        None => None,
    };
    let mut out =
        db::declarations::list(&app.db, q.run.as_deref(), practice.as_deref(), q.state).await?;
    let reach = operator.reach();
    if !reach.everything {
        let mut mine = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) =
                db::practices::page(&app.db, cursor.as_deref(), 1000, &reach).await?;
            mine.extend(page.into_iter().map(|p| p.code));
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        out.retain(|d| mine.contains(&d.practice));
    }
    Ok(Json(out))
}

async fn approve(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Declaration>, ApiError> {
    decide(&app, &operator, &id, true, None).await
}

async fn reject(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<RejectRequest, OPERATOR_LIMIT>,
) -> Result<Json<Declaration>, ApiError> {
    let reason = domain::declarations::check_reason(&request.reason)?;
    decide(&app, &operator, &id, false, Some(&reason)).await
}

/// A commissioner decides only for the practices of their region: a
/// declaration of another region's practice is refused as if it were not
/// there.
async fn decide(
    app: &App,
    operator: &Operator,
    id: &str,
    approve: bool,
    reason: Option<&str>,
) -> Result<Json<Declaration>, ApiError> {
    let declaration = db::declarations::get(&app.db, id).await?;
    super::participation::practice_within(app, operator, &declaration.practice).await?;
    let who = operator.did(
        if approve {
            "declaration.approve"
        } else {
            "declaration.reject"
        },
        id,
        serde_json::json!({ "practice": declaration.practice, "reason": reason }),
    );
    Ok(Json(
        db::declarations::decide(&app.db, id, approve, reason, app.now_ms(), &who).await?,
    ))
}
