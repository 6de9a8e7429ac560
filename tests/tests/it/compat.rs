//! A coordinator upgraded before its agents: a protocol version 1 agent
//! (its requests built in version 1's shape, with version 1's header,
//! over real mutual TLS) still polls and uploads, is answered in version
//! 1, and its result is stored and shown like any other.

use crate::support::*;
use bytes::Bytes;
use gpes_protocol::{VERSION_HEADER, v1};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// A request body as JSON.
macro_rules! json {
    ($v:expr) => {
        &serde_json::to_value($v).expect("json")
    };
}

/// One request as a version 1 agent sends it: HTTP/1.1, JSON, header 1.
async fn send_v1(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    path: &str,
    version: u32,
    body: &serde_json::Value,
) -> (u16, Option<String>, Vec<u8>) {
    let req = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "127.0.0.1")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(VERSION_HEADER, version.to_string())
        .body(Full::new(Bytes::from(
            serde_json::to_vec(body).expect("json"),
        )))
        .expect("request");
    sender.ready().await.expect("ready");
    let resp = sender.send_request(req).await.expect("answer");
    let status = resp.status().as_u16();
    let header = resp
        .headers()
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, header, body.to_vec())
}

/// A version 1 agent's sealed extract for a job: its answer with the
/// warnings' total inside, as version 1 agents wrote it.
fn v1_upload(job: &v1::Job, practice: &str, registered: u64) -> gpes_protocol::UploadRequest {
    let extract = v1::Extract {
        practice: practice.into(),
        query_hash: job.query.hash,
        parameters: job.parameters.clone(),
        plugin_name: "csv-export".into(),
        plugin_version: "0.0.9".into(),
        engine_version: "0.0.9".into(),
        inputs: vec![gpes_protocol::InputFile {
            name: "patients.csv".into(),
            bytes: 1024,
            sha256: "cd".repeat(32),
        }],
        result: serde_json::json!({
            "output": {"aggregate": {"populations": [
                {"population": "REGISTERED", "count": registered, "cells": []}
            ]}},
            "patients_evaluated": registered,
            "passes": 1,
            "excluded_by_policy": 0,
            "records_without_patient": 0,
            "data_quality_warnings": 3
        }),
    };
    let canonical = gpes_canon::to_canonical_string(&extract).expect("canonical");
    gpes_protocol::UploadRequest {
        job_id: job.job_id.clone(),
        extract_hash: gpes_canon::ContentHash::of_bytes(canonical.as_bytes()),
        extract: canonical,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_agent_still_polls_and_uploads() {
    let coordinator = Coordinator::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let data_dir = enroll_only(dir.path(), &token.token).await;
    let identity = gpes_agent::identity::load(&data_dir).expect("identity");
    let collection = coordinator
        .create_collection(&["A81001"], "")
        .await
        .expect("collection");
    let run = coordinator.run_now(&collection.id).await;

    let tcp = tokio::net::TcpStream::connect(coordinator.running.agent_addr)
        .await
        .expect("connect");
    let stream = tokio_rustls::TlsConnector::from(identity.tls.clone())
        .connect(
            rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name"),
            tcp,
        )
        .await
        .expect("mutual TLS handshake");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http");
    tokio::spawn(conn);

    // The poll, as version 1 wrote it; answered in version 1, whose agents
    // refuse unknown fields.
    let (status, version, body) = send_v1(
        &mut sender,
        "/v1/jobs/poll",
        1,
        json!(v1::PollRequest {
            practices: vec![],
            wait_ms: 5_000,
        }),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(version.as_deref(), Some("1"));
    let polled: v1::PollResponse = serde_json::from_slice(&body).expect("a v1 answer");
    assert_eq!(polled.jobs.len(), 1);
    let job = &polled.jobs[0];
    assert_eq!(job.run_id, run.id);

    // A version 1 extract for another practice is refused like any other.
    let wrong = v1_upload(job, "B82002", 39);
    let (status, version, body) = send_v1(&mut sender, "/v1/results", 1, json!(&wrong)).await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    assert_eq!(version.as_deref(), Some("1"));
    // Said as version 1 said errors.
    let error: v1::ErrorBody = serde_json::from_slice(&body).expect("a v1 error body");
    assert_eq!(error.error, v1::ErrorCode::BadRequest);
    assert!(error.message.contains("B82002"), "{}", error.message);
    assert!(coordinator.stored(&job.job_id).await.is_none());

    // The upload; its receipt is a version 1 receipt naming the hash the
    // agent sealed, and a second upload is acknowledged again.
    let upload = v1_upload(job, "A81001", 39);
    for _ in 0..2 {
        let (status, version, body) = send_v1(&mut sender, "/v1/results", 1, json!(&upload)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(version.as_deref(), Some("1"));
        let receipt: v1::Receipt = serde_json::from_slice(&body).expect("a v1 receipt");
        assert_eq!(receipt.extract_hash, upload.extract_hash);
    }
    let (_, extract, hash) = coordinator
        .stored(&job.job_id)
        .await
        .expect("the result is stored");
    assert_eq!(extract, upload.extract, "stored as the agent sealed it");
    assert_eq!(hash, upload.extract_hash.to_string());

    // Operators see it in the current types.
    let results = coordinator.wait_done(&run.id).await;
    let row = &results.results[0];
    assert_eq!(row.status, gpes_protocol::JobStatus::Done);
    assert_eq!(
        row.result.as_ref().and_then(|a| a.count("REGISTERED")),
        Some(39)
    );
    assert_eq!(
        row.data_quality_warnings,
        [gpes_protocol::WarningCount {
            kind: gpes_protocol::WarningKind::Other,
            count: 3
        }]
    );
    let agent: gpes_protocol::AgentInfo = coordinator
        .operator()
        .get(&format!("/v1/agents/{}", token.agent_id), TIMEOUT)
        .await
        .expect("agent");
    assert_eq!(agent.protocol_version, Some(1));

    // Only the poll and the upload serve version 1: a failure report (new
    // in version 2) and version 0 are refused, saying why.
    let report = gpes_protocol::FailureReport {
        job_id: job.job_id.clone(),
        reason: "x".into(),
        retryable: false,
    };
    let (status, _, body) = send_v1(&mut sender, "/v1/failures", 1, json!(&report)).await;
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("older than this side"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, _, _) = send_v1(
        &mut sender,
        "/v1/jobs/poll",
        0,
        json!(v1::PollRequest {
            practices: vec![],
            wait_ms: 0,
        }),
    )
    .await;
    assert_eq!(status, 400);
}
