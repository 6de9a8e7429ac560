//! `ContentHash`: its written form, serde, and what it is a hash of.

use gpes_canon::{CanonError, ContentHash, canonicalize_json, content_hash};
use serde_json::json;

const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn known_digests() {
    assert_eq!(ContentHash::of_bytes(b"").to_string(), EMPTY);
    // The canonical JSON of an empty object is `{}`.
    assert_eq!(
        content_hash(&json!({})).unwrap().to_string(),
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    // {"a":1,"b":[true,null]}, whatever order and spacing it came in.
    let expected = "sha256:1cc69c7fa23616ca2ec3ee70d24390a6225c8832db8a4c814c7e0e7f942f8668";
    assert_eq!(
        content_hash(&json!({"b": [true, null], "a": 1}))
            .unwrap()
            .to_string(),
        expected
    );
    let canonical = canonicalize_json(b" { \"b\" : [ true , null ] , \"a\" : 1.0 } ").unwrap();
    assert_eq!(ContentHash::of_bytes(&canonical).to_string(), expected);
}

#[test]
fn round_trips_through_string_and_serde() {
    let hash = content_hash(&json!({"query": "asthma", "version": 3})).unwrap();
    let text = hash.to_string();
    assert!(text.starts_with("sha256:"));
    assert_eq!(text.len(), 7 + 64);
    assert_eq!(text.parse::<ContentHash>().unwrap(), hash);
    assert_eq!(format!("{hash:?}"), format!("ContentHash({text})"));

    let json = serde_json::to_string(&hash).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(serde_json::from_str::<ContentHash>(&json).unwrap(), hash);

    // In a struct, and as the value being hashed.
    let wrapped = json!({"hash": hash});
    assert_eq!(wrapped["hash"], json!(text));
    assert_eq!(
        gpes_canon::to_canonical_string(&hash).unwrap(),
        format!("\"{text}\"")
    );

    assert_eq!(ContentHash::from_digest(*hash.digest()), hash);
}

#[test]
fn malformed_hashes_refused() {
    let hex = &EMPTY[7..];
    let cases = [
        (format!("sha-256:{hex}"), "does not start with"),
        (format!("SHA256:{hex}"), "does not start with"),
        (hex.to_string(), "does not start with"),
        (format!(" sha256:{hex}"), "does not start with"),
        (format!("sha256:{}", &hex[1..]), "not 64 characters"),
        (format!("sha256:{hex}0"), "not 64 characters"),
        (format!("sha256:{hex}\n"), "not 64 characters"),
        ("sha256:".to_string(), "not 64 characters"),
        (
            format!("sha256:{}", hex.to_uppercase()),
            "uppercase is refused",
        ),
        (format!("sha256:{}g", &hex[1..]), "other than 0-9 and a-f"),
        (format!("sha256:{}é", &hex[2..]), "other than 0-9 and a-f"),
    ];
    for (input, expected) in cases {
        let err = input.parse::<ContentHash>().unwrap_err();
        assert!(
            matches!(err, CanonError::InvalidContentHash { .. }),
            "{input:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(expected), "{input:?}: {message}");
        assert!(
            message.contains("64 lowercase hexadecimal digits"),
            "{message}"
        );

        let json = serde_json::to_string(&input).unwrap();
        let err = serde_json::from_str::<ContentHash>(&json).unwrap_err();
        assert!(err.to_string().contains(expected), "{input:?}: {err}");
    }
    assert!(serde_json::from_str::<ContentHash>("42").is_err());

    // Long garbage is shortened in the message.
    let long = "x".repeat(10_000);
    let message = long.parse::<ContentHash>().unwrap_err().to_string();
    assert!(message.len() < 400, "{message}");
}
