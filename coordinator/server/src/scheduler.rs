//! Turns due collections into runs. A collection whose schedule fired while
//! the coordinator was down gets one run, for the latest time it was due
//! (as anacron does), not one per missed time.

use crate::state::{Refusal, State};
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
/// came due since it was last considered. Returns the runs created.
pub fn tick(state: &State, now: DateTime<Utc>) -> Result<Vec<Run>, Refusal> {
    let mut fired = Vec::new();
    for collection in state.collections()? {
        if collection.schedule.is_empty() {
            continue;
        }
        let schedule = match Schedule::parse(&collection.schedule) {
            Ok(s) => s,
            Err(e) => {
                // Checked when the collection was made; a stored one that no
                // longer parses is reported and skipped, never guessed at.
                tracing::error!(collection = %collection.id, error = %e, "stored schedule does not parse");
                continue;
            }
        };
        let since = state
            .schedule_mark(&collection.id)?
            .unwrap_or(collection.created_ms);
        let since = from_ms(since);
        if since >= now {
            continue;
        }
        if let Some(due) = schedule.fires_between(since, now).last() {
            let run = state.fire(&collection, ms(due), &london_date(due))?;
            tracing::info!(collection = %collection.id, run = %run.id, jobs = run.jobs.len(), "collection fired");
            fired.push(run);
        }
        state.set_schedule_mark(&collection.id, ms(now))?;
    }
    Ok(fired)
}
