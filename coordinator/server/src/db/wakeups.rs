//! Telling every replica that jobs were made (a run fired, failed jobs
//! retried, a revoked agent's jobs released), so that long-polls wake
//! wherever they wait. Each job-making transaction counts itself in the
//! `job_wakeups` row; on PostgreSQL it also sends the count with `NOTIFY`
//! on [`CHANNEL`], delivered at commit, to every replica's `LISTEN`
//! connection. A replica rechecks the count every second too, so a lost
//! notification (a LISTEN connection dropped and reconnected) costs at
//! most a second. On SQLite one process serves, and its in-process wake-up
//! is all there is.

use super::{Backend, Db};
use crate::domain::Refusal;
use sqlx::postgres::PgListener;
use sqlx::{Any, Transaction};

/// The PostgreSQL channel job-making transactions notify.
pub const CHANNEL: &str = "gpes_jobs";

/// Counts a job-making transaction and, on PostgreSQL, notifies every
/// replica (at commit: nothing is sent if `tx` rolls back).
pub async fn jobs_made(tx: &mut Transaction<'static, Any>, db: &Db) -> Result<(), Refusal> {
    let (seq,): (i64,) =
        sqlx::query_as("UPDATE job_wakeups SET seq = seq + 1 WHERE name = 'jobs' RETURNING seq")
            .fetch_one(&mut **tx)
            .await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(seq.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// How many job-making transactions have committed.
pub async fn count(db: &Db) -> Result<i64, Refusal> {
    let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM job_wakeups WHERE name = 'jobs'")
        .fetch_one(db.pool())
        .await?;
    Ok(seq)
}

/// A connection listening on [`CHANNEL`] (PostgreSQL only).
pub async fn listen(db: &Db) -> Result<PgListener, Refusal> {
    let mut listener = PgListener::connect(db.url()).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
