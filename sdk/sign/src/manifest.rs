//! The manifest a supplier signs, the signed-manifest file, and checking
//! one against a trust list.

use crate::error::{ManifestError, VerifyError};
use crate::key::SigningKey;
use crate::trust::TrustList;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What is signed goes after this prefix, so that a signature of a manifest
/// can never be taken for a signature of anything else made with the key.
pub const SIGNATURE_CONTEXT: &[u8] = b"gpes-plugin-manifest-v1\n";

/// The `format` field of a signed-manifest file.
pub const FORMAT: &str = "gpes-signed-manifest-v1";

/// The longest signed-manifest file read: 64 KiB (a real one is ~500 bytes).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// What a supplier vouches for: this plugin, these bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name, as its `describe` gives it.
    pub name: String,
    /// The plugin's version, as its `describe` gives it.
    pub version: String,
    /// The supplier, as its `describe` gives it and as sites name it in
    /// their trust lists.
    pub supplier: String,
    /// The common data model version the plugin writes.
    pub data_model_version: u32,
    /// SHA-256 of the `.wasm` file, lower-case hex.
    pub wasm_sha256: String,
}

/// SHA-256 of `wasm`, lower-case hex.
pub fn wasm_sha256(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}

/// Where the signed manifest of `wasm` is by convention: beside it, named
/// `PLUGIN.wasm.sig.json`.
pub fn default_manifest_path(wasm: &Path) -> PathBuf {
    let mut name = wasm.as_os_str().to_owned();
    name.push(".sig.json");
    PathBuf::from(name)
}

impl Manifest {
    /// The manifest of `wasm` with what its `describe` said.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        supplier: impl Into<String>,
        data_model_version: u32,
        wasm: &[u8],
    ) -> Manifest {
        Manifest {
            name: name.into(),
            version: version.into(),
            supplier: supplier.into(),
            data_model_version,
            wasm_sha256: wasm_sha256(wasm),
        }
    }

    /// The bytes the signature covers: the context prefix, then the
    /// manifest's RFC 8785 canonical JSON.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, ManifestError> {
        let mut out = SIGNATURE_CONTEXT.to_vec();
        out.extend(
            gpes_canon::to_canonical_vec(self)
                .map_err(|e| ManifestError::Canonical(e.to_string()))?,
        );
        Ok(out)
    }

    fn check(&self) -> Result<(), String> {
        for (field, value) in [
            ("name", &self.name),
            ("version", &self.version),
            ("supplier", &self.supplier),
        ] {
            if value.trim().is_empty() {
                return Err(format!("manifest.{field} is empty"));
            }
        }
        let h = &self.wasm_sha256;
        if h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!(
                "manifest.wasm_sha256 must be 64 lower-case hex digits, not '{h}'"
            ));
        }
        Ok(())
    }

    /// Signs the manifest.
    pub fn sign(self, key: &SigningKey) -> Result<SignedManifest, ManifestError> {
        self.check().map_err(|reason| ManifestError::Invalid {
            what: "the manifest to sign".into(),
            reason,
        })?;
        let signature = key.sign_bytes(&self.signed_bytes()?);
        Ok(SignedManifest {
            format: FORMAT.to_owned(),
            manifest: self,
            key_id: key.public_key().key_id().to_string(),
            signature: B64.encode(signature),
        })
    }
}

/// A manifest with its supplier's signature: the `.sig.json` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedManifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub manifest: Manifest,
    /// Which key signed it ([`PublicKey::key_id`]).
    pub key_id: String,
    /// The ed25519 signature of [`Manifest::signed_bytes`], base64.
    pub signature: String,
}

impl SignedManifest {
    /// Reads a signed manifest from JSON text; `what` names it in errors.
    pub fn from_json(bytes: &[u8], what: &str) -> Result<SignedManifest, ManifestError> {
        let invalid = |reason: String| ManifestError::Invalid {
            what: what.to_owned(),
            reason,
        };
        let signed: SignedManifest =
            serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        if signed.format != FORMAT {
            return Err(invalid(format!(
                "its format is '{}', and this program reads '{FORMAT}'",
                signed.format
            )));
        }
        signed.manifest.check().map_err(invalid)?;
        Ok(signed)
    }

    /// Reads a signed-manifest file.
    pub fn read(path: &Path) -> Result<SignedManifest, ManifestError> {
        use std::io::Read;
        let read = |error| ManifestError::Read {
            path: path.to_owned(),
            error,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(read)?
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(ManifestError::Invalid {
                what: path.display().to_string(),
                reason: format!("it is larger than {MAX_FILE_BYTES} bytes"),
            });
        }
        SignedManifest::from_json(&bytes, &path.display().to_string())
    }

