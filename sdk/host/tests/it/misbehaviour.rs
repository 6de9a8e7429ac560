//! One purpose-built guest per misbehaviour; after each, a good extraction
//! on the same host succeeds.

use crate::common::*;
use gpes_host::{ExtractionError, Limits};
use gpes_model::Request;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

async fn run(
    guest: &'static str,
    practice_code: &str,
    root: &std::path::Path,
    limits: &Limits,
) -> ExtractionError {
    let request = Request {
        practice: practice_code.into(),
        tables: vec![],
        code_sets: vec![],
    };
    plugin(guest)
        .extract(root, &request, limits, |_| {})
        .await
        .expect_err("the misbehaving guest fails its extraction")
}

#[tokio::test]
async fn a_panic_fails_the_extraction_with_its_message() {
    let dir = practice();
    let err = run(
        gpes_plugin_artifacts::PANIC,
        PRACTICE,
        dir.path(),
        &Limits::default(),
    )
    .await;
    match &err {
        ExtractionError::Crashed { stderr, .. } => {
            assert!(
                stderr.contains("this plugin panics on purpose (practice A81001)"),
                "{stderr}"
            );
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    good_extraction_succeeds().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_endless_loop_is_stopped_while_a_timer_on_the_same_thread_keeps_firing() {
    let ticks = Arc::new(AtomicU64::new(0));
    let counter = ticks.clone();
    let timer = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(10));
        loop {
            interval.tick().await;
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let dir = practice();
    let limits = Limits {
        deadline: Duration::from_millis(500),
        ..Limits::default()
    };
    let err = run(
        gpes_plugin_artifacts::ENDLESS_LOOP,
        PRACTICE,
        dir.path(),
        &limits,
    )
    .await;
    assert!(
        matches!(err, ExtractionError::DeadlineExceeded { deadline } if deadline == limits.deadline),
        "{err:?}"
    );
    // With 10 ms ticks over a 500 ms loop the timer fires about 50 times; a
    // loop that held the thread would let it fire at most once or twice.
    let fired = ticks.load(Ordering::Relaxed);
    assert!(
        fired >= 10,
        "the timer fired only {fired} times while the plugin looped"
    );
    timer.abort();
    good_extraction_succeeds().await;
}

#[tokio::test]
async fn a_memory_bomb_meets_the_hosts_total_cap() {
    let dir = practice();
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    let err = run(
        gpes_plugin_artifacts::MEMORY_BOMB,
        PRACTICE,
        dir.path(),
        &limits,
    )
    .await;
    match &err {
        ExtractionError::MemoryCap(cap) => {
            assert_eq!(cap.cap, 64 << 20);
            assert!(cap.requested > cap.cap);
        }
        other => panic!("expected the host's memory cap error, got {other:?}"),
    }
    assert!(
        err.to_string().contains("over its cap of 67108864 bytes"),
        "{err}"
    );
    good_extraction_succeeds().await;
}

async fn assert_denied(name: &str, root: &std::path::Path, why: &str) {
    let err = run(
        gpes_plugin_artifacts::OPEN_NAMED,
        name,
        root,
        &Limits::default(),
    )
    .await;
    match &err {
        ExtractionError::AccessDenied(denied) => {
            assert_eq!(denied.name, name);
            assert!(denied.reason.contains(why), "{name}: {}", denied.reason);
        }
        other => panic!("{name}: expected access denied, got {other:?}"),
    }
}

#[tokio::test]
async fn names_outside_the_root_are_refused() {
    // A secret beside the practice's folder, reachable by each trick.
    let outer = tempfile::tempdir().expect("temp dir");
    std::fs::write(outer.path().join("secret.csv"), b"not yours\n").expect("write");
    let root = outer.path().join("practice");
    std::fs::create_dir(&root).expect("mkdir");
    std::os::unix::fs::symlink(outer.path().join("secret.csv"), root.join("link.csv"))
        .expect("symlink");

    assert_denied("../secret.csv", &root, "'..'").await;
    assert_denied(
        &outer.path().join("secret.csv").display().to_string(),
        &root,
        "absolute",
    )
    .await;
    assert_denied("/etc/passwd", &root, "absolute").await;
    assert_denied("link.csv", &root, "symbolic link").await;
    good_extraction_succeeds().await;
}

#[tokio::test]
async fn a_real_plugin_meeting_a_linked_file_is_refused_too() {
    let dir = practice();
    let outside = tempfile::tempdir().expect("temp dir");
    let moved = outside.path().join("Patient.csv");
    std::fs::rename(path(&dir, "Patient.csv"), &moved).expect("move");
    std::os::unix::fs::symlink(&moved, path(&dir, "Patient.csv")).expect("symlink");
    let err = count(
        &plugin(gpes_plugin_artifacts::CSV_EXPORT),
        dir.path(),
        &Limits::default(),
    )
    .await
    .expect_err("a linked file is refused");
    assert!(
        matches!(&err, ExtractionError::AccessDenied(d) if d.name == "Patient.csv"),
        "{err:?}"
    );
    good_extraction_succeeds().await;
}

#[tokio::test]
async fn records_that_break_the_model_fail_the_extraction() {
    let dir = practice();
    let err = run(
        gpes_plugin_artifacts::BAD_RECORD,
        PRACTICE,
        dir.path(),
        &Limits::default(),
    )
    .await;
    match &err {
        ExtractionError::BadRecord { number, source } => {
            assert_eq!(*number, 1);
            assert!(
                source.to_string().contains("2024-02 has no day 30"),
                "{source}"
            );
        }
        other => panic!("expected a model error, got {other:?}"),
    }
    good_extraction_succeeds().await;
}

#[tokio::test]
async fn clocks_and_randomness_are_the_same_on_every_run() {
    let dir = practice();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let request = Request {
            practice: PRACTICE.into(),
            tables: vec![],
            code_sets: vec![],
        };
        let extraction = plugin(gpes_plugin_artifacts::CLOCK_AND_RANDOM)
            .extract(dir.path(), &request, &Limits::default(), |_| {})
            .await
            .expect("extraction succeeds");
        assert_eq!(extraction.logs.len(), 1);
        seen.push(extraction.logs[0].message.clone());
    }
    assert_eq!(seen[0], seen[1]);
    // The wall clock is the Unix epoch; the monotonic clock moves one
    // microsecond a read; random bytes repeat the host's fixed cycle.
    assert!(seen[0].starts_with("wall=0 elapsed=1000 "), "{}", seen[0]);
    assert!(seen[0].contains("secure=677065732d686f73"), "{}", seen[0]);
    // A fresh host (a new process, in effect) answers the same.
    let other_host = gpes_host::Host::new().expect("host");
    let wasm = std::fs::read(gpes_plugin_artifacts::CLOCK_AND_RANDOM).expect("guest");
    let extraction = other_host
        .load(&wasm)
        .expect("loads")
        .extract(
            dir.path(),
            &Request {
                practice: PRACTICE.into(),
                tables: vec![],
                code_sets: vec![],
            },
            &Limits::default(),
            |_| {},
        )
        .await
        .expect("extraction succeeds");
    assert_eq!(extraction.logs[0].message, seen[0]);
}
