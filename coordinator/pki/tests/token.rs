//! Enrollment tokens: round trip, each way of being malformed, expiry.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gpes_pki::{
    CertificateAuthority, EnrollmentToken, PkiError, TOKEN_PREFIX, hash_secret, secret_matches,
};
use rustls::pki_types::ServerName;

fn ca() -> CertificateAuthority {
    CertificateAuthority::create("Test CA").expect("ca")
}

fn token_from_json(json: &str) -> String {
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
}

fn valid_json_fields() -> serde_json::Map<String, serde_json::Value> {
    let serde_json::Value::Object(map) = serde_json::json!({
        "coordinator": "127.0.0.1:7443",
        "secret": URL_SAFE_NO_PAD.encode([7u8; 32]),
        "expires_at": 2_000_000_000u64,
        "ca_spki_sha256": "ab".repeat(32),
    }) else {
        unreachable!()
    };
    map
}

fn encode_map(map: serde_json::Map<String, serde_json::Value>) -> String {
    token_from_json(&serde_json::Value::Object(map).to_string())
}

#[test]
fn generate_encode_decode_round_trip() {
    let ca = ca();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let (token, secret_hash) =
        EnrollmentToken::generate("127.0.0.1:7443", Duration::from_secs(3600), &ca)
            .expect("generate");
    let text = token.encode();
    assert!(text.starts_with("gpes-enroll-v1."));
    assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
    let decoded = EnrollmentToken::decode(&format!("  {text}\n")).expect("decode");
    assert_eq!(decoded, token);
    assert_eq!(decoded.coordinator, "127.0.0.1:7443");
    assert_eq!(decoded.ca_spki_sha256, ca.spki_sha256_hex());
    assert_eq!(decoded.ca_pin().expect("pin"), ca.spki_sha256());
    assert!(decoded.expires_at >= before + 3600 && decoded.expires_at <= before + 3700);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&decoded.secret).expect("b64").len(),
        32
    );

    // The coordinator keeps only the hash.
    assert_eq!(secret_hash, hash_secret(&token.secret));
    assert_ne!(secret_hash, token.secret);
    assert!(secret_matches(&decoded.secret, &secret_hash));
    assert!(!secret_matches("something else", &secret_hash));
    assert!(!secret_matches(&decoded.secret, "not hex"));
    assert!(!format!("{token:?}").contains(&token.secret));

    // The pin matches the CA, and only it.
    decoded.verify_ca_pem(ca.cert_pem()).expect("pin matches");
    assert!(matches!(
        decoded.verify_ca_pem(self::ca().cert_pem()),
        Err(PkiError::PinMismatch { .. })
    ));

    // Secrets differ between tokens.
    let (other, _) = EnrollmentToken::generate("127.0.0.1:7443", Duration::from_secs(3600), &ca)
        .expect("generate");
    assert_ne!(other.secret, token.secret);
}

#[test]
fn expiry() {
    let token = EnrollmentToken::decode(&encode_map(valid_json_fields())).expect("decode");
    assert_eq!(token.expires_at, 2_000_000_000);
    assert!(!token.is_expired(1_999_999_999));
    assert!(token.is_expired(2_000_000_000));
    assert!(token.is_expired(2_000_000_001));
    token.check_not_expired(1_999_999_999).expect("valid");
    assert!(matches!(
        token.check_not_expired(2_000_000_000),
        Err(PkiError::TokenExpired {
            expires_at: 2_000_000_000
        })
    ));
}

#[test]
fn wrong_prefix() {
    for text in ["", "hello", "kubeadm-join.abc", "gpes-enrol-v1.abc"] {
        assert!(
            matches!(
                EnrollmentToken::decode(text),
                Err(PkiError::TokenPrefix { .. })
            ),
            "{text:?}"
        );
    }
}

#[test]
fn wrong_version() {
    match EnrollmentToken::decode("gpes-enroll-v2.eyJ9") {
        Err(PkiError::TokenVersion { found, .. }) => assert_eq!(found, "v2"),
        other => panic!("expected TokenVersion, got {other:?}"),
    }
}

