//! Needs attention: one list of what someone should act on. Practices
//! with no decision before an offered collection's next run, failing
//! jobs, agents not seen for a day, declarations waiting for their
//! commissioner longer than `declaration_attention_hours`. Operators see
//! all of it; a practice's, region's or supplier's users the lines of
//! their practices.

use super::App;
use super::auth::Operator;
use super::error::ApiError;
use crate::db;
use crate::domain;
use crate::scheduler::ms;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use gpes_protocol::{
    AttentionItem, AttentionKind, CollectionState, ParticipationMode, ParticipationState,
};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/v1/attention", get(attention))
}

/// `?days=N`: how near an offered collection's next run makes a missing
/// decision worth a line (1 to 60, 7 when absent).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionQuery {
    #[serde(default)]
    days: Option<u32>,
}

const DAY_MS: u64 = 24 * 3600 * 1000;

async fn attention(
    State(app): State<Arc<App>>,
    operator: Operator,
    q: Result<Query<AttentionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<AttentionItem>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let days = q.days.unwrap_or(7);
    if !(1..=60).contains(&days) {
        return Err(ApiError::unprocessable(format!(
            "days must be between 1 and 60, not {days}"
        )));
    }
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
    let now = app.clock.now();
    let until = now + chrono::Duration::days(i64::from(days));
    let mut out = Vec::new();
    for (collection, _) in db::collections::scheduled(&app.db).await? {
        if collection.terms.participation != ParticipationMode::Offered
            || collection.state != CollectionState::Active
        {
            continue;
        }
        let Some(due) = gpes_schedule::Schedule::parse(&collection.schedule)
            .ok()
            .and_then(|s| s.next_after(now))
            .filter(|due| *due <= until)
        else {
            continue;
        };
        let mut tx = app.db.pool().begin().await.map_err(domain::Refusal::from)?;
        let (mut targets, _) =
            db::practices::resolve_targets(&mut tx, &collection.practices, &collection.targeting)
                .await?;
        tx.rollback().await.map_err(domain::Refusal::from)?;
        if let Some(codes) = &mine {
            targets.retain(|p| codes.contains(p));
        }
        for (practice, state) in db::participation::states(&app.db, &collection, &targets).await? {
            if state == ParticipationState::NoAnswer {
                out.push(AttentionItem {
                    kind: AttentionKind::NoDecision,
                    practice: Some(practice),
                    collection_id: Some(collection.id.clone()),
                    run_id: None,
                    agent_id: None,
                    since_ms: Some(ms(due)),
                    detail: format!(
                        "'{}' runs {} (London) and the practice has not decided: it will not be extracted",
                        collection.name,
                        due.with_timezone(&gpes_schedule::TIME_ZONE).format("%Y-%m-%d %H:%M")
                    ),
                });
            }
        }
    }
    let now_ms = ms(now);
    out.extend(db::attention::failing_jobs(&app.db, now_ms).await?);
    out.extend(db::attention::silent_agents(&app.db, now_ms.saturating_sub(DAY_MS)).await?);
    let waited_ms = app
        .config
        .declaration_attention_hours
        .saturating_mul(3600 * 1000);
    out.extend(
        db::attention::waiting_declarations(&app.db, now_ms.saturating_sub(waited_ms)).await?,
    );
    if let Some(codes) = &mine {
        out.retain(|i| i.practice.as_ref().is_some_and(|p| codes.contains(p)));
    }
    out.sort_by(|a, b| (a.kind, a.since_ms, &a.practice).cmp(&(b.kind, b.since_ms, &b.practice)));
    Ok(Json(out))
}
