//! rustls configurations for the coordinator's two listeners and for their
//! clients. All use the ring provider, passed explicitly; none depends on a
//! process-wide default provider.

use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, OtherError,
    RootCertStore, ServerConfig, SignatureScheme, SupportedProtocolVersion,
};

use crate::agent::agent_id_from_cert;
use crate::ca::{CertificateAuthority, ServerIdentity};
use crate::error::{PkiError, Result};
use crate::util;

/// Agent traffic, enrollment included: TLS 1.3 only.
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
/// Operator traffic: TLS 1.3 and 1.2 (rustls' defaults; with rustls' cipher
/// suites, ECDHE and AEAD only), for operators' browsers and tools.
static TLS12_AND_13: &[&SupportedProtocolVersion] = rustls::DEFAULT_VERSIONS;

/// The ALPN protocols both listeners offer, in order of preference.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn alpn() -> Vec<Vec<u8>> {
    ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect()
}

fn roots_from_pem(ca_pem: &str) -> Result<RootCertStore> {
    roots_from_der(util::one_cert_from_pem("the CA certificate", ca_pem)?)
}

fn roots_from_der(ca: CertificateDer<'static>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(ca)?;
    Ok(roots)
}

/// A rustls error carrying one of ours, so that the handshake error says
/// what was wrong.
fn cert_error(e: PkiError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
}

/// The agent listener's configuration.
///
/// - TLS 1.3 only.
/// - A client certificate is required on every connection and must chain
///   to `ca` (the only trust anchor), be within its validity, carry the
///   clientAuth extended key usage, and name exactly one agent
///   (`urn:gpes:agent:<id>`). Otherwise the handshake fails and no
///   application data is read. No revocation list is consulted (see
///   [`agent_listener_config_revocable`]).
/// - Presents `server` (chain `[leaf, CA]`).
/// - ALPN: `h2`, `http/1.1`.
///
/// After the handshake, [`crate::agent_id_from_cert`] on the first peer
/// certificate gives the caller's agent id.
pub fn agent_listener_config(
    ca: &CertificateAuthority,
    server: &ServerIdentity,
) -> Result<Arc<ServerConfig>> {
    agent_listener_config_revocable(ca, server, Arc::new(RevokedAgents::default()))
}

/// The agents whose certificates the agent listener refuses, by agent id,
/// whatever their validity: the coordinator fills it from its store and
/// keeps it current. Cheap to consult on every handshake.
#[derive(Debug, Default)]
pub struct RevokedAgents {
    ids: std::sync::RwLock<std::collections::HashSet<String>>,
}

impl RevokedAgents {
    pub fn is_revoked(&self, agent_id: &str) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(agent_id)
    }

    pub fn revoke(&self, agent_id: &str) {
        self.ids
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(agent_id.to_owned());
    }

    /// Replaces the whole list (a reload from the store).
    pub fn replace(&self, ids: impl IntoIterator<Item = String>) {
        *self.ids.write().unwrap_or_else(|p| p.into_inner()) = ids.into_iter().collect();
    }

    pub fn len(&self) -> usize {
        self.ids.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// [`agent_listener_config`], and a certificate naming an agent in
/// `revoked` fails the handshake (`CertificateError::Revoked`).
pub fn agent_listener_config_revocable(
    ca: &CertificateAuthority,
    server: &ServerIdentity,
    revoked: Arc<RevokedAgents>,
) -> Result<Arc<ServerConfig>> {
    let provider = provider();
    let roots = Arc::new(roots_from_der(ca.cert_der().clone())?);
    let inner = WebPkiClientVerifier::builder_with_provider(roots, provider.clone()).build()?;
    let verifier = Arc::new(AgentCertVerifier { inner, revoked });
    let (chain, key) = server.rustls_parts();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(TLS13_ONLY)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = alpn();
    Ok(Arc::new(config))
}

/// The operator listener's configuration (also where agents enroll).
///
/// - TLS 1.3 and 1.2.
/// - No client certificate is asked for: operators and enrolling agents
///   authenticate in HTTP.
/// - Presents `server` (chain `[leaf, CA]`, so that an enrolling agent finds
///   its pinned CA in it).
/// - ALPN: `h2`, `http/1.1`.
pub fn operator_listener_config(server: &ServerIdentity) -> Result<Arc<ServerConfig>> {
    let (chain, key) = server.rustls_parts();
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS12_AND_13)?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = alpn();
    Ok(Arc::new(config))
}

