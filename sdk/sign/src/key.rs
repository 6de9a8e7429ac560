//! Ed25519 keys: the supplier's private key (PKCS#8 in a PEM file) and
//! public keys as one line of text.

use crate::PUBLIC_KEY_PREFIX;
use crate::error::KeyError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// The file names `SigningKey::generate_files` writes in its folder.
pub const PRIVATE_KEY_FILE: &str = "plugin-signing.key";
pub const PUBLIC_KEY_FILE: &str = "plugin-signing.pub";

/// An ed25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

/// A short name for a public key: the first 16 hex digits of the SHA-256
/// of its 32 bytes. It names a key; it is not a security boundary (the
/// signature is checked under the full key).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyId(String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> PublicKey {
        PublicKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn key_id(&self) -> KeyId {
        let digest = Sha256::digest(self.0);
        KeyId(hex::encode(&digest[..8]))
    }

    /// True if `signature` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", B64.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<PublicKey, KeyError> {
        let invalid = |reason: &str| KeyError::InvalidPublicKey {
            reason: reason.to_owned(),
        };
        let s = s.trim();
        let Some(b64) = s.strip_prefix(PUBLIC_KEY_PREFIX) else {
            return Err(invalid(&format!(
                "it does not start with `{PUBLIC_KEY_PREFIX}`"
            )));
        };
        let bytes = B64
            .decode(b64)
            .map_err(|e| invalid(&format!("the part after the prefix is not base64 ({e})")))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            invalid(&format!(
                "an ed25519 public key has 32 bytes, this has {}",
                b.len()
            ))
        })?;
        Ok(PublicKey(bytes))
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads a public key file: one line, the key, optionally followed by a
/// space and the supplier's name (as `gpes-plugin keygen` writes it).
pub fn read_public_key_file(path: &Path) -> Result<(PublicKey, Option<String>), KeyError> {
    let text = std::fs::read_to_string(path).map_err(|error| KeyError::Read {
        path: path.to_owned(),
        error,
    })?;
    let in_file = |error: KeyError| KeyError::InPublicKeyFile {
        path: path.to_owned(),
        error: Box::new(error),
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| {
            in_file(KeyError::InvalidPublicKey {
                reason: "the file is empty".into(),
            })
        })?;
    let (key, supplier) = match line.split_once(char::is_whitespace) {
        Some((key, rest)) => (key, Some(rest.trim().to_owned())),
        None => (line, None),
    };
    let key = key.parse().map_err(in_file)?;
    Ok((key, supplier.filter(|s| !s.is_empty())))
}

/// A supplier's private signing key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// The two files a new key was written to.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
    pub public: PublicKey,
}

impl SigningKey {
    /// A fresh key from the system's random source, with its PKCS#8
    /// document (the bytes a private key file holds).
    pub fn generate() -> Result<(SigningKey, Vec<u8>), KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyError::Generate)?;
        Ok((SigningKey { pair }, pkcs8.as_ref().to_vec()))
    }

    /// Reads a PKCS#8 document (v1, as OpenSSL writes, or v2, as ring does).
    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, String> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(|pair| SigningKey { pair })
            .map_err(|e| format!("not an ed25519 PKCS#8 key ({e})"))
    }

    /// Reads a private key file (PEM, `BEGIN PRIVATE KEY`).
    pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|error| KeyError::Read {
            path: path.to_owned(),
            error,
        })?;
        let invalid = |reason: String| KeyError::InvalidPrivateKey {
            path: path.to_owned(),
            reason,
        };
        let der = pem_decode(&text).map_err(invalid)?;
        SigningKey::from_pkcs8(&der).map_err(invalid)
    }

    pub fn public_key(&self) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(bytes)
    }

    /// The raw signature of `message` (64 bytes).
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// Makes a new key and writes it into `dir` (created if absent): the
    /// private key as `plugin-signing.key` (PEM, mode 0600) and the public
    /// key line followed by the supplier's name as `plugin-signing.pub`.
    /// Refuses, writing nothing, if either file exists already.
    pub fn generate_files(dir: &Path, supplier: &str) -> Result<KeyFiles, KeyError> {
        if supplier.trim().is_empty() || supplier.contains(['\n', '\r']) {
            return Err(KeyError::BadSupplier);
        }
        let private_key = dir.join(PRIVATE_KEY_FILE);
        let public_key = dir.join(PUBLIC_KEY_FILE);
        for path in [&private_key, &public_key] {
            if path.exists() {
                return Err(KeyError::Exists { path: path.clone() });
            }
        }
        let (key, pkcs8) = SigningKey::generate()?;
        std::fs::create_dir_all(dir).map_err(|error| KeyError::Write {
            path: dir.to_owned(),
            error,
        })?;
        write_new(&private_key, pem_encode(&pkcs8).as_bytes(), 0o600)?;
        let public = key.public_key();
        let line = format!("{public} {}\n", supplier.trim());
        if let Err(e) = write_new(&public_key, line.as_bytes(), 0o644) {
            // Leave nothing half-made.
            let _ = std::fs::remove_file(&private_key);
            return Err(e);
        }
        Ok(KeyFiles {
            private_key,
            public_key,
            public,
        })
    }
}

