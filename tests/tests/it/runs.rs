//! Runs that finish: lists a page at a time, failures reported with their
//! reason, a restarted agent handed back what it holds, and uploads that
//! do not answer the job refused.

use crate::support::*;
use gpes_client::Uplink;
use gpes_protocol::{
    FailureAck, FailureReport, JobStatus, Page, PollRequest, PollResponse, Receipt, RunResults,
    RunSummary,
};
use std::collections::BTreeSet;

async fn poll(agent: &Uplink, held: &[String]) -> PollResponse {
    agent
        .post(
            "/v1/jobs/poll",
            &PollRequest {
                practices: vec![],
                wait_ms: 2_000,
                held: held.to_vec(),
                ..Default::default()
            },
            TIMEOUT,
        )
        .await
        .expect("poll")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_and_results_come_a_page_at_a_time() {
    let coordinator = Coordinator::start().await;
    let operator = coordinator.operator();
    let practices = ["A81001", "B82002", "C83003", "D84004", "E85005"];
    let collection = coordinator
        .create_collection(&practices, "")
        .await
        .expect("collection");
    let mut made = BTreeSet::new();
    for _ in 0..5 {
        made.insert(coordinator.run_now(&collection.id).await.id);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(made.len(), 5, "five runs");

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => "/v1/runs?limit=2".to_string(),
            Some(c) => format!("/v1/runs?limit=2&cursor={c}"),
        };
        let page: Page<RunSummary> = operator.get(&path, TIMEOUT).await.expect("page");
        assert!(page.items.len() <= 2);
        pages += 1;
        seen.extend(page.items.iter().map(|r| r.run.id.clone()));
        for r in &page.items {
            assert_eq!(r.jobs.pending, 5, "{r:?}");
        }
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5, "no run twice: {seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), made);
    // Newest first.
    let newest: Page<RunSummary> = operator
        .get("/v1/runs?limit=1", TIMEOUT)
        .await
        .expect("page");
    assert_eq!(newest.items[0].run.id, seen[0]);

    let run = &seen[0];
    let mut rows = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => format!("/v1/runs/{run}/results?limit=2"),
            Some(c) => format!("/v1/runs/{run}/results?limit=2&cursor={c}"),
        };
        let page: RunResults = operator.get(&path, TIMEOUT).await.expect("results page");
        assert!(page.results.len() <= 2);
        assert_eq!(page.summary.jobs.total(), 5);
        rows.extend(page.results.into_iter().map(|r| r.practice));
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(rows.iter().cloned().collect::<BTreeSet<_>>().len(), 5);
    assert_eq!(rows.len(), 5, "no practice twice: {rows:?}");

    for bad in [
        "/v1/runs?limit=0",
        "/v1/runs?limit=100000",
        "/v1/runs?cursor=nonsense",
    ] {
        let err = operator
            .get::<Page<RunSummary>>(bad, TIMEOUT)
            .await
            .expect_err("refused");
        let message = err.to_string();
        assert!(
            message.contains("400") || message.contains("422"),
            "{bad}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_extraction_is_shown_with_its_reason_and_can_be_retried() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let agent = agent_uplink(&coordinator, &enroll_only(dir.path(), &token.token).await);
    let collection = coordinator
        .create_collection(&["A81001"], "")
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;
    let job = poll(&agent, &[]).await.jobs.remove(0);

    // Worth trying again: back to pending, not before the time given.
    let ack: FailureAck = agent
        .post(
            "/v1/failures",
            &FailureReport {
                job_id: job.job_id.clone(),
                reason: "the plugin ran out of fuel".into(),
                retryable: true,
            },
            TIMEOUT,
        )
        .await
        .expect("reported");
    assert_eq!(ack.status, JobStatus::Pending);
    assert!(ack.retry_at_ms.is_some());
    let results = run_results(&coordinator.operator(), &run.id)
        .await
        .expect("results");
    assert_eq!(results.results[0].status, JobStatus::Pending);
    assert_eq!(results.results[0].attempts, 1);
    assert_eq!(
        results.results[0].last_error.as_deref(),
        Some("the plugin ran out of fuel")
    );

    // Not worth trying again: failed, with the reason, and the run is
    // finished rather than waiting on a lease.
    let job = loop {
        let mut polled = poll(&agent, &[]).await;
        if let Some(j) = polled.jobs.pop() {
            break j;
        }
    };
    let ack: FailureAck = agent
        .post(
            "/v1/failures",
            &FailureReport {
                job_id: job.job_id.clone(),
                reason: "the site's policy refuses identifiable data".into(),
                retryable: false,
            },
            TIMEOUT,
        )
        .await
        .expect("reported");
    assert_eq!(ack.status, JobStatus::Failed);
    let summary: RunSummary = coordinator
        .operator()
        .get(&format!("/v1/runs/{}", run.id), TIMEOUT)
        .await
        .expect("run");
    assert_eq!(summary.jobs.failed, 1);
    assert!(summary.jobs.finished());
    let results = run_results(&coordinator.operator(), &run.id)
        .await
        .expect("results");
    let row = &results.results[0];
    assert_eq!(row.status, JobStatus::Failed);
    assert_eq!(row.attempts, 2);
    assert_eq!(
        row.last_error.as_deref(),
        Some("the site's policy refuses identifiable data")
    );

    // A report for a job the agent does not hold changes nothing.
    let before = coordinator.snapshot().await;
    let err = agent
        .post::<_, FailureAck>(
            "/v1/failures",
            &FailureReport {
                job_id: job.job_id.clone(),
                reason: "again".into(),
                retryable: true,
            },
            TIMEOUT,
        )
        .await
        .expect_err("not held");
    assert!(
        err.to_string().contains("409") || err.to_string().contains("403"),
        "{err}"
    );
    assert_eq!(coordinator.snapshot().await, before);

    // The operator retries the failed job: pending again, and handed out.
    let summary: RunSummary = coordinator
        .operator()
        .post(&format!("/v1/runs/{}/retry", run.id), &(), TIMEOUT)
        .await
        .expect("retry");
    assert_eq!(summary.jobs.pending, 1);
    assert_eq!(poll(&agent, &[]).await.jobs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_is_handed_back_the_job_it_holds() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let agent = agent_uplink(&coordinator, &enroll_only(dir.path(), &token.token).await);
    let collection = coordinator
        .create_collection(&["A81001"], "")
        .await
        .expect("collection");
    coordinator.run_now(&collection.id).await;
    let first = poll(&agent, &[]).await;
    assert_eq!(first.jobs.len(), 1);

    // Still extracting (it says it holds the job): not handed out again.
    let held = vec![first.jobs[0].job_id.clone()];
    assert!(poll(&agent, &held).await.jobs.is_empty());

    // Restarted with nothing in hand: its leased job comes back at once,
    // not after the 15-minute lease.
    let again = poll(&agent, &[]).await;
    assert_eq!(again.jobs.len(), 1);
    assert_eq!(again.jobs[0].job_id, first.jobs[0].job_id);
    let receipt: Receipt = agent
        .post("/v1/results", &upload_for(&again.jobs[0], 12), TIMEOUT)
        .await
        .expect("stored");
    assert_eq!(receipt.job_id, first.jobs[0].job_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_does_not_answer_the_job_is_refused_and_nothing_is_stored() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let agent = agent_uplink(&coordinator, &enroll_only(dir.path(), &token.token).await);
    let collection = coordinator
        .create_collection(&["A81001"], "")
        .await
        .expect("collection");
    coordinator.run_now(&collection.id).await;
    let job = poll(&agent, &[]).await.jobs.remove(0);

    let other_pped = upload_changed(&job, 39, |e| {
        e.parameters.insert("PPED".into(), "1999-01-01".into());
    });
    let no_inputs = upload_changed(&job, 39, |e| e.inputs.clear());
    let other_practice = upload_changed(&job, 39, |e| e.practice = "B82002".into());
    let mut other_query = upload_for(&job, 39);
    other_query.extract = other_query.extract.replacen(
        &job.query.hash.to_string(),
        &gpes_canon::ContentHash::of_bytes(b"another query").to_string(),
        1,
    );
    other_query.extract_hash = gpes_canon::ContentHash::of_bytes(other_query.extract.as_bytes());
    let mut wrong_hash = upload_for(&job, 39);
    wrong_hash.extract_hash = gpes_canon::ContentHash::of_bytes(b"not this extract");

    let before = coordinator.snapshot().await;
    for (what, upload, says) in [
        ("PPED 1999-01-01", other_pped, "parameters"),
        ("no inputs", no_inputs, "input"),
        ("another practice", other_practice, "practice"),
        ("another query", other_query, "query"),
        ("a hash of something else", wrong_hash, "hash"),
    ] {
        let err = agent
            .post::<_, Receipt>("/v1/results", &upload, TIMEOUT)
            .await
            .expect_err(what);
        let message = err.to_string();
        assert!(message.contains("422"), "{what}: {message}");
        assert!(message.contains(says), "{what}: {message}");
        assert_eq!(
            coordinator.snapshot().await,
            before,
            "{what} changed the store"
        );
    }
    assert!(coordinator.stored(&job.job_id).await.is_none());
    let receipt: Receipt = agent
        .post("/v1/results", &upload_for(&job, 39), TIMEOUT)
        .await
        .expect("the true answer is stored");
    assert_eq!(receipt.job_id, job.job_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_runs_and_over_64_mib_of_results_come_in_pages_of_at_most_1_mib() {
    let coordinator = Coordinator::start().await;
    let operator = coordinator.operator();
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let agent = agent_uplink(&coordinator, &enroll_only(dir.path(), &token.token).await);
    let collection = coordinator
        .create_collection(&["A81001"], "")
        .await
        .expect("collection");
    let first = coordinator.run_now(&collection.id).await;
    let job = poll(&agent, &[]).await.jobs.remove(0);
    let _: Receipt = agent
        .post("/v1/results", &upload_for(&job, 7), TIMEOUT)
        .await
        .expect("stored");
    // An extract of about 10 KB (many populations, as a query of many
    // would give), copied into every bulk result below.
    let upload = upload_changed(&job, 7, |e| {
        if let gpes_protocol::ResultOutput::Aggregate(a) = &mut e.result.output {
            for i in 0..80 {
                a.populations.push(gpes_protocol::PopulationCount {
                    population: format!("POPULATION_{i:03}_{}", "X".repeat(90)),
                    count: Some(i),
                    suppressed: false,
                    cells: vec![],
                });
            }
        }
    });
    let size = upload.extract.len();
    assert!(size > 9_000, "{size}");

    // 9,999 more runs of one done job each, and one run of 300 practices,
    // written straight into the store (the API would take minutes).
    let db = &coordinator.running.db;
    let mut tx = db.write().await.expect("transaction");
    let hash = upload.extract_hash.to_string();
    let mut insert = async |run: &str, due: i64, jobs: usize| {
        sqlx::query(
            "INSERT INTO runs (id, collection_id, due_ms, created_ms, deadline_ms, parameters) \
             VALUES ($1, $2, $3, $3, $4, '{\"PPED\":\"2025-03-31\"}')",
        )
        .bind(run)
        .bind(&collection.id)
        .bind(due)
        .bind(due + 86_400_000)
        .execute(&mut *tx)
        .await
        .expect("run");
        for j in 0..jobs {
            let job_id = format!("{run}-job-{j}");
            sqlx::query(
                "INSERT INTO jobs (id, run_id, practice, state, agent_id, not_before_ms, \
                 deadline_ms, attempts, updated_ms) VALUES ($1, $2, $3, 'done', 'a', 0, $4, 1, $4)",
            )
            .bind(&job_id)
            .bind(run)
            .bind(format!("P{j:05}"))
            .bind(due)
            .execute(&mut *tx)
            .await
            .expect("job");
            sqlx::query(
                "INSERT INTO results (job_id, run_id, agent_id, extract, extract_hash, stored_ms, late) \
                 VALUES ($1, $2, 'a', $3, $4, $5, 0)",
            )
            .bind(&job_id)
            .bind(run)
            .bind(&upload.extract)
            .bind(&hash)
            .bind(due)
            .execute(&mut *tx)
            .await
            .expect("result");
        }
    };
    for i in 0..9_999i64 {
        insert(&format!("bulk-run-{i:05}"), 1_000_000 + i, 1).await;
    }
    insert("bulk-run-wide", 2_000_000, 300).await;
    tx.commit().await.expect("commit");
    let stored: i64 = sqlx::query_scalar("SELECT SUM(LENGTH(extract)) FROM results")
        .fetch_one(db.pool())
        .await
        .expect("sum");
    assert!(stored > 64 << 20, "{stored} bytes of results stored");

    // Every runs page at the largest limit is at most 1 MiB, and the
    // cursors give each run once.
    let mut seen = BTreeSet::new();
    let mut next: Option<String> = None;
    let mut largest = 0;
    loop {
        let path = match &next {
            None => "/v1/runs?limit=1000".to_string(),
            Some(c) => format!("/v1/runs?limit=1000&cursor={c}"),
        };
        let page: Page<RunSummary> = operator.get(&path, TIMEOUT).await.expect("page");
        largest = largest.max(serde_json::to_vec(&page).expect("json").len());
        for r in &page.items {
            assert!(seen.insert(r.run.id.clone()), "{} twice", r.run.id);
        }
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 10_001);
    assert!(seen.contains(&first.id));
    assert!(largest <= 1 << 20, "a runs page of {largest} bytes");

    // The wide run's results, at the largest limit, stop at the byte
    // budget and go on from the cursor.
    let mut practices = BTreeSet::new();
    let mut pages = 0;
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => "/v1/runs/bulk-run-wide/results?limit=1000".to_string(),
            Some(c) => format!("/v1/runs/bulk-run-wide/results?limit=1000&cursor={c}"),
        };
        let page: RunResults = operator.get(&path, TIMEOUT).await.expect("results page");
        let bytes = serde_json::to_vec(&page).expect("json").len();
        assert!(bytes <= 1 << 20, "a results page of {bytes} bytes");
        pages += 1;
        for row in &page.results {
            assert!(
                practices.insert(row.practice.clone()),
                "{} twice",
                row.practice
            );
            assert_eq!(
                row.extract_hash.as_ref().map(ToString::to_string),
                Some(hash.clone())
            );
            assert!(row.result.is_some());
        }
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(practices.len(), 300);
    assert!(pages >= 3, "300 results of {size} bytes in {pages} pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_exports_as_csv_and_json_a_row_per_practice_and_population() {
    let coordinator = Coordinator::start().await;
    let operator = coordinator.operator();
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let agent = agent_uplink(&coordinator, &enroll_only(dir.path(), &token.token).await);
    let collection = coordinator
        .create_collection(&["A81001", "B82002"], "")
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;
    let job = poll(&agent, &[]).await.jobs.remove(0);
    let upload = upload_changed(&job, 39, |e| {
        if let gpes_protocol::ResultOutput::Aggregate(a) = &mut e.result.output {
            a.populations[0].cells = vec![
                gpes_protocol::Cell {
                    sex: Some("female".into()),
                    age_band: Some("40-59, \"middle\"".into()),
                    count: Some(20),
                    suppressed: false,
                },
                gpes_protocol::Cell {
                    sex: Some("male".into()),
                    age_band: Some("40-59, \"middle\"".into()),
                    count: None,
                    suppressed: true,
                },
            ];
        }
    });
    let _: Receipt = agent
        .post("/v1/results", &upload, TIMEOUT)
        .await
        .expect("stored");

    let mut csv = Vec::new();
    operator
        .download(&format!("/v1/runs/{}/export", run.id), &mut csv)
        .await
        .expect("csv");
    let csv = String::from_utf8(csv).expect("utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    let hash = upload.extract_hash.to_string();
    let r = &run.id;
    let c = &collection.id;
    assert_eq!(
        lines,
        [
            "run,collection,practice,status,population,sex,age_band,count,suppressed,late,extract_hash",
            format!("{r},{c},A81001,done,REGISTERED,,,39,false,false,{hash}").as_str(),
            format!("{r},{c},A81001,done,REGISTERED,female,\"40-59, \"\"middle\"\"\",20,false,false,{hash}").as_str(),
            format!("{r},{c},A81001,done,REGISTERED,male,\"40-59, \"\"middle\"\"\",,true,false,{hash}").as_str(),
            format!("{r},{c},B82002,pending,,,,,false,false,").as_str(),
        ]
    );

    let mut json = Vec::new();
    operator
        .download(
            &format!("/v1/runs/{}/export?format=json", run.id),
            &mut json,
        )
        .await
        .expect("json");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json).expect("a JSON array");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2]["count"], serde_json::Value::Null);
    assert_eq!(rows[2]["suppressed"], true);
    assert_eq!(rows[3]["status"], "pending");

    let err = operator
        .download(
            &format!("/v1/runs/{}/export?format=xml", run.id),
            &mut Vec::new(),
        )
        .await
        .expect_err("xml");
    assert!(err.to_string().contains("400"), "{err}");
    let err = operator
        .download("/v1/runs/no-such-run/export", &mut Vec::new())
        .await
        .expect_err("unknown run");
    assert!(err.to_string().contains("404"), "{err}");
    // Each export is on the audit trail.
    let trail: Page<gpes_protocol::AuditEntry> = operator
        .get("/v1/audit?limit=5", TIMEOUT)
        .await
        .expect("audit");
    assert_eq!(
        trail
            .items
            .iter()
            .filter(|e| e.action == "results.export")
            .count(),
        2
    );
}
