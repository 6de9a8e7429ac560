//! Loading a supplier's plugin only through its signed manifest: real
//! ed25519 keys, the real csv-export plugin, every refusal made before the
//! plugin runs.

use crate::common::*;
use gpes_host::{Limits, LoadError};
use gpes_sign::{Manifest, SignedManifest, SigningKey, TrustList, VerifyError};

fn wasm() -> Vec<u8> {
    std::fs::read(gpes_plugin_artifacts::CSV_EXPORT).expect("guest was built")
}

/// The manifest of a plugin, filled from its `describe` (once per test
/// binary for the csv-export plugin: compiling it is the slow part).
async fn manifest(wasm: &[u8]) -> Manifest {
    static CSV_EXPORT: tokio::sync::OnceCell<Manifest> = tokio::sync::OnceCell::const_new();
    let make = || async {
        HOST.manifest_for(wasm, &Limits::default())
            .await
            .expect("describe")
    };
    if gpes_sign::wasm_sha256(wasm) == gpes_sign::wasm_sha256(&self::wasm()) {
        CSV_EXPORT.get_or_init(make).await.clone()
    } else {
        make().await
    }
}

fn key() -> SigningKey {
    SigningKey::generate().expect("key").0
}

fn trusting(supplier: &str, key: &SigningKey) -> TrustList {
    let mut trust = TrustList::new();
    trust.trust(supplier, key.public_key());
    trust
}

async fn load(
    wasm: &[u8],
    signed: &SignedManifest,
    trust: &TrustList,
) -> Result<gpes_host::Plugin, LoadError> {
    HOST.load_signed(wasm, signed, trust, &Limits::default())
        .await
}

#[tokio::test]
async fn a_plugin_signed_by_a_trusted_supplier_loads_and_extracts() {
    let wasm = wasm();
    let manifest = manifest(&wasm).await;
    assert_eq!(manifest.name, "csv-export");
    assert_eq!(manifest.wasm_sha256, gpes_sign::wasm_sha256(&wasm));
    let key = key();
    let trust = trusting(&manifest.supplier, &key);
    let signed = manifest.sign(&key).expect("sign");

    let plugin = load(&wasm, &signed, &trust).await.expect("loads");
    let dir = practice();
    let (count, _) = count(&plugin, dir.path(), &Limits::default())
        .await
        .expect("extracts");
    assert_eq!(count.registered, 8);
}

#[tokio::test]
async fn a_tampered_wasm_is_refused_for_its_hash() {
    let wasm = wasm();
    let manifest = manifest(&wasm).await;
    let key = key();
    let trust = trusting(&manifest.supplier, &key);
    let signed = manifest.sign(&key).expect("sign");

    // One byte flipped near the end (in a data or custom section).
    let mut tampered = wasm.clone();
    let at = tampered.len() - 10;
    tampered[at] ^= 0x01;
    let err = load(&tampered, &signed, &trust)
        .await
        .expect_err("tampered");
    match &err {
        LoadError::Unverified(VerifyError::HashMismatch { expected, actual }) => {
            assert_eq!(*expected, gpes_sign::wasm_sha256(&wasm));
            assert_eq!(*actual, gpes_sign::wasm_sha256(&tampered));
        }
        other => panic!("expected a hash mismatch, got {other}"),
    }
    assert!(
        err.to_string().contains("not the one the supplier signed"),
        "{err}"
    );
}

#[tokio::test]
async fn a_plugin_signed_with_a_key_the_site_does_not_trust_is_refused() {
    let wasm = wasm();
    let manifest = manifest(&wasm).await;
    let supplier = manifest.supplier.clone();
    let signed = manifest.sign(&key()).expect("sign");
    // The site trusts the supplier, but under another key.
    let err = load(&wasm, &signed, &trusting(&supplier, &key()))
        .await
        .expect_err("wrong key");
    assert!(
        matches!(
            err,
            LoadError::Unverified(VerifyError::UntrustedKey { ref key_id, .. }) if *key_id == signed.key_id
        ),
        "{err}"
    );
    // And a site with an empty trust list trusts nobody.
    let err = load(&wasm, &signed, &TrustList::new())
        .await
        .expect_err("no trust at all");
    assert!(
        err.to_string().contains("trusts no key for that supplier"),
        "{err}"
    );
}

