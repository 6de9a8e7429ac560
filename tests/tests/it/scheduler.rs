//! The coordinator's scheduler with a clock the test controls: runs are
//! made when crontab would fire, once each, London time. Over SQLite, or
//! PostgreSQL when the suite has a server.

use chrono::{DateTime, TimeZone, Utc};
use gpes_coordinator::db::{self, Db};
use gpes_coordinator::domain::collections::validate;
use gpes_coordinator::scheduler::{ms, tick};
use gpes_protocol::{Collection, CreateCollectionRequest, DataClass, Purpose, Run};
use gpes_schedule::{Clock, ManualClock};

async fn store() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = crate::support::fresh_database().await;
    let db = Db::open(url.as_deref(), dir.path())
        .await
        .expect("store")
        .with_audit_key(db::audit::AuditKey::from_bytes(&[7; 32]));
    let registry = gpes_protocol::PracticeImportRequest {
        practices: ["A81001", "B82002"]
            .iter()
            .map(|code| gpes_protocol::PracticeRecord {
                code: (*code).into(),
                name: "test".into(),
                region: "15N".into(),
                status: gpes_protocol::PracticeStatus::Active,
                open_date: None,
                close_date: None,
            })
            .collect(),
        successors: vec![],
    };
    let who = db::audit::Entry {
        actor: "admin",
        grant: "admin",
        action: "practices.import",
        target: "registry",
        detail: serde_json::Value::Null,
    };
    db::practices::import(&db, &registry, 0, &who)
        .await
        .expect("registry");
    (db, dir)
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid time")
}

async fn collection(
    db: &Db,
    schedule: &str,
    created: DateTime<Utc>,
    parameters: &[(&str, &str)],
) -> Collection {
    let request = CreateCollectionRequest {
        name: "test".into(),
        query: gpes_tests::example_query("registered.yaml"),
        query_ref: None,
        parameters: parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        schedule: schedule.into(),
        practices: vec!["A81001".into(), "B82002".into()],
        targeting: Default::default(),
        purpose: Purpose::Payment,
        data_class: DataClass::Aggregate,
        deadline_seconds: None,
        draft: false,
        terms: Default::default(),
    };
    let query = gpes_coordinator::domain::queries::check(&request.query).expect("query");
    let checked = validate(request, query, "2026-01-01", 72 * 3600).expect("valid");
    let who = db::audit::Entry {
        actor: "admin",
        grant: "admin",
        action: "collection.create",
        target: "collection-test",
        detail: serde_json::Value::Null,
    };
    db::collections::create(db, "collection-test", &checked, ms(created), &who)
        .await
        .expect("create")
}

/// Every run stored, oldest first.
async fn runs(db: &Db) -> Vec<Run> {
    let (page, _) = db::jobs::runs_page(db, None, None, 1000)
        .await
        .expect("runs");
    let mut runs: Vec<Run> = page.into_iter().map(|s| s.run).collect();
    runs.reverse();
    runs
}

/// Advances the clock a minute at a time over [from, to), ticking the
/// scheduler each minute, and returns the times of the runs made.
async fn fired_over(db: &Db, clock: &ManualClock, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut fired = Vec::new();
    while clock.now() < to {
        clock.advance(chrono::TimeDelta::minutes(1));
        for run in tick(db, clock.now()).await.expect("tick") {
            fired.push(gpes_coordinator::scheduler::from_ms(run.fired_ms));
        }
    }
    fired
}

#[tokio::test]
async fn both_day_fields_restricted_fire_on_either_as_crontab_does() {
    // 09:00 London on the 1st of the month and on every Monday. June 2026:
    // Monday 1st (both), Mondays 8, 15, 22, 29; July 1st is a Wednesday.
    // London is on BST (UTC+1), so 09:00 London is 08:00 UTC.
    let (db, _dir) = store().await;
    let start = utc(2026, 5, 31, 12, 0);
    let clock = ManualClock::new(start);
    collection(&db, "0 9 1 * 1", start, &[("PPED", "run-date")]).await;
    let fired = fired_over(&db, &clock, utc(2026, 7, 2, 0, 0)).await;
    let want: Vec<_> = [(6, 1), (6, 8), (6, 15), (6, 22), (6, 29), (7, 1)]
        .iter()
        .map(|(m, d)| utc(2026, *m, *d, 8, 0))
        .collect();
    assert_eq!(fired, want);
    // Each run has one job per practice, with the London run date bound.
    let runs = runs(&db).await;
    assert_eq!(runs.len(), 6);
    assert_eq!(runs[5].job_count, 2);
    assert_eq!(runs[5].parameters["PPED"], "2026-07-01");
    let (rows, _) = db::jobs::results_page(&db, &runs[5].id, None, None, 100, 1 << 20)
        .await
        .expect("jobs");
    let practices: Vec<&str> = rows.iter().map(|r| r.practice.as_str()).collect();
    assert_eq!(practices, ["A81001", "B82002"]);
}

