//! Calendar feed addresses: a user's read-only timetable feed, reached
//! by a secret in its address (calendar programs cannot send a bearer
//! token). The secret is kept only as its SHA-256; a feed can be revoked;
//! a disabled user's feeds answer nothing.

use super::{Db, audit, to_i64, to_u64};
use crate::domain::Refusal;
use crate::domain::grants::Grant;
use gpes_protocol::CalendarFeed;

type Row = (String, Option<String>, i64, Option<i64>);

fn read((id, label, created_ms, revoked_ms): Row) -> CalendarFeed {
    CalendarFeed {
        id,
        label,
        created_ms: to_u64(created_ms),
        revoked_ms: revoked_ms.map(to_u64),
    }
}

pub async fn create(
    db: &Db,
    id: &str,
    user_id: &str,
    secret_hash: &str,
    label: Option<&str>,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<CalendarFeed, Refusal> {
    let mut tx = db.write().await?;
    let user: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    if user.is_none() {
        return Err(Refusal::Invalid(format!(
            "calendar feeds belong to users; '{user_id}' is not one (the bootstrap admin token has none: make a user)"
        )));
    }
    sqlx::query(
        "INSERT INTO calendar_feeds (id, user_id, secret_hash, label, created_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(secret_hash)
    .bind(label)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    Ok(CalendarFeed {
        id: id.to_owned(),
        label: label.map(str::to_owned),
        created_ms: now_ms,
        revoked_ms: None,
    })
}

/// A user's feeds, newest last.
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<CalendarFeed>, Refusal> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, label, created_ms, revoked_ms FROM calendar_feeds WHERE user_id = $1 \
         ORDER BY created_ms, id",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(read).collect())
}

/// Revokes one of a user's own feeds.
pub async fn revoke(
    db: &Db,
    user_id: &str,
    id: &str,
    now_ms: u64,
    who: &audit::Entry<'_>,
) -> Result<(), Refusal> {
    let mut tx = db.write().await?;
    let done = sqlx::query(
        "UPDATE calendar_feeds SET revoked_ms = $3 \
         WHERE id = $1 AND user_id = $2 AND revoked_ms IS NULL",
    )
    .bind(id)
    .bind(user_id)
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(Refusal::Invalid(format!(
            "'{user_id}' has no feed '{id}' in force"
        )));
    }
    audit::append(&mut tx, db, who, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Whose feed a secret (by its hash) opens, with their grants: `None` for
/// an unknown or revoked feed or a disabled user.
pub async fn open(db: &Db, secret_hash: &str) -> Result<Option<(String, Vec<Grant>)>, Refusal> {
    let found: Option<(String,)> = sqlx::query_as(
        "SELECT f.user_id FROM calendar_feeds f JOIN users u ON u.id = f.user_id \
         WHERE f.secret_hash = $1 AND f.revoked_ms IS NULL AND u.disabled_ms IS NULL",
    )
    .bind(secret_hash)
    .fetch_optional(db.pool())
    .await?;
    let Some((user_id,)) = found else {
        return Ok(None);
    };
    let mut conn = db.pool().acquire().await?;
    let grants = super::users::grants_of(&mut conn, &user_id).await?;
    Ok(Some((user_id, grants)))
}
