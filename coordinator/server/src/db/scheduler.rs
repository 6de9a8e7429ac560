//! Which replica schedules: a lease row renewed by its holder and taken
//! over by another replica once it lapses. The lease is timed by the
//! store's clock (PostgreSQL's, or the machine's for SQLite), never by a
//! replica's own, so replicas whose clocks disagree still agree on who
//! holds it, and a replica paused past its lease (SIGSTOP, a long GC-like
//! stall, a VM migration) finds it taken when it resumes. Runs are unique
//! per collection and due time in the schema, so even a paused scheduler
//! that finishes a tick after resuming makes no run twice.

use super::{Backend, Db, to_i64};
use crate::domain::Refusal;
use sqlx::AssertSqlSafe;

/// The store's clock in Unix milliseconds, as SQL.
fn store_now(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

/// Takes or renews the scheduler's lease for `holder`, for `ttl_ms` of
/// the store's clock from now. True when `holder` holds it.
pub async fn take_lease(db: &Db, holder: &str, ttl_ms: u64) -> Result<bool, Refusal> {
    let now = store_now(db.backend());
    // One statement in its own transaction: no lock is held between
    // statements, whatever happens to this process.
    let taken = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO scheduler_lease (name, holder, until_ms) VALUES ('scheduler', $1, {now} + $2) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
         WHERE scheduler_lease.holder = excluded.holder OR scheduler_lease.until_ms <= {now}"
    )))
    .bind(holder)
    .bind(to_i64(ttl_ms))
    .execute(db.pool())
    .await?;
    Ok(taken.rows_affected() == 1)
}
