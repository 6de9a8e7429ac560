//! Several coordinator processes over one PostgreSQL: a long-poll on one
//! replica wakes when another makes a job, within a second or so when the
//! notification is lost; exactly one replica schedules,
//! another takes over when it is killed or paused past its lease, and
//! every due time gives exactly one run; a replica refuses to start
//! without the files `init` makes. These always need PostgreSQL (the
//! embedded SQLite store serves one process), so they run on the server
//! the suite is given whatever `GPES_TEST_BACKEND` says.

use crate::process::{Process, coordinator, coordinator_with, first_to_log, free_port, operator};
use crate::support::{TIMEOUT, fresh_database_on, require_postgres};
use gpes_client::Uplink;
use gpes_protocol::{
    Collection, CreateCollectionRequest, DataClass, PollRequest, PollResponse, Purpose, Run,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One replica's files and addresses.
struct Replica {
    config: PathBuf,
    data_dir: PathBuf,
    agent_addr: String,
    operator_addr: String,
}

impl Replica {
    fn operator(&self) -> Uplink {
        operator(&self.data_dir, &self.operator_addr)
    }
}

/// `n` replicas' configurations over one fresh database: the first data
/// directory made by `gpes-coordinator init`, the others given copies of
/// its files, as an operator would.
async fn replicas(dir: &Path, n: usize) -> (Vec<Replica>, String) {
    let url = fresh_database_on(&require_postgres()).await;
    let mut out: Vec<Replica> = Vec::new();
    for i in 0..n {
        let data_dir = dir.join(format!("replica-{i}"));
        let (agent_port, operator_port) = (free_port(), free_port());
        let config = dir.join(format!("replica-{i}.toml"));
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\nagent_listen = \"127.0.0.1:{agent_port}\"\n\
                 operator_listen = \"127.0.0.1:{operator_port}\"\ndatabase_url = \"{url}\"\n\
                 scheduler_tick_ms = 200\n",
                data_dir.display()
            ),
        )
        .expect("write");
        match out.first() {
            None => init(&config),
            Some(first) => copy_init_files(&first.data_dir, &data_dir),
        }
        out.push(Replica {
            config,
            data_dir,
            agent_addr: format!("127.0.0.1:{agent_port}"),
            operator_addr: format!("127.0.0.1:{operator_port}"),
        });
    }
    (out, url)
}

