//! Several coordinator processes over one PostgreSQL: a long-poll on one
//! replica wakes when another makes a job. These always need PostgreSQL
//! (the embedded SQLite store serves one process), so they run on the
//! server the suite is given whatever `GPES_TEST_BACKEND` says.

use crate::process::{Process, coordinator_with, free_port, operator};
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
    for file in ["ca/ca.pem", "ca/ca.key", "admin.token", "audit.key"] {
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
            parameters: [("PPED".to_string(), "2025-03-31".to_string())].into(),
            schedule: schedule.into(),
            practices: practices.iter().map(|p| p.to_string()).collect(),
            purpose: Purpose::Planning,
            data_class: DataClass::Aggregate,
            deadline_seconds: None,
        },
        TIMEOUT,
    )
    .await
    .expect("collection")
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
    let token: gpes_protocol::CreateTokenResponse = op_a
        .post(
            "/v1/tokens",
            &gpes_protocol::CreateTokenRequest {
                practices: vec!["A81001".into()],
                ttl_seconds: 600,
            },
            TIMEOUT,
        )
        .await
        .expect("token");
    let data_dir = crate::support::enroll_only(dir.path(), &token.token).await;
    let identity = gpes_agent::identity::load(&data_dir).expect("identity");
    let to_b = Uplink::new(&replicas[1].agent_addr, identity.tls).expect("uplink");
    const WAIT_MS: u64 = 25_000;
    let poll = tokio::spawn(async move {
        let response: PollResponse = to_b
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
    });
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