    /// The file's text: pretty JSON and a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("plain strings and numbers");
        text.push('\n');
        text
    }

    /// Writes the file (replacing an older signature of the plugin): a
    /// temporary file beside it, synced, then renamed over.
    pub fn write(&self, path: &Path) -> Result<(), ManifestError> {
        use std::io::Write;
        let write = |error| ManifestError::Write {
            path: path.to_owned(),
            error,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut f = std::fs::File::create(&tmp).map_err(write)?;
        f.write_all(self.to_json().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }

    /// Checks the signature against `trust`: it must verify under a key
    /// trusted for the supplier the manifest names. Returns the manifest.
    pub fn verify_signature(&self, trust: &TrustList) -> Result<&Manifest, VerifyError> {
        let supplier = &self.manifest.supplier;
        let keys = trust.keys_for(supplier);
        if keys.is_empty() {
            return Err(VerifyError::UntrustedSupplier {
                supplier: supplier.clone(),
            });
        }
        let Some(key) = keys
            .iter()
            .find(|k| k.key_id().as_str() == self.key_id.as_str())
        else {
            let trusted_for = trust
                .iter()
                .filter(|(_, k)| k.key_id().as_str() == self.key_id.as_str())
                .map(|(s, _)| s.to_owned())
                .collect();
            return Err(VerifyError::UntrustedKey {
                supplier: supplier.clone(),
                key_id: self.key_id.clone(),
                trusted_for,
            });
        };
        let signature = B64
            .decode(&self.signature)
            .map_err(|e| VerifyError::Malformed(format!("it is not base64 ({e})")))?;
        if signature.len() != 64 {
            return Err(VerifyError::Malformed(format!(
                "an ed25519 signature has 64 bytes, this has {}",
                signature.len()
            )));
        }
        let message = self
            .manifest
            .signed_bytes()
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if !key.verifies(&message, &signature) {
            return Err(VerifyError::BadSignature {
                key_id: self.key_id.clone(),
            });
        }
        Ok(&self.manifest)
    }

    /// The whole check before a plugin is compiled: the signature (as
    /// [`SignedManifest::verify_signature`]) and the wasm's SHA-256.
    pub fn verify(&self, wasm: &[u8], trust: &TrustList) -> Result<&Manifest, VerifyError> {
        let manifest = self.verify_signature(trust)?;
        let actual = wasm_sha256(wasm);
        if actual != manifest.wasm_sha256 {
            return Err(VerifyError::HashMismatch {
                expected: manifest.wasm_sha256.clone(),
                actual,
            });
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUPPLIER: &str = "Example Supplier Ltd";
    const WASM: &[u8] = b"\0asm not really, but bytes are bytes";

    fn signed() -> (SigningKey, SignedManifest) {
        let (key, _) = SigningKey::generate().expect("key");
        let signed = Manifest::new("csv-export", "0.1.0", SUPPLIER, 1, WASM)
            .sign(&key)
            .expect("signs");
        (key, signed)
    }

    fn trusting(key: &SigningKey, supplier: &str) -> TrustList {
        let mut trust = TrustList::new();
        trust.trust(supplier, key.public_key());
        trust
    }

    #[test]
    fn a_signed_manifest_verifies_and_survives_a_round_trip_through_its_file() {
        let (key, signed) = signed();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.wasm.sig.json");
        signed.write(&path).expect("write");
        let read = SignedManifest::read(&path).expect("read");
        assert_eq!(read, signed);
        let m = read
            .verify(WASM, &trusting(&key, SUPPLIER))
            .expect("verifies");
        assert_eq!(m.wasm_sha256, wasm_sha256(WASM));
        assert_eq!(read.key_id, key.public_key().key_id().to_string());
    }

    #[test]
    fn the_signature_covers_the_canonical_manifest_not_the_files_layout() {
        let (key, signed) = signed();
        // The same manifest, members reordered and re-spaced: still valid.
        let value: serde_json::Value = serde_json::from_str(&signed.to_json()).expect("json");
        let m = &value["manifest"];
        let relaid = format!(
            "{{\"signature\":{},\"key_id\":{},\"manifest\":{{\"wasm_sha256\":{},\"version\":{},\"supplier\":{},\"name\":{},\"data_model_version\":1}},\"format\":{}}}",
            value["signature"],
            value["key_id"],
            m["wasm_sha256"],
            m["version"],
            m["supplier"],
            m["name"],
            value["format"]
        );
        let read = SignedManifest::from_json(relaid.as_bytes(), "relaid").expect("parses");
        read.verify(WASM, &trusting(&key, SUPPLIER))
            .expect("still verifies");
        // And what is signed starts with the context prefix.
        let bytes = signed.manifest.signed_bytes().expect("bytes");
        assert!(bytes.starts_with(b"gpes-plugin-manifest-v1\n{\"data_model_version\":1,"));
    }

    #[test]
    fn a_changed_wasm_is_refused_for_its_hash() {
        let (key, signed) = signed();
        let mut wasm = WASM.to_vec();
        wasm[3] ^= 1;
        let err = signed
            .verify(&wasm, &trusting(&key, SUPPLIER))
            .expect_err("tampered");
        assert!(matches!(err, VerifyError::HashMismatch { .. }), "{err}");
        assert!(
            err.to_string().contains("not the one the supplier signed"),
            "{err}"
        );
    }

    #[test]
    fn a_changed_manifest_field_breaks_the_signature() {
        let (key, mut signed) = signed();
        signed.manifest.version = "0.1.1".into();
        let err = signed
            .verify(WASM, &trusting(&key, SUPPLIER))
            .expect_err("altered");
        assert_eq!(
            err,
            VerifyError::BadSignature {
                key_id: key.public_key().key_id().to_string()
            }
        );
    }

    #[test]
    fn a_manifest_whose_wasm_hash_was_swapped_breaks_the_signature() {
        let (key, mut signed) = signed();
        let other = b"other bytes";
        signed.manifest.wasm_sha256 = wasm_sha256(other);
        let err = signed
            .verify(other, &trusting(&key, SUPPLIER))
            .expect_err("altered");
        assert!(matches!(err, VerifyError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn an_altered_signature_is_refused() {
        let (key, mut signed) = signed();
        let mut bytes = B64.decode(&signed.signature).expect("b64");
        bytes[10] ^= 0x40;
        signed.signature = B64.encode(bytes);
        let err = signed
            .verify(WASM, &trusting(&key, SUPPLIER))
            .expect_err("altered");
        assert!(matches!(err, VerifyError::BadSignature { .. }), "{err}");

        signed.signature = "AAAA".into();
        let err = signed
            .verify(WASM, &trusting(&key, SUPPLIER))
            .expect_err("short");
        assert!(err.to_string().contains("64 bytes, this has 3"), "{err}");
    }

    #[test]
    fn a_key_the_site_does_not_trust_is_refused() {
        let (_, signed) = signed();
        let (other, _) = SigningKey::generate().expect("key");
        let err = signed
            .verify(WASM, &trusting(&other, SUPPLIER))
            .expect_err("wrong key");
        assert!(
            matches!(&err, VerifyError::UntrustedKey { trusted_for, .. } if trusted_for.is_empty()),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("does not trust for supplier 'Example Supplier Ltd'"),
            "{err}"
        );
    }

    #[test]
    fn a_key_trusted_only_for_another_supplier_is_refused_and_the_message_says_so() {
        let (key, signed) = signed();
        let (other, _) = SigningKey::generate().expect("key");
        let mut trust = trusting(&key, "Another Supplier");
        trust.trust(SUPPLIER, other.public_key());
        let err = signed
            .verify(WASM, &trust)
            .expect_err("other supplier's key");
        assert!(
            err.to_string()
                .contains("(it is trusted for 'Another Supplier')"),
            "{err}"
        );

        let err = signed
            .verify(WASM, &trusting(&key, "Another Supplier"))
            .expect_err("supplier not trusted at all");
        assert_eq!(
            err,
            VerifyError::UntrustedSupplier {
                supplier: SUPPLIER.into()
            }
        );
    }

    #[test]
    fn a_supplier_with_two_keys_may_sign_with_either() {
        let (key, signed) = signed();
        let (older, _) = SigningKey::generate().expect("key");
        let mut trust = trusting(&older, SUPPLIER);
        trust.trust(SUPPLIER, key.public_key());
        signed
            .verify(WASM, &trust)
            .expect("the second key verifies");
    }

    #[test]
    fn malformed_files_are_refused_saying_what_is_wrong() {
        let (_, signed) = signed();
        let good: serde_json::Value = serde_json::from_str(&signed.to_json()).expect("json");
        let mut cases = vec![];
        let mut v = good.clone();
        v["format"] = "gpes-signed-manifest-v9".into();
        cases.push((v, "gpes-signed-manifest-v9"));
        let mut v = good.clone();
        v["manifest"]["wasm_sha256"] = "ABC".into();
        cases.push((v, "64 lower-case hex digits"));
        let mut v = good.clone();
        v["manifest"]["extra"] = 1.into();
        cases.push((v, "unknown field `extra`"));
        let mut v = good.clone();
        v["manifest"]["name"] = "".into();
        cases.push((v, "manifest.name is empty"));
        for (value, says) in cases {
            let err = SignedManifest::from_json(value.to_string().as_bytes(), "x.sig.json")
                .expect_err(says);
            let msg = err.to_string();
            assert!(msg.contains(says) && msg.contains("x.sig.json"), "{msg}");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let err = SignedManifest::read(&dir.path().join("missing.sig.json")).expect_err("missing");
        assert!(
            err.to_string().contains("a site runs only signed plugins"),
            "{err}"
        );
    }

    #[test]
    fn the_default_manifest_path_sits_beside_the_wasm() {
        assert_eq!(
            default_manifest_path(Path::new("/opt/p/csv-export.wasm")),
            Path::new("/opt/p/csv-export.wasm.sig.json")
        );
    }
}
