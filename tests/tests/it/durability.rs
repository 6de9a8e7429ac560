//! Nothing accepted is lost, with real processes: an agent takes a job, the
//! coordinator goes away, the agent runs the job and keeps the extract in
//! its buffer, the agent is killed (SIGKILL) and the practice's data is
//! removed; when both come back, the original extract arrives exactly once.

use crate::process::{agent, coordinator, free_port, operator};
use crate::support::{TIMEOUT, wait_done};
use gpes_protocol::{
    CreateCollectionRequest, CreateTokenRequest, CreateTokenResponse, DataClass, Purpose, Run,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn hash_in(line: &str) -> String {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("hash="))
        .map(|h| h.trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("no hash in {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffered_extract_survives_a_coordinator_outage_and_an_agent_kill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let coordinator_dir = dir.path().join("coordinator");
    let (agent_port, operator_port) = (free_port(), free_port());
    let coordinator_config = dir.path().join("coordinator.toml");
    let mut text = format!(
        "data_dir = \"{}\"\nagent_listen = \"127.0.0.1:{agent_port}\"\noperator_listen = \"127.0.0.1:{operator_port}\"\n",
        coordinator_dir.display()
    );
    let database = crate::support::fresh_database().await;
    if let Some(url) = &database {
        text.push_str(&format!("database_url = \"{url}\"\n"));
    }
    std::fs::write(&coordinator_config, text).expect("write");
    if database.is_some() {
        // Over PostgreSQL the CA and admin token are made once, by init.
        let out = Command::new(env!("CARGO_BIN_EXE_e2e-coordinator"))
            .arg("--config")
            .arg(&coordinator_config)
            .arg("init")
            .output()
            .expect("init runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let operator_address = format!("127.0.0.1:{operator_port}");

    let mut coord = coordinator(&coordinator_config);
    coord.wait_for(&["coordinator listening"]);
    let op = operator(&coordinator_dir, &operator_address);

    // An agent serving a copy of A81001 that the test will delete.
    let practice: PathBuf = gpes_tests::copy_practice("A81001", dir.path());
    let agent_data = dir.path().join("agent");
    let agent_config = dir.path().join("agent.toml");
    std::fs::write(
        &agent_config,
        gpes_tests::agent_config(&agent_data, &[("A81001", practice.clone())], 2),
    )
    .expect("write");
    gpes_tests::import_test_registry(&op).await;
    let token: CreateTokenResponse = op
        .post(
            "/v1/tokens",
            &CreateTokenRequest {
                practices: vec!["A81001".into()],
                ttl_seconds: 600,
            },
            TIMEOUT,
        )
        .await
        .expect("token");
    let enrolled = Command::new(env!("CARGO_BIN_EXE_e2e-agent"))
        .arg("--config")
        .arg(&agent_config)
        .args(["enroll", "--token", &token.token])
        .output()
        .expect("enroll runs");
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );

    // The agent waits 3 s between taking a job and running it: time for
    // the coordinator to go away.
    let mut ag = agent(&agent_config, Some(3_000));
    ag.wait_for(&["agent running"]);

    let mut parameters = BTreeMap::new();
    parameters.insert("PPED".to_string(), "2025-03-31".to_string());
    let collection: gpes_protocol::Collection = op
        .post(
            "/v1/collections",
            &CreateCollectionRequest {
                name: "durability".into(),
                query: gpes_tests::registered_count_query(),
                query_ref: None,
                parameters,
                schedule: String::new(),
                practices: vec!["A81001".into()],
                targeting: Default::default(),
                purpose: Purpose::Payment,
                data_class: DataClass::Aggregate,
                deadline_seconds: None,
                draft: false,
                terms: Default::default(),
            },
            TIMEOUT,
        )
        .await
        .expect("collection");
    let run: Run = op
        .post(
            &format!("/v1/collections/{}/run", collection.id),
            &(),
            TIMEOUT,
        )
        .await
        .expect("run");

    let job_id = crate::support::run_results(&op, &run.id)
        .await
        .expect("results")
        .results[0]
        .job_id
        .clone();
    ag.wait_for(&["job taken", &job_id]);
    coord.kill();
    let buffered = ag.wait_for(&["extract buffered", &job_id]);
    let buffered_hash = hash_in(&buffered);
    ag.wait_for(&["upload failed", &job_id]);
    ag.kill();

    // The practice's data is gone: the result can only come from the buffer.
    std::fs::remove_dir_all(&practice).expect("remove the practice's files");

    let mut coord = coordinator(&coordinator_config);
    coord.wait_for(&["coordinator listening"]);
    let mut ag = agent(&agent_config, None);
    let acknowledged = ag.wait_for(&["extract acknowledged", &job_id]);
    assert_eq!(hash_in(&acknowledged), buffered_hash);

    let view = wait_done(&op, &run.id).await;
    assert_eq!(view.results.len(), 1);
    let row = &view.results[0];
    assert_eq!(
        row.extract_hash.map(|h| h.to_string()),
        Some(buffered_hash.clone())
    );
    assert_eq!(
        row.result.as_ref().and_then(|r| r.count("REGISTERED")),
        Some(39)
    );

    // Stored exactly once: one "result stored" line over both coordinator
    // lives (the first never got it), and the agent ran the job once.
    std::thread::sleep(Duration::from_millis(500));
    coord.kill();
    ag.kill();
    let stored = coord
        .all_lines()
        .iter()
        .filter(|l| l.contains("result stored"))
        .count();
    assert_eq!(stored, 1);
    assert!(
        ag.all_lines()
            .iter()
            .all(|l| !l.contains("extraction failed"))
    );
}
