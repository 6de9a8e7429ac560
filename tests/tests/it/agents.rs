//! Agent administration: what each agent reports, and revocation, which
//! refuses the agent at the TLS handshake and hands its jobs to others.

use crate::support::*;
use gpes_protocol::{
    AgentInfo, JobStatus, Page, PollRequest, PollResponse, Receipt, RevokeResponse,
};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_agent_reports_its_version_plugins_and_buffer() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001", "B82002"], 600).await;
    let agent = start_agent(dir.path(), &token.token, &["A81001", "B82002"]).await;
    let operator = coordinator.operator();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let info = loop {
        let info: AgentInfo = operator
            .get(&format!("/v1/agents/{}", agent.agent_id), TIMEOUT)
            .await
            .expect("agent");
        if info.last_seen_ms.is_some() {
            break info;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no heartbeat: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(info.revoked_ms, None);
    assert_eq!(
        info.agent_version.as_deref(),
        Some(env!("CARGO_PKG_VERSION")),
        "{info:?}"
    );
    assert_eq!(info.protocol_version, Some(gpes_protocol::PROTOCOL_VERSION));
    let practices: Vec<&str> = info.practices.iter().map(|p| p.practice.as_str()).collect();
    assert_eq!(practices, ["A81001", "B82002"]);
    for p in &info.practices {
        assert_eq!(p.plugin_name.as_deref(), Some("csv-export"), "{p:?}");
        assert_eq!(p.buffer_depth, Some(0), "{p:?}");
    }
    let all: Page<AgentInfo> = operator.get("/v1/agents", TIMEOUT).await.expect("list");
    assert_eq!(all.items.len(), 1);
    assert_eq!(all.items[0].agent_id, agent.agent_id);

    let err = operator
        .get::<AgentInfo>("/v1/agents/no-such-agent", TIMEOUT)
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_agent_is_refused_at_the_handshake_and_its_jobs_go_to_another() {
    let coordinator = Coordinator::start().await;
    let operator = coordinator.operator();
    let dir = tempfile::tempdir().expect("temp dir");
    let first = coordinator.token(&["A81001"], 600).await;
    let first_dir = enroll_only(&dir.path().join("first"), &first.token).await;
    let first_agent = agent_uplink(&coordinator, &first_dir);
    let second = coordinator.token(&["A81001"], 600).await;
    let second_agent = agent_uplink(
        &coordinator,
        &enroll_only(&dir.path().join("second"), &second.token).await,
    );
    let collection = coordinator
        .create_collection(&["A81001"], "")
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;
    let poll = PollRequest {
        practices: vec![],
        wait_ms: 2_000,
        ..Default::default()
    };
    let held: PollResponse = first_agent
        .post("/v1/jobs/poll", &poll, TIMEOUT)
        .await
        .expect("poll");
    assert_eq!(held.jobs.len(), 1);
    let job = &held.jobs[0];
    let agent_id = gpes_agent::identity::load(&first_dir)
        .expect("identity")
        .enrollment
        .agent_id;

    // Nothing changes for an agent that does not exist.
    let before = coordinator.snapshot().await;
    let err = operator
        .post::<_, RevokeResponse>("/v1/agents/no-such-agent/revoke", &(), TIMEOUT)
        .await
        .expect_err("unknown agent");
    assert!(err.to_string().contains("404"), "{err}");
    assert_eq!(coordinator.snapshot().await, before);

    let revoked: RevokeResponse = operator
        .post(&format!("/v1/agents/{agent_id}/revoke"), &(), TIMEOUT)
        .await
        .expect("revoke");
    assert!(revoked.agent.revoked_ms.is_some());
    assert_eq!(revoked.jobs_released, 1);

    // Refused at the handshake: a new connection with its certificate
    // does not get as far as HTTP.
    let fresh = agent_uplink(&coordinator, &first_dir);
    let err = fresh
        .post::<_, PollResponse>("/v1/jobs/poll", &poll, TIMEOUT)
        .await
        .expect_err("a revoked agent is refused");
    assert!(err.is_transient(), "refused at the connection: {err}");
    // Not an HTTP answer at all (a port number may well contain "403").
    assert!(
        matches!(err, gpes_client::UplinkError::Unreachable { .. }),
        "{err}"
    );
    // Its upload for the job it held is refused too.
    let err = fresh
        .post::<_, Receipt>("/v1/results", &upload_for(job, 3), TIMEOUT)
        .await
        .expect_err("refused");
    assert!(err.is_transient(), "{err}");

    // The job went back to pending, and the other agent of the practice
    // takes it and stores its result.
    let results = run_results(&operator, &run.id).await.expect("results");
    assert_eq!(results.results[0].status, JobStatus::Pending);
    let taken: PollResponse = second_agent
        .post("/v1/jobs/poll", &poll, TIMEOUT)
        .await
        .expect("poll");
    assert_eq!(taken.jobs.len(), 1);
    assert_eq!(taken.jobs[0].job_id, job.job_id);
    let _: Receipt = second_agent
        .post("/v1/results", &upload_for(&taken.jobs[0], 3), TIMEOUT)
        .await
        .expect("stored");

    // Revoking twice is refused and changes nothing.
    let before = coordinator.snapshot().await;
    let err = operator
        .post::<_, RevokeResponse>(&format!("/v1/agents/{agent_id}/revoke"), &(), TIMEOUT)
        .await
        .expect_err("already revoked");
    assert!(err.to_string().contains("409"), "{err}");
    assert_eq!(coordinator.snapshot().await, before);
    let listed: AgentInfo = operator
        .get(&format!("/v1/agents/{agent_id}"), TIMEOUT)
        .await
        .expect("shown");
    assert_eq!(listed.revoked_ms, revoked.agent.revoked_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_coordinator_still_refuses_a_revoked_agent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("coordinator");
    let database = fresh_database().await;
    gpes_coordinator::init(&data).expect("init");
    let start = |data: std::path::PathBuf, database: Option<String>| async move {
        Coordinator::start_with(move |c| {
            c.data_dir = data;
            if database.is_some() {
                c.database_url = database;
            }
        })
        .await
    };
    let coordinator = start(data.clone(), database.clone()).await;
    let token = coordinator.token(&["A81001"], 600).await;
    let agent_dir = enroll_only(&dir.path().join("agent"), &token.token).await;
    let agent_id = gpes_agent::identity::load(&agent_dir)
        .expect("identity")
        .enrollment
        .agent_id;
    let _: RevokeResponse = coordinator
        .operator()
        .post(&format!("/v1/agents/{agent_id}/revoke"), &(), TIMEOUT)
        .await
        .expect("revoke");
    coordinator.shutdown.cancel();
    coordinator.running.tracker.wait().await;
    drop(coordinator);

    let coordinator = start(data, database).await;
    let err = agent_uplink(&coordinator, &agent_dir)
        .post::<_, PollResponse>("/v1/jobs/poll", &PollRequest::default(), TIMEOUT)
        .await
        .expect_err("still refused");
    assert!(err.is_transient(), "refused at the connection: {err}");
}
