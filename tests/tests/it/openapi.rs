//! The OpenAPI document and the routers match both ways, methods included:
//! every route the routers' source declares is in the document, and every
//! operation of the document is answered by its listener (neither the
//! router's 404 for an unknown endpoint nor its 405).

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::collections::BTreeSet;

fn documented(listener: &str) -> BTreeSet<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(gpes_coordinator::http::operator::OPENAPI)
        .expect("the document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let tags: Vec<&str> = op["tags"]
                .as_array()
                .expect("tags")
                .iter()
                .filter_map(|t| t.as_str())
                .collect();
            if tags.contains(&listener) {
                out.insert((path.clone(), method.clone()));
            }
        }
    }
    out
}

#[test]
fn every_route_of_the_routers_is_documented_and_nothing_else() {
    for listener in ["operator", "agent"] {
        let routes = routed(listener);
        let file = listener;
        assert!(routes.len() >= 3, "{file}: {routes:?}");
        if listener == "operator" {
            // Routes rustfmt wrapped over lines, with two methods, are read.
            for (path, method) in [("/v1/collections", "get"), ("/v1/practices/{code}", "post")] {
                assert!(
                    routes.contains(&(path.to_owned(), method.to_owned())),
                    "{method} {path} not read from {file}: {routes:?}"
                );
            }
        }
        let doc = documented(listener);
        let missing: Vec<_> = routes.difference(&doc).collect();
        let extra: Vec<_> = doc.difference(&routes).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{listener}: routed but not documented {missing:?}; documented but not routed {extra:?}"
        );
    }
}

async fn status_of(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    method: &str,
    path: &str,
    bearer: Option<&str>,
) -> (u16, String) {
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header(
            gpes_protocol::VERSION_HEADER,
            gpes_protocol::PROTOCOL_VERSION.to_string(),
        );
    if let Some(b) = bearer {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {b}"));
    }
    sender.ready().await.expect("ready");
    let resp = sender
        .send_request(req.body(Empty::new()).expect("request"))
        .await
        .expect("answer");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_answered_by_its_listener() {
    let coordinator = Coordinator::start().await;
    let admin = std::fs::read_to_string(&coordinator.running.admin_token_path).expect("token");
    let dir = tempfile::tempdir().expect("temp dir");
    let token = coordinator.token(&["A81001"], 600).await;
    let data_dir = enroll_only(dir.path(), &token.token).await;
    let identity = gpes_agent::identity::load(&data_dir).expect("identity");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");

    for (listener, addr, tls) in [
        (
            "operator",
            coordinator.running.operator_addr,
            gpes_pki::operator_client_config(&coordinator.running.ca_pem).expect("tls"),
        ),
        (
            "agent",
            coordinator.running.agent_addr,
            identity.tls.clone(),
        ),
    ] {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name.clone(), tcp)
            .await
            .expect("handshake");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("http");
        tokio::spawn(conn);
        let operations = documented(listener);
        assert!(!operations.is_empty());
        for (path, method) in operations {
            let concrete = path
                .replace("{id}", "x")
                .replace("{code}", "A81001")
                .replace("{secret}", "x");
            let (status, body) = status_of(
                &mut sender,
                &method.to_ascii_uppercase(),
                &concrete,
                Some(admin.trim()),
            )
            .await;
            assert!(
                status != 405 && !body.contains("no such endpoint"),
                "{listener}: {method} {path} is documented but answered {status}: {body}"
            );
        }
        // The router's own answers, for contrast.
        let (status, body) = status_of(&mut sender, "GET", "/v1/nothing-here", None).await;
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("no such endpoint"), "{body}");
    }

    // The document itself, without a token or protocol header.
    let tcp = tokio::net::TcpStream::connect(coordinator.running.operator_addr)
        .await
        .expect("connect");
    let tls = gpes_pki::operator_client_config(&coordinator.running.ca_pem).expect("tls");
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .expect("handshake");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http");
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri("/v1/openapi.json")
        .header("host", "127.0.0.1")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.expect("answer");
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
}