/// An enrolled agent's client configuration for the agent listener.
///
/// - TLS 1.3 only.
/// - Trusts only the CA in `ca_pem` (one certificate); checks the server
///   name given at connect time against the server certificate.
/// - Presents `agent_cert_pem` (the agent certificate, optionally followed
///   by more of its chain) with `agent_key_pem` (PKCS#8, SEC1 or PKCS#1);
///   refuses a key that does not match the certificate.
/// - No ALPN is set: the HTTP client sets `alpn_protocols` as it needs.
pub fn agent_client_config(
    ca_pem: &str,
    agent_cert_pem: &str,
    agent_key_pem: &str,
) -> Result<Arc<ClientConfig>> {
    let roots = roots_from_pem(ca_pem)?;
    let chain = util::certs_from_pem("the agent certificate", agent_cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(agent_key_pem.as_bytes()).map_err(|e| {
        PkiError::PrivateKey {
            what: "the agent key",
            reason: e.to_string(),
        }
    })?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS13_ONLY)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// An operator tool's (`gpesctl`'s) client configuration for the operator
/// listener: TLS 1.3 and 1.2, trusts only the CA in `ca_pem`, checks the
/// server name, no client certificate, no ALPN set.
pub fn operator_client_config(ca_pem: &str) -> Result<Arc<ClientConfig>> {
    let roots = roots_from_pem(ca_pem)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS12_AND_13)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// An enrolling agent's client configuration: it trusts exactly the CA
/// whose SubjectPublicKeyInfo SHA-256 is `ca_spki_sha256` (the token's pin,
/// see [`crate::EnrollmentToken::ca_pin`]).
///
/// The server must send that CA certificate in its chain (the coordinator's
/// listeners do). The verifier looks for it among the certificates the
/// server sent after its own; if none matches, the handshake fails with
/// "the server's CA does not match the token's pin" before any application
/// data is sent. If one matches, it becomes the only trust anchor and the
/// server certificate is verified against it as usual (signature chain,
/// validity at the handshake time, serverAuth, server name).
///
/// TLS 1.3 only, no client certificate, no ALPN set.
pub fn pinned_client_config(ca_spki_sha256: [u8; 32]) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let verifier = Arc::new(PinnedCaVerifier {
        pin: ca_spki_sha256,
        provider: provider.clone(),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(TLS13_ONLY)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// webpki's client verification, then: the certificate names one agent.
#[derive(Debug)]
struct AgentCertVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    revoked: Arc<RevokedAgents>,
}

impl ClientCertVerifier for AgentCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let agent = agent_id_from_cert(end_entity).map_err(cert_error)?;
        if self.revoked.is_revoked(&agent) {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Trusts the one CA certificate, among those the server sent, whose SPKI
/// hashes to the pin.
struct PinnedCaVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for PinnedCaVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedCaVerifier")
            .field("pin", &hex::encode(self.pin))
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pinned = intermediates.iter().find(|cert| {
            util::cert_spki_sha256("a server chain certificate", cert)
                .is_ok_and(|h| util::digests_equal(&h, &self.pin))
        });
        let Some(ca) = pinned else {
            return Err(cert_error(PkiError::PinMismatch {
                pin: hex::encode(self.pin),
            }));
        };
        let roots = roots_from_der(ca.clone().into_owned()).map_err(cert_error)?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| cert_error(PkiError::Verifier(e)))?;
        verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
