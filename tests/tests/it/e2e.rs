//! A coordinator and two agents (one serving two practices) run a
//! collection over real mutual TLS; each practice's result is stored once,
//! with the right value. Then idempotence of uploads.

use crate::support::*;
use gpes_canon::ContentHash;
use gpes_protocol::{Extract, PollRequest, PollResponse, Receipt};
use gpes_tests::PRACTICES;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_run_a_collection_and_each_result_is_stored_once() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let t1 = coordinator.token(&["A81001", "B82002"], 600).await;
    let t2 = coordinator.token(&["C83003"], 600).await;
    let a1 = start_agent(&dir.path().join("a1"), &t1.token, &["A81001", "B82002"]).await;
    let a2 = start_agent(&dir.path().join("a2"), &t2.token, &["C83003"]).await;
    assert_eq!(a1.agent_id, t1.agent_id);
    assert_eq!(a2.agent_id, t2.agent_id);

    let collection = coordinator
        .create_collection(&["A81001", "B82002", "C83003"], "")
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;
    assert_eq!(run.job_count, 3);
    let view = coordinator.wait_done(&run.id).await;

    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    for row in &view.results {
        let value = row.result.as_ref().and_then(|r| r.count("REGISTERED"));
        got.insert(row.practice.clone(), value.expect("a count"));
    }
    let want: BTreeMap<String, u64> = PRACTICES.iter().map(|(p, n)| (p.to_string(), *n)).collect();
    assert_eq!(got, want);

    // Exactly one stored result per job, each from the agent serving it.
    assert_eq!(view.results.len(), 3);
    for row in &view.results {
        let (agent_id, stored, hash) = coordinator.stored(&row.job_id).await.expect("stored");
        let expected_agent = if row.practice == "C83003" {
            &a2.agent_id
        } else {
            &a1.agent_id
        };
        assert_eq!(&agent_id, expected_agent);
        let extract: Extract = serde_json::from_str(&stored).expect("extract");
        assert_eq!(extract.practice, row.practice);
        assert_eq!(ContentHash::of_bytes(stored.as_bytes()).to_string(), hash);
        assert_eq!(row.extract_hash.map(|h| h.to_string()), Some(hash));
        assert_eq!(
            extract
                .inputs
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            // Observation.csv for the site's objection policy (a planning
            // collection), though these practices record no events.
            ["Observation.csv", "Patient.csv", "Registration.csv"]
        );
    }
    assert_eq!(coordinator.count("results").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_upload_twice_is_stored_once_and_a_different_one_is_refused() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let data_dir = enroll_only(dir.path(), &token.token).await;
    let agent = agent_uplink(&coordinator, &data_dir);
    let collection = coordinator
        .create_collection(&["A81001"], "")
        .await
        .expect("collection");
    coordinator.run_now(&collection.id).await;
    let polled: PollResponse = agent
        .post(
            "/v1/jobs/poll",
            &PollRequest {
                practices: vec![],
                wait_ms: 5_000,
                ..Default::default()
            },
            TIMEOUT,
        )
        .await
        .expect("poll");
    assert_eq!(polled.jobs.len(), 1);
    let job = &polled.jobs[0];

    let upload = upload_for(job, 39);
    let first: Receipt = agent
        .post("/v1/results", &upload, TIMEOUT)
        .await
        .expect("stored");
    let second: Receipt = agent
        .post("/v1/results", &upload, TIMEOUT)
        .await
        .expect("acknowledged again");
    assert_eq!(first, second, "the same receipt, same time stored");
    assert_eq!(first.extract_hash, upload.extract_hash);

    let before = coordinator.snapshot().await;
    let different = upload_for(job, 40);
    let err = agent
        .post::<_, Receipt>("/v1/results", &different, TIMEOUT)
        .await
        .expect_err("a different result is refused");
    assert!(err.to_string().contains("409"), "{err}");
    assert!(err.to_string().contains("already has a result"), "{err}");
    assert_eq!(
        coordinator.snapshot().await,
        before,
        "the stored result is unchanged"
    );
    let (_, _, hash) = coordinator.stored(&job.job_id).await.expect("stored");
    assert_eq!(hash, upload.extract_hash.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_indicator_runs_over_synthetic_practices() {
    // DM020 over two seeded synthetic practices; the expected counts come
    // from the engine run in this process over the generated records, with
    // no plugin, host, network or files in between.
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let query = gpes_tests::example_query("dm020.yaml");
    let spec = gpes_query::parse("dm020.yaml", &query).expect("valid");
    let params: BTreeMap<String, String> = [("PPED".to_string(), "2025-03-31".to_string())].into();
    let mut expected = BTreeMap::new();
    let mut data = Vec::new();
    for (code, seed) in [("P81001", 11), ("P81002", 12)] {
        let practice = gpes_synth::generate(&gpes_synth::PracticeConfig::new(seed, code, 1_500));
        let folder = dir.path().join(code);
        gpes_synth::write_csv_export(&practice, &folder).expect("written");
        let records: Vec<gpes_model::Record> = practice.records().collect();
        // The collection is for planning, so the agent's default policy
        // removes Type 1 objectors before any rule.
        let bound = spec.bind(code, &params).expect("binds");
        let everyone = bound.evaluate(&records);
        let answer = bound
            .with_exclusion([gpes_synth::codes::TYPE_1_OPT_OUT])
            .evaluate(&records);
        assert!(answer.excluded_by_policy > 0, "some objectors in {code}");
        assert!(
            answer.patients_evaluated < everyone.patients_evaluated,
            "objectors left out"
        );
        let mut counts: Vec<u64> = ["DM_REG", "DM020_DEN", "DM020_NUM"]
            .iter()
            .map(|p| answer.count(p).expect("aggregate"))
            .collect();
        counts.push(answer.excluded_by_policy);
        assert!(
            counts[0] > 50,
            "a diabetes register worth the name: {counts:?}"
        );
        expected.insert(code.to_string(), counts);
        data.push((code, folder));
    }
    let token = coordinator.token(&["P81001", "P81002"], 600).await;
    let _agent = start_agent_with(&dir.path().join("agent"), &token.token, &data).await;
    let collection = coordinator
        .create_collection_of(&query, &["P81001", "P81002"], "")
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;
    let view = coordinator.wait_done(&run.id).await;
    let mut got = BTreeMap::new();
    for row in &view.results {
        let result = row.result.as_ref().expect("a result");
        let mut counts: Vec<u64> = ["DM_REG", "DM020_DEN", "DM020_NUM"]
            .iter()
            .map(|p| result.count(p).expect("count"))
            .collect();
        counts.push(result.excluded_by_policy);
        got.insert(row.practice.clone(), counts);
    }
    assert_eq!(got, expected);
}
