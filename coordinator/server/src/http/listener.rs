//! Serving a router over TLS, hardened against hostile clients: a TLS
//! handshake timeout, a header read timeout, and a connection cap at which
//! the oldest connection that has not yet sent a request is closed to make
//! room, so that slow or idle clients cannot starve operators. Body read
//! timeouts and limits are in `body`.

use super::Listener;
use super::auth::PeerAgent;
use super::body::BodyTimeout;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

/// How a listener holds up.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub header_timeout: Duration,
    /// Longest a request body may take to arrive (read by `body`).
    pub body_timeout: Duration,
}

struct Slot {
    /// Set once the connection has sent a whole request head.
    served: Arc<AtomicBool>,
    close: CancellationToken,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Connections {
    next: u64,
    open: BTreeMap<u64, Slot>,
}

impl Connections {
    /// Makes room for one more: at the cap, closes the oldest connection
    /// that has sent no request. False when every connection is busy.
    fn admit(&mut self, cap: usize) -> bool {
        if self.open.len() < cap {
            return true;
        }
        let idle = self
            .open
            .iter()
            .find(|(_, s)| !s.served.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        match idle {
            Some(id) => {
                if let Some(slot) = self.open.remove(&id) {
                    slot.close.cancel();
                }
                true
            }
            None => false,
        }
    }
}

/// Accepts connections until `shutdown`, serving `router` on each.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    kind: Listener,
    limits: Limits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let acceptor = TlsAcceptor::from(tls);
    let connections = Arc::new(Mutex::new(Connections::default()));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, most likely: wait and go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let served = Arc::new(AtomicBool::new(false));
        let close = shutdown.child_token();
        let id = {
            let mut table = connections.lock().unwrap_or_else(|p| p.into_inner());
            if !table.admit(limits.max_connections) {
                tracing::warn!(%peer, ?kind, "connection refused: every connection is busy");
                continue;
            }
            table.next += 1;
            let id = table.next;
            table.open.insert(
                id,
                Slot {
                    served: served.clone(),
                    close: close.clone(),
                },
            );
            id
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let connections = connections.clone();
        tracker.spawn(async move {
            tokio::select! {
                () = connection(tcp, peer, acceptor, router, kind, limits, served) => {}
                () = close.cancelled() => {
                    tracing::debug!(%peer, ?kind, "connection closed to make room or at shutdown");
                }
            }
            connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .open
                .remove(&id);
        });
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    kind: Listener,
    limits: Limits,
    served: Arc<AtomicBool>,
) {
    let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            // Refused before any HTTP is read: no certificate, one from
            // another CA, a revoked one, the wrong TLS version.
            tracing::info!(%peer, ?kind, error = %e, "TLS handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, ?kind, "TLS handshake timed out");
            return;
        }
    };
    let agent = match kind {
        Listener::Agent => {
            let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
            match cert.map(|c| gpes_pki::agent_id_from_cert(c)) {
                Some(Ok(id)) => Some(PeerAgent(id)),
                _ => {
                    tracing::info!(%peer, "agent certificate names no agent");
                    return;
                }
            }
        }
        Listener::Operator => None,
    };
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        served.store(true, Ordering::Relaxed);
        req.extensions_mut()
            .insert(BodyTimeout(limits.body_timeout));
        if let Some(a) = &agent {
            req.extensions_mut().insert(a.clone());
        }
        let mut router = router.clone();
        async move { router.call(req.map(axum::body::Body::new)).await }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(32)
        .keep_alive_interval(Some(Duration::from_secs(30)));
    if let Err(e) = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), service)
        .await
    {
        tracing::debug!(%peer, ?kind, error = %e, "connection ended with an error");
    }
}
