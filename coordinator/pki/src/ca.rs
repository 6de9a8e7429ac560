//! The coordinator's certificate authority: creation, storage, and the
//! certificates it issues (listener certificates and agent certificates).

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{
    CertificateDer, CertificateSigningRequestDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;

use crate::agent::{agent_uri, validate_agent_id};
use crate::error::{PkiError, Result};
use crate::util;

/// The CA certificate's file name in the coordinator's data directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA private key's file name in the coordinator's data directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// The common name `load_or_create` gives a new CA.
pub const DEFAULT_CA_COMMON_NAME: &str = "GPES coordinator CA";
/// How long a new CA certificate is valid: ten years.
pub const CA_VALIDITY_DAYS: u32 = 3650;
/// The longest validity `issue_server_cert` and `sign_agent_csr` accept.
pub const MAX_LEAF_VALIDITY_DAYS: u32 = 825;

/// Certificates start to be valid this long before they are made, so that
/// a peer whose clock is a little behind accepts them.
const BACKDATE_SECONDS: i64 = 300;

/// The coordinator's CA: its self-signed certificate and its private key
/// (ECDSA P-256, signing with SHA-256).
///
/// It signs with fresh parameters only; nothing a requester asks for is
/// copied into a certificate except the public key.
pub struct CertificateAuthority {
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
    spki_sha256: [u8; 32],
    not_after: u64,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("spki_sha256", &self.spki_sha256_hex())
            .field("not_after", &self.not_after)
            .field("key", &"[elided]")
            .finish()
    }
}

/// A certificate this CA issued for one of the coordinator's listeners,
/// with its private key. The chain is `[leaf, CA]`: the listener sends the
/// CA certificate so that an enrolling agent can find its pin in it.
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("chain_len", &self.chain.len())
            .field("key", &"[elided]")
            .finish()
    }
}

impl ServerIdentity {
    /// Reads a chain (leaf first) and a PKCS#8 private key from PEM, e.g. as
    /// written by [`Self::chain_pem`] and [`Self::key_pem`].
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> Result<Self> {
        let chain = util::certs_from_pem("the server certificate chain", chain_pem)?;
        let key = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| {
            PkiError::PrivateKey {
                what: "the server key",
                reason: format!("{e} (a PKCS#8 `BEGIN PRIVATE KEY` section is expected)"),
            }
        })?;
        Ok(Self { chain, key })
    }

    /// The certificates, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The certificates, leaf first, as PEM.
    pub fn chain_pem(&self) -> String {
        self.chain
            .iter()
            .map(|c| util::pem_encode("CERTIFICATE", c))
            .collect()
    }

    /// The private key as PKCS#8 PEM. Store it with mode 0600.
    pub fn key_pem(&self) -> String {
        util::pem_encode("PRIVATE KEY", self.key.secret_pkcs8_der())
    }

    pub(crate) fn rustls_parts(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (
            self.chain.clone(),
            PrivateKeyDer::Pkcs8(self.key.clone_key()),
        )
    }
}

/// A certificate issued to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its serial number, lowercase hex (for a registry or a revocation list).
    pub serial_hex: String,
    /// The end of its validity, unix seconds.
    pub not_after: u64,
}

