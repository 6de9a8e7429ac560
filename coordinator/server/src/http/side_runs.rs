//! Runs beside the national ones: a dry run of a collection on the
//! registry's test practices before it goes live (kept apart: never in
//! the timetable, an export or a delivery, and deletable), and a
//! practice's own ad-hoc extraction (`B1842`) of a collection that
//! targets it, now (its result is the practice's: never delivered nor
//! counted in a national run).

use super::App;
use super::auth::Operator;
use super::body::{JsonBody, OPERATOR_LIMIT};
use super::error::ApiError;
use crate::db;
use crate::domain::{self, Refusal};
use crate::scheduler::{self, ms};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use gpes_protocol::{AdhocRequest, CollectionState, DryRunRequest, Run, RunKind};
use http::StatusCode;
use std::collections::BTreeSet;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/collections/{id}/dry-run", post(dry_run))
        .route("/v1/collections/{id}/adhoc", post(adhoc))
        .route("/v1/runs/{id}/delete", post(delete_dry_run))
}

/// Fires a run of `kind` now for exactly `practices`. Two asked in the
/// same millisecond get a millisecond each.
async fn fire_now(
    app: &App,
    collection: &gpes_protocol::Collection,
    kind: RunKind,
    practices: &BTreeSet<String>,
    who: &db::audit::Entry<'_>,
) -> Result<Run, ApiError> {
    let now = app.clock.now();
    let date = scheduler::london_date(now);
    for step in 0..16u64 {
        let (run, created) = db::jobs::fire(
            &app.db,
            collection,
            ms(now) + step,
            ms(now),
            &date,
            kind,
            Some(practices),
            Some(who),
        )
        .await?;
        if created {
            app.jobs_ready.notify_waiters();
            return Ok(run);
        }
    }
    Err(Refusal::Exists("too many runs of this collection at once: try again".into()).into())
}

async fn dry_run(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<DryRunRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let collection = db::collections::get(&app.db, &id).await?;
    if collection.state == CollectionState::Retired {
        return Err(Refusal::CollectionState {
            id,
            state: "retired",
            what: "a retired collection is not tried".into(),
        }
        .into());
    }
    let test = db::practices::test_practices(&app.db).await?;
    let practices: BTreeSet<String> = if request.practices.is_empty() {
        test
    } else {
        let mut named = BTreeSet::new();
        for p in &request.practices {
            domain::check_practice_code(p)?;
            let p = p.to_ascii_uppercase();
            if !test.contains(&p) {
                return Err(ApiError::unprocessable(format!(
                    "'{p}' is not an active test practice of the registry: a dry run reaches test practices only (gpesctl practice set {p} --test true)"
                )));
            }
            named.insert(p);
        }
        named
    };
    if practices.is_empty() {
        return Err(ApiError::unprocessable(
            "the registry has no active test practice to try the collection on: flag one with gpesctl practice set CODE --test true",
        ));
    }
    let who = operator.did(
        "run.dry-run",
        &id,
        serde_json::json!({ "practices": practices }),
    );
    let run = fire_now(&app, &collection, RunKind::DryRun, &practices, &who).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

async fn adhoc(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<AdhocRequest, OPERATOR_LIMIT>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let practice =
        super::participation::practice_within(&app, &operator, &request.practice).await?;
    let collection = db::collections::get(&app.db, &id).await?;
    if collection.state == CollectionState::Retired {
        return Err(Refusal::CollectionState {
            id,
            state: "retired",
            what: "a retired collection is not run".into(),
        }
        .into());
    }
    let mut tx = app.db.pool().begin().await.map_err(Refusal::from)?;
    let (targets, _) =
        db::practices::resolve_targets(&mut tx, &collection.practices, &collection.targeting)
            .await?;
    tx.rollback().await.map_err(Refusal::from)?;
    if !targets.contains(&practice.code) {
        return Err(ApiError::unprocessable(format!(
            "collection '{id}' does not target practice '{}': a practice runs only the collections that reach it",
            practice.code
        )));
    }
    let only = BTreeSet::from([practice.code.clone()]);
    let who = operator.did(
        "run.adhoc",
        &id,
        serde_json::json!({ "practice": practice.code }),
    );
    let run = fire_now(&app, &collection, RunKind::Adhoc, &only, &who).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

/// Deletes a dry run with its jobs and results; any other run is kept.
async fn delete_dry_run(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = operator.did("run.delete", &id, serde_json::Value::Null);
    let deleted = db::jobs::delete_dry_run(&app.db, &id, app.now_ms(), &who).await?;
    Ok(Json(
        serde_json::json!({ "run": id, "jobs_deleted": deleted }),
    ))
}
