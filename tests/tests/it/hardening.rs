//! Hostile and careless clients: empty bearer tokens over both HTTP
//! versions, connections that send their headers slowly or never, and
//! bodies that are declared but never sent. Each must be refused or
//! released while operators are still served.

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::client::TlsStream;

async fn tls_to_operator(coordinator: &Coordinator) -> TlsStream<tokio::net::TcpStream> {
    let tls = gpes_pki::operator_client_config(&coordinator.running.ca_pem).expect("tls");
    let tcp = tokio::net::TcpStream::connect(coordinator.running.operator_addr)
        .await
        .expect("connect");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .expect("handshake")
}

fn runs_request(authorization: Option<&str>) -> http::Request<Empty<Bytes>> {
    let mut req = http::Request::builder()
        .method("GET")
        .uri("https://127.0.0.1/v1/runs")
        .header(
            gpes_protocol::VERSION_HEADER,
            gpes_protocol::PROTOCOL_VERSION.to_string(),
        );
    if let Some(a) = authorization {
        req = req.header(http::header::AUTHORIZATION, a);
    }
    req.body(Empty::new()).expect("request")
}

async fn problem(resp: http::Response<hyper::body::Incoming>) -> (u16, gpes_protocol::Problem) {
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let problem = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "not a problem body ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, problem)
}

const NOT_TOKENS: [Option<&str>; 6] = [
    None,
    Some("Bearer"),
    Some("Bearer "),
    Some("Bearer    "),
    Some("bearer x"),
    Some("Basic YWRtaW46"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_or_absent_bearer_token_is_refused_over_http1_and_http2() {
    let coordinator = Coordinator::start().await;
    let before = coordinator.snapshot().await;

    let (mut h1, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls_to_operator(&coordinator).await))
            .await
            .expect("http/1.1");
    tokio::spawn(conn);
    for authorization in NOT_TOKENS {
        h1.ready().await.expect("ready");
        let resp = h1
            .send_request(runs_request(authorization))
            .await
            .expect("answer");
        let (status, body) = problem(resp).await;
        assert_eq!(status, 401, "HTTP/1.1 with {authorization:?}");
        assert_eq!(body.code, gpes_protocol::ErrorCode::Unauthorized);
    }

    let (mut h2, conn) = hyper::client::conn::http2::handshake(
        TokioExecutor::new(),
        TokioIo::new(tls_to_operator(&coordinator).await),
    )
    .await
    .expect("http/2");
    tokio::spawn(conn);
    for authorization in NOT_TOKENS {
        h2.ready().await.expect("ready");
        let resp = h2
            .send_request(runs_request(authorization))
            .await
            .expect("answer");
        assert_eq!(resp.version(), http::Version::HTTP_2);
        let (status, body) = problem(resp).await;
        assert_eq!(status, 401, "HTTP/2 with {authorization:?}");
        assert_eq!(body.code, gpes_protocol::ErrorCode::Unauthorized);
    }

    // The real token is still taken over HTTP/2.
    let token = std::fs::read_to_string(&coordinator.running.admin_token_path).expect("token");
    h2.ready().await.expect("ready");
    let resp = h2
        .send_request(runs_request(Some(&format!("Bearer {}", token.trim()))))
        .await
        .expect("answer");
    assert_eq!(resp.status(), 200);
    assert_eq!(coordinator.snapshot().await, before);
}

/// Reads until the server closes the connection; false if it is still
/// open after `within`.
async fn closed_within(stream: &mut TlsStream<tokio::net::TcpStream>, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_closed_and_operators_are_still_served() {
    // The default connection cap (4,096); headers and handshakes time out
    // after 2 s rather than 10 so the test is short.
    let coordinator = Coordinator::start_with(|c| {
        c.header_timeout_seconds = 2;
        c.handshake_timeout_seconds = 2;
    })
    .await;
    let cap = gpes_coordinator::Config::with_data_dir("unused".into()).operator_max_connections;
    let operator = coordinator.operator();

    // Connections that send half a request head and stall...
    let mut stalled = Vec::new();
    for _ in 0..32 {
        let mut s = tls_to_operator(&coordinator).await;
        s.write_all(b"GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .expect("half a head");
        s.flush().await.expect("flush");
        stalled.push(s);
    }
    // ...and more than the cap that open TCP and never say anything.
    const SILENT: usize = 5_000;
    assert!(SILENT > cap, "the test must go past the cap ({cap})");
    let mut silent = Vec::with_capacity(SILENT);
    for _ in 0..SILENT {
        silent.push(
            tokio::net::TcpStream::connect(coordinator.running.operator_addr)
                .await
                .expect("connect"),
        );
    }

    // An operator is served at once, though the cap was passed.
    for _ in 0..3 {
        let page: gpes_protocol::Page<gpes_protocol::RunSummary> = operator
            .get("/v1/runs", TIMEOUT)
            .await
            .expect("operator served while slow clients hold connections");
        assert!(page.items.is_empty());
    }

    // Every stalled connection is closed: made room for, or timed out.
    for (i, s) in stalled.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(15)).await,
            "stalled connection {i} is still open"
        );
    }
    for (i, s) in silent.iter_mut().enumerate() {
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(15), s.read(&mut buf)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "silent connection {i} is still open: {closed:?}"
        );
    }
    let page: gpes_protocol::Page<gpes_protocol::RunSummary> = operator
        .get("/v1/runs", TIMEOUT)
        .await
        .expect("still served");
    assert!(page.items.is_empty());
}

/// Sends a request head declaring a body, then no body, and returns the
/// answer's status line and body.
async fn declare_and_stall(
    coordinator: &Coordinator,
    path: &str,
    authorization: Option<&str>,
    declared: u64,
) -> String {
    let mut s = tls_to_operator(coordinator).await;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}: {}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n",
        gpes_protocol::VERSION_HEADER,
        gpes_protocol::PROTOCOL_VERSION
    );
    if let Some(a) = authorization {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.expect("head");
    s.flush().await.expect("flush");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    // One answer is enough: stop at the end of its body.
                    let text = String::from_utf8_lossy(&answer);
                    if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a stalled body on {path}");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_that_never_comes_is_released() {
    let coordinator = Coordinator::start_with(|c| c.body_timeout_seconds = 1).await;
    let before = coordinator.snapshot().await;
    let token = std::fs::read_to_string(&coordinator.running.admin_token_path).expect("token");
    let bearer = format!("Bearer {}", token.trim());

    // Over the limit: refused from the declared length, before reading.
    let huge = declare_and_stall(&coordinator, "/v1/tokens", Some(&bearer), 1 << 30).await;
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");
    // Unauthenticated enrollment: refused before its body is read.
    let enroll = declare_and_stall(&coordinator, "/v1/enroll", None, 1 << 30).await;
    assert!(enroll.starts_with("HTTP/1.1 401"), "{enroll}");
    let enroll =
        declare_and_stall(&coordinator, "/v1/enroll", Some("Bearer not-a-token"), 4000).await;
    assert!(enroll.starts_with("HTTP/1.1 401"), "{enroll}");
    // Within the limit but never sent: released when the body timeout ends.
    let slow = declare_and_stall(&coordinator, "/v1/tokens", Some(&bearer), 1000).await;
    assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
    assert!(slow.contains("did not arrive within 1 s"), "{slow}");

    assert_eq!(coordinator.snapshot().await, before);
}
