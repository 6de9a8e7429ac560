//! Real TLS handshakes over loopback with the crate's configurations.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gpes_pki::{
    AgentKey, CertificateAuthority, EnrollmentToken, ServerIdentity, agent_client_config,
    agent_id_from_cert, agent_listener_config, operator_client_config, operator_listener_config,
    pinned_client_config,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};

const LIMIT: Duration = Duration::from_secs(10);

/// What the server side of one connection saw.
#[derive(Debug)]
struct ServerSaw {
    /// The agent id from the peer certificate, if there was one.
    agent_id: Option<String>,
    /// Application bytes read before the client closed.
    data: Vec<u8>,
    alpn: Option<Vec<u8>>,
}

fn server_names() -> Vec<String> {
    vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("server name")
}

/// Accepts one connection; on success reads until EOF, then answers with
/// the agent id it learnt (or `-`).
async fn serve_once(config: Arc<ServerConfig>) -> (SocketAddr, JoinHandle<io::Result<ServerSaw>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = TlsAcceptor::from(config).accept(tcp).await?;
        let (_, conn) = tls.get_ref();
        let agent_id = conn
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|cert| agent_id_from_cert(cert).map_err(io::Error::other))
            .transpose()?;
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let mut data = vec![0u8; 4];
        tls.read_exact(&mut data).await?;
        tls.write_all(agent_id.as_deref().unwrap_or("-").as_bytes())
            .await?;
        tls.shutdown().await?;
        Ok(ServerSaw {
            agent_id,
            data,
            alpn,
        })
    });
    (addr, handle)
}

/// Connects, sends `ping`, and reads the answer to EOF.
async fn client_exchange(
    config: Arc<ClientConfig>,
    addr: SocketAddr,
    name: ServerName<'static>,
) -> io::Result<String> {
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = TlsConnector::from(config).connect(name, tcp).await?;
    tls.write_all(b"ping").await?;
    tls.flush().await?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await?;
    Ok(answer)
}

async fn run(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> (io::Result<String>, io::Result<ServerSaw>) {
    tokio::time::timeout(LIMIT, async {
        let (addr, handle) = serve_once(server).await;
        let client_result = client_exchange(client, addr, localhost()).await;
        let server_result = handle.await.expect("server task");
        (client_result, server_result)
    })
    .await
    .expect("the exchange timed out")
}

fn rustls_error(e: &io::Error) -> &rustls::Error {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {e:?}"))
}

struct Agent {
    cert_pem: String,
    key_pem: String,
}

fn enrolled_agent(ca: &CertificateAuthority, id: &str) -> Agent {
    let key = AgentKey::generate().expect("agent key");
    let cert = ca
        .sign_agent_csr(&key.csr_pem(id).expect("csr"), id, 30)
        .expect("sign");
    assert!(key.matches_cert(&cert.cert_pem).expect("parse"));
    Agent {
        cert_pem: cert.cert_pem,
        key_pem: key.key_pem(),
    }
}

fn server_identity(ca: &CertificateAuthority) -> ServerIdentity {
    ca.issue_server_cert(&server_names(), 30)
        .expect("server cert")
}

#[tokio::test]
async fn mtls_succeeds_and_the_server_learns_the_agent_id() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let server = agent_listener_config(&ca, &server_identity(&ca)).expect("server config");
    let agent = enrolled_agent(&ca, "site-42");
    let client =
        agent_client_config(ca.cert_pem(), &agent.cert_pem, &agent.key_pem).expect("client");

    let (client_result, server_result) = run(server, client).await;
    let saw = server_result.expect("server side");
    assert_eq!(saw.agent_id.as_deref(), Some("site-42"));
    assert_eq!(saw.data, b"ping");
    assert_eq!(client_result.expect("client side"), "site-42");
}