/// Creates a file that must not exist yet, with `mode`, and syncs it.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|error| {
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_owned(),
                }
            } else {
                KeyError::Write {
                    path: path.to_owned(),
                    error,
                }
            }
        })?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(|error| KeyError::Write {
            path: path.to_owned(),
            error,
        })
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = String::from(PEM_BEGIN);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(PEM_END);
    out.push('\n');
    out
}

fn pem_decode(text: &str) -> Result<Vec<u8>, String> {
    let start = text
        .find(PEM_BEGIN)
        .ok_or_else(|| format!("no `{PEM_BEGIN}` line"))?;
    let body = &text[start + PEM_BEGIN.len()..];
    let end = body
        .find(PEM_END)
        .ok_or_else(|| format!("no `{PEM_END}` line"))?;
    let b64: String = body[..end].split_whitespace().collect();
    B64.decode(b64)
        .map_err(|e| format!("the PEM body is not base64 ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_line_round_trips_and_wrong_lines_are_refused() {
        let (key, _) = SigningKey::generate().expect("key");
        let line = key.public_key().to_string();
        assert!(line.starts_with("gpes-ed25519:"), "{line}");
        assert_eq!(line.parse::<PublicKey>().expect("parses"), key.public_key());
        assert_eq!(key.public_key().key_id().as_str().len(), 16);

        for (bad, says) in [
            ("ssh-ed25519:AAAA", "does not start with"),
            ("gpes-ed25519:!!!", "not base64"),
            ("gpes-ed25519:AAAA", "32 bytes, this has 3"),
        ] {
            let err = bad.parse::<PublicKey>().expect_err(bad);
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn key_files_are_written_once_private_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let files = SigningKey::generate_files(dir.path(), "Example Supplier Ltd").expect("keygen");
        let mode = std::fs::metadata(&files.private_key)
            .expect("private key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = SigningKey::read(&files.private_key).expect("reads back");
        assert_eq!(key.public_key(), files.public);
        let (public, supplier) = read_public_key_file(&files.public_key).expect("public");
        assert_eq!(public, files.public);
        assert_eq!(supplier.as_deref(), Some("Example Supplier Ltd"));

        let before = std::fs::read(&files.private_key).expect("read");
        let err = SigningKey::generate_files(dir.path(), "Example Supplier Ltd")
            .expect_err("never overwritten");
        assert!(matches!(err, KeyError::Exists { .. }), "{err}");
        assert!(err.to_string().contains("never overwritten"), "{err}");
        assert_eq!(std::fs::read(&files.private_key).expect("read"), before);
    }

    #[test]
    fn a_private_key_file_that_is_not_one_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.pem");
        std::fs::write(&path, "hello\n").expect("write");
        let err = SigningKey::read(&path).expect_err("not a key");
        assert!(err.to_string().contains("k.pem"), "{err}");
        assert!(err.to_string().contains("BEGIN PRIVATE KEY"), "{err}");
        std::fs::write(&path, format!("{PEM_BEGIN}\nAAAA\n{PEM_END}\n")).expect("write");
        let err = SigningKey::read(&path).expect_err("not ed25519");
        assert!(
            err.to_string().contains("not an ed25519 PKCS#8 key"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_supplier_name_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = SigningKey::generate_files(&dir.path().join("k"), " ").expect_err("empty");
        assert!(matches!(err, KeyError::BadSupplier), "{err}");
        assert!(!dir.path().join("k").exists());
    }
}
