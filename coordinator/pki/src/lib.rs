//! The coordinator's CA, agent enrollment tokens and certificates, and the
//! TLS configurations built on them.
//!
//! The coordinator creates its CA on first start ([`CertificateAuthority::load_or_create`])
//! and issues from it the certificates of its two listeners
//! ([`CertificateAuthority::issue_server_cert`]) and of agents
//! ([`CertificateAuthority::sign_agent_csr`]). An agent joins with an
//! [`EnrollmentToken`]: it trusts only the CA the token pins
//! ([`pinned_client_config`]), sends a CSR for a key it made on site
//! ([`AgentKey`]), and from then on talks to the agent listener over mutual
//! TLS 1.3 ([`agent_listener_config`], [`agent_client_config`]); the
//! listener learns who is calling with [`agent_id_from_cert`].
//!
//! This crate is not a server or a client: it opens no sockets, speaks no
//! HTTP, keeps no registry of agents or tokens, and does not revoke
//! certificates. It makes keys, certificates, tokens and rustls
//! configurations (ring provider only, always passed explicitly), and
//! stores the CA and agent keys as files readable by their owner only.

mod agent;
mod ca;
mod error;
mod tls;
mod token;
mod util;

pub use agent::{
    AGENT_URI_PREFIX, AgentKey, MAX_AGENT_ID_LEN, agent_id_from_cert, validate_agent_id,
};
pub use ca::{
    AgentCertificate, CA_CERT_FILE, CA_KEY_FILE, CA_VALIDITY_DAYS, CertificateAuthority,
    DEFAULT_CA_COMMON_NAME, MAX_LEAF_VALIDITY_DAYS, ServerIdentity,
};
pub use error::{PkiError, Result};
pub use tls::{
    ALPN_PROTOCOLS, RevokedAgents, agent_client_config, agent_listener_config,
    agent_listener_config_revocable, operator_client_config, operator_listener_config,
    pinned_client_config,
};
pub use token::{EnrollmentToken, SECRET_BYTES, TOKEN_PREFIX, hash_secret, secret_matches};