#[tokio::test]
async fn a_key_trusted_for_a_different_supplier_is_refused() {
    let wasm = wasm();
    let manifest = manifest(&wasm).await;
    let supplier = manifest.supplier.clone();
    let key = key();
    let signed = manifest.sign(&key).expect("sign");
    let mut trust = trusting("Another Supplier Ltd", &key);
    trust.trust(&supplier, self::key().public_key());
    let err = load(&wasm, &signed, &trust)
        .await
        .expect_err("not this supplier's key");
    assert!(
        err.to_string()
            .contains("(it is trusted for 'Another Supplier Ltd')"),
        "{err}"
    );

    // Nor may a supplier relabel a manifest to borrow another's trust:
    // changing the supplier breaks the signature.
    let mut relabelled = signed.clone();
    relabelled.manifest.supplier = "Another Supplier Ltd".into();
    let err = load(&wasm, &relabelled, &trusting("Another Supplier Ltd", &key))
        .await
        .expect_err("relabelled");
    assert!(
        matches!(err, LoadError::Unverified(VerifyError::BadSignature { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn altered_signature_bytes_are_refused() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let wasm = wasm();
    let manifest = manifest(&wasm).await;
    let key = key();
    let trust = trusting(&manifest.supplier, &key);
    let mut signed = manifest.sign(&key).expect("sign");
    let mut bytes = b64.decode(&signed.signature).expect("base64");
    bytes[0] ^= 0x80;
    signed.signature = b64.encode(bytes);
    let err = load(&wasm, &signed, &trust).await.expect_err("altered");
    assert!(
        matches!(err, LoadError::Unverified(VerifyError::BadSignature { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("changed after signing"), "{err}");
}

#[tokio::test]
async fn a_properly_signed_manifest_that_disagrees_with_describe_is_refused() {
    let wasm = wasm();
    let key = key();
    let real = manifest(&wasm).await;
    let trust = trusting(&real.supplier, &key);
    for (field, change) in [
        (
            "version",
            (|m: &mut Manifest| m.version = "9.9.9".into()) as fn(&mut Manifest),
        ),
        ("name", |m| m.name = "fhir-ndjson".into()),
        ("data-model version", |m| m.data_model_version += 1),
    ] {
        let mut manifest = real.clone();
        change(&mut manifest);
        let signed = manifest.sign(&key).expect("sign");
        let err = load(&wasm, &signed, &trust)
            .await
            .expect_err("disagrees with describe");
        match &err {
            LoadError::ManifestMismatch { field: f, .. } => assert_eq!(*f, field, "{err}"),
            other => panic!("expected a mismatch on {field}, got {other}"),
        }
        assert!(err.to_string().contains("do not belong together"), "{err}");
    }
}

#[tokio::test]
async fn a_manifest_for_another_plugin_is_refused_for_the_hash() {
    let csv = wasm();
    let fhir = std::fs::read(gpes_plugin_artifacts::FHIR_NDJSON).expect("guest was built");
    let key = key();
    let fhir_manifest = manifest(&fhir).await;
    let trust = trusting(&fhir_manifest.supplier, &key);
    let signed = fhir_manifest.sign(&key).expect("sign");
    load(&fhir, &signed, &trust)
        .await
        .expect("its own plugin loads");
    let err = load(&csv, &signed, &trust)
        .await
        .expect_err("another plugin");
    assert!(
        matches!(err, LoadError::Unverified(VerifyError::HashMismatch { .. })),
        "{err}"
    );
}