#[tokio::test]
async fn agent_traffic_is_tls13_only() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let server = agent_listener_config(&ca, &server_identity(&ca)).expect("server config");
    // A TLS 1.2-only client with a valid agent certificate.
    let agent = enrolled_agent(&ca, "site-12");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).expect("root");
    let chain = vec![
        rustls::pki_types::pem::PemObject::from_pem_slice(agent.cert_pem.as_bytes()).expect("cert"),
    ];
    let key =
        rustls::pki_types::pem::PemObject::from_pem_slice(agent.key_pem.as_bytes()).expect("key");
    let client =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .expect("client auth");

    let (client_result, server_result) = run(server, Arc::new(client)).await;
    let server_err = server_result.expect_err("a TLS 1.2 client must be refused");
    assert!(
        matches!(
            rustls_error(&server_err),
            rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOfferedOrEnabled)
        ),
        "unexpected server error: {server_err:?}"
    );
    assert!(client_result.is_err());
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let server = agent_listener_config(&ca, &server_identity(&ca)).expect("server config");
    // Trusts the CA, presents nothing.
    let client = operator_client_config(ca.cert_pem()).expect("client");

    let (client_result, server_result) = run(server, client).await;
    let server_err = server_result.expect_err("the server must refuse the handshake");
    assert!(
        matches!(
            rustls_error(&server_err),
            rustls::Error::NoCertificatesPresented
        ),
        "unexpected server error: {server_err:?}"
    );
    // The server's accept failed: it never had a stream to read from, and the
    // client got no answer.
    let client_err = client_result.expect_err("the client must see the refusal");
    assert!(
        matches!(
            rustls_error(&client_err),
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)
        ),
        "unexpected client error: {client_err:?}"
    );
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let other = CertificateAuthority::create("Other CA").expect("other ca");
    let server = agent_listener_config(&ca, &server_identity(&ca)).expect("server config");
    let stranger = enrolled_agent(&other, "site-7");
    // Trusts the real CA (so the client accepts the server) but presents a
    // certificate from the other one.
    let client =
        agent_client_config(ca.cert_pem(), &stranger.cert_pem, &stranger.key_pem).expect("client");

    let (client_result, server_result) = run(server, client).await;
    let server_err = server_result.expect_err("the server must refuse the handshake");
    assert!(
        matches!(
            rustls_error(&server_err),
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        "unexpected server error: {server_err:?}"
    );
    assert!(client_result.is_err());
}

#[tokio::test]
async fn a_server_certificate_used_as_a_client_certificate_is_refused() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let server = agent_listener_config(&ca, &server_identity(&ca)).expect("server config");
    // Same CA, but serverAuth only and no agent URI.
    let other_server = server_identity(&ca);
    let client = agent_client_config(
        ca.cert_pem(),
        &other_server.chain_pem(),
        &other_server.key_pem(),
    )
    .expect("client");

    let (client_result, server_result) = run(server, client).await;
    let server_err = server_result.expect_err("the server must refuse the handshake");
    assert!(
        matches!(
            rustls_error(&server_err),
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::InvalidPurpose
                    | rustls::CertificateError::InvalidPurposeContext { .. }
            )
        ),
        "unexpected server error: {server_err:?}"
    );
    assert!(client_result.is_err());
}

#[tokio::test]
async fn the_pinned_client_connects_to_the_pinned_ca() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let server = operator_listener_config(&server_identity(&ca)).expect("server config");
    let (token, _) =
        EnrollmentToken::generate("localhost:7443", Duration::from_secs(600), &ca).expect("token");
    let client = pinned_client_config(token.ca_pin().expect("pin")).expect("client");

    let (client_result, server_result) = run(server, client).await;
    let saw = server_result.expect("server side");
    assert_eq!(saw.agent_id, None);
    assert_eq!(saw.data, b"ping");
    assert_eq!(client_result.expect("client side"), "-");
}

