//! The clocks a scheduler reads "now" from.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use gpes_schedule::{Clock, ManualClock, Schedule, SystemClock};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn manual_clock_moves_only_when_told() {
    let clock = ManualClock::new(utc("2026-03-29T00:30:00Z"));
    assert_eq!(clock.now(), utc("2026-03-29T00:30:00Z"));
    assert_eq!(clock.now(), utc("2026-03-29T00:30:00Z"));

    assert_eq!(
        clock.advance(TimeDelta::minutes(45)),
        utc("2026-03-29T01:15:00Z")
    );
    assert_eq!(clock.now(), utc("2026-03-29T01:15:00Z"));

    clock.set(utc("2025-01-01T00:00:00Z"));
    assert_eq!(clock.now(), utc("2025-01-01T00:00:00Z"));

    clock.advance(TimeDelta::seconds(-1));
    assert_eq!(clock.now(), utc("2024-12-31T23:59:59Z"));
}

#[test]
fn manual_clock_clones_share_the_time() {
    let clock = ManualClock::new(utc("2026-01-01T00:00:00Z"));
    let handed_out: Arc<dyn Clock> = Arc::new(clock.clone());
    clock.advance(TimeDelta::hours(2));
    assert_eq!(handed_out.now(), utc("2026-01-01T02:00:00Z"));

    let other = clock.clone();
    std::thread::spawn(move || other.set(utc("2030-06-01T12:00:00Z")))
        .join()
        .unwrap();
    assert_eq!(clock.now(), utc("2030-06-01T12:00:00Z"));
    assert_eq!(handed_out.now(), utc("2030-06-01T12:00:00Z"));
}

#[test]
fn manual_clock_saturates_instead_of_overflowing() {
    let clock = ManualClock::new(utc("2026-01-01T00:00:00Z"));
    assert_eq!(clock.advance(TimeDelta::MAX), DateTime::<Utc>::MAX_UTC);
    assert_eq!(clock.advance(TimeDelta::MIN), DateTime::<Utc>::MIN_UTC);
}

#[test]
fn manual_clock_drives_a_schedule() {
    // A scheduler that last looked at 00:00 UTC on the spring-forward day and
    // wakes at 03:00 UTC has three hourly fires due, one per real hour, even
    // though the wall clock skipped from 01:00 to 02:00.
    let clock = ManualClock::new(utc("2026-03-29T00:00:00Z"));
    let schedule = Schedule::parse("0 * * * *").unwrap();
    let last_looked = clock.now();
    clock.advance(TimeDelta::hours(3));
    let missed: Vec<_> = schedule.fires_between(last_looked, clock.now()).collect();
    assert_eq!(
        missed,
        [
            utc("2026-03-29T01:00:00Z"),
            utc("2026-03-29T02:00:00Z"),
            utc("2026-03-29T03:00:00Z"),
        ]
    );
}

#[test]
fn system_clock_is_roughly_now() {
    let before = Utc::now();
    let now = SystemClock.now();
    let after = Utc::now();
    assert!(before <= now && now <= after);
    let shared: &dyn Clock = &SystemClock;
    assert!(shared.now() >= now);
}
