//! The CA: storage, and what it puts in the certificates it issues.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine;
use gpes_pki::{
    AgentKey, CA_CERT_FILE, CA_KEY_FILE, CertificateAuthority, PkiError, agent_id_from_cert,
    validate_agent_id,
};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    PublicKeyData,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn der_of(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem")
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
}

/// A CSR that asks for everything an agent must not get.
fn greedy_csr(key: &KeyPair) -> String {
    let mut params = CertificateParams::new(vec![
        "coordinator.example".to_owned(),
        "127.0.0.1".to_owned(),
    ])
    .expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::CodeSigning,
    ];
    params.subject_alt_names.push(rcgen::SanType::URI(
        "urn:gpes:agent:someone-else".try_into().expect("uri"),
    ));
    params
        .serialize_request(key)
        .expect("csr")
        .pem()
        .expect("pem")
}

#[test]
fn a_csr_asking_to_be_a_ca_gets_a_plain_client_certificate() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let key = KeyPair::generate().expect("key");
    let issued = ca
        .sign_agent_csr(&greedy_csr(&key), "site-1", 365)
        .expect("sign");
    let der = der_of(&issued.cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).expect("parse");

    // Not a CA: basic constraints present with cA false.
    let bc = cert.basic_constraints().expect("bc").expect("bc present");
    assert!(!bc.value.ca);
    assert!(!cert.is_ca());

    // The only SAN is the agent URI.
    let san = cert
        .subject_alternative_name()
        .expect("san")
        .expect("san present");
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::URI("urn:gpes:agent:site-1")]
    );

    // clientAuth only.
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.client_auth);
    assert!(!eku.server_auth && !eku.code_signing && !eku.any && !eku.email_protection);
    assert!(!eku.time_stamping && !eku.ocsp_signing && eku.other.is_empty());

    // digitalSignature only.
    let ku = cert.key_usage().expect("ku").expect("ku present").value;
    assert!(ku.digital_signature());
    assert!(!ku.key_cert_sign() && !ku.crl_sign());

    // Subject is ours, issuer is the CA, key is the requester's, signed by the CA.
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|c| c.as_str().expect("cn").to_owned())
        .collect();
    assert_eq!(cn, vec!["site-1".to_owned()]);
    let (_, ca_cert) = X509Certificate::from_der(ca.cert_der()).expect("ca parse");
    assert_eq!(cert.issuer(), ca_cert.subject());
    assert_eq!(
        cert.public_key().raw,
        key.subject_public_key_info().as_slice()
    );
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("signed by the CA");

    // Validity as asked, serial as reported.
    let days =
        (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / 86_400;
    assert_eq!(days, 365);
    assert_eq!(
        cert.validity().not_after.timestamp() as u64,
        issued.not_after
    );
    assert_eq!(hex::encode(cert.raw_serial()), issued.serial_hex);

    assert_eq!(agent_id_from_cert(&der).expect("agent id"), "site-1");
}

#[test]
fn serials_are_random() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let key = AgentKey::generate().expect("key");
    let csr = key.csr_pem("a").expect("csr");
    let one = ca.sign_agent_csr(&csr, "a", 1).expect("sign");
    let two = ca.sign_agent_csr(&csr, "a", 1).expect("sign");
    assert_ne!(one.serial_hex, two.serial_hex);
    assert_eq!(one.serial_hex.len(), 32);
}

#[test]
fn an_ed25519_csr_is_certified() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
    let csr = CertificateParams::default()
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    let issued = ca.sign_agent_csr(&csr, "ed-agent", 30).expect("sign");
    let der = der_of(&issued.cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).expect("parse");
    assert_eq!(
        cert.public_key().raw,
        key.subject_public_key_info().as_slice()
    );
}

#[test]
fn a_p384_csr_is_refused() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key");
    let csr = CertificateParams::default()
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    match ca.sign_agent_csr(&csr, "site-1", 30) {
        Err(PkiError::CsrKeyAlgorithm { found }) => assert_eq!(found, "ECDSA P-384"),
        other => panic!("expected CsrKeyAlgorithm, got {other:?}"),
    }
}

#[test]
fn a_csr_with_a_broken_signature_is_refused() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let key = AgentKey::generate().expect("key");
    let csr = key.csr_pem("site-1").expect("csr");
    let mut der = rustls::pki_types::CertificateSigningRequestDer::from_pem_slice(csr.as_bytes())
        .expect("pem")
        .as_ref()
        .to_vec();
    // The last byte is inside the signature's `s` integer.
    *der.last_mut().expect("non-empty") ^= 0x01;
    let tampered = pem("CERTIFICATE REQUEST", &der);
    assert!(matches!(
        ca.sign_agent_csr(&tampered, "site-1", 30),
        Err(PkiError::CsrSignature(_))
    ));
    // The untouched one is fine.
    ca.sign_agent_csr(&csr, "site-1", 30).expect("sign");
}

#[test]
fn garbage_csrs_and_bad_parameters_are_refused() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let csr = AgentKey::generate()
        .expect("key")
        .csr_pem("x")
        .expect("csr");
    assert!(matches!(
        ca.sign_agent_csr("not a csr", "site-1", 30),
        Err(PkiError::CsrParse(_))
    ));
    assert!(matches!(
        ca.sign_agent_csr(
            &pem("CERTIFICATE REQUEST", b"\x30\x03\x02\x01\x00"),
            "site-1",
            30
        ),
        Err(PkiError::CsrParse(_))
    ));
    assert!(matches!(
        ca.sign_agent_csr(&csr, "../etc", 30),
        Err(PkiError::InvalidAgentId { .. })
    ));
    assert!(matches!(
        ca.sign_agent_csr(&csr, "site-1", 0),
        Err(PkiError::InvalidValidity { .. })
    ));
}