fn init(config: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_e2e-coordinator"))
        .arg("--config")
        .arg(config)
        .arg("init")
        .output()
        .expect("init runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies what `init` made (modes kept: `fs::copy` copies permissions).
fn copy_init_files(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to.join("ca")).expect("mkdir");
    std::fs::set_permissions(to.join("ca"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    for file in gpes_coordinator::server::init_files() {
        std::fs::copy(from.join(&file), to.join(&file)).expect("copy an init file");
    }
}

fn start(replica: &Replica, env: &[(&str, &str)]) -> Process {
    let mut p = coordinator_with(&replica.config, env);
    p.wait_for(&["coordinator listening"]);
    p
}

async fn collection(op: &Uplink, schedule: &str, practices: &[&str]) -> Collection {
    gpes_tests::import_test_registry(op).await;
    op.post(
        "/v1/collections",
        &CreateCollectionRequest {
            name: "replicas".into(),
            query: gpes_tests::registered_count_query(),
            query_ref: None,
            parameters: [("PPED".to_string(), "2025-03-31".to_string())].into(),
            schedule: schedule.into(),
            practices: practices.iter().map(|p| p.to_string()).collect(),
            targeting: Default::default(),
            purpose: Purpose::Planning,
            data_class: DataClass::Aggregate,
            deadline_seconds: None,
            draft: false,
            terms: Default::default(),
        },
        TIMEOUT,
    )
    .await
    .expect("collection")
}

/// An agent for `practices`, enrolled (in `dir`) through `op`, speaking
/// to the agent listener at `agent_addr`.
async fn agent_to(op: &Uplink, dir: &Path, practices: &[&str], agent_addr: &str) -> Uplink {
    let token: gpes_protocol::CreateTokenResponse = op
        .post(
            "/v1/tokens",
            &gpes_protocol::CreateTokenRequest {
                practices: practices.iter().map(|p| p.to_string()).collect(),
                ttl_seconds: 600,
            },
            TIMEOUT,
        )
        .await
        .expect("token");
    let data_dir = crate::support::enroll_only(dir, &token.token).await;
    let identity = gpes_agent::identity::load(&data_dir).expect("identity");
    Uplink::new(agent_addr, identity.tls).expect("uplink")
}

/// The long-poll of every test here: 25 s.
const WAIT_MS: u64 = 25_000;

/// A 25 s long-poll in a task, answered with when it was answered.
fn long_poll(agent: Uplink) -> tokio::task::JoinHandle<(PollResponse, Instant)> {
    tokio::spawn(async move {
        let response: PollResponse = agent
            .post(
                "/v1/jobs/poll",
                &PollRequest {
                    practices: vec![],
                    wait_ms: WAIT_MS,
                    heartbeat: None,
                    held: vec![],
                },
                Duration::from_secs(60),
            )
            .await
            .expect("poll");
        (response, Instant::now())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_one_replica_wakes_when_another_makes_a_job() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (replicas, _) = replicas(dir.path(), 2).await;
    let debug = [("RUST_LOG", "info,gpes_coordinator=debug")];
    let _a = start(&replicas[0], &debug);
    let mut b = start(&replicas[1], &debug);
    b.wait_for(&["listening for jobs made by any replica"]);
    let op_a = replicas[0].operator();
    let collection = collection(&op_a, "", &["A81001"]).await;

    // An agent enrolled at replica A long-polls replica B.
    let to_b = agent_to(&op_a, dir.path(), &["A81001"], &replicas[1].agent_addr).await;
    let poll = long_poll(to_b);
    // Time for the poll to find nothing and wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!poll.is_finished(), "the poll waits while nothing is made");

    let fired_at = Instant::now();
    let run: Run = op_a
        .post(
            &format!("/v1/collections/{}/run", collection.id),
            &(),
            TIMEOUT,
        )
        .await
        .expect("run on replica A");
    let (response, answered_at) = poll.await.expect("poll task");
    let waited = answered_at.saturating_duration_since(fired_at);
    assert_eq!(response.jobs.len(), 1, "{response:?}");
    assert_eq!(response.jobs[0].run_id, run.id);
    // Well under the poll's 25 s: woken, not timed out.
    assert!(
        waited < Duration::from_secs(10),
        "replica B answered {waited:?} after the run was made"
    );
    // And woken by the notification, not only the one-second recheck.
    b.wait_for(&["woken: jobs were made on a replica"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_notification_costs_a_long_poll_about_a_second() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (replicas, url) = replicas(dir.path(), 2).await;
    let debug = [("RUST_LOG", "info,gpes_coordinator=debug")];
    let _a = start(&replicas[0], &debug);
    let mut b = start(&replicas[1], &debug);
    let op_a = replicas[0].operator();
    let collection = collection(&op_a, "", &["A81001"]).await;

    // The first agent takes the job (through A); the second, long-polling
    // B, waits: the job is leased.
    let first = agent_to(
        &op_a,
        &dir.path().join("first"),
        &["A81001"],
        &replicas[0].agent_addr,
    )
    .await;
    let second = agent_to(
        &op_a,
        &dir.path().join("second"),
        &["A81001"],
        &replicas[1].agent_addr,
    )
    .await;
    let run: Run = op_a
        .post(
            &format!("/v1/collections/{}/run", collection.id),
            &(),
            TIMEOUT,
        )
        .await
        .expect("run");
    let (taken, _) = long_poll(first).await.expect("first poll");
    assert_eq!(taken.jobs.len(), 1);
    let poll = long_poll(second);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!poll.is_finished(), "the job is leased to the first agent");

    // The job is handed back and counted as made, as a job-making
    // transaction does, but its notification is lost (none is sent).
    let released_at = Instant::now();
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query("UPDATE jobs SET state = 'pending', lease_until_ms = NULL WHERE id = $1")
            .bind(&taken.jobs[0].job_id)
            .execute(&mut *tx)
            .await
            .expect("release");
        sqlx::query("UPDATE job_wakeups SET seq = seq + 1 WHERE name = 'jobs'")
            .execute(&mut *tx)
            .await
            .expect("count");
        tx.commit().await.expect("commit");
    }
    let (response, answered_at) = poll.await.expect("second poll");
    assert_eq!(response.jobs.len(), 1, "{response:?}");
    assert_eq!(response.jobs[0].run_id, run.id);
    let waited = answered_at.saturating_duration_since(released_at);
    assert!(
        waited < Duration::from_secs(10),
        "replica B answered {waited:?} after the job was released"
    );
    b.wait_for(&["woken by the recheck"]);
}

/// The clock both replicas of a scheduler test run: four times real time
/// from now, so a minute (one due time of `* * * * *`) passes in 15 s.
/// A takeover takes the scheduler's lease (5 s) and a tick, so a replica
/// may stall for about 10 s more before a due time would be missed.
fn fast_clock() -> String {
    let now = chrono::Utc::now().timestamp_millis();
    format!("4@{now}")
}

/// Every run of a collection, by due time, with its job count.
async fn runs_of(url: &str, collection: &str) -> Vec<(i64, i64)> {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    sqlx::query_as(
        "SELECT r.due_ms, (SELECT COUNT(*) FROM jobs j WHERE j.run_id = r.id) \
         FROM runs r WHERE r.collection_id = $1 ORDER BY r.due_ms",
    )
    .bind(collection)
    .fetch_all(&mut conn)
    .await
    .expect("runs")
}

/// Waits until the collection has at least `n` runs (bounded generously).
async fn wait_runs(url: &str, collection: &str, n: usize) -> Vec<(i64, i64)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let runs = runs_of(url, collection).await;
        if runs.len() >= n {
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "only {} runs within 120 s: {runs:?}",
            runs.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every due time of `* * * * *` from the collection's creation to the
/// last run has exactly one run, each with a job per practice.
fn assert_one_run_per_due_time(collection: &Collection, runs: &[(i64, i64)], practices: i64) {
    const MINUTE: i64 = 60_000;
    let created = i64::try_from(collection.created_ms).expect("ms");
    let first_due = (created / MINUTE + 1) * MINUTE;
    let dues: Vec<i64> = runs.iter().map(|(due, _)| *due).collect();
    let want: Vec<i64> = (0..runs.len() as i64)
        .map(|i| first_due + i * MINUTE)
        .collect();
    assert_eq!(dues, want, "one run per due time, none missed");
    assert!(
        runs.iter().all(|(_, jobs)| *jobs == practices),
        "each run has one job per practice: {runs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replica_schedules_when_the_scheduling_one_is_killed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (replicas, url) = replicas(dir.path(), 2).await;
    let clock = fast_clock();
    let env = [(gpes_coordinator::cli::TEST_CLOCK_ENV, clock.as_str())];
    let mut a = start(&replicas[0], &env);
    let mut b = start(&replicas[1], &env);
    let scheduling = first_to_log(&mut [&mut a, &mut b], &["this replica schedules"]);
    let (mut scheduler, mut other, other_replica) = match scheduling {
        0 => (a, b, &replicas[1]),
        _ => (b, a, &replicas[0]),
    };
    let collection = collection(
        &other_replica.operator(),
        "* * * * *",
        &["A81001", "B82002"],
    )
    .await;

    let before = wait_runs(&url, &collection.id, 1).await;
    scheduler.kill();
    other.wait_for(&["this replica schedules"]);
    // Three due times at least: one before the kill, two after.
    let runs = wait_runs(&url, &collection.id, before.len() + 2).await;
    assert_one_run_per_due_time(&collection, &runs, 2);
    other.wait_for(&["collection fired"]);
}

/// Transactions open and waiting on their client in a database.
async fn idle_in_transaction(url: &str) -> i64 {
    use sqlx::Connection;
    let database = url.rsplit('/').next().expect("a database name");
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE datname = $1 AND state LIKE 'idle in transaction%'",
    )
    .bind(database)
    .fetch_one(&mut conn)
    .await
    .expect("pg_stat_activity")
}

/// SIGSTOP at a moment the process holds no transaction open: this test
/// is about the lease, and a replica paused inside a transaction holds
/// its row locks until it resumes (or PostgreSQL's
/// idle_in_transaction_session_timeout ends it), which delays a takeover
/// by that much.
async fn pause_between_transactions(p: &Process, url: &str) {
    for _ in 0..50 {
        p.signal("STOP");
        tokio::time::sleep(Duration::from_millis(100)).await;
        if idle_in_transaction(url).await == 0 {
            return;
        }
        p.signal("CONT");
        tokio::time::sleep(Duration::from_millis(37)).await;
    }
    panic!("the replica was inside a transaction at each of 50 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_paused_past_its_lease_gives_way_and_no_due_time_runs_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (replicas, url) = replicas(dir.path(), 2).await;
    let clock = fast_clock();
    let env = [(gpes_coordinator::cli::TEST_CLOCK_ENV, clock.as_str())];
    let mut a = start(&replicas[0], &env);
    let mut b = start(&replicas[1], &env);
    let scheduling = first_to_log(&mut [&mut a, &mut b], &["this replica schedules"]);
    let (mut paused, mut other, other_replica) = match scheduling {
        0 => (a, b, &replicas[1]),
        _ => (b, a, &replicas[0]),
    };
    let collection = collection(
        &other_replica.operator(),
        "* * * * *",
        &["A81001", "B82002"],
    )
    .await;

    let before = wait_runs(&url, &collection.id, 1).await;
    pause_between_transactions(&paused, &url).await;
    other.wait_for(&["this replica schedules"]);
    // A due time passes under the new scheduler while the old one sleeps
    // holding a lease it no longer has.
    let during = wait_runs(&url, &collection.id, before.len() + 1).await;
    paused.signal("CONT");
    paused.wait_for(&["another replica schedules now"]);
    // Three due times at least: before, during and after the pause.
    let runs = wait_runs(&url, &collection.id, during.len() + 1).await;
    assert_one_run_per_due_time(&collection, &runs, 2);
    // The resumed replica stays out of the way.
    assert!(
        other
            .seen_line(&["another replica schedules now"])
            .is_none(),
        "the replica that took over kept the lease"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_refuses_to_start_without_the_files_init_makes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (replicas, _) = replicas(dir.path(), 1).await;
    let replica = &replicas[0];
    std::fs::remove_dir_all(&replica.data_dir).expect("remove what init made");

    let mut refused = coordinator(&replica.config);
    let status = refused.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1));
    let said = refused.wait_for(&["missing from"]);
    for part in [
        "gpes-coordinator init",
        "database_url",
        "ca/ca.pem",
        "ca/ca.key",
        "admin.token",
        "audit.key",
    ] {
        assert!(said.contains(part), "'{part}' not in: {said}");
    }

    // init makes them once: a second init keeps the token.
    init(&replica.config);
    let token = std::fs::read_to_string(replica.data_dir.join("admin.token")).expect("token");
    init(&replica.config);
    let again = std::fs::read_to_string(replica.data_dir.join("admin.token")).expect("token");
    assert_eq!(token, again);

    // One file missing is named alone.
    std::fs::remove_file(replica.data_dir.join("audit.key")).expect("remove the audit key");
    let mut refused = coordinator(&replica.config);
    assert_eq!(refused.wait_exit(Duration::from_secs(30)).code(), Some(1));
    let said = refused.wait_for(&["missing from"]);
    assert!(said.contains("audit.key"), "{said}");
    assert!(!said.contains("admin.token"), "{said}");
}