#[tokio::test]
async fn the_pinned_client_still_checks_the_server_name() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let server = operator_listener_config(&server_identity(&ca)).expect("server config");
    let client = pinned_client_config(ca.spki_sha256()).expect("client");

    let result = tokio::time::timeout(LIMIT, async {
        let (addr, handle) = serve_once(server).await;
        let name = ServerName::try_from("coordinator.example").expect("name");
        let client_result = client_exchange(client, addr, name).await;
        (client_result, handle.await.expect("server task"))
    })
    .await
    .expect("timed out");
    let client_err = result
        .0
        .expect_err("a name not in the certificate must be refused");
    assert!(
        matches!(
            rustls_error(&client_err),
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. }
            )
        ),
        "unexpected client error: {client_err:?}"
    );
    assert!(result.1.is_err());
}

#[tokio::test]
async fn the_pinned_client_refuses_a_server_of_another_ca() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let impostor = CertificateAuthority::create("Test CA").expect("impostor ca");
    // The server's chain is complete and valid, but under another CA.
    let server = operator_listener_config(&server_identity(&impostor)).expect("server config");
    let client = pinned_client_config(ca.spki_sha256()).expect("client");

    let (client_result, server_result) = run(server, client).await;
    let client_err = client_result.expect_err("the client must refuse the server");
    match rustls_error(&client_err) {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            let message = other.to_string();
            assert!(
                message.contains("the server's CA does not match the token's pin"),
                "unexpected message: {message}"
            );
        }
        e => panic!("unexpected client error: {e:?}"),
    }
    // The client aborted during the handshake: the server read no
    // application data (its accept failed on the client's alert).
    let server_err = server_result.expect_err("the server must see the abort");
    assert!(
        matches!(rustls_error(&server_err), rustls::Error::AlertReceived(_)),
        "unexpected server error: {server_err:?}"
    );
}

#[tokio::test]
async fn the_operator_listener_negotiates_alpn() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let server = operator_listener_config(&server_identity(&ca)).expect("server config");
    let mut client = (*operator_client_config(ca.cert_pem()).expect("client")).clone();
    client.alpn_protocols = vec![b"h2".to_vec()];

    let (client_result, server_result) = run(server, Arc::new(client)).await;
    let saw = server_result.expect("server side");
    assert_eq!(saw.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(client_result.expect("client side"), "-");
}

#[tokio::test]
async fn the_operator_client_refuses_a_server_of_another_ca() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let other = CertificateAuthority::create("Other CA").expect("other ca");
    let server = operator_listener_config(&server_identity(&other)).expect("server config");
    let client = operator_client_config(ca.cert_pem()).expect("client");

    let (client_result, server_result) = run(server, client).await;
    let client_err = client_result.expect_err("must refuse");
    assert!(
        matches!(
            rustls_error(&client_err),
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        "unexpected client error: {client_err:?}"
    );
    assert!(server_result.is_err());
}

#[tokio::test]
async fn a_client_certificate_naming_no_agent_is_refused() {
    // A CA made outside the crate, so that the test can also issue, with the
    // same key, a clientAuth certificate that names no agent.
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let ca = CertificateAuthority::from_pem(&ca_cert.pem(), &ca_key.serialize_pem()).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);

    let client_key = rcgen::KeyPair::generate().expect("client key");
    let mut params =
        rcgen::CertificateParams::new(vec!["client.example".to_owned()]).expect("params");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = params.signed_by(&client_key, &issuer).expect("client cert");

    let server = agent_listener_config(&ca, &server_identity(&ca)).expect("server config");
    let client = agent_client_config(
        ca.cert_pem(),
        &client_cert.pem(),
        &client_key.serialize_pem(),
    )
    .expect("client");

    let (client_result, server_result) = run(server, client).await;
    let server_err = server_result.expect_err("the server must refuse the handshake");
    match rustls_error(&server_err) {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            assert!(
                other.to_string().contains("does not name an agent"),
                "unexpected message: {other}"
            );
        }
        e => panic!("unexpected server error: {e:?}"),
    }
    assert!(client_result.is_err());
}
