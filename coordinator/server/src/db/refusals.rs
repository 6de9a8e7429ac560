//! The log of refused requests: kept in a table of its own, so that the
//! state a refusal must leave unchanged is unchanged.

use super::{Db, to_i64};
use crate::domain::Refusal;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefusalRow {
    pub at_ms: i64,
    pub actor: String,
    pub route: String,
    pub status: i64,
    pub message: String,
}

pub async fn record(
    db: &Db,
    now_ms: u64,
    actor: &str,
    route: &str,
    status: u16,
    message: &str,
) -> Result<(), Refusal> {
    let message: String = message.chars().take(1000).collect();
    sqlx::query(
        "INSERT INTO refusals (at_ms, actor, route, status, message) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(to_i64(now_ms))
    .bind(actor)
    .bind(route)
    .bind(i64::from(status))
    .bind(message)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The newest refusals, newest first.
pub async fn latest(db: &Db, limit: u32) -> Result<Vec<RefusalRow>, Refusal> {
    Ok(sqlx::query_as(
        "SELECT at_ms, actor, route, status, message FROM refusals ORDER BY id DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await?)
}
