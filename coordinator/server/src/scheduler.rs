//! Turns due collections into runs, and expires jobs past their run's
//! deadline. A collection whose schedule fired while no scheduler ran gets
//! one run, for the latest time it was due (as anacron does), not one per
//! missed time. Only the replica holding the scheduler's lease ticks.

use crate::db::{self, Db};
use crate::domain::Refusal;
use chrono::{DateTime, TimeZone, Utc};
use gpes_protocol::Run;
use gpes_schedule::Schedule;

/// The London calendar date of an instant, for `run-date` parameters.
pub fn london_date(at: DateTime<Utc>) -> String {
    at.with_timezone(&gpes_schedule::TIME_ZONE)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

pub fn ms(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

pub fn from_ms(ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(i64::try_from(ms).unwrap_or(i64::MAX))
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// One look at every scheduled collection at time `now`: fires each that
/// came due since it was last considered, and expires jobs past their
/// deadline. Returns the runs created.
pub async fn tick(db: &Db, now: DateTime<Utc>) -> Result<Vec<Run>, Refusal> {
    let mut fired = Vec::new();
    for (collection, mark) in db::collections::scheduled(db).await? {
        let schedule = match Schedule::parse(&collection.schedule) {
            Ok(s) => s,
            Err(e) => {
                // Checked when the collection was made; a stored one that no
                // longer parses is reported and skipped, never guessed at.
                tracing::error!(collection = %collection.id, error = %e, "stored schedule does not parse");
                continue;
            }
        };
        let since = from_ms(mark.unwrap_or(collection.created_ms));
        if since >= now {
            continue;
        }
        if let Some(due) = schedule.fires_between(since, now).last() {
            let (run, created) = db::jobs::fire(
                db,
                &collection,
                ms(due),
                ms(now),
                &london_date(due),
                gpes_protocol::RunKind::Scheduled,
                None,
                None,
            )
            .await?;
            if created {
                tracing::info!(collection = %collection.id, run = %run.id, jobs = run.job_count, "collection fired");
                fired.push(run);
            }
        }
        db::collections::set_schedule_mark(db, &collection.id, ms(now)).await?;
    }
    let expired = db::jobs::expire_due(db, ms(now)).await?;
    if expired > 0 {
        tracing::warn!(jobs = expired, "jobs expired at their run's deadline");
    }
    Ok(fired)
}