#[test]
fn agent_ids_are_checked() {
    for good in ["a", "site-42", "Practice_7.north", &"x".repeat(64)] {
        validate_agent_id(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
    }
    for bad in [
        "",
        "-lead",
        ".hidden",
        "a b",
        "a/b",
        "a:b",
        "é",
        &"x".repeat(65),
    ] {
        assert!(
            matches!(validate_agent_id(bad), Err(PkiError::InvalidAgentId { .. })),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn server_certificates_carry_the_names_and_server_auth() {
    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let server = ca
        .issue_server_cert(&["localhost".to_owned(), "127.0.0.1".to_owned()], 90)
        .expect("issue");
    assert_eq!(server.chain().len(), 2);
    assert_eq!(&server.chain()[1], ca.cert_der());
    let (_, cert) = X509Certificate::from_der(&server.chain()[0]).expect("parse");
    let san = cert
        .subject_alternative_name()
        .expect("san")
        .expect("san present");
    assert_eq!(
        san.value.general_names,
        vec![
            GeneralName::DNSName("localhost"),
            GeneralName::IPAddress(&[127, 0, 0, 1]),
        ]
    );
    let eku = cert.extended_key_usage().expect("eku").expect("eku").value;
    assert!(eku.server_auth && !eku.client_auth);
    assert!(!cert.is_ca());
    assert!(agent_id_from_cert(&server.chain()[0]).is_err());

    // PEM round trip.
    let again = gpes_pki::ServerIdentity::from_pem(&server.chain_pem(), &server.key_pem())
        .expect("from pem");
    assert_eq!(again.chain(), server.chain());

    assert!(matches!(
        ca.issue_server_cert(&[], 90),
        Err(PkiError::NoServerNames)
    ));
    assert!(matches!(
        ca.issue_server_cert(&["not a name!".to_owned()], 90),
        Err(PkiError::InvalidServerName { .. })
    ));
}

#[test]
fn load_or_create_creates_once_then_loads_the_same_ca() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let created = CertificateAuthority::load_or_create(&dir).expect("create");
    assert_eq!(mode(&dir.join(CA_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.join(CA_CERT_FILE)), 0o600);
    assert_eq!(mode(&dir), 0o700);
    // No temporary files left behind.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    assert_eq!(names, vec![CA_KEY_FILE.to_owned(), CA_CERT_FILE.to_owned()]);

    let loaded = CertificateAuthority::load_or_create(&dir).expect("load");
    assert_eq!(loaded.spki_sha256(), created.spki_sha256());
    assert_eq!(loaded.cert_pem(), created.cert_pem());
    assert_eq!(mode(&dir.join(CA_KEY_FILE)), 0o600);

    // The loaded CA signs, and what it signs verifies under the stored cert.
    let csr = AgentKey::generate()
        .expect("key")
        .csr_pem("a")
        .expect("csr");
    let issued = loaded.sign_agent_csr(&csr, "a", 1).expect("sign");
    let der = der_of(&issued.cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).expect("parse");
    let (_, ca_cert) = X509Certificate::from_der(created.cert_der()).expect("parse");
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("signed by the stored CA");
}

#[test]
fn a_readable_key_file_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    CertificateAuthority::load_or_create(tmp.path()).expect("create");
    let key = tmp.path().join(CA_KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    match CertificateAuthority::load_or_create(tmp.path()) {
        Err(PkiError::KeyFilePermissions { mode, .. }) => assert_eq!(mode, 0o644),
        other => panic!("expected KeyFilePermissions, got {other:?}"),
    }
}

#[test]
fn half_a_ca_is_an_error_not_a_new_ca() {
    let tmp = tempfile::tempdir().expect("tempdir");
    CertificateAuthority::load_or_create(tmp.path()).expect("create");
    std::fs::remove_file(tmp.path().join(CA_CERT_FILE)).expect("rm");
    match CertificateAuthority::load_or_create(tmp.path()) {
        Err(PkiError::CaIncomplete { missing, .. }) => assert_eq!(missing, CA_CERT_FILE),
        other => panic!("expected CaIncomplete, got {other:?}"),
    }
    assert!(!tmp.path().join(CA_CERT_FILE).exists());
}

#[test]
fn a_key_from_another_ca_is_refused() {
    let one = CertificateAuthority::create("One").expect("ca");
    let tmp = tempfile::tempdir().expect("tempdir");
    CertificateAuthority::load_or_create(tmp.path()).expect("create");
    std::fs::write(tmp.path().join(CA_CERT_FILE), one.cert_pem()).expect("write");
    assert!(matches!(
        CertificateAuthority::load(tmp.path()),
        Err(PkiError::InvalidCa(_))
    ));
}

#[test]
fn agent_keys_round_trip_with_mode_0600() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("agent.key");
    let key = AgentKey::generate().expect("key");
    key.save(&path).expect("save");
    assert_eq!(mode(&path), 0o600);
    let loaded = AgentKey::load(&path).expect("load");
    assert_eq!(loaded.spki_sha256(), key.spki_sha256());
    assert!(!format!("{loaded:?}").contains("PRIVATE"));

    let ca = CertificateAuthority::create("Test CA").expect("ca");
    let issued = ca
        .sign_agent_csr(&key.csr_pem("hint").expect("csr"), "a", 1)
        .expect("sign");
    assert!(loaded.matches_cert(&issued.cert_pem).expect("parse"));
    assert!(
        !AgentKey::generate()
            .expect("key")
            .matches_cert(&issued.cert_pem)
            .expect("parse")
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    assert!(matches!(
        AgentKey::load(&path),
        Err(PkiError::KeyFilePermissions { .. })
    ));
}