impl CertificateAuthority {
    /// Makes a new CA: a fresh ECDSA P-256 key and a self-signed certificate
    /// valid for [`CA_VALIDITY_DAYS`], allowed to sign end-entity
    /// certificates only (path length 0).
    pub fn create(common_name: &str) -> Result<Self> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(PkiError::generate("the CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name_dn(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, CA_VALIDITY_DAYS);
        params.serial_number = Some(random_serial()?);
        let cert = params
            .self_signed(&key)
            .map_err(PkiError::generate("the CA certificate"))?;
        Self::from_pem(&cert.pem(), &key.serialize_pem())
    }

    /// Loads a CA from its certificate and private key (PKCS#8), checking
    /// that the certificate is a CA certificate and that the key is its key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let cert_der = util::one_cert_from_pem("the CA certificate", cert_pem)?;
        let (_, cert) =
            x509_parser::parse_x509_certificate(&cert_der).map_err(|e| PkiError::Certificate {
                what: "the CA certificate",
                reason: e.to_string(),
            })?;
        if !cert.is_ca() {
            return Err(PkiError::InvalidCa(
                "its certificate is not a CA certificate (basic constraints CA:true missing)"
                    .into(),
            ));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| PkiError::PrivateKey {
            what: "the CA key",
            reason: e.to_string(),
        })?;
        let spki = cert.public_key().raw;
        if key.subject_public_key_info() != spki {
            return Err(PkiError::InvalidCa(
                "its private key does not belong to its certificate; \
                 restore the matching ca.key and ca.pem from the same backup"
                    .into(),
            ));
        }
        let spki_sha256 = util::sha256(spki);
        let not_after = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|e| PkiError::InvalidCa(format!("rcgen cannot sign with it: {e}")))?;
        let cert_pem = util::pem_encode("CERTIFICATE", &cert_der);
        Ok(Self {
            cert_der,
            cert_pem,
            key_pem: key_pem.to_owned(),
            issuer,
            spki_sha256,
            not_after,
        })
    }

    /// Loads the CA from `dir` ([`CA_CERT_FILE`], [`CA_KEY_FILE`]).
    ///
    /// Refuses a key file that group or others can read.
    pub fn load(dir: &Path) -> Result<Self> {
        let cert_pem = util::read_file(&dir.join(CA_CERT_FILE))?;
        let key_pem = util::read_private_file(&dir.join(CA_KEY_FILE))?;
        Self::from_pem(&cert_pem, &key_pem)
    }

    /// Loads the CA from `dir`, or, when neither file exists, creates one
    /// (named [`DEFAULT_CA_COMMON_NAME`]) and stores it there: both files
    /// with mode 0600 from their creation, the key written first, so that an
    /// existing `ca.pem` means a complete CA. `dir` is created (mode 0700) if
    /// missing. Only one of the two files present is an error, never
    /// silently repaired. One coordinator process owns `dir`.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let exists = |p: &Path| p.try_exists().map_err(PkiError::io("inspect", p));
        match (exists(&cert_path)?, exists(&key_path)?) {
            (true, true) => Self::load(dir),
            (false, false) => {
                util::create_private_dir(dir)?;
                let ca = Self::create(DEFAULT_CA_COMMON_NAME)?;
                util::write_private_file(&key_path, ca.key_pem.as_bytes())?;
                util::write_private_file(&cert_path, ca.cert_pem.as_bytes())?;
                Ok(ca)
            }
            (true, false) => Err(PkiError::CaIncomplete {
                dir: dir.to_path_buf(),
                present: CA_CERT_FILE,
                missing: CA_KEY_FILE,
            }),
            (false, true) => Err(PkiError::CaIncomplete {
                dir: dir.to_path_buf(),
                present: CA_KEY_FILE,
                missing: CA_CERT_FILE,
            }),
        }
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// SHA-256 of the CA certificate's SubjectPublicKeyInfo (DER): the pin
    /// an enrollment token carries.
    pub fn spki_sha256(&self) -> [u8; 32] {
        self.spki_sha256
    }

    /// [`Self::spki_sha256`] as lowercase hex.
    pub fn spki_sha256_hex(&self) -> String {
        hex::encode(self.spki_sha256)
    }

    /// The end of the CA certificate's validity, unix seconds.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// Issues a certificate for a coordinator listener: a fresh ECDSA P-256
    /// key; the SANs are `names`, each an IP address or a DNS name (the
    /// first is also the common name); extended key usage serverAuth only;
    /// key usage digitalSignature; not a CA; valid for `days`.
    pub fn issue_server_cert(&self, names: &[String], days: u32) -> Result<ServerIdentity> {
        if names.is_empty() {
            return Err(PkiError::NoServerNames);
        }
        let sans = names
            .iter()
            .map(|name| server_san(name))
            .collect::<Result<Vec<_>>>()?;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(PkiError::generate("a server key"))?;
        let mut params = leaf_params(&names[0], days)?;
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(PkiError::generate("a server certificate"))?;
        Ok(ServerIdentity {
            chain: vec![cert.der().clone(), self.cert_der.clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// Certifies an agent's key.
    ///
    /// The CSR (PEM) is parsed and its self-signature verified, which proves
    /// the requester holds the private key; then only its public key is
    /// used. The key must be ECDSA P-256 or Ed25519. Everything else in the
    /// CSR (subject, requested extensions, CA flag) is ignored: the
    /// certificate gets fresh parameters: subject CN = `agent_id`, one SAN,
    /// the URI `urn:gpes:agent:<agent_id>`, basic constraints CA:false,
    /// extended key usage clientAuth only, key usage digitalSignature, a
    /// random serial, valid for `days`.
    pub fn sign_agent_csr(
        &self,
        csr_pem: &str,
        agent_id: &str,
        days: u32,
    ) -> Result<AgentCertificate> {
        validate_agent_id(agent_id)?;
        let public_key = csr_public_key(csr_pem)?;
        let mut params = leaf_params(agent_id, days)?;
        params.subject_alt_names = vec![SanType::URI(
            agent_uri(agent_id)
                .try_into()
                .map_err(PkiError::generate("the agent URI"))?,
        )];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let serial_hex = params
            .serial_number
            .as_ref()
            .map(|s| hex::encode(s.to_bytes()))
            .unwrap_or_default();
        let not_after = u64::try_from(params.not_after.unix_timestamp()).unwrap_or(0);
        let cert = params
            .signed_by(&public_key, &self.issuer)
            .map_err(PkiError::generate("the agent certificate"))?;
        Ok(AgentCertificate {
            cert_pem: cert.pem(),
            serial_hex,
            not_after,
        })
    }
}

/// Parses a CSR, verifies its self-signature, and returns its public key if
/// it is ECDSA P-256 or Ed25519.
///
/// This deliberately does not use `rcgen::CertificateSigningRequestParams`:
/// that copies the request's SANs, key usages and CA flag into the
/// parameters, rejects requests carrying any other extension, and derives
/// the key's algorithm from the *signature* algorithm (so a P-384 key signed
/// with ecdsa-with-SHA256 would be labelled P-256). Here the algorithm comes
/// from the SubjectPublicKeyInfo itself.
fn csr_public_key(csr_pem: &str) -> Result<SubjectPublicKeyInfo> {
    let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
        .map_err(|e| PkiError::CsrParse(e.to_string()))?;
    let (rest, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(der.as_ref())
            .map_err(|e| PkiError::CsrParse(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PkiError::CsrParse(
            "trailing bytes after the request".into(),
        ));
    }
    csr.verify_signature()
        .map_err(|e| PkiError::CsrSignature(e.to_string()))?;
    let spki = &csr.certification_request_info.subject_pki;
    let refused = || PkiError::CsrKeyAlgorithm {
        found: describe_key_algorithm(&spki.algorithm),
    };
    let key = SubjectPublicKeyInfo::from_der(spki.raw).map_err(|_| refused())?;
    let alg = key.algorithm();
    if alg == &rcgen::PKCS_ECDSA_P256_SHA256 || alg == &rcgen::PKCS_ED25519 {
        Ok(key)
    } else {
        Err(refused())
    }
}

fn describe_key_algorithm(alg: &x509_parser::x509::AlgorithmIdentifier<'_>) -> String {
    let oid = alg.algorithm.to_id_string();
    let curve = alg
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    match (oid.as_str(), curve.as_deref()) {
        ("1.2.840.113549.1.1.1", _) => "RSA".into(),
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => "ECDSA P-384".into(),
        ("1.2.840.10045.2.1", Some("1.3.132.0.35")) => "ECDSA P-521".into(),
        ("1.2.840.10045.2.1", Some(c)) => format!("ECDSA (curve {c})"),
        ("1.3.101.113", _) => "Ed448".into(),
        (o, _) => format!("OID {o}"),
    }
}

fn common_name_dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn random_serial() -> Result<SerialNumber> {
    let mut bytes = util::random_bytes::<16>()?;
    // Positive, and no leading zero byte: 126 random bits.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn set_validity(params: &mut CertificateParams, days: u32) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(BACKDATE_SECONDS);
    params.not_after = now + time::Duration::days(i64::from(days));
}

/// Parameters every leaf shares: subject CN, not a CA (explicitly),
/// digitalSignature, authority key identifier, random serial, validity.
fn leaf_params(common_name: &str, days: u32) -> Result<CertificateParams> {
    if days == 0 || days > MAX_LEAF_VALIDITY_DAYS {
        return Err(PkiError::InvalidValidity {
            days,
            max: MAX_LEAF_VALIDITY_DAYS,
        });
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name_dn(common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    set_validity(&mut params, days);
    Ok(params)
}

fn server_san(name: &str) -> Result<SanType> {
    if let Ok(ip) = IpAddr::from_str(name) {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = || PkiError::InvalidServerName {
        name: name.to_owned(),
    };
    // rustls' own rules for a DNS name, so the certificate matches what a
    // rustls client will ask for.
    rustls_pki_types::DnsName::try_from(name).map_err(|_| invalid())?;
    Ok(SanType::DnsName(
        name.to_owned().try_into().map_err(|_| invalid())?,
    ))
}
