//! A practice's view of its own result of a run (`B1843`): each
//! population's count beside what it counts in plain English, and where
//! the numbers came from (parameters, extract hash, the files read, the
//! plugin and engine, or who entered them by hand). The read is on the
//! audit trail before it is answered, as every read of results is.

use super::App;
use super::auth::Operator;
use super::error::ApiError;
use crate::db;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use gpes_protocol::{PopulationView, PracticeView, Provenance, ResultOutput};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/v1/runs/{id}/view", get(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewQuery {
    practice: String,
}

async fn view(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(id): Path<String>,
    q: Result<Query<ViewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PracticeView>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let practice = super::operator::results_scope(&app, &operator, Some(&q.practice))
        .await?
        .unwrap_or_default();
    let summary = db::jobs::run_summary(&app.db, &id).await?;
    let Some(line) = db::jobs::practice_line(&app.db, &id, &practice).await? else {
        return Err(ApiError::not_found(format!(
            "run '{id}' has no line for practice '{practice}'"
        )));
    };
    db::audit::record(
        &app.db,
        &operator.did(
            "results.view",
            &id,
            serde_json::json!({ "practice": practice }),
        ),
        app.now_ms(),
    )
    .await?;
    let collection = db::collections::get(&app.db, &summary.run.collection_id).await?;
    let spec = gpes_query::parse("query", &collection.query.source)
        .map_err(|e| ApiError::internal(format!("the stored query does not parse: {e}")))?;
    let (answer, provenance) = match &line.stored {
        None => (None, None),
        Some((by, text, hash, at)) => {
            let extract = gpes_protocol::v1::read_stored_extract(text)
                .map_err(|e| ApiError::internal(format!("a stored extract does not read: {e}")))?;
            let provenance = Provenance {
                extract_hash: hash
                    .parse()
                    .map_err(|e| ApiError::internal(format!("stored hash: {e}")))?,
                parameters: extract.parameters.clone(),
                inputs: extract.inputs.clone(),
                plugin_name: extract.plugin_name.clone(),
                plugin_version: extract.plugin_version.clone(),
                engine_version: extract.engine_version.clone(),
                stored_ms: *at,
                stored_by: by.clone(),
            };
            (Some(extract.result), Some(provenance))
        }
    };
    let names: Vec<String> = match &spec.output {
        gpes_query::Output::Aggregate { populations, .. } => populations.clone(),
        gpes_query::Output::RecordLevel { .. } => Vec::new(),
    };
    let populations = names
        .iter()
        .map(|name| {
            let counted = answer.as_ref().and_then(|a| match &a.output {
                ResultOutput::Aggregate(r) => r.populations.iter().find(|p| &p.population == name),
                ResultOutput::RecordLevel(_) => None,
            });
            PopulationView {
                population: name.clone(),
                count: counted.and_then(|p| p.count),
                suppressed: counted.is_some_and(|p| p.suppressed),
                explanation: spec.explain_population(name).unwrap_or_default(),
            }
        })
        .collect();
    Ok(Json(PracticeView {
        run: summary.run,
        collection_name: summary.collection_name,
        practice,
        status: crate::domain::jobs::parse_state(&line.state)?,
        participation: line.participation,
        populations,
        provenance,
        explanation: spec.explain(),
    }))
}
