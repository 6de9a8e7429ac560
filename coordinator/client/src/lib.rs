//! The HTTPS client the agent and gpesctl use to talk to the coordinator:
//! one TLS connection per request (long-polls hold theirs), JSON bodies, and
//! the protocol version header both ways. Which TLS configuration (mutual
//! TLS, a pinned CA, the operator's CA) is the caller's choice; this crate
//! only speaks HTTP over it.

use bytes::Bytes;
use gpes_protocol::{PROTOCOL_VERSION, Problem, VERSION_HEADER, check_version};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Largest response body read.
const RESPONSE_LIMIT: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The coordinator could not be reached; try again later.
    #[error("could not reach the coordinator at {address}: {message}")]
    Unreachable { address: String, message: String },
    /// The coordinator answered with a refusal.
    #[error("the coordinator refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the coordinator's answer was not understood: {0}")]
    BadAnswer(String),
}

impl UplinkError {
    /// Worth retrying later (the network or the coordinator is away).
    pub fn is_transient(&self) -> bool {
        matches!(self, UplinkError::Unreachable { .. })
            || matches!(self, UplinkError::Refused { status, .. } if *status >= 500)
    }
}

/// Says why a handshake failed, in words: rustls prints a refused
/// certificate's own reason only in debug form.
fn tls_failure(e: &std::io::Error) -> String {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) => {
            format!("the server's certificate was refused: {}", other.0)
        }
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

#[derive(Clone)]
pub struct Uplink {
    address: String,
    server_name: ServerName<'static>,
    tls: TlsConnector,
    bearer: Option<String>,
}

impl std::fmt::Debug for Uplink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uplink")
            .field("address", &self.address)
            .finish()
    }
}

/// The host part of `host:port`, as a TLS server name.
pub fn server_name(address: &str) -> Result<ServerName<'static>, String> {
    let host = address
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .ok_or_else(|| format!("'{address}' is not host:port"))?;
    ServerName::try_from(host.to_owned()).map_err(|e| format!("'{host}' is not a server name: {e}"))
}

impl Uplink {
    pub fn new(address: &str, tls: Arc<rustls::ClientConfig>) -> Result<Uplink, String> {
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Uplink {
            address: address.to_owned(),
            server_name: server_name(address)?,
            tls: TlsConnector::from(Arc::new(tls)),
            bearer: None,
        })
    }

    /// The host:port it talks to.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn with_bearer(mut self, token: &str) -> Uplink {
        self.bearer = Some(token.to_owned());
        self
    }

    pub async fn get<Resp: DeserializeOwned>(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<Resp, UplinkError> {
        self.request(http::Method::GET, path, None::<&()>, timeout)
            .await
    }

    pub async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        timeout: Duration,
    ) -> Result<Resp, UplinkError> {
        self.request(http::Method::POST, path, Some(body), timeout)
            .await
    }

    pub async fn put<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        timeout: Duration,
    ) -> Result<Resp, UplinkError> {
        self.request(http::Method::PUT, path, Some(body), timeout)
            .await
    }

    async fn request<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&Req>,
        timeout: Duration,
    ) -> Result<Resp, UplinkError> {
        match tokio::time::timeout(timeout, self.exchange(method, path, body)).await {
            Ok(r) => r,
            Err(_) => Err(self.unreachable(format!("no answer within {timeout:?}"))),
        }
    }

    fn unreachable(&self, message: String) -> UplinkError {
        UplinkError::Unreachable {
            address: self.address.clone(),
            message,
        }
    }

    /// Sends one request on a new connection; the answer's status, the
    /// protocol version it says, its body, and the task driving the
    /// connection (abort it once the body is read).
    async fn send<Req: Serialize>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<
        (
            http::StatusCode,
            Option<u32>,
            hyper::body::Incoming,
            tokio::task::JoinHandle<()>,
        ),
        UplinkError,
    > {
        let tcp = TcpStream::connect(&self.address)
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| self.unreachable(format!("TLS handshake failed: {}", tls_failure(&e))))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| UplinkError::BadAnswer(e.to_string()))?,
            None => Vec::new(),
        };
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, &self.address)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(VERSION_HEADER, PROTOCOL_VERSION.to_string());
        if let Some(token) = &self.bearer {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| UplinkError::BadAnswer(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let status = resp.status();
        let theirs = resp
            .headers()
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok((status, theirs, resp.into_body(), driver))
    }

    /// A refusal's problem body as an error.
    fn refused(status: http::StatusCode, body: &[u8]) -> UplinkError {
        let message = serde_json::from_slice::<Problem>(body)
            .map(|e| e.detail)
            .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
        UplinkError::Refused {
            status: status.as_u16(),
            message,
        }
    }

    async fn exchange<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<Resp, UplinkError> {
        let (status, theirs, incoming, driver) = self.send(method, path, body).await?;
        let body = Limited::new(incoming, RESPONSE_LIMIT)
            .collect()
            .await
            .map_err(|e| self.unreachable(e.to_string()))?
            .to_bytes();
        driver.abort();
        check_version(theirs).map_err(|e| UplinkError::BadAnswer(e.to_string()))?;
        if !status.is_success() {
            return Err(Self::refused(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| UplinkError::BadAnswer(e.to_string()))
    }

    /// GETs `path` and writes its body to `out` as it arrives, without a
    /// size limit (an export). Returns the bytes written. A connection
    /// lost part-way is an error, never a short file taken as whole.
    pub async fn download(
        &self,
        path: &str,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<u64, UplinkError> {
        let (status, theirs, mut incoming, driver) =
            self.send(http::Method::GET, path, None::<&()>).await?;
        check_version(theirs).map_err(|e| UplinkError::BadAnswer(e.to_string()))?;
        if !status.is_success() {
            let body = Limited::new(incoming, RESPONSE_LIMIT)
                .collect()
                .await
                .map_err(|e| self.unreachable(e.to_string()))?
                .to_bytes();
            driver.abort();
            return Err(Self::refused(status, &body));
        }
        let mut written = 0u64;
        while let Some(frame) = incoming.frame().await {
            let frame =
                frame.map_err(|e| self.unreachable(format!("the download broke off: {e}")))?;
            if let Ok(data) = frame.into_data() {
                out.write_all(&data)
                    .map_err(|e| UplinkError::BadAnswer(format!("writing the download: {e}")))?;
                written += data.len() as u64;
            }
        }
        driver.abort();
        Ok(written)
    }
}
