//! Which replica schedules: a lease row renewed by its holder and taken
//! over by another replica once it lapses. Runs are unique per collection
//! and due time in the schema, so even two schedulers at once (one paused
//! past its lease and resumed) make each run once.

use super::{Db, to_i64};
use crate::domain::Refusal;

/// Takes or renews the scheduler's lease for `holder` until
/// `now_ms + ttl_ms`. True when `holder` holds it.
pub async fn take_lease(db: &Db, holder: &str, now_ms: u64, ttl_ms: u64) -> Result<bool, Refusal> {
    let mut tx = db.write().await?;
    let taken = sqlx::query(
        "INSERT INTO scheduler_lease (name, holder, until_ms) VALUES ('scheduler', $1, $2) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
         WHERE scheduler_lease.holder = excluded.holder OR scheduler_lease.until_ms <= $3",
    )
    .bind(holder)
    .bind(to_i64(now_ms.saturating_add(ttl_ms)))
    .bind(to_i64(now_ms))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(taken.rows_affected() == 1)
}