#[test]
fn bad_base64() {
    for body in ["!!!", "abc=", "ab+/"] {
        let text = format!("{TOKEN_PREFIX}{body}");
        assert!(
            matches!(
                EnrollmentToken::decode(&text),
                Err(PkiError::TokenBase64(_))
            ),
            "{text:?}"
        );
    }
    // Padding is refused too.
    let padded = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE.encode("{}")
    );
    assert!(padded.ends_with('='));
    assert!(matches!(
        EnrollmentToken::decode(&padded),
        Err(PkiError::TokenBase64(_))
    ));
}

#[test]
fn bad_json() {
    for json in ["not json", "{\"coordinator\":", "[1,2]", "42"] {
        assert!(
            matches!(
                EnrollmentToken::decode(&token_from_json(json)),
                Err(PkiError::TokenJson(_))
            ),
            "{json:?}"
        );
    }
}

#[test]
fn unknown_field() {
    let mut map = valid_json_fields();
    map.insert("role".into(), "admin".into());
    match EnrollmentToken::decode(&encode_map(map)) {
        Err(PkiError::TokenUnknownField(name)) => assert_eq!(name, "role"),
        other => panic!("expected TokenUnknownField, got {other:?}"),
    }
}

#[test]
fn missing_field() {
    for name in ["coordinator", "secret", "expires_at", "ca_spki_sha256"] {
        let mut map = valid_json_fields();
        map.remove(name);
        match EnrollmentToken::decode(&encode_map(map)) {
            Err(PkiError::TokenMissingField(missing)) => assert_eq!(missing, name),
            other => panic!("expected TokenMissingField({name}), got {other:?}"),
        }
    }
}

#[test]
fn invalid_field_values() {
    let cases: [(&str, serde_json::Value); 9] = [
        ("coordinator", serde_json::json!(7443)),
        ("coordinator", "no-port".into()),
        ("coordinator", "host:99999".into()),
        ("coordinator", "::1:7443".into()),
        ("secret", URL_SAFE_NO_PAD.encode([1u8; 16]).into()),
        ("secret", "not base64!".into()),
        ("expires_at", serde_json::json!(-5)),
        ("expires_at", "tomorrow".into()),
        ("ca_spki_sha256", "abcd".into()),
    ];
    for (name, value) in cases {
        let mut map = valid_json_fields();
        map.insert(name.into(), value.clone());
        match EnrollmentToken::decode(&encode_map(map)) {
            Err(PkiError::TokenField { field, .. }) => assert_eq!(field, name, "{value}"),
            other => panic!("expected TokenField({name}) for {value}, got {other:?}"),
        }
    }
}

#[test]
fn coordinator_addresses_give_server_names() {
    let ca = ca();
    let name = |addr: &str| {
        EnrollmentToken::generate(addr, Duration::from_secs(60), &ca)
            .expect(addr)
            .0
            .server_name()
            .expect("server name")
    };
    assert_eq!(
        name("127.0.0.1:7443"),
        ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
    );
    assert_eq!(
        name("[::1]:7443"),
        ServerName::IpAddress(std::net::Ipv6Addr::LOCALHOST.into())
    );
    assert_eq!(
        name("coordinator.example:7443"),
        ServerName::try_from("coordinator.example").expect("dns")
    );
    assert!(matches!(
        EnrollmentToken::generate("coordinator.example", Duration::from_secs(60), &ca),
        Err(PkiError::TokenField {
            field: "coordinator",
            ..
        })
    ));
}

#[test]
fn errors_say_what_to_do() {
    let message = EnrollmentToken::decode("hello")
        .expect_err("bad")
        .to_string();
    assert!(message.contains("gpes-enroll-v1."), "{message}");
    let message = EnrollmentToken::decode(&format!("{TOKEN_PREFIX}!!"))
        .expect_err("bad")
        .to_string();
    assert!(message.contains("copy the whole token again"), "{message}");
}
