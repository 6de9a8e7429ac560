//! The needs-attention list's reads: failing jobs and silent agents. (The
//! practices without a decision come from the participation rules, in
//! the HTTP layer that puts the list together.)

use super::{Db, to_i64, to_u64};
use crate::domain::Refusal;
use gpes_protocol::{AttentionItem, AttentionKind};

/// A failing job's line: run, practice, collection, state, attempts,
/// last error, when it last changed.
type FailingRow = (String, String, String, String, i64, Option<String>, i64);

/// Jobs of live national runs (not cancelled, deadline at most a week
/// ago) that failed, or are being retried after failing.
pub async fn failing_jobs(db: &Db, now_ms: u64) -> Result<Vec<AttentionItem>, Refusal> {
    let week_ago = now_ms.saturating_sub(7 * 24 * 3600 * 1000);
    let rows: Vec<FailingRow> = sqlx::query_as(
        "SELECT j.run_id, j.practice, r.collection_id, j.state, j.attempts, j.last_error, \
         j.updated_ms FROM jobs j JOIN runs r ON r.id = j.run_id \
         WHERE r.cancelled_ms IS NULL AND r.kind IN ('scheduled', 'manual') \
         AND r.deadline_ms > $1 \
         AND (j.state = 'failed' OR (j.state IN ('pending', 'leased') AND j.attempts > 0)) \
         ORDER BY j.updated_ms, j.id",
    )
    .bind(to_i64(week_ago))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(run_id, practice, collection_id, state, attempts, error, updated_ms)| {
                let error = error.unwrap_or_else(|| "no reason given".into());
                let detail = if state == "failed" {
                    format!("failed after {attempts} attempts: {error}")
                } else {
                    format!("failing, retried ({attempts} attempts so far): {error}")
                };
                AttentionItem {
                    kind: AttentionKind::FailingJob,
                    practice: Some(practice),
                    collection_id: Some(collection_id),
                    run_id: Some(run_id),
                    agent_id: None,
                    since_ms: Some(to_u64(updated_ms)),
                    detail,
                }
            },
        )
        .collect())
}

/// Agents not revoked and not seen since `before_ms` (or never, enrolled
/// before it), one line per practice they serve.
pub async fn silent_agents(db: &Db, before_ms: u64) -> Result<Vec<AttentionItem>, Refusal> {
    let rows: Vec<(String, Option<i64>, i64, Option<String>)> = sqlx::query_as(
        "SELECT a.id, a.last_seen_ms, a.enrolled_ms, p.practice FROM agents a \
         LEFT JOIN agent_practices p ON p.agent_id = a.id \
         WHERE a.revoked_ms IS NULL AND COALESCE(a.last_seen_ms, a.enrolled_ms) < $1 \
         ORDER BY a.id, p.practice",
    )
    .bind(to_i64(before_ms))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(agent, seen, enrolled, practice)| AttentionItem {
            kind: AttentionKind::AgentSilent,
            practice,
            collection_id: None,
            run_id: None,
            agent_id: Some(agent),
            since_ms: Some(to_u64(seen.unwrap_or(enrolled))),
            detail: match seen {
                Some(_) => "not seen for more than a day".into(),
                None => "enrolled more than a day ago and never seen".into(),
            },
        })
        .collect())
}

/// Declarations waiting for a decision since before `before_ms`.
pub async fn waiting_declarations(db: &Db, before_ms: u64) -> Result<Vec<AttentionItem>, Refusal> {
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT id, run_id, collection_id, practice, declared_ms FROM declarations \
         WHERE state = 'declared' AND declared_ms < $1 ORDER BY declared_ms, id",
    )
    .bind(to_i64(before_ms))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, run, collection, practice, declared_ms)| AttentionItem {
                kind: AttentionKind::DeclarationWaiting,
                practice: Some(practice),
                collection_id: Some(collection),
                run_id: Some(run),
                agent_id: None,
                since_ms: Some(to_u64(declared_ms)),
                detail: format!("declaration {id} waits for the commissioner's approval"),
            },
        )
        .collect())
}