#[tokio::test]
async fn london_time_across_the_spring_clock_change() {
    // 01:30 does not exist in London on 29 March 2026: crontab-style, the
    // run comes once, at the first instant after the gap (01:00 UTC).
    let (db, _dir) = store().await;
    let start = utc(2026, 3, 28, 0, 0);
    let clock = ManualClock::new(start);
    collection(&db, "30 1 * * *", start, &[("PPED", "2025-03-31")]).await;
    let fired = fired_over(&db, &clock, utc(2026, 3, 31, 0, 0)).await;
    assert_eq!(
        fired,
        [
            utc(2026, 3, 28, 1, 30),
            utc(2026, 3, 29, 1, 0),
            utc(2026, 3, 30, 0, 30)
        ]
    );
}

#[tokio::test]
async fn a_late_scheduler_makes_one_run_for_the_latest_missed_time_and_ticks_are_idempotent() {
    let (db, _dir) = store().await;
    let start = utc(2026, 1, 1, 0, 0);
    collection(&db, "0 * * * *", start, &[("PPED", "2025-03-31")]).await;
    // The coordinator was down for five hours.
    let late = utc(2026, 1, 1, 5, 30);
    let fired = tick(&db, late).await.expect("tick");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].fired_ms, ms(utc(2026, 1, 1, 5, 0)));
    assert!(
        tick(&db, late).await.expect("tick").is_empty(),
        "nothing new is due"
    );
    // Firing the same time again (a second scheduler) makes no new run.
    let c = db::collections::get(&db, "collection-test")
        .await
        .expect("collection");
    let (again, created) = db::jobs::fire(
        &db,
        &c,
        fired[0].fired_ms,
        ms(late),
        "2026-01-01",
        gpes_protocol::RunKind::Scheduled,
        None,
        None,
    )
    .await
    .expect("fire");
    assert!(!created);
    assert_eq!(again, fired[0]);
    assert_eq!(runs(&db).await.len(), 1);
}

#[tokio::test]
async fn the_scheduler_lease_has_one_holder_and_passes_on_only_when_it_lapses() {
    use gpes_coordinator::db::scheduler::take_lease;
    let (db, _dir) = store().await;
    assert!(take_lease(&db, "replica-a", 60_000).await.expect("lease"));
    assert!(
        !take_lease(&db, "replica-b", 60_000).await.expect("lease"),
        "held by another"
    );
    assert!(
        take_lease(&db, "replica-a", 100).await.expect("lease"),
        "renewed by its holder"
    );
    // Timed by the store's clock: once 100 ms of it have passed, the lease
    // is free for the next replica, and its old holder has lost it.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(take_lease(&db, "replica-b", 60_000).await.expect("lease"));
    assert!(!take_lease(&db, "replica-a", 60_000).await.expect("lease"));
}

#[tokio::test]
async fn a_schedule_mark_only_moves_forward() {
    // A scheduler that resumes mid-tick with a stale time cannot move the
    // mark back under the replica that took over.
    let (db, _dir) = store().await;
    let start = utc(2026, 1, 1, 0, 0);
    collection(&db, "0 * * * *", start, &[("PPED", "2025-03-31")]).await;
    let later = ms(utc(2026, 1, 1, 5, 0));
    db::collections::set_schedule_mark(&db, "collection-test", later)
        .await
        .expect("mark");
    db::collections::set_schedule_mark(&db, "collection-test", ms(start))
        .await
        .expect("a stale mark is ignored");
    let marks = db::collections::scheduled(&db).await.expect("scheduled");
    assert_eq!(marks[0].1, Some(later));
}
