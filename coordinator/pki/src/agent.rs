//! The agent's side: its key, its certificate signing request, and the
//! agent id a certificate carries.

use std::fmt;
use std::path::Path;

use rcgen::{CertificateParams, KeyPair, PublicKeyData};
use x509_parser::extensions::GeneralName;

use crate::error::{PkiError, Result};
use crate::util;

/// The prefix of the SAN URI that names an agent: `urn:gpes:agent:<id>`.
pub const AGENT_URI_PREFIX: &str = "urn:gpes:agent:";

/// The longest agent id accepted.
pub const MAX_AGENT_ID_LEN: usize = 64;

/// `urn:gpes:agent:<id>`.
pub(crate) fn agent_uri(agent_id: &str) -> String {
    format!("{AGENT_URI_PREFIX}{agent_id}")
}

/// Checks an agent id: 1 to [`MAX_AGENT_ID_LEN`] ASCII letters, digits,
/// `-`, `_` or `.`, starting with a letter or digit. These survive a URN, a
/// common name, a file name and a log line unescaped.
pub fn validate_agent_id(id: &str) -> Result<()> {
    let invalid = |reason| PkiError::InvalidAgentId {
        id: id.to_owned(),
        reason,
    };
    let Some(first) = id.bytes().next() else {
        return Err(invalid("it is empty"));
    };
    if id.len() > MAX_AGENT_ID_LEN {
        return Err(invalid("it is too long"));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(invalid("it does not start with a letter or digit"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(invalid(
            "it contains a character other than letters, digits, '-', '_', '.'",
        ));
    }
    Ok(())
}

/// The agent id a certificate names: its one SAN URI
/// `urn:gpes:agent:<id>`.
///
/// This does not verify the certificate: call it on the peer certificate of
/// a connection whose verifier (see [`crate::agent_listener_config`])
/// accepted it, e.g. `ServerConnection::peer_certificates()[0]`.
pub fn agent_id_from_cert(der: &[u8]) -> Result<String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| PkiError::Certificate {
            what: "the agent certificate",
            reason: e.to_string(),
        })?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| {
            PkiError::NoAgentId(format!("its subject alternative names are malformed ({e})"))
        })?
        .ok_or_else(|| PkiError::NoAgentId("it has no subject alternative names".into()))?;
    let mut ids = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => uri.strip_prefix(AGENT_URI_PREFIX),
            _ => None,
        });
    let id = ids
        .next()
        .ok_or_else(|| PkiError::NoAgentId(format!("it has no `{AGENT_URI_PREFIX}<id>` URI")))?;
    if ids.next().is_some() {
        return Err(PkiError::NoAgentId(format!(
            "it has more than one `{AGENT_URI_PREFIX}<id>` URI"
        )));
    }
    validate_agent_id(id)?;
    Ok(id.to_owned())
}

/// An agent's private key, made on site: ECDSA P-256 (signing with
/// SHA-256). Keys loaded from PEM may also be Ed25519.
pub struct AgentKey {
    key: KeyPair,
}

impl fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentKey")
            .field("algorithm", &self.algorithm_name())
            .field("key", &"[elided]")
            .finish()
    }
}

impl AgentKey {
    /// A fresh ECDSA P-256 key.
    pub fn generate() -> Result<Self> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(PkiError::generate("the agent key"))?;
        Ok(Self { key })
    }

    /// Reads a PKCS#8 PEM key (`BEGIN PRIVATE KEY`), ECDSA P-256 or Ed25519.
    pub fn from_pem(key_pem: &str) -> Result<Self> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| PkiError::PrivateKey {
            what: "the agent key",
            reason: e.to_string(),
        })?;
        let alg = key.algorithm();
        if alg != &rcgen::PKCS_ECDSA_P256_SHA256 && alg != &rcgen::PKCS_ED25519 {
            return Err(PkiError::PrivateKey {
                what: "the agent key",
                reason: format!("{alg:?} keys are not used; generate an ECDSA P-256 key"),
            });
        }
        Ok(Self { key })
    }

    /// Reads the key from `path`, refusing a file that group or others can
    /// read.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_pem(&util::read_private_file(path)?)
    }

    /// Writes the key to `path` (replacing it atomically), mode 0600.
    pub fn save(&self, path: &Path) -> Result<()> {
        util::write_private_file(path, self.key_pem().as_bytes())
    }

    /// The key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A certificate signing request (PEM) for this key, signed by it. The
    /// subject's CN is `agent_id_hint` (the coordinator decides the real
    /// id and ignores the subject); no extensions are requested.
    pub fn csr_pem(&self, agent_id_hint: &str) -> Result<String> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if !agent_id_hint.is_empty() {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, agent_id_hint);
        }
        params
            .serialize_request(&self.key)
            .and_then(|csr| csr.pem())
            .map_err(PkiError::generate("the certificate signing request"))
    }

    /// SHA-256 of this key's SubjectPublicKeyInfo (DER).
    pub fn spki_sha256(&self) -> [u8; 32] {
        util::sha256(&self.key.subject_public_key_info())
    }

    /// Whether `cert_pem` (one certificate) certifies this key: check it
    /// before storing the certificate the coordinator returned.
    pub fn matches_cert(&self, cert_pem: &str) -> Result<bool> {
        let der = util::one_cert_from_pem("the agent certificate", cert_pem)?;
        let cert_spki = util::cert_spki_sha256("the agent certificate", &der)?;
        Ok(util::digests_equal(&cert_spki, &self.spki_sha256()))
    }

    fn algorithm_name(&self) -> &'static str {
        if self.key.algorithm() == &rcgen::PKCS_ED25519 {
            "Ed25519"
        } else {
            "ECDSA P-256"
        }
    }
}
