//! The coordinator's scheduler with a clock the test controls: runs are
//! made when crontab would fire, once each, London time.

use chrono::{DateTime, TimeZone, Utc};
use gpes_canon::ContentHash;
use gpes_coordinator::scheduler::{ms, tick};
use gpes_coordinator::state::State;
use gpes_protocol::{Collection, DataClass, Purpose, QuerySpec};
use gpes_schedule::{Clock, ManualClock};
use std::collections::BTreeMap;

fn state() -> (State, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        gpes_store::Store::open(&dir.path().join("store"), Default::default()).expect("store");
    (State::new(store).expect("state"), dir)
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid time")
}

fn collection(schedule: &str, created: DateTime<Utc>, parameters: &[(&str, &str)]) -> Collection {
    let source = gpes_tests::example_query("registered.yaml");
    let canonical = gpes_query::parse("registered.yaml", &source)
        .expect("valid")
        .canonical_json()
        .expect("canonical");
    Collection {
        id: "collection-test".into(),
        name: "test".into(),
        query: QuerySpec {
            hash: ContentHash::of_bytes(canonical.as_bytes()),
            canonical,
            source,
        },
        parameters: parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        schedule: schedule.into(),
        practices: vec!["A81001".into(), "B82002".into()],
        purpose: Purpose::Payment,
        data_class: DataClass::Aggregate,
        created_ms: ms(created),
    }
}

/// Advances the clock a minute at a time over [from, to), ticking the
/// scheduler each minute, and returns the times of the runs made.
fn fired_over(state: &State, clock: &ManualClock, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut fired = Vec::new();
    while clock.now() < to {
        clock.advance(chrono::TimeDelta::minutes(1));
        for run in tick(state, clock.now()).expect("tick") {
            fired.push(gpes_coordinator::scheduler::from_ms(run.fired_ms));
        }
    }
    fired
}

#[test]
fn both_day_fields_restricted_fire_on_either_as_crontab_does() {
    // 09:00 London on the 1st of the month and on every Monday. June 2026:
    // Monday 1st (both), Mondays 8, 15, 22, 29; July 1st is a Wednesday.
    // London is on BST (UTC+1), so 09:00 London is 08:00 UTC.
    let (state, _dir) = state();
    let start = utc(2026, 5, 31, 12, 0);
    let clock = ManualClock::new(start);
    state
        .create_collection(&collection("0 9 1 * 1", start, &[("PPED", "run-date")]))
        .expect("create");
    let fired = fired_over(&state, &clock, utc(2026, 7, 2, 0, 0));
    let want: Vec<_> = [(6, 1), (6, 8), (6, 15), (6, 22), (6, 29), (7, 1)]
        .iter()
        .map(|(m, d)| utc(2026, *m, *d, 8, 0))
        .collect();
    assert_eq!(fired, want);
    // Each run has one job per practice, with the London run date bound.
    let runs = state.runs().expect("runs");
    assert_eq!(runs.len(), 6);
    let job = state.job(&runs[5].jobs[0]).expect("job");
    assert_eq!(runs[5].jobs.len(), 2);
    assert_eq!(job.job.parameters["PPED"], "2026-07-01");
}

#[test]
fn london_time_across_the_spring_clock_change() {
    // 01:30 does not exist in London on 29 March 2026: crontab-style, the
    // run comes once, at the first instant after the gap (01:00 UTC).
    let (state, _dir) = state();
    let start = utc(2026, 3, 28, 0, 0);
    let clock = ManualClock::new(start);
    state
        .create_collection(&collection("30 1 * * *", start, &[("PPED", "2025-03-31")]))
        .expect("create");
    let fired = fired_over(&state, &clock, utc(2026, 3, 31, 0, 0));
    assert_eq!(
        fired,
        [
            utc(2026, 3, 28, 1, 30),
            utc(2026, 3, 29, 1, 0),
            utc(2026, 3, 30, 0, 30)
        ]
    );
}

#[test]
fn a_late_scheduler_makes_one_run_for_the_latest_missed_time_and_ticks_are_idempotent() {
    let (state, _dir) = state();
    let start = utc(2026, 1, 1, 0, 0);
    state
        .create_collection(&collection("0 * * * *", start, &[("PPED", "2025-03-31")]))
        .expect("create");
    // The coordinator was down for five hours.
    let late = utc(2026, 1, 1, 5, 30);
    let runs = tick(&state, late).expect("tick");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].fired_ms, ms(utc(2026, 1, 1, 5, 0)));
    assert!(
        tick(&state, late).expect("tick").is_empty(),
        "nothing new is due"
    );
    // Firing the same time again (a second scheduler) makes no new run.
    let c = state.collection("collection-test").expect("collection");
    let again = state
        .fire(&c, runs[0].fired_ms, "2026-01-01")
        .expect("fire");
    assert_eq!(again, runs[0]);
    assert_eq!(state.runs().expect("runs").len(), 1);
}
